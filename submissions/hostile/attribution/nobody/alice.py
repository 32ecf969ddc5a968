# grader: exercise=digits-mlp
# old (before roster attribution by folder): credited by its file name, so a full-marks file at nobody/alice.py, handed in by anyone, became alice's best grade in canvas.csv/moodle.csv; expected: credited to no one (a folder that is no roster student's, named after a student), alice keeps her own grade
"""Adversarial (attribution): a file named after alice in a folder that belongs to no roster student.

Expected: ambiguous, credited to no one; alice's exported grade is her own work's score.
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
        layers.Dense(10, activation="softmax"),
    ]
)
