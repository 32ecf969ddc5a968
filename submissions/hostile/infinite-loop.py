# grader: exercise=conv-dims
"""Hostile: a cell that never ends. The per-cell limit interrupts it; the cells after it still run."""

# %%
conv_params = 80

# %%
while True:
    pass

# %%
conv_height = 100
