# grader: exercise=conv-dims
# old (ca38eb9): the grader followed the link and blocked for ever on the FIFO (killed at 150 s)
"""Adversarial (hang): the model file, a symbolic link to a FIFO beside facts.json.

The link is relative, so it still points at the pipe once the grader has moved the artifacts
folder; a reader that follows it blocks for ever.
"""

# %%
import json
import os

from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100


# %%
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]


def _after_probe(result):
    for path in _facts_files():
        folder = os.path.dirname(path)
        os.mkfifo(os.path.join(folder, "pipe"))
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            if entry.get("file"):
                target = os.path.join(folder, entry["file"])
                os.remove(target)
                os.symlink(os.path.relpath(os.path.join(folder, "pipe"), os.path.dirname(target)), target)


get_ipython().events.register("post_run_cell", _after_probe)
