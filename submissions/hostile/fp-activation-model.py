# grader: exercise=digits-cnn
# old (e7fa66e): architecture, size and output passed and the hidden ridge classifier answered the accuracy check, while the visible CNN is never trained
"""Adversarial (false pass, a model hidden in an activation): the rubric's CNN runs a classifier it never shows.

`Conv2D(activation=...)` takes any callable, and Keras saves a Keras model there and rebuilds it in
safe_mode. Here the first convolution copies the image into channel 0 and its activation is a
functional model of raw `keras.ops`: a ridge classifier fitted by least squares, frozen into two
constant arrays, that writes its ten probabilities as ten constant channels. The second convolution
and the Dense layer, set by hand, only carry them to the output. The rubric does not pin a Conv2D's
activation, so the graph walk saw six untrained-looking layers of the right kinds.
Expected: the inspector refuses the file, naming layer `conv` and its `activation`; no model check
passes; the score is at most the twin's.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

data = np.load("digits-train.npz")
images = (data["x"] / 16.0).reshape(-1, 64).astype("float32")
targets = np.eye(10, dtype="float32")[data["y"]]
design = np.hstack([images, np.ones((len(images), 1), dtype="float32")])
ridge = np.linalg.solve(design.T @ design + 0.1 * np.eye(65), design.T @ targets).astype("float32")

# %%
channels = keras.Input((8, 8, 10))
image = ops.reshape(channels[..., 0], (-1, 64))
probabilities = ops.softmax(10.0 * (ops.matmul(image, ridge[:64]) + ridge[64]))
hidden = keras.Model(channels, ops.ones_like(channels) * ops.reshape(probabilities, (-1, 1, 1, 10)))

# %%
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(10, 3, padding="same", activation=hidden, name="conv"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ]
)
copy_image = np.zeros((3, 3, 1, 10), dtype="float32")
copy_image[1, 1, 0, 0] = 1.0
carry = np.zeros((3, 3, 10, 16), dtype="float32")
carry[1, 1, range(10), range(10)] = 1.0
read = np.zeros((64, 10), dtype="float32")
read[range(10), range(10)] = 50.0
model.layers[0].set_weights([copy_image, np.zeros(10, "float32")])
model.layers[2].set_weights([carry, np.zeros(16, "float32")])
model.layers[6].set_weights([read, np.zeros(10, "float32")])
print(float((model.predict(images.reshape(-1, 8, 8, 1), verbose=0).argmax(1) == data["y"]).mean()))
