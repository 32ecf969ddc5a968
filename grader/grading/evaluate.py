"""Accuracy on held-out data: the inspector predicts, the grader scores.

The model is the very file the layer checks measured (`grader.grading.artifacts.ModelFile`), run by the
inspector process (`grader.grading.inspector`), which gets the held-out inputs but never their labels
and answers with one class index per input. The scoring here is pure arithmetic over those
indices, so whatever the notebook printed about its accuracy plays no part.

Nothing in the result may encode held-out data: the confusion matrix has exactly one row and one
column per class of the held-out labels, and every prediction outside them is counted in a
single "other" column (a model whose "prediction" is a pixel value cannot read the image back
through the report); a fault names counts and shapes, never which image.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from grader.grading import datasets
from grader.grading.artifacts import ModelFile
from grader.grading.inspector import Inspector, InspectorError, Prediction
from grader.result import ClassScore, Metrics
from grader.rubric.model import CheckSpec

AccuracyOutcome = Metrics | str
"""Per accuracy check: the metrics, or why the model could not be evaluated."""


def evaluate_checks(
    checks: Sequence[CheckSpec],
    base_dir: Path,
    model: ModelFile | None,
    inspector: Inspector,
    history: dict[str, tuple[float | None, ...]] | None = None,
    refusal: str | None = None,
) -> dict[str, AccuracyOutcome]:
    """Evaluate the graded model's file for every accuracy check; a fault becomes that check's message.

    Without a model nothing is evaluated (the checks report the model problem); with `refusal`
    (e.g. the model computes with operations the rubric does not account for) nothing is either.
    """
    accuracy_checks = [c for c in checks if c.accuracy is not None]
    if not accuracy_checks or model is None:
        return {}
    if refusal is not None:
        return {c.id: refusal for c in accuracy_checks}
    outcomes: dict[str, AccuracyOutcome] = {}
    for check in accuracy_checks:
        assert check.accuracy is not None
        spec = check.accuracy
        try:
            data = datasets.load(spec.data, spec.preprocess, base_dir)
            began = time.monotonic()
            prediction = inspector.predict(
                model, datasets.inputs_file(data), data.num_classes, spec.batch_size
            )
            metrics = compute_metrics(prediction, data, time.monotonic() - began)
        except (datasets.DatasetError, InspectorError, EvaluationError) as exc:
            outcomes[check.id] = str(exc)
            continue
        outcomes[check.id] = metrics.model_copy(update={"history": history})
    return outcomes


class EvaluationError(Exception):
    """The predictions cannot be scored (a broken model); the message says why, without naming an image."""


def compute_metrics(prediction: Prediction, data: datasets.Dataset, duration_s: float) -> Metrics:
    """Accuracy, per-class accuracy and the confusion matrix (with its one "other" column)."""
    predictions = np.asarray(prediction.classes, dtype=np.int64)
    if len(predictions) != len(data.y):
        raise EvaluationError(
            f"the grader got {len(predictions)} predictions for {len(data.y)} held-out images"
        )
    if prediction.nonfinite:
        raise EvaluationError(
            "the model outputs NaN or infinite scores for some of the held-out images (which, and how many, "
            "is not said: that would tell about images the notebook must not see); a training run whose "
            "loss became NaN leaves a model like this: lower the learning rate, or check how the inputs "
            "are scaled"
        )
    return metrics(predictions, np.asarray(data.y), data, prediction.device, duration_s)


def metrics(
    predictions: np.ndarray, labels: np.ndarray, data: datasets.Dataset, device: str, duration_s: float
) -> Metrics:
    classes = data.num_classes
    inside = (predictions >= 0) & (predictions < classes)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels[inside], predictions[inside]), 1)
    other = np.bincount(labels[~inside], minlength=classes)[:classes]
    per_class = tuple(
        ClassScore(
            label=label,
            count=int(confusion[label].sum() + other[label]),
            correct=int(confusion[label, label]),
            accuracy=round(float(confusion[label, label] / (confusion[label].sum() + other[label])), 6)
            if confusion[label].sum() + other[label]
            else None,
        )
        for label in range(classes)
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
        other=tuple(int(v) for v in other) if other.any() else (),
        device=device,
        duration_s=round(duration_s, 3),
    )
