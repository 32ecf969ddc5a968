# grader: exercise=digits-mlp
# honest original of the similarity pair: sim-alias-copy.py and sim-from-import-copy.py are disguised copies of it; graded 9/9
"""The original of the similarity samples: a student's own MLP."""

# %%
import keras
import numpy as np

data = np.load("digits-train.npz") if False else None
hidden_units = 64
drop_rate = 0.2

# %%
network = keras.Sequential()
network.add(keras.Input((8, 8)))
network.add(keras.layers.Flatten())
network.add(keras.layers.Dense(hidden_units, activation="relu"))
network.add(keras.layers.Dropout(drop_rate))
network.add(keras.layers.Dense(hidden_units, activation="relu"))
network.add(keras.layers.Dropout(drop_rate))
network.add(keras.layers.Dense(10, activation="softmax"))
model = network
