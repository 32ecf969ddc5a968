# grader: exercise=digits-cnn
# old (ca38eb9): 7.56/8, twin 4/8: a nested functional model, itself a raw-op lookup table, answered (0.986); listed as one `Functional` row
"""Adversarial (false pass, a nested model doing the work): raw operations one level down.

The outer model is an untrained CNN plus one more "layer": a nested functional model whose only
content is raw `keras.ops` calls on a constant table of the training digits (1-nearest
neighbour). The outer `model.layers` lists it as a single `Functional` row with no parameters.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

keras.utils.set_random_seed(0)
data = np.load("digits-train.npz")
table = (data["x"] / 16.0).reshape(-1, 64).astype("float32")
labels = np.eye(10, dtype="float32")[data["y"]]

image = keras.Input((8, 8, 1))
similarity = 2.0 * ops.matmul(ops.reshape(image, (-1, 64)), table.T) - (table**2).sum(axis=1)
lookup = keras.Model(image, ops.matmul(ops.softmax(50.0 * similarity), labels), name="refine")

# %%
inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
visible = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, layers.Add()([visible, lookup(inputs)]))
del lookup
