"""Kernel side: seeding Python, NumPy and Keras/TensorFlow before the student's first cell.

The seed is the submission's own (`grader.grading.prelude.submission_seed`): a regrade of the same
submission trains to the same numbers (on the same machine and numeric path), while two students
who wrote the same code do not, so that identical weights can mean something.
Keras is imported only when the submission uses it (importing TensorFlow costs seconds).
"""

from __future__ import annotations

import random
from typing import Any


def seed(value: int, import_keras: bool) -> Any:
    """Seed everything; return Keras when it was imported (the other set-up steps patch it)."""
    random.seed(value)
    try:
        import numpy

        numpy.random.seed(value)
    except ImportError:
        pass
    if not import_keras:
        return None
    try:
        import keras
    except ImportError:
        return None
    keras.utils.set_random_seed(value)
    return keras
