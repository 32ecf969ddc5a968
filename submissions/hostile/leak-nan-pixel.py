# grader: exercise=digits-cnn
# old (ca38eb9): "NaN or infinite scores for 24 of 360 held-out images (the first is image 9)"
"""Adversarial (leak): NaN scores for exactly the held-out images whose pixel (1, 1) is over 8.

Three Dense layers set by hand: the first is 0, or at least 3e18, depending on the pixel; the
second multiplies that into +inf twice; the third adds the two infinities with opposite signs,
which is NaN. A report that names "the first" image with NaN scores tells which held-out image
that is, and how many there are.
"""

# %%
import keras
import numpy as np
from keras import layers

model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Flatten(),
        layers.Dense(1, activation="relu"),
        layers.Dense(2),
        layers.Dense(10, activation="softmax"),
    ]
)
first = np.zeros((64, 1), dtype="float32")
first[1 * 8 + 1] = 1e20
model.layers[1].set_weights([first, np.array([-1e20 * 8.5 / 16], dtype="float32")])
model.layers[2].set_weights([np.full((1, 2), 1e30, dtype="float32"), np.zeros(2, dtype="float32")])
last = np.zeros((2, 10), dtype="float32")
last[0], last[1] = 1.0, -1.0
model.layers[3].set_weights([last, np.zeros(10, dtype="float32")])
