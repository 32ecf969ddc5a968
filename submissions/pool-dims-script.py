# grader: exercise=pool-dims
"""The lesson's pool-dims.py, handed in as a script: cells are split at the `# %%` lines."""

# %%
from keras.models import Sequential
from keras.layers import MaxPooling2D

# %%
model = Sequential()
model.add(MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15)))
model.summary()

# %%
pool_height = 50
pool_depth = 15
