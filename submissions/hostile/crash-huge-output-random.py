# grader: exercise=digits-mlp-accuracy
# old (ca38eb9): exit 5, internal error (figure too large); a 59 MB result JSON, no HTML
"""Adversarial (crash): the exercise's network with a 2,000-way softmax, never trained.

Random weights spread the "predictions" over the 2,000 classes, so the confusion matrix, sized
to the largest predicted class, has millions of counts.
"""

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
        layers.Dense(2000, activation="softmax"),
    ]
)
