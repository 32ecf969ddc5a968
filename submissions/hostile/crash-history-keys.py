# grader: exercise=digits-cnn
# old (ca38eb9): minutes drawing one curve and one legend entry per key, 20,000 of them (killed at 150 s); with 5,000 keys it finished in 61 s
"""Adversarial (crash): a training history with 20,000 metrics.

Trained for real (one epoch); then 20,000 made-up series are added to the model's history, each a
curve (and a legend entry) for the report to draw.
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
model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)
model.history.history = {f"metric_{number:04d}": [number / 20000, 1 - number / 20000] for number in range(20000)}
