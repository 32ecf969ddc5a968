# grader: exercise=digits-mlp
# old (e7fa66e, read from the graph walk it had, not run): one row per layer object, so the second Dense(64) called five times was one row and the 6-row rubric passed: 9/9 for a network four Dense layers deeper than asked; now its calls 2-5 are rows of their own: architecture fails, score < twin (9/9)
"""Adversarial (false pass, one layer object called many times): a deeper network shown as the rubric's six rows.

A functional model may call one layer object several times. The graph walk listed layer objects,
so `shared` below, called five times in a row, was one row: Flatten, Dense, Dropout, Dense,
Dropout, Dense, exactly the rubric's list with exactly its 8,970 parameters.
Expected: the layer table has a row per call (`shared (call 2)` ... `(call 5)`), the architecture
check fails, and the score is below the twin's.
"""

# %%
import keras
from keras import layers

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8))
h = layers.Flatten()(inputs)
h = layers.Dense(64, activation="relu")(h)
h = layers.Dropout(0.2)(h)
shared = layers.Dense(64, activation="relu", name="shared")
for _ in range(5):
    h = shared(h)
h = layers.Dropout(0.2)(h)
model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
