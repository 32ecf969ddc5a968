# grader: exercise=conv-dims
# old (ca38eb9): killed by the watchdog inside the probe; the report said only "the grader's probe could not finish", never the 1000 MB limit
"""Adversarial (escape from the memory limit): a thread that allocates once the student's cells are over.

The cells return at once and stay far below any limit. A background thread waits for the
grader's probe cell (a pre_run_cell hook tells it, and holds the probe for a few seconds), then
grows by 64 MiB at a time without pause. The test grades it with --memory-mb 1000: the kernel
must be stopped at the limit, and the report must say so, not blame the probe.
"""

# %%
import threading

from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100

# %%
import time

probing = threading.Event()
hoard = []


def grow():
    probing.wait()
    while True:
        hoard.append(b"x" * (64 * 1024 * 1024))


def before_cell(info):
    if "probe" in (info.raw_cell or "").lower():
        probing.set()
        time.sleep(5)


threading.Thread(target=grow, daemon=True).start()
get_ipython().events.register("pre_run_cell", before_cell)
