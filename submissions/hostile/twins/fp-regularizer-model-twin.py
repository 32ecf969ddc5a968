# grader: exercise=digits-mlp
# honest twin of ../fp-regularizer-model.py (the same network, a built-in L2 regularizer): 9/9
"""Honest twin of fp-regularizer-model.py: kernel_regularizer=keras.regularizers.L2(0.01)."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8)),
        layers.Flatten(),
        layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01), name="hidden1"),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
