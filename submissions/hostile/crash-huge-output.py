# grader: exercise=digits-cnn
# old (ca38eb9): exit 5, internal error (figure of 84,100 pixels too large); a 60 MB result JSON, no HTML
"""Adversarial (crash): a 2,000-unit output layer that always "predicts" class 1999.

The confusion matrix used to grow to the largest predicted class: 2,000 x 2,000 counts in the
JSON, and a figure 84,000 pixels wide.
"""

# %%
import keras
import numpy as np
from keras import layers

model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(2000, activation="softmax")])
bias = np.zeros(2000, dtype="float32")
bias[-1] = 10.0
model.layers[-1].set_weights([np.zeros((64, 2000), dtype="float32"), bias])
