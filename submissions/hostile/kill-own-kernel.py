# grader: exercise=conv-dims
"""Hostile: tries to kill the processes around it, then kills its own kernel."""

# %%
import os
import signal

conv_params = 80
for target in (1, os.getppid()):
    try:
        os.kill(target, signal.SIGKILL)
        print("KILLED", target)
    except OSError as exc:
        print("DENIED", target, type(exc).__name__)

# %%
os._exit(1)

# %%
conv_height = 100
