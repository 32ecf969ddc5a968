# grader: exercise=digits-mlp
# old (e7fa66e, tried with Keras 3 alone): Keras saves a functional model as a kernel_regularizer but its loader cannot read it back ("Could not interpret regularizer identifier"), so the old grader said only "could not be loaded"; now the inspector refuses it first, naming layer `hidden1` and its `kernel_regularizer`; no model check passes; score <= twin (9/9)
"""Adversarial (false pass, a model in a regularizer): computation where the graph walk never looks.

A regularizer, an initializer or a constraint is any callable to Keras, and `model.save` writes a
whole functional model of raw `keras.ops` there. Today's Keras cannot load this one back; the next
release, or a setting Keras does rebuild, might, and nothing in the graph walk would list it.
Expected: refused before Keras builds anything, naming layer `hidden1` and `kernel_regularizer`;
no model check passes; the score is at most the twin's.
"""

# %%
import keras
import numpy as np
from keras import layers, ops

weights = keras.Input((64,))
penalty = keras.Model(weights, ops.sum(ops.matmul(weights, np.eye(64, dtype="float32"))), name="penalty")

# %%
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8)),
        layers.Flatten(),
        layers.Dense(64, activation="relu", kernel_regularizer=penalty, name="hidden1"),
        layers.Dropout(0.2),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
