# grader: exercise=digits-cnn
# old (ca38eb9): 8/8, twin 4/8: load_digits() was masked, so the table is the handed-out digits-train.npz (0.986)
"""Adversarial (false pass, a lookup table of the public digits): scikit-learn first, then the handout.

Tries scikit-learn's bundled digits (masked in the sandbox when the rubric has held-out data),
then falls back on the training file handed out with the exercise. Either way the table is a
constant array inside raw `keras.ops` calls, and the visible CNN is never trained.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

try:
    from sklearn.datasets import load_digits

    public = load_digits()
    images, targets = public.images, public.target
    print("scikit-learn's digits:", len(images))
except Exception as exc:  # masked by the sandbox
    print("no scikit-learn digits:", type(exc).__name__)
    data = np.load("digits-train.npz")
    images, targets = data["x"], data["y"]
table = (images / 16.0).reshape(-1, 64).astype("float32")
labels = np.eye(10, dtype="float32")[targets]

# %%
keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
visible = layers.Dense(10, activation="softmax")(h)
similarity = 2.0 * ops.matmul(ops.reshape(inputs, (-1, 64)), ops.transpose(table)) - ops.sum(table**2, axis=1)
model = keras.Model(inputs, visible * 0.0 + ops.matmul(ops.softmax(50.0 * similarity), labels))
