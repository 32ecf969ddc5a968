# grader: exercise=digits-cnn
# honest twin of ../fp-planted-thread.py (the same visible network, no trick); old (ca38eb9): 4/8
"""Honest twin of fp-planted-thread.py: a small CNN, never trained, as the attack shows it."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ]
)
