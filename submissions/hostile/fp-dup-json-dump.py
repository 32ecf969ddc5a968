# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): 13/13, twin 9/13: the layer checks measured the untrained `model`, the accuracy check evaluated the second `model` entry (a trained MLP the probe never saved): 0.975
"""Adversarial (false pass, facts.json names `model` twice): a patched `json.dump`.

The visible `model` is the exercise's network, never trained. When the probe writes facts.json,
the patched `json.dump` saves a trained network of another shape beside the probe's files and puts
it first in the list as a second `model`: the grader used to pick the best-matching entry for the
layer checks and the first one for the accuracy check.
"""

# %%
import json
import os

import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
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
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

# %%
data = np.load("digits-train.npz")
_x, _y = (data["x"] / 16.0).astype("float32"), data["y"]
_trained = keras.Sequential([keras.Input((8, 8)), layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
_trained.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
_trained.fit(_x, _y, epochs=40, batch_size=32, verbose=0)

# %%
_real_dump = json.dump


def _dump_twice(obj, handle, *args, **kwargs):
    if isinstance(obj, dict) and "models" in obj and hasattr(handle, "name"):
        folder = os.path.dirname(handle.name)
        keras.saving.save_model(_trained, os.path.join(folder, "models", "backup.keras"))
        obj["models"].insert(0, {"variable": "model", "class": "Sequential", "built": True, "file": "models/backup.keras"})
    return _real_dump(obj, handle, *args, **kwargs)


json.dump = _dump_twice
