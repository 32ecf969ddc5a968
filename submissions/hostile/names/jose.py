# grader: exercise=pool-dims
# old (ca38eb9): two reports named `josé` that differ only in normalisation: one where names are normalised
"""Adversarial (name collision): the test grades two copies, josé.py in NFC and in NFD (names equal after Unicode normalisation are not committed, for checkouts that normalise). The copies share its answers (46, 15); their file names tell the reports apart."""

# %%
from keras.layers import MaxPooling2D
from keras.models import Sequential

model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = 46
pool_depth = 15
