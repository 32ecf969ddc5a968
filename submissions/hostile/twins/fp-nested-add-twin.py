# grader: exercise=digits-mlp-accuracy
# honest twin of ../fp-nested-add.py (the same visible network, no trick); old (ca38eb9): 9/13
"""Honest twin of fp-nested-add.py: the exercise's network (functional API), never trained, as the attack shows it."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8))
h = layers.Flatten()(inputs)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
