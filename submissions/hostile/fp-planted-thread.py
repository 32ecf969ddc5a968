# grader: exercise=digits-cnn
# old (ca38eb9): 8/8, twin 4/8: the thread overwrote the probe's own models/model.keras after the probe (0.978)
"""Adversarial (false pass, a model file the probe did not write): a thread races the probe.

The visible `model` is never trained. A background thread waits for the probe's facts.json, then
writes a trained CNN's bytes over the probe's own models/model.keras and, should the probe keep
a manifest of sizes and hashes, rewrites that to match. No hook: it works even if the probe
unregisters IPython's callbacks, in the moment between the probe's end and the kernel's.
"""

# %%
import hashlib
import json
import os
import tempfile
import threading
import time

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


with tempfile.TemporaryDirectory() as _scratch:
    keras.saving.save_model(_strong, os.path.join(_scratch, "strong.keras"))
    with open(os.path.join(_scratch, "strong.keras"), "rb") as _handle:
        _blob = _handle.read()


def _swap_when_probed():
    while True:
        for path in _facts_files():
            try:
                with open(path) as handle:
                    facts = json.load(handle)
            except ValueError:
                continue  # the probe is still writing it
            folder = os.path.dirname(path)
            for entry in facts["models"]:
                if entry.get("variable") == "model" and entry.get("file"):
                    with open(os.path.join(folder, entry["file"]), "wb") as handle:
                        handle.write(_blob)
                    _refingerprint(entry, _blob)
            with open(path, "w") as handle:
                json.dump(facts, handle)
            return
        time.sleep(0.002)


threading.Thread(target=_swap_when_probed, daemon=True).start()
