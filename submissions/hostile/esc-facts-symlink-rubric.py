# grader: exercise=digits-cnn
# old (ca38eb9): the grader followed the link and read the rubric as facts.json; every check "could not be inspected", no refusal
"""Adversarial (escape): facts.json, a symbolic link to the rubric on the grader's side.

The kernel cannot see the rubric (it is not mounted), but it can guess where it lives: the
course checkout that holds the Python environment. A grader that follows the link reads a file
of its own choosing, on the student's say-so.
"""

# %%
import os
import sys

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
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]



def _after_probe(result):
    for path in _facts_files():
        os.remove(path)
        os.symlink(os.path.join(os.path.dirname(sys.prefix), "rubrics", "digits-cnn.yaml"), path)


get_ipython().events.register("post_run_cell", _after_probe)
