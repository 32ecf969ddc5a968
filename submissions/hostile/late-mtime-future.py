# grader: exercise=digits-mlp
# the test sets its modification time to 2099-01-01 (a clock skewed or a file touched after the deadline) while the roster records it on time; old: counted late from the file's time; expected: on time from the roster's submitted_at, no penalty
"""Adversarial (late work): a submission time the student sets with `touch`. Graded 9/9 before any penalty."""

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
