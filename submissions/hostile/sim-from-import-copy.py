# grader: exercise=digits-mlp
# old (before the similarity normaliser read import aliases): `from keras import layers as L`, `Sequential as S` and renamed variables made every model line differ from sim-original.py, so the copy was not flagged; expected: similarity.csv flags (sim-from-import-copy, sim-original) code-identical; graded 9/9
"""A disguised copy of sim-original.py: `from keras import ... as ...` and renamed variables."""

# %%
import numpy as np_
from keras import Input as I
from keras import Sequential as S
from keras import layers as L

z = np_.load("digits-train.npz") if False else None
u = 64
r = 0.2

# %%
m = S()
m.add(I((8, 8)))
m.add(L.Flatten())
m.add(L.Dense(u, activation="relu"))
m.add(L.Dropout(r))
m.add(L.Dense(u, activation="relu"))
m.add(L.Dropout(r))
m.add(L.Dense(10, activation="softmax"))
model = m
