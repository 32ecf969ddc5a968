# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): 9.5/13, twin 9/13: the trained network nested as one opaque `Sequential` row answered (0.969); the untrained rubric layers still matched
"""Adversarial (false pass, a nested model doing the work): the exercise's layers beside a trained helper.

The rubric's six layers are there and never trained. A separately trained network is nested in
the model as a single layer, and an `Add` sums its answer with theirs: the layer table showed the
nested network as one opaque row, and the accuracy came from it alone.
"""

# %%
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
data = np.load("digits-train.npz")
x_train, y_train = (data["x"] / 16.0).astype("float32"), data["y"]
helper = keras.Sequential(
    [keras.Input((8, 8)), layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")],
    name="helper",
)
helper.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
helper.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)

# %%
inputs = keras.Input((8, 8))
h = layers.Flatten()(inputs)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
visible = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, layers.Add()([visible, helper(inputs)]))
del helper
