# grader: exercise=conv-dims
"""conv-dims.py as old blog posts wrote it, in Keras 1: Convolution2D(nb_filter, nb_row, nb_col).

Keras 2.0 read `Convolution2D(16, 2, 2)` as 16 filters of 2x2; Keras 3 reads the last 2 as the
strides. The compatibility layer refuses it with the Keras 2 spelling instead of guessing.
"""

# %%
from keras.models import Sequential
from keras.layers import Convolution2D

# %%
model = Sequential()
model.add(Convolution2D(16, 2, 2, subsample=(2, 2), border_mode='valid', activation='relu',
                        input_shape=(200, 200, 1)))

# %%
conv_params = 80
conv_height = 100
