# grader: exercise=digits-mlp
# old (before the similarity normaliser read import aliases): `import keras as K` and renamed variables made every line differ from sim-original.py, so the copy was not flagged; expected: similarity.csv flags (sim-alias-copy, sim-original) code-identical; graded 9/9 like the original
"""A disguised copy of sim-original.py: `import keras as K`, numpy as `N`, every variable renamed."""

# %%
import keras as K
import numpy as N

d = N.load("digits-train.npz") if False else None
width = 64
p = 0.2

# %%
net = K.Sequential()
net.add(K.Input((8, 8)))
net.add(K.layers.Flatten())
net.add(K.layers.Dense(width, activation="relu"))
net.add(K.layers.Dropout(p))
net.add(K.layers.Dense(width, activation="relu"))
net.add(K.layers.Dropout(p))
net.add(K.layers.Dense(10, activation="softmax"))
model = net
