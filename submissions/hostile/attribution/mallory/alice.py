# grader: exercise=digits-mlp
# old (before roster attribution by folder): credited by its file name, so mallory's full-marks work in mallory/alice.py became alice's grade in canvas.csv/moodle.csv (the best of her submissions); expected: credited to no one (its name points at alice, its folder at mallory), alice keeps her own grade
"""Adversarial (attribution): mallory hands in a file named after alice, inside mallory's own folder.

The roster has both students. The file is an honest, full-marks MLP; what it attacks is who is
credited: alice's own work (attribution/alice/work.py) scores less, so if this file counted as
hers the exports would give her its score as her best submission.
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
