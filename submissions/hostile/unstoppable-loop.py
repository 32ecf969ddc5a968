# grader: exercise=conv-dims
"""Hostile: an endless cell that ignores Ctrl-C, so the interrupt cannot stop it; the kernel is shut down."""

# %%
conv_params = 80

# %%
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass

# %%
conv_height = 100
