# grader: exercise=pool-dims
# old (ca38eb9): one report (`bob_py`) for bob.py and bob_py.py
"""Adversarial (name collision): bob_py.py, whose own stem is what bob.py is renamed to on its clash with bob.ipynb. Its answers (48, 15) tell its report apart."""

# %%
from keras.layers import MaxPooling2D
from keras.models import Sequential

model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = 48
pool_depth = 15
