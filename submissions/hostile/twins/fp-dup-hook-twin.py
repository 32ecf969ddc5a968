# grader: exercise=digits-mlp-accuracy
# honest twin of ../fp-dup-hook.py (the same visible network, no trick); old (ca38eb9): 9/13
"""Honest twin of fp-dup-hook.py: the exercise's network, never trained, as the attack shows it."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8)),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
