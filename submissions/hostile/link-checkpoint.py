# grader: exercise=digits-mlp
# old (before submitted_files read only regular files): a checkpoint beside the notebook that is a symbolic link to the held-out digits-test.npz was followed as root and copied into the kernel, which printed its SHA-256 (and could read every held-out image); now the link does not travel: the kernel finds no checkpoint, the report says none was submitted, 9/9 like any honest MLP
"""Adversarial (a link in the submission folder): a "checkpoint" that is a link to the held-out data.

Graded with a rubric that names a checkpoint (`training: {checkpoint: model.weights.h5}`), the
student hands in `model.weights.h5` as a symbolic link to the rubric's data/digits-test.npz; the
grader, as root, would follow it and copy the held-out set into the student's kernel. The cell
below prints the SHA-256 of whatever arrived as its checkpoint.
Expected (tests/test_threat_model.py builds the link at run time): no checkpoint in the kernel,
`checkpoint_submitted` false, the held-out file's SHA-256 nowhere in the report.
"""

# %%
import hashlib

try:
    with open("model.weights.h5", "rb") as handle:
        print("CHECKPOINT", hashlib.sha256(handle.read()).hexdigest())
except OSError as exc:
    print("NO CHECKPOINT", type(exc).__name__)

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
