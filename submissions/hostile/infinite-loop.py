# grader: exercise=conv-dims
"""Hostile: a cell that never ends. The per-cell limit interrupts it; the cells after it still run,
and what they print is kept."""

# %%
conv_params = 80

# %%
while True:
    pass

# %%
print("the cell after the loop ran")
conv_height = 100
