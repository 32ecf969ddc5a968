# grader: exercise=pool-dims
# old (ca38eb9): renamed `bob_py` on its clash with bob.ipynb, which is bob_py.py's own stem: one report for two files
"""Adversarial (name collision): bob.py, beside bob.ipynb and bob_py.py. Its answers (50, 14) tell its report apart."""

# %%
from keras.layers import MaxPooling2D
from keras.models import Sequential

model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = 50
pool_depth = 14
