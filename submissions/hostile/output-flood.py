# grader: exercise=conv-dims
"""Hostile: floods the report with output, in many small prints and in one huge one."""

# %%
conv_params = 80
for line in range(50_000):
    print(f"spam {line:06d} " * 8)

# %%
print("y" * (30 * 1024 * 1024))
conv_height = 100
