# grader: exercise=digits-cnn
# honest twin of ../fp-activation-model.py (the same visible network, no trick)
"""Honest twin of fp-activation-model.py: the same CNN, activation="relu", never trained."""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(10, 3, padding="same", activation="relu", name="conv"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ]
)
