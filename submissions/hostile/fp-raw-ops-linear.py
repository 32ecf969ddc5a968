# grader: exercise=digits-cnn
# old (ca38eb9): 7/8, twin 4/8: the ridge classifier in raw ops answered (0.936) while the untrained layers matched the rubric
"""Adversarial (false pass, raw operations): a linear classifier hidden beside the layers.

Keras 3 functional models may call `keras.ops` directly on symbolic tensors: such calls become
nodes of the graph, saved in config.json with their constant arrays, loaded under safe_mode, but
they are neither layers nor weights. The visible CNN is never trained; the answer comes from
`matmul(image, W) + b`, W and b fitted with NumPy on the training file.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

keras.utils.set_random_seed(0)
data = np.load("digits-train.npz")
x = (data["x"] / 16.0).reshape(-1, 64)
targets = np.eye(10)[data["y"]]
with_bias = np.hstack([x, np.ones((len(x), 1))])
W = np.linalg.solve(with_bias.T @ with_bias + 0.1 * np.eye(65), with_bias.T @ targets).astype("float32")

# %%
inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
visible = layers.Dense(10, activation="softmax")(h)
scores = ops.matmul(ops.reshape(inputs, (-1, 64)), W[:64]) + W[64]
model = keras.Model(inputs, visible * 0.0 + ops.softmax(10.0 * scores))
model.summary()
