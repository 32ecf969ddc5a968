"""Kernel side: the training budget: caps on every `fit`, or the student's checkpoint loaded instead.

A rubric's `training: {max_epochs, max_steps}` caps each `fit` call so that a class grades in
minutes; `training: {checkpoint: FILE}` loads the weights the student handed in beside the
notebook instead of training again. Each decision is recorded (`records.TRAINING`).
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any

from .keras2 import refuse_keras1_fit_keywords, rename_fit_keywords
from .records import note_training


def install(keras: Any, config: dict[str, Any]) -> None:
    """Wrap `Model.fit` for `nb_epoch=` (keras2), the epoch and step caps, and the submitted checkpoint."""
    compat = config.get("compat") == "keras2"
    max_epochs = config.get("max_epochs")
    max_steps = config.get("max_steps")
    checkpoint = config.get("checkpoint")
    submitted = checkpoint if checkpoint and os.path.isfile(checkpoint) else None
    if not (compat or max_epochs or max_steps or submitted):
        return
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
        if submitted is not None and _load_checkpoint(self, submitted):
            history = keras.callbacks.History()
            history.set_model(self)
            return history
        _cap(bound.arguments, max_epochs, max_steps)
        history = original_fit(*bound.args, **bound.kwargs)
        _note_trained(history)
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
