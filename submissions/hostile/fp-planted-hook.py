# grader: exercise=digits-cnn
# old (ca38eb9): 8/8, twin 4/8: facts.json pointed `model` at models/planted.keras, a trained CNN planted after the probe (0.978)
"""Adversarial (false pass, a model file the probe did not write): planted by a hook after the probe.

The visible `model` is never trained. A post_run_cell hook, which IPython runs after the grader's
probe cell too, finds facts.json in the artifacts folder, saves a trained CNN beside the probe's
files as models/planted.keras, points the `model` entry at it and, should the probe keep a
manifest of sizes and hashes, rewrites that to match.
"""

# %%
import hashlib
import json
import os

import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
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

# %%
data = np.load("digits-train.npz")
_x, _y = (data["x"] / 16.0)[..., None].astype("float32"), data["y"]
_strong = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
_strong.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
_strong.fit(_x, _y, epochs=40, batch_size=32, verbose=0)


# %%
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]


def _refingerprint(node, blob):
    """Keep a manifest, if the probe writes one, in step with the new bytes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("bytes", "size") and isinstance(value, int):
                node[key] = len(blob)
            elif key == "sha256":
                node[key] = hashlib.sha256(blob).hexdigest()
            else:
                _refingerprint(value, blob)


def _after_probe(result):
    for path in _facts_files():
        folder = os.path.dirname(path)
        planted = os.path.join(folder, "models", "planted.keras")
        keras.saving.save_model(_strong, planted)
        with open(planted, "rb") as handle:
            blob = handle.read()
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            if entry.get("variable") == "model":
                entry["file"] = "models/planted.keras"
                _refingerprint(entry, blob)
        with open(path, "w") as handle:
            json.dump(facts, handle)


get_ipython().events.register("post_run_cell", _after_probe)
