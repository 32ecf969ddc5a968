# grader: exercise=pool-dims
# old (ca38eb9): both files were reported as `week1__alice_py`: one report overwrote the other, one gradebook row for two students
"""Adversarial (name collision): week1/alice.py, beside week1__alice.py. Its answers (50, 15) tell its report apart."""

# %%
from keras.layers import MaxPooling2D
from keras.models import Sequential

model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = 50
pool_depth = 15
