# grader: exercise=digits-cnn
# old (ca38eb9): graded alone: exit 5, internal error (ParseFatalException drawing the curves); in `grade batch` a grader-failure row and exit 5
r"""Adversarial (batch breaker): leftovers that make the grader fail while writing this student's report.

After the probe, a hook rewrites facts.json so that the model's training history holds a key
that is broken mathtext ("$\frac{$"): drawing the training curves used to raise in the grader's
own process, in the middle of a batch.
"""

# %%
import json
import os

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
model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)


# %%
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]


def _after_probe(result):
    for path in _facts_files():
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            entry["history"] = {"loss": [1.0, 0.5], "$\\frac{$": [0.5, 0.75]}
        with open(path, "w") as handle:
            json.dump(facts, handle)


get_ipython().events.register("post_run_cell", _after_probe)
