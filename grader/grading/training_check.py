"""The `training:` check: what the model was compiled and trained with, against the rubric.

Each key the rubric gives (loss, optimizer, learning rate, metrics, epochs, batch size,
callbacks, augmentation, validation, loss_fits_labels) is compared on its own; the message
names every mismatch with what was expected and what was found, in the lesson's terms (a sparse
loss with one-hot labels says exactly that, and which labels it saw). The facts come from the
student's own process (`TrainingFacts`), like a variable check's value: they say what the
notebook did, and earn nothing it could not have earned by compiling and fitting that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.grading.check_result import check_result
from grader.grading.probe import (
    AugmentationLayer,
    FitFacts,
    LabelFacts,
    ProbedModel,
    ProbeFacts,
    TrainingFacts,
)
from grader.result import CheckResult
from grader.rubric.model import CheckSpec
from grader.rubric.ranges import Range
from grader.rubric.training import (
    ACCURACIES,
    INTEGER_LOSSES,
    ONE_HOT_LOSSES,
    TrainingCheckSpec,
    canonical_callback,
    canonical_loss,
    canonical_metric,
    canonical_optimizer,
)

LESSON = {
    "categorical_crossentropy": "categorical_crossentropy is the loss for one-hot labels "
    "(keras.utils.to_categorical) and a softmax output",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy is the loss for integer class labels "
    "(0, 1, 2, ...) and a softmax output",
    "binary_crossentropy": "binary_crossentropy is the loss for two classes: labels 0/1 and one sigmoid unit",
    "mean_squared_error": "mean_squared_error is a regression loss, not one for class labels",
}
"""Why the lesson's losses differ, said the way the lesson says it."""
RELATIVE = 1e-4
"""Learning rates are float32 in the model: 0.001 reads back as 0.0010000000474974513."""


@dataclass(frozen=True)
class Outcome:
    """One key of the check: whether it matched and what to tell the student."""

    key: str
    ok: bool
    message: str


def check_training(
    spec: CheckSpec, expected: TrainingCheckSpec, probe: ProbeFacts | None, variable: str | None
) -> CheckResult:
    """Compare each key the rubric gives; points in proportion to the keys matched when `partial`."""
    if probe is None:
        return check_result(
            spec, "error", 0, "what the model was trained with could not be read: the notebook did not finish"
        )
    model, problem = _model(probe, variable)
    if model is None or model.training is None or model.training.refused:
        return check_result(spec, "fail", 0, problem or _no_facts(model))
    outcomes = [COMPARE[key](expected, model.training) for key in expected.given()]
    matched = sum(outcome.ok for outcome in outcomes)
    if spec.partial:
        points = spec.points * matched / len(outcomes)
    else:
        points = spec.points if matched == len(outcomes) else 0.0
    status = "pass" if matched == len(outcomes) else "fail"
    wrong = [o.message for o in outcomes if not o.ok]
    message = "; ".join(wrong or [o.message for o in outcomes])
    return check_result(spec, status, points, f"`{model.variable}`: {message}")


def _model(probe: ProbeFacts, variable: str | None) -> tuple[ProbedModel | None, str | None]:
    """The rubric's model, else the model fitted last, else the last one compiled, else the only one."""
    if variable is not None:
        named = next((m for m in probe.models if m.variable == variable), None)
        return named, None if named else f"the notebook does not define the model `{variable}`"
    if not probe.models:
        return None, "the notebook defines no Keras model (a keras.Model held in a global variable)"
    fitted = [m for m in probe.models if m.training is not None and m.training.last_fit is not None]
    if fitted:
        return max(fitted, key=lambda m: m.training.last_fit or 0), None  # type: ignore[union-attr]
    compiled = [m for m in probe.models if m.training is not None and m.training.compile is not None]
    return (compiled or list(probe.models))[-1], None


def _no_facts(model: ProbedModel | None) -> str:
    if model is not None and model.training is not None and model.training.refused:
        return f"the training facts the notebook reported for `{model.variable}` were refused ({model.training.refused})"
    name = f"`{model.variable}`" if model is not None else "the model"
    return f"what {name} was compiled and trained with could not be read"


def _compiled(facts: TrainingFacts, key: str, compare: Callable[[Any], Outcome]) -> Outcome:
    if facts.compile is None:
        return Outcome(
            key, False, f"{key}: the model was never compiled (model.compile(...) was not run on it)"
        )
    return compare(facts.compile)


def _loss(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    assert expected.loss is not None
    wanted = canonical_loss(expected.loss) or expected.loss

    def compare(compiled: Any) -> Outcome:
        found = [canonical_loss(name) or name for name in compiled.loss]
        if found and all(name == wanted for name in found):
            return Outcome("loss", True, f"loss {wanted}, as expected")
        shown = ", ".join(found) or "none"
        why = _label_mismatch(found[0], _labels(facts)) if found else None
        return Outcome("loss", False, f"loss: expected {wanted}, found {shown} ({why or _lesson(wanted)})")

    return _compiled(facts, "loss", compare)


def _lesson(loss: str) -> str:
    return LESSON.get(loss, f"the lesson compiles with loss='{loss}'")


def _labels(facts: TrainingFacts) -> LabelFacts | None:
    """The labels of the last fit call that had readable ones."""
    return next((fit.labels for fit in reversed(facts.fits) if fit.labels is not None), None)


def describe_labels(labels: LabelFacts) -> str:
    shape = (
        "("
        + ", ".join("None" if d is None else str(d) for d in labels.shape)
        + ("," if len(labels.shape) == 1 else "")
        + ")"
    )
    classes = f", {labels.classes} classes" if labels.classes else ""
    kind = {"one_hot": "one-hot", "integer": "integer class labels", "other": "neither one-hot nor integers"}
    return f"{kind[labels.kind]} (shape {shape}{classes})"


def _label_mismatch(loss: str, labels: LabelFacts | None) -> str | None:
    """The lesson's explanation when the loss does not suit the labels fitted on; None when it does (or unknown)."""
    if labels is None:
        return None
    seen = f"the labels fitted on are {describe_labels(labels)}"
    if loss in INTEGER_LOSSES and labels.kind == "one_hot":
        return (
            f"{loss} expects integer class labels, but {seen}: with one-hot labels use categorical_crossentropy "
            "(or fit on the integer labels)"
        )
    if loss in ONE_HOT_LOSSES and labels.kind == "integer":
        return (
            f"{loss} expects one-hot labels, but {seen}: with integer labels use sparse_categorical_crossentropy "
            "(or one-hot encode them with keras.utils.to_categorical)"
        )
    if loss == "binary_crossentropy" and (labels.classes or 0) > 2:
        return f"binary_crossentropy is for two classes, but {seen}: use categorical_crossentropy"
    return None


def _loss_fits_labels(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    def compare(compiled: Any) -> Outcome:
        labels = _labels(facts)
        loss = canonical_loss(compiled.loss[0]) if compiled.loss else None
        if loss is None:
            return Outcome(
                "loss_fits_labels", False, "loss_fits_labels: the model was compiled with no known loss"
            )
        if labels is None:
            return Outcome(
                "loss_fits_labels",
                False,
                f"loss_fits_labels: could not see the labels {loss} was fitted on (fit on NumPy arrays, or on "
                "ImageDataGenerator.flow(x, y))",
            )
        why = _label_mismatch(loss, labels)
        if why is not None:
            return Outcome("loss_fits_labels", False, f"the loss does not fit the labels: {why}")
        return Outcome("loss_fits_labels", True, f"{loss} suits the labels ({describe_labels(labels)})")

    return _compiled(facts, "loss_fits_labels", compare)


def _optimizer(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    assert expected.optimizer is not None
    wanted = canonical_optimizer(expected.optimizer) or expected.optimizer

    def compare(compiled: Any) -> Outcome:
        found = compiled.optimizer or "none"
        if (canonical_optimizer(found) or found) == wanted:
            return Outcome("optimizer", True, f"optimizer {wanted}, as expected")
        return Outcome(
            "optimizer",
            False,
            f"optimizer: expected {wanted}, found {found} (compile with optimizer='{wanted.lower()}' "
            f"or keras.optimizers.{wanted}(...))",
        )

    return _compiled(facts, "optimizer", compare)


def _learning_rate(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    wanted = expected.learning_rate
    assert wanted is not None

    def compare(compiled: Any) -> Outcome:
        found = compiled.learning_rate
        if found is None:
            return Outcome(
                "learning_rate", False, "learning_rate: the optimizer's learning rate could not be read"
            )
        if isinstance(wanted, Range):
            ok, shown = wanted.contains(found), wanted.describe()
        else:
            ok, shown = math.isclose(found, wanted, rel_tol=RELATIVE), f"{wanted:g}"
        if ok:
            return Outcome("learning_rate", True, f"learning rate {found:.6g}, as expected ({shown})")
        return Outcome("learning_rate", False, f"learning_rate: expected {shown}, found {found:.6g}")

    return _compiled(facts, "learning_rate", compare)


def _metric_found(wanted: str, found: set[str]) -> bool:
    return wanted in found or (wanted == "accuracy" and bool(found & ACCURACIES))


def _metrics(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    wanted = [canonical_metric(name) or name for name in expected.metrics or []]

    def compare(compiled: Any) -> Outcome:
        found = {canonical_metric(name) or name for name in compiled.metrics}
        missing = [name for name in wanted if not _metric_found(name, found)]
        if not missing:
            return Outcome("metrics", True, f"metrics include {', '.join(wanted)}, as expected")
        shown = ", ".join(sorted(found)) or "none"
        quoted = ", ".join(f"'{name}'" for name in missing)
        return Outcome(
            "metrics",
            False,
            f"metrics: expected {', '.join(missing)} among the compiled metrics, found {shown} "
            f"(compile with metrics=[{quoted}])",
        )

    return _compiled(facts, "metrics", compare)


def _fitted(facts: TrainingFacts, key: str, compare: Callable[[FitFacts], Outcome]) -> Outcome:
    if not facts.fits:
        return Outcome(key, False, f"{key}: the model was never fitted (no model.fit(...) call on it)")
    return compare(facts.fits[-1])


def _count(key: str, wanted: int | Range, found: int | None, what: str) -> Outcome:
    if found is None:
        return Outcome(key, False, f"{key}: {what} could not be read")
    if isinstance(wanted, Range):
        ok, shown = wanted.contains(found), wanted.describe()
    else:
        ok, shown = found == wanted, str(wanted)
    if ok:
        return Outcome(key, True, f"{what} {found}, as expected ({shown})")
    return Outcome(key, False, f"{key}: expected {shown}, found {found} ({what})")


def _epochs(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    assert expected.epochs is not None
    wanted = expected.epochs

    def compare(_: FitFacts) -> Outcome:
        total = facts.epochs_asked
        if (
            total is None
            and facts.fit_count == len(facts.fits)
            and all(f.epochs is not None for f in facts.fits)
        ):
            total = sum(fit.epochs or 0 for fit in facts.fits)
        return _count("epochs", wanted, total, "epochs asked for across the fit calls")

    return _fitted(facts, "epochs", compare)


def _batch_size(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    assert expected.batch_size is not None
    wanted = expected.batch_size
    return _fitted(
        facts,
        "batch_size",
        lambda fit: _count("batch_size", wanted, fit.batch_size, "the last fit call's batch size"),
    )


def _validation(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    def compare(fit: FitFacts) -> Outcome:
        if fit.validation == expected.validation:
            return Outcome(
                "validation", True, f"validation {'used' if fit.validation else 'not used'}, as expected"
            )
        if expected.validation:
            return Outcome(
                "validation",
                False,
                "validation: the last fit call did not validate (pass validation_data=(x, y))",
            )
        return Outcome(
            "validation", False, "validation: the last fit call validated; the exercise trains without"
        )

    return _fitted(facts, "validation", compare)


def _callbacks(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    wanted = [canonical_callback(name) or name for name in expected.callbacks or []]

    def compare(_: FitFacts) -> Outcome:
        found = {canonical_callback(c.type) or c.type for fit in facts.fits for c in fit.callbacks}
        missing = [name for name in wanted if name not in found]
        if not missing:
            return Outcome("callbacks", True, f"callbacks include {', '.join(wanted)}, as expected")
        shown = ", ".join(sorted(found)) or "none"
        return Outcome(
            "callbacks",
            False,
            f"callbacks: expected {', '.join(missing)}, found {shown} (pass callbacks=[...] to model.fit)",
        )

    return _fitted(facts, "callbacks", compare)


def layer_augmentation(layers: tuple[AugmentationLayer, ...]) -> dict[str, Any]:
    """The preprocessing layers' augmentation in ImageDataGenerator's terms (RandomFlip('horizontal'): horizontal_flip)."""
    found: dict[str, Any] = {}
    for layer in layers:
        settings = layer.settings
        if layer.type == "RandomFlip":
            mode = str(settings.get("mode", "horizontal_and_vertical"))
            found["horizontal_flip"] = "horizontal" in mode or found.get("horizontal_flip", False)
            found["vertical_flip"] = "vertical" in mode or found.get("vertical_flip", False)
        elif layer.type == "RandomRotation":
            found["rotation_range"] = _extent(settings.get("factor"), 360.0)
        elif layer.type == "RandomTranslation":
            found["height_shift_range"] = _extent(settings.get("height_factor"), 1.0)
            found["width_shift_range"] = _extent(settings.get("width_factor"), 1.0)
        else:
            found["zoom_range"] = _extent(settings.get("height_factor"), 1.0)
    return found


def _extent(factor: Any, scale: float) -> float | None:
    """A layer's factor (0.1, or (-0.1, 0.1)) as the one number ImageDataGenerator takes."""
    values = factor if isinstance(factor, list) else [factor]
    numbers = [abs(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(numbers) * scale if numbers else None


def same_setting(key: str, wanted: Any, found: Any) -> bool:
    """Equal, numbers to float precision; a zoom of 0.2 is the [0.8, 1.2] ImageDataGenerator keeps."""
    if (
        key == "zoom_range"
        and isinstance(wanted, int | float)
        and isinstance(found, list)
        and len(found) == 2
    ):
        found = (found[1] - found[0]) / 2
    if isinstance(wanted, bool) or isinstance(found, bool) or wanted is None or found is None:
        return wanted is found or (not wanted and not found)
    if isinstance(wanted, int | float) and isinstance(found, int | float):
        return math.isclose(wanted, found, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(wanted, list) and isinstance(found, list) and len(wanted) == len(found):
        return all(same_setting(key, w, f) for w, f in zip(wanted, found, strict=True))
    return bool(wanted == found)


def _augmentation(expected: TrainingCheckSpec, facts: TrainingFacts) -> Outcome:
    wanted = expected.augmentation or {}
    generator = next((fit.augmentation for fit in reversed(facts.fits) if fit.augmentation is not None), None)
    layers = layer_augmentation(facts.augmentation_layers)
    if generator is None and not layers:
        return Outcome(
            "augmentation",
            False,
            "augmentation: none found (fit on ImageDataGenerator(...).flow(x, y), or add RandomFlip, RandomRotation, "
            "RandomTranslation or RandomZoom layers)",
        )
    found = {**(generator or {}), **{k: v for k, v in layers.items() if v is not None}}
    wrong = [
        f"{key} expected {value!r}, found {found.get(key)!r}"
        for key, value in wanted.items()
        if not same_setting(key, value, found.get(key))
    ]
    if not wrong:
        return Outcome("augmentation", True, "augmentation as expected")
    return Outcome("augmentation", False, f"augmentation: {'; '.join(wrong)}")


COMPARE: dict[str, Callable[[TrainingCheckSpec, TrainingFacts], Outcome]] = {
    "loss": _loss,
    "optimizer": _optimizer,
    "learning_rate": _learning_rate,
    "metrics": _metrics,
    "epochs": _epochs,
    "batch_size": _batch_size,
    "callbacks": _callbacks,
    "augmentation": _augmentation,
    "validation": _validation,
    "loss_fits_labels": _loss_fits_labels,
}
