# grader: exercise=digits-cnn
# old (ca38eb9): a 27x27 confusion matrix: per true digit, the histogram of pixel (3, 3), in the JSON and the HTML
"""Adversarial (leak): the "prediction" is a pixel of the held-out image.

A 2000-way output layer whose weights are set by hand: unit j scores 2·j·v - j², which is highest
at j = v, where v = 10 + the raw value (0-16) of pixel (3, 3). Every held-out image is thus
"predicted" as class 10 + that pixel, and a confusion matrix that grows to fit the predictions
prints, for each true digit, how often the pixel takes each value: held-out data read back
through the report.
"""

# %%
import keras
import numpy as np
from keras import layers

model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(2000, activation="softmax")])
units = np.arange(2000, dtype="float64")
kernel = np.zeros((64, 2000))
kernel[3 * 8 + 3] = 2 * units * 16  # the input is pixel / 16
model.layers[-1].set_weights([kernel.astype("float32"), (20 * units - units**2).astype("float32")])
