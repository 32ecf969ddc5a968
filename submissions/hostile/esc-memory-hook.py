# grader: exercise=conv-dims
# old (ca38eb9): killed by the watchdog inside the probe; the report said only "the grader's probe could not finish", never the 1000 MB limit
"""Adversarial (escape from the memory limit): a pre_run_cell hook that allocates inside the grader's probe.

The student's cells stay small. IPython runs pre_run_cell callbacks at the start of every cell,
the grader's probe included: this one grows without end there, 64 MiB at a time, so the memory
is used while the grader, not the student, is running a cell. The test grades it with
--memory-mb 1000: the kernel must be stopped at the limit, and the report must say so.
"""

# %%
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100

# %%
hoard = []


def before_cell(info):
    if "probe" in (info.raw_cell or "").lower():
        while True:
            hoard.append(b"x" * (64 * 1024 * 1024))


get_ipython().events.register("pre_run_cell", before_cell)
