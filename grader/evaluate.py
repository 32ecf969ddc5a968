"""Evaluating a student's saved model on held-out data, in the grader's process.

The model is the `.keras` file the probe saved, loaded with `safe_mode=True` (no student code
runs here), so whatever the notebook printed about its accuracy plays no part. Inference runs in
fixed-size batches through one traced function, on the GPU when there is one, with TensorFlow's
deterministic ops, so the same model and data give the same predictions on every run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader import datasets, inspect
from grader.formulas import format_shape
from grader.probe import ProbeFacts
from grader.result import ClassScore, Metrics, ModelFacts
from grader.rubric import CheckSpec


class EvaluationError(Exception):
    """The model cannot be scored on the held-out data; the message names what does not fit."""


AccuracyOutcome = Metrics | str
"""Per accuracy check: the metrics, or why the model could not be evaluated."""


def evaluate_checks(
    checks: Sequence[CheckSpec],
    base_dir: Path,
    model: ModelFacts | None,
    probe: ProbeFacts | None,
    artifacts: Path,
) -> dict[str, AccuracyOutcome]:
    """Evaluate the graded model (`model`, as chosen and measured) for every accuracy check.

    A fault in one check's data or in the model becomes that check's message; the rest of the
    grade is untouched. Without a model nothing is evaluated (the checks report the model problem).
    """
    accuracy_checks = [c for c in checks if c.accuracy is not None]
    if not accuracy_checks or model is None or probe is None:
        return {}
    probed = next((m for m in probe.models if m.variable == model.variable and m.file), None)
    if probed is None or probed.file is None:
        return {c.id: f"`{model.variable}` was not saved, so it cannot be evaluated" for c in accuracy_checks}
    try:
        keras_model = inspect.load_model(artifacts / probed.file)
    except inspect.ModelLoadError as exc:
        return {c.id: str(exc) for c in accuracy_checks}
    history = {key: tuple(values) for key, values in probed.history.items()} if probed.history else None
    outcomes: dict[str, AccuracyOutcome] = {}
    for check in accuracy_checks:
        assert check.accuracy is not None
        spec = check.accuracy
        try:
            data = datasets.load(spec.data, spec.preprocess, base_dir)
            metrics = evaluate(keras_model, data, batch_size=spec.batch_size)
        except (datasets.DatasetError, EvaluationError) as exc:
            outcomes[check.id] = str(exc)
            continue
        outcomes[check.id] = metrics.model_copy(update={"history": history})
    return outcomes


def evaluate(model: Any, data: datasets.Dataset, *, batch_size: int = 256) -> Metrics:
    """Accuracy, per-class accuracy and the confusion matrix of `model` on `data`."""
    started = time.monotonic()
    _check_input_shape(model, data)
    predictions = predict_classes(model, data, batch_size=batch_size)
    return _metrics(predictions, data, started)


def predict_classes(model: Any, data: datasets.Dataset, *, batch_size: int = 256) -> np.ndarray:
    """The predicted class of every input, in batches; raises if the outputs do not fit the labels."""
    import tensorflow as tf

    inspect.keras_module()
    _deterministic_ops()
    device = _device_name()
    signature = tf.TensorSpec((None, *data.x.shape[1:]), tf.float32)
    with tf.device(device):
        scores = _output_width(model, signature, data)

        @tf.function(input_signature=[signature])
        def classify(batch: Any) -> Any:
            outputs = model(batch, training=False)
            finite = tf.reduce_all(tf.math.is_finite(outputs), axis=1)
            if scores == 1:
                return tf.cast(outputs[:, 0] > 0.5, tf.int64), finite
            return tf.argmax(outputs, axis=1), finite

        inputs = tf.constant(data.x)
        classes, finite = [], []
        try:
            for start in range(0, len(data.x), batch_size):
                batch_classes, batch_finite = classify(inputs[start : start + batch_size])
                classes.append(batch_classes.numpy())
                finite.append(batch_finite.numpy())
        except (tf.errors.OpError, ValueError, TypeError) as exc:
            raise EvaluationError(f"the model failed on the held-out images: {_first_line(exc)}") from None
    ok = np.concatenate(finite)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise EvaluationError(
            f"the model outputs NaN or infinite scores for {len(bad)} of {len(ok)} held-out images "
            f"(the first is image {int(bad[0])}); a training run whose loss became NaN leaves a model "
            "like this: lower the learning rate, or check how the inputs are scaled"
        )
    return np.concatenate(classes)


def _check_input_shape(model: Any, data: datasets.Dataset) -> None:
    try:
        declared = model.input_shape
    except (AttributeError, ValueError):
        return
    if isinstance(declared, list):
        if len(declared) != 1:
            raise EvaluationError(
                f"the model takes {len(declared)} inputs; the grader gives it one (the images)"
            )
        declared = declared[0]
    expected = tuple(declared)[1:]
    actual = tuple(data.x.shape[1:])
    fits = len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected, actual, strict=True)
    )
    if not fits:
        raise EvaluationError(
            f"the model expects inputs of shape {format_shape(expected)}, but the held-out images are "
            f"{format_shape(actual)} (as the exercise prepares them); build the model for "
            f"{format_shape(actual)} inputs and train it on data of that shape"
        )


def _output_width(model: Any, signature: Any, data: datasets.Dataset) -> int:
    """How many scores the model gives per image, checked against the number of classes."""
    import tensorflow as tf

    try:
        traced = tf.function(lambda batch: model(batch, training=False)).get_concrete_function(signature)
    except Exception as exc:
        raise EvaluationError(
            f"the model cannot take the held-out images of shape {format_shape(data.x.shape[1:])}: "
            f"{_first_line(exc)}"
        ) from None
    outputs = traced.structured_outputs
    if not isinstance(outputs, tf.Tensor):
        raise EvaluationError("the model has several outputs; the grader needs one tensor of class scores")
    per_image = tuple(outputs.shape[1:])
    if len(per_image) != 1 or per_image[0] is None:
        raise EvaluationError(
            f"the model outputs shape {format_shape(per_image)} per image; expected one score per class, "
            f"({data.num_classes},)"
        )
    width = int(per_image[0])
    if width == 1 and data.num_classes <= 2:
        return 1
    if width < data.num_classes:
        raise EvaluationError(
            f"the model outputs {width} score{'s' if width != 1 else ''} per image, but the held-out labels "
            f"have {data.num_classes} classes (0 to {data.num_classes - 1}); its last layer needs "
            f"{data.num_classes} units"
        )
    return width


def _metrics(predictions: np.ndarray, data: datasets.Dataset, started: float) -> Metrics:
    labels = data.y
    size = max(data.num_classes, int(predictions.max()) + 1)
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = tuple(
        ClassScore(
            label=label,
            count=int(confusion[label].sum()),
            correct=int(confusion[label, label]),
            accuracy=round(float(confusion[label, label] / confusion[label].sum()), 6)
            if confusion[label].sum()
            else None,
        )
        for label in range(size)
    )
    correct = int(np.trace(confusion))
    return Metrics(
        accuracy=round(correct / len(labels), 6),
        samples=len(labels),
        correct=correct,
        data=data.source,
        input_shape=tuple(int(d) for d in data.x.shape[1:]),
        per_class=per_class,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        device=_device_label(),
        duration_s=round(time.monotonic() - started, 3),
    )


@functools.cache
def _deterministic_ops() -> None:
    """Deterministic kernels (cuDNN picks among algorithms otherwise); set once per process."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def _device_name() -> str:
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def _device_label() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
