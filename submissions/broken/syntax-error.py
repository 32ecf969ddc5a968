# grader: exercise=conv-dims
"""A script that Python cannot compile: the second cell misses a closing parenthesis."""

# %%
conv_params = 80

# %%
print("height:", 100
conv_height = 100
