# grader: exercise=conv-dims
# old (ca38eb9): exit 1 with a traceback: Rich MarkupError printing the failing cell's message, raised again by the error handler
"""Adversarial (crash): an exception whose message is Rich markup.

The answers are right; one cell raises RuntimeError("[/x]"). The failing cell's message is
printed on the grader's terminal, where "[/x]" is a closing tag that closes nothing.
"""

# %%
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100

# %%
raise RuntimeError("[/x]")
