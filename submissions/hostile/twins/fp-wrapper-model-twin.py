# grader: exercise=digits-cnn
# honest twin of ../fp-wrapper-model.py (the same visible network; the wrapper holds a plain Dense(8))
"""Honest twin of fp-wrapper-model.py: TimeDistributed over a plain Dense layer, no hidden model."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8, 1))
h = layers.Reshape((8, 8))(inputs)
h = layers.TimeDistributed(layers.Dense(8, activation="softmax"), name="rows")(h)
h = layers.Reshape((8, 8, 1))(h)
h = layers.Conv2D(8, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
