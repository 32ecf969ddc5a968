# grader: exercise=digits-mlp
# old (before grader/outputs/csvfile.py): the file stem `@SUM(A1)` was written as-is into gradebook.csv, canvas.csv and moodle.csv, and a spreadsheet opening them ran it as a formula; expected: every cell that starts with = + - @ is written with a leading apostrophe (`'@SUM(A1)`), numbers stay numbers; graded normally (9/9)
"""Adversarial (spreadsheet formula in a student-controlled name): the file name is a formula."""

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
