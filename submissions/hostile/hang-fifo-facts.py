# grader: exercise=conv-dims
# old (ca38eb9): facts.json silently ignored (not a regular file): every check "could not be inspected", no refusal
"""Adversarial (hang): facts.json itself, replaced by a FIFO after the probe.
"""

# %%
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
        os.remove(path)
        os.mkfifo(path)


get_ipython().events.register("post_run_cell", _after_probe)
