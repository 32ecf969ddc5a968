"""Running a saved model on held-out inputs: the predicted class of each, in the inspector process.

The inspector (`grader.grading.inspector`) gets the inputs only, never the labels: it returns one class
index per input and how many inputs gave non-finite scores, and the grader scores them
(`grader.grading.evaluate`). Inference runs in fixed-size batches through one traced function, on the GPU
when there is one, with TensorFlow's deterministic ops, so the same model and inputs give the
same predictions on every run. Error messages describe shapes and widths only: nothing that
depends on a held-out value may leave this process in words.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from grader.inside.inspector.measure import keras_module
from grader.inside.shapes import format_shape

NUMBER_RUNS = re.compile(r"(?:[-+]?\d[\d.eE+-]*[,\s]+){4,}[-+]?\d[\d.eE+-]*")


class PredictionError(Exception):
    """The model cannot be run on the held-out inputs; the message names what does not fit."""


def predict_classes(
    model: Any, x: np.ndarray, num_classes: int, *, batch_size: int = 256
) -> tuple[np.ndarray, int]:
    """The predicted class of every input (argmax, or a threshold for one sigmoid score) and the non-finite count."""
    import tensorflow as tf

    keras_module()
    _deterministic_ops()
    check_input_shape(model, x.shape[1:])
    signature = tf.TensorSpec((None, *x.shape[1:]), tf.float32)
    with tf.device(_device_name()):
        scores = _output_width(model, signature, x.shape[1:], num_classes)

        @tf.function(input_signature=[signature])
        def classify(batch: Any) -> Any:
            outputs = model(batch, training=False)
            finite = tf.reduce_all(tf.math.is_finite(outputs), axis=1)
            if scores == 1:
                return tf.cast(outputs[:, 0] > 0.5, tf.int64), finite
            return tf.argmax(outputs, axis=1), finite

        classes, finite = [], []
        try:
            for start in range(0, len(x), batch_size):
                batch = tf.constant(np.asarray(x[start : start + batch_size], dtype=np.float32))
                batch_classes, batch_finite = classify(batch)
                classes.append(batch_classes.numpy())
                finite.append(batch_finite.numpy())
        except (tf.errors.OpError, ValueError, TypeError) as exc:
            raise PredictionError(f"the model failed on the held-out images: {first_line(exc)}") from None
    ok = np.concatenate(finite) if finite else np.zeros(0, dtype=bool)
    return (np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)), int((~ok).sum())


def check_input_shape(model: Any, per_image: tuple[int, ...]) -> None:
    try:
        declared = model.input_shape
    except (AttributeError, ValueError):
        return
    if isinstance(declared, list):
        if len(declared) != 1:
            raise PredictionError(
                f"the model takes {len(declared)} inputs; the grader gives it one (the images)"
            )
        declared = declared[0]
    expected = tuple(declared)[1:]
    actual = tuple(per_image)
    fits = len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected, actual, strict=True)
    )
    if not fits:
        raise PredictionError(
            f"the model expects inputs of shape {format_shape(expected)}, but the held-out images are "
            f"{format_shape(actual)} (as the exercise prepares them); build the model for "
            f"{format_shape(actual)} inputs and train it on data of that shape"
        )


def _output_width(model: Any, signature: Any, per_image: tuple[int, ...], num_classes: int) -> int:
    """How many scores the model gives per image, checked against the number of classes."""
    import tensorflow as tf

    try:
        traced = tf.function(lambda batch: model(batch, training=False)).get_concrete_function(signature)
    except Exception as exc:
        raise PredictionError(
            f"the model cannot take the held-out images of shape {format_shape(per_image)}: {first_line(exc)}"
        ) from None
    outputs = traced.structured_outputs
    if not isinstance(outputs, tf.Tensor):
        raise PredictionError("the model has several outputs; the grader needs one tensor of class scores")
    width_shape = tuple(outputs.shape[1:])
    if len(width_shape) != 1 or width_shape[0] is None:
        raise PredictionError(
            f"the model outputs shape {format_shape(width_shape)} per image; expected one score per class, "
            f"({num_classes},)"
        )
    width = int(width_shape[0])
    if width == 1 and num_classes <= 2:
        return 1
    if width < num_classes:
        raise PredictionError(
            f"the model outputs {width} score{'s' if width != 1 else ''} per image, but the held-out labels "
            f"have {num_classes} classes (0 to {num_classes - 1}); its last layer needs {num_classes} units"
        )
    return width


@functools.cache
def _deterministic_ops() -> None:
    """Deterministic kernels (cuDNN picks among algorithms otherwise); set once per process."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def _device_name() -> str:
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def device_label() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


def first_line(exc: BaseException) -> str:
    """The first line of an error, shortened, with runs of numbers (printed tensors) left out."""
    text = str(exc).strip().splitlines()
    line = NUMBER_RUNS.sub("…", text[0])[:300] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
