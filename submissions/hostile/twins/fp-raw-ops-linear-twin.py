# grader: exercise=digits-cnn
# honest twin of ../fp-raw-ops-linear.py (the same visible network, no trick); old (ca38eb9): 4/8
"""Honest twin of fp-raw-ops-linear.py: a small functional CNN, never trained, as the attack shows it."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
visible = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, visible)
