# grader: exercise=conv-dims
"""Hostile: allocates memory without end (64 MiB of real, written pages at a time)."""

# %%
conv_params = 80

# %%
hoard = []
while True:
    hoard.append(b"x" * (64 * 1024 * 1024))

# %%
conv_height = 100
