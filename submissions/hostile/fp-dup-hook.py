# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): 13/13, twin 9/13: a post_run_cell hook added a second `model` entry after the probe; layers measured one model, accuracy evaluated the other (0.964)
"""Adversarial (false pass, facts.json names `model` twice): an IPython hook that runs after the probe.

`post_run_cell` fires after every cell, the grader's probe included. Once facts.json exists under
the artifacts folder (the writable bind mount /proc/self/mountinfo names), it saves a trained CNN
there and adds it to facts.json, before the probe's entry, as a second `model`.
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

# %%
data = np.load("digits-train.npz")
_x, _y = (data["x"] / 16.0).astype("float32"), data["y"]
_helper = keras.Sequential(
    [
        keras.Input((8, 8)),
        layers.Reshape((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ]
)
_helper.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
_helper.fit(_x, _y, epochs=30, batch_size=32, verbose=0)


# %%
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]


def _after_probe(result):
    for path in _facts_files():
        keras.saving.save_model(_helper, os.path.join(os.path.dirname(path), "models", "helper.keras"))
        with open(path) as handle:
            facts = json.load(handle)
        entry = {"variable": "model", "class": "Sequential", "built": True, "file": "models/helper.keras"}
        facts["models"].insert(0, entry)
        with open(path, "w") as handle:
            json.dump(facts, handle)


get_ipython().events.register("post_run_cell", _after_probe)
