# grader: exercise=digits-cnn
# honest twin of ../fp-public-digits-layers.py (the same visible network, no trick); old (ca38eb9): 4/8
"""Honest twin of fp-public-digits-layers.py: the same seven layers, with the weights Keras gives them."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(360, 8, padding="same", activation="softmax"),
        layers.MaxPooling2D(1),
        layers.Conv2D(10, 1, padding="same"),
        layers.MaxPooling2D(1),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
