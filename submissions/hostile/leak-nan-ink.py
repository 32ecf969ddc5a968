# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): "NaN or infinite scores for 4 of 360 held-out images (the first is image 62)"
"""Adversarial (leak): NaN scores for the held-out images with more than 400 units of ink.

The exercise's own six layers, with weights set by hand: the first Dense layer's unit 0 sums
every pixel and subtracts 400 (raw values, 0-16 each), the second turns a positive sum into
+inf in two units, and the last adds them with opposite signs (NaN). Which image is "the first"
with NaN scores, and how many there are, is held-out data.
"""

# %%
import keras
import numpy as np
from keras import layers

model = keras.Sequential(
    [
        keras.Input((8, 8)),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
first = np.zeros((64, 64), dtype="float32")
first[:, 0] = 1e20 * 16  # the input is pixel / 16
bias = np.zeros(64, dtype="float32")
bias[0] = -1e20 * 400
model.layers[1].set_weights([first, bias])
second = np.zeros((64, 64), dtype="float32")
second[0, :2] = 1e30
model.layers[3].set_weights([second, np.zeros(64, dtype="float32")])
last = np.zeros((64, 10), dtype="float32")
last[0], last[1] = 1.0, -1.0
model.layers[5].set_weights([last, np.zeros(10, dtype="float32")])
