# grader: exercise=digits-mlp
# the test sets its modification time to 2020-01-01, before the due date, while the roster records it as handed in a day after; old (late penalties from file modification times): on time, no penalty; expected: the roster's submitted_at decides: 1 day late, the penalty applied
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
