# grader: exercise=conv-dims
# old (ca38eb9): exit 1 with a traceback: Rich MarkupError printing the check message, raised again by the error handler
"""Adversarial (crash): an answer whose text is Rich markup.

`conv_height` is the string "[/x] [bold]100" instead of a number: the check's message quotes
it, and the message is printed in the grader's terminal table, where markup is live.
"""

# %%
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = "[/x] [bold]100"
