# grader: exercise=conv-dims
# old (ca38eb9): `grade` exit 1 with a traceback (Rich MarkupError printing "ran in ... on [/bold]", raised again by the error handler); `grade batch` the same at this student's progress line, no gradebook.csv
"""Adversarial (batch breaker): a forged device string with Rich markup in facts.json.

The probe's `json.dump` is patched, so the facts it writes claim the model ran on "[/bold]".
A correct answer otherwise: the damage, if any, is done by printing that string.
"""

# %%
import json

from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100

# %%
_real_dump = json.dump


def _forged_dump(obj, handle, *args, **kwargs):
    if isinstance(obj, dict) and "device" in obj:
        obj["device"] = "[/bold] GPU [link=file:///etc/passwd]x[/link]"
    return _real_dump(obj, handle, *args, **kwargs)


json.dump = _forged_dump
