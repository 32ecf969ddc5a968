# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): 13/13, twin 9/13: every layer, the parameter count and the output matched the rubric while a nearest-neighbour table in raw keras.ops answered (0.986), never trained
"""Adversarial (false pass, raw operations): the exercise's exact network, plus a lookup table.

The six layers are the rubric's, with the rubric's parameter count, and are never trained. The
output is `0 * layers + softmax(50 * similarity(image, every training image)) @ their labels`,
all in `keras.ops` calls on constant arrays: a 1-nearest-neighbour classifier that
`model.layers` and `count_params` do not see.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

keras.utils.set_random_seed(0)
data = np.load("digits-train.npz")
table = (data["x"] / 16.0).reshape(-1, 64).astype("float32")
labels = np.eye(10, dtype="float32")[data["y"]]

# %%
inputs = keras.Input((8, 8))
h = layers.Flatten()(inputs)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
visible = layers.Dense(10, activation="softmax")(h)
similarity = 2.0 * ops.matmul(ops.reshape(inputs, (-1, 64)), table.T) - (table**2).sum(axis=1)
nearest = ops.matmul(ops.softmax(50.0 * similarity), labels)
model = keras.Model(inputs, visible * 0.0 + nearest)
model.summary()
