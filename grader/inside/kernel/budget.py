"""Kernel side: the training budget: caps on every `fit`, or the student's checkpoint loaded instead.

A rubric's `training: {max_epochs, max_steps}` caps each `fit` call so that a class grades in
minutes; `training: {checkpoint: FILE}` loads the weights the student handed in beside the
notebook instead of training again. Each decision is recorded (`records.TRAINING`).

Every `fit` call is also described (`FITS`, read by the probe for a rubric's `training:` checks):
the epochs asked for and run, the batch size, validation, the callbacks, the labels (one-hot or
integer) and an `ImageDataGenerator`'s augmentation. The description is taken before the caps
apply, reads only small slices of the data, and never stops a `fit`: whatever it cannot read it
leaves out. It lives in the student's process, so the grader treats it as untrusted.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import weakref
from typing import Any

from .keras2 import refuse_keras1_fit_keywords, rename_fit_keywords
from .records import note_training


def install(keras: Any, config: dict[str, Any]) -> None:
    """Wrap `Model.fit` for `nb_epoch=` (keras2), the epoch and step caps, and the submitted checkpoint.

    The wrapper always describes each call (`describe_fit`); what training did is noted in the
    report only where the rubric changed how it trains (a cap, a checkpoint, Keras 2 keywords).
    """
    compat = config.get("compat") == "keras2"
    max_epochs = config.get("max_epochs")
    max_steps = config.get("max_steps")
    checkpoint = config.get("checkpoint")
    submitted = checkpoint if checkpoint and os.path.isfile(checkpoint) else None
    budgeted = bool(compat or max_epochs or max_steps or submitted)
    model = keras.Model
    original_fit = model.fit
    signature = inspect.signature(original_fit)

    @functools.wraps(original_fit)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if compat:
            refuse_keras1_fit_keywords(kwargs)
            rename_fit_keywords(kwargs)
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original_fit(self, *args, **kwargs)
        fit_facts = describe_fit(self, bound.arguments)
        if submitted is not None and _load_checkpoint(self, submitted):
            history = keras.callbacks.History()
            history.set_model(self)
            return history
        _cap(bound.arguments, max_epochs, max_steps)
        history = original_fit(*bound.args, **bound.kwargs)
        if budgeted:
            _note_trained(history)
        if fit_facts is not None:
            fit_facts["epochs_run"] = len(getattr(history, "epoch", []) or [])
        return history

    model.fit = fit


def _load_checkpoint(model: Any, path: str) -> bool:
    try:
        model.load_weights(path)
    except Exception as exc:
        note_training("checkpoint_failed", f"could not load {path}: {type(exc).__name__}: {exc}"[:300])
        return False
    note_training(
        "checkpoint_loaded",
        f"loaded the weights from {path} instead of training (fit returned an empty history)",
        file=path,
    )
    return True


def _cap(arguments: dict[str, Any], max_epochs: int | None, max_steps: int | None) -> None:
    epochs = int(arguments.get("epochs", 1))
    initial = int(arguments.get("initial_epoch", 0))
    if max_epochs and epochs - initial > max_epochs:
        arguments["epochs"] = initial + max_epochs
        note_training(
            "epochs_capped",
            f"fit asked for {epochs - initial} epochs; ran {max_epochs}",
            asked=epochs - initial,
            ran=max_epochs,
        )
    steps = arguments.get("steps_per_epoch")
    if max_steps and (steps is None or steps > max_steps):
        arguments["steps_per_epoch"] = max_steps
        asked = "all the batches" if steps is None else f"{steps} steps"
        note_training(
            "steps_capped",
            f"each epoch asked for {asked}; ran at most {max_steps} steps",
            asked=steps,
            ran=max_steps,
        )


def _note_trained(history: Any) -> None:
    logs = getattr(history, "history", None) or {}
    final = {}
    for key, values in dict(logs).items():
        try:
            final[str(key)] = round(float(values[-1]), 6)
        except (TypeError, ValueError, IndexError):
            continue
    epochs = len(getattr(history, "epoch", []) or [])
    note_training("trained", f"trained {epochs} epoch(s)", epochs=epochs, final=final)


MAX_FITS = 200
MAX_CALLBACKS = 20
LABEL_ROWS = 256
MAX_LABELS = 10_000_000
TEXT = 100
CALLBACK_SETTINGS = (
    "monitor",
    "mode",
    "save_best_only",
    "save_weights_only",
    "patience",
    "min_delta",
    "restore_best_weights",
    "factor",
    "min_lr",
)
"""The settings of a callback worth reporting (ModelCheckpoint's, EarlyStopping's, ReduceLROnPlateau's)."""
GENERATOR_SETTINGS = (
    "featurewise_center",
    "samplewise_center",
    "featurewise_std_normalization",
    "samplewise_std_normalization",
    "zca_whitening",
    "zca_epsilon",
    "rotation_range",
    "width_shift_range",
    "height_shift_range",
    "brightness_range",
    "shear_range",
    "zoom_range",
    "channel_shift_range",
    "fill_mode",
    "cval",
    "horizontal_flip",
    "vertical_flip",
    "rescale",
    "data_format",
    "interpolation_order",
)
FITS: list[tuple[Any, dict[str, Any]]] = []
"""(weak reference to the model, what one fit call was asked to do), oldest first, the latest MAX_FITS kept."""


def describe_fit(model: Any, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """Note what this fit call was asked to do; None (and nothing noted) when it cannot be read."""
    try:
        facts = _fit_facts(arguments)
        FITS.append((weakref.ref(model), facts))
    except Exception:
        return None
    del FITS[:-MAX_FITS]
    return facts


def fits_of(model: Any) -> list[dict[str, Any]]:
    """The fit calls noted for this model, oldest first."""
    return [facts for reference, facts in FITS if reference() is model]


def _fit_facts(arguments: dict[str, Any]) -> dict[str, Any]:
    x = arguments.get("x")
    generator = getattr(x, "image_data_generator", None)
    epochs = _number(arguments.get("epochs", 1))
    initial = _number(arguments.get("initial_epoch", 0)) or 0
    facts: dict[str, Any] = {
        "epochs": None if epochs is None else int(epochs - initial),
        "epochs_run": 0,
        "batch_size": _batch_size(x, arguments.get("batch_size")),
        "validation": arguments.get("validation_data") is not None
        or bool(_number(arguments.get("validation_split", 0))),
        "callbacks": _callbacks(arguments.get("callbacks")),
        "labels": _labels(arguments.get("y") if arguments.get("y") is not None else getattr(x, "y", None)),
    }
    if generator is not None:
        facts["augmentation"] = _augmentation(generator)
    return facts


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _batch_size(x: Any, given: Any) -> int | None:
    """As asked, else Keras' default of 32 for arrays; an iterator's own; None for a dataset or generator."""
    if given is not None:
        size = _number(given)
        return None if size is None else int(size)
    if isinstance(getattr(x, "batch_size", None), int):
        return int(x.batch_size)
    return 32 if hasattr(x, "shape") or isinstance(x, list | tuple | dict) else None


def _plain_setting(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:TEXT]
    if isinstance(value, list | tuple) and len(value) <= 4:
        numbers = [_number(item) for item in value]
        return None if None in numbers else numbers
    number = _number(value) if hasattr(value, "item") else None
    return number


def _callbacks(callbacks: Any) -> list[dict[str, Any]]:
    if not isinstance(callbacks, list | tuple):
        return []
    described = []
    for callback in list(callbacks)[:MAX_CALLBACKS]:
        settings = {
            name: _plain_setting(getattr(callback, name))
            for name in CALLBACK_SETTINGS
            if name in getattr(callback, "__dict__", {})
        }
        described.append({"type": type(callback).__name__[:TEXT], "settings": settings})
    return described


def _augmentation(generator: Any) -> dict[str, Any]:
    settings = getattr(generator, "__dict__", {})
    found = {name: _plain_setting(settings[name]) for name in GENERATOR_SETTINGS if name in settings}
    found["validation_split"] = _plain_setting(settings.get("_validation_split", 0.0))
    function = settings.get("preprocessing_function")
    found["preprocessing_function"] = (
        None if function is None else str(getattr(function, "__name__", "?"))[:TEXT]
    )
    return found


def _labels(y: Any) -> dict[str, Any] | None:
    """One-hot or integer labels, from y's shape and a slice of its first rows (never the whole array)."""
    shape = getattr(y, "shape", None)
    if shape is None or not 1 <= len(shape) <= 4:
        return None
    import numpy

    dims = [int(d) if d is not None else None for d in shape]
    rows = numpy.asarray(y[:LABEL_ROWS])
    facts: dict[str, Any] = {"shape": dims, "kind": "other", "classes": None}
    if rows.size == 0 or rows.dtype.kind not in "biuf":
        return facts
    whole = bool(numpy.all(numpy.equal(numpy.mod(rows, 1), 0)))
    if len(dims) == 2 and (dims[1] or 0) > 1:
        if whole and rows.min() >= 0 and rows.max() <= 1 and numpy.all(rows.sum(axis=1) == 1):
            facts.update(kind="one_hot", classes=dims[1])
    elif whole and (len(dims) == 1 or dims[1:] == [1]) and rows.min() >= 0:
        every = y if isinstance(y, numpy.ndarray) and y.size <= MAX_LABELS else rows
        facts.update(kind="integer", classes=int(numpy.max(every)) + 1)
    return facts
