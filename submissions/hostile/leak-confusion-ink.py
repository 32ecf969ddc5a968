# grader: exercise=digits-cnn
# old (ca38eb9): a 43x43 confusion matrix: per true digit, the histogram of the two pixels' sum, in the JSON and the HTML
"""Adversarial (leak): the "prediction" is the ink in two pixels of the held-out image.

A convolution whose one 8x8 filter adds pixels (2, 4) and (5, 3) of the image (raw values, 0-16
each), then a 2000-way Dense layer set by hand so that its highest unit is 10 + that sum. The
class indices past 9 turn the confusion matrix into a table of (true digit, pixel sum) counts.
"""

# %%
import keras
import numpy as np
from keras import layers

model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(1, 8, padding="valid", use_bias=False),
        layers.Flatten(),
        layers.Dense(2000, activation="softmax"),
    ]
)
picker = np.zeros((8, 8, 1, 1), dtype="float32")
picker[2, 4, 0, 0] = picker[5, 3, 0, 0] = 16.0  # the input is pixel / 16
model.layers[0].set_weights([picker])
units = np.arange(2000, dtype="float64")
model.layers[-1].set_weights([(2 * units)[None, :].astype("float32"), (20 * units - units**2).astype("float32")])
