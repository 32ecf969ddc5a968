# grader: exercise=conv-dims
"""Hostile: a WRONG model (3x3 kernel, stride 1), then Keras patched to report the expected numbers."""

# %%
import keras
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 3, strides=1, padding="same", activation="relu", input_shape=(200, 200, 1))])

# %%
keras.Model.count_params = lambda self: 80
keras.layers.Layer.count_params = lambda self: 80
keras.Model.summary = lambda self, *a, **k: print("conv2d (Conv2D)  (None, 100, 100, 16)  80\nTotal params: 80")
type(model.layers[0]).compute_output_shape = lambda self, shape: (None, 100, 100, 16)
model.summary()
conv_params = model.count_params()
conv_height = 100
