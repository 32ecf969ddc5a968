# grader: exercise=digits-mlp
# honest twin of ../fp-shared-dense.py (the same visible network, each layer called once): 9/9
"""Honest twin of fp-shared-dense.py: the same functional MLP, every layer object called once."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8))
h = layers.Flatten()(inputs)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
h = layers.Dense(64, activation="relu", name="shared")(h)
h = layers.Dropout(0.2)(h)
model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
