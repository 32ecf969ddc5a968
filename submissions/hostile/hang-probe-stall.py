# grader: exercise=conv-dims
# old (ca38eb9): the grader waited out its fixed 180 s probe limit, whatever --timeout said (killed at 150 s)
"""Adversarial (hang): the probe cell never ends, because a hook after it never returns.

post_run_cell callbacks run inside the cell's execution, so the grader waits for the probe cell
as long as the hook sleeps, whatever the notebook's own time limits say. It ignores Ctrl-C, too.
"""

# %%
import os
import signal
import time

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
    if _facts_files():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(1)


get_ipython().events.register("post_run_cell", _after_probe)
