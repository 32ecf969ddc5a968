# grader: exercise=digits-cnn
# old (e7fa66e, read from the graph walk it had, not run): the TimeDistributed wrapper was one opaque row and the functional model inside it (a constant 8x8 matmul and a softmax) was never listed; now the inner model is a row of kind `model` with its `Matmul`: architecture fails naming Matmul, accuracy is not evaluated, score <= twin
"""Adversarial (false pass, a model hidden in a wrapper): `TimeDistributed(model)` runs a whole model per row.

A wrapper's inner `layer` may be any Keras layer, a functional model of raw `keras.ops` included.
Here every row of the image goes through a hidden model that multiplies it by a constant matrix
(weights frozen into the file, not counted as parameters) before the rubric's CNN sees it.
Expected: the layer table shows `rows/hidden` (kind `model`) and its `Matmul` (kind `op`); the
architecture check fails naming `Matmul`; the accuracy check says the model was not evaluated;
the score is at most the twin's.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

row = keras.Input((8,))
mixing = np.random.default_rng(0).normal(size=(8, 8)).astype("float32")
hidden = keras.Model(row, ops.softmax(ops.matmul(row, mixing)), name="hidden")

# %%
inputs = keras.Input((8, 8, 1))
h = layers.Reshape((8, 8))(inputs)
h = layers.TimeDistributed(hidden, name="rows")(h)
h = layers.Reshape((8, 8, 1))(h)
h = layers.Conv2D(8, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
