# grader: exercise=digits-mlp
# honest: alice's own submission, in her own folder (one hidden layer: architecture and size fail, output passes)
"""alice's own work for the attribution samples: credited to her by her folder."""

# %%
import keras
from keras import layers

model = keras.Sequential(
    [keras.Input((8, 8)), layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")]
)
