# grader: exercise=digits-cnn
# old (ca38eb9): exit 5, internal error (ParseFatalException: Unknown symbol \notacommand): the JSON written, no HTML
r"""Adversarial (crash): a training-history key that is broken matplotlib mathtext.

The model is trained for real (two epochs); then a key "$\notacommand{$" is added to its
history. The report draws the notebook's training curves with that key as a legend label.
"""

# %%
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
data = np.load("digits-train.npz")
x_train, y_train = (data["x"] / 16.0)[..., None].astype("float32"), data["y"]
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
history.history["$\\notacommand{$"] = [0.5, 0.25]
