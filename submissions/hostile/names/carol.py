# grader: exercise=pool-dims
# old (ca38eb9): `carol` and `Carol`: two reports on this file system, one where case is ignored
"""Adversarial (name collision): carol.py; the test also grades a copy named Carol.py (names equal but for case are not committed, for case-insensitive checkouts). The copies share its answers (50, 13); their file names tell the reports apart."""

# %%
from keras.layers import MaxPooling2D
from keras.models import Sequential

model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = 50
pool_depth = 13
