"""Write `grader/rubric/keras_catalog.py`, the table of Keras' layer classes and activations, from the installed Keras.

`grade rubric check` and the rubric loader must know every built-in layer type, each one's
constructor settings and every activation name, but importing Keras takes many seconds, and
linting a rubric must not. So the table is generated once per Keras release and kept as source;
`tests/test_lint_keras.py` regenerates it and fails when it is out of date.

Run: `python -m grader.rubric.keras_catalog_build > grader/rubric/keras_catalog.py`, then
`ruff format` it (the test compares the tables, not the text).
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

BASE_KEYWORDS = ("activity_regularizer", "trainable", "dtype", "autocast", "name")
"""What `keras.layers.Layer.__init__` names, which every layer passing on **kwargs accepts too."""
NOT_ACTIVATIONS = frozenset({"get", "serialize", "deserialize"})


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _settings(cls: type) -> tuple[str, ...]:
    """The constructor's named parameters, and the base layer's when the constructor passes **kwargs on."""
    parameters = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    named = [
        p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        named += [name for name in BASE_KEYWORDS if name not in named]
    return tuple(named)


def catalog() -> tuple[dict[str, tuple[str, tuple[str, ...]]], tuple[str, ...], str]:
    """(type as written -> (class name, settings)), activation names, the Keras version."""
    keras = _keras()
    from keras.src.models.functional import Functional

    classes: dict[str, type] = {
        name: value
        for name, value in vars(keras.layers).items()
        if isinstance(value, type) and issubclass(value, keras.layers.Layer) and not name.startswith("_")
    }
    classes.update({"Model": keras.Model, "Sequential": keras.Sequential, "Functional": Functional})
    layers = {name: (cls.__name__, _settings(cls)) for name, cls in sorted(classes.items())}
    activations = tuple(
        sorted(
            name
            for name, value in vars(keras.activations).items()
            if callable(value) and not name.startswith("_") and name not in NOT_ACTIVATIONS
        )
    )
    return layers, activations, str(keras.__version__)


def render() -> str:
    """The source of `keras_catalog.py`."""
    layers, activations, version = catalog()
    lines = [
        '"""Keras\' layer classes, their constructor settings and the activation names (generated; do not edit).',
        "",
        "Written by `python -m grader.rubric.keras_catalog_build` from the installed Keras, so that",
        "checking a rubric never imports Keras; `tests/test_lint_keras.py` fails when it is out of date.",
        '"""',
        "",
        f"KERAS_VERSION = {version!r}",
        "",
        "LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {",
    ]
    lines += [f"    {name!r}: ({cls!r}, {settings!r})," for name, (cls, settings) in layers.items()]
    lines += [
        "}",
        '"""Type as written in `keras.layers` -> (the class it names, its constructor settings)."""',
        "",
    ]
    lines += ["ACTIVATIONS: tuple[str, ...] = ("]
    lines += [f"    {name!r}," for name in activations]
    lines += [")", '"""Every name `keras.activations` accepts as a string."""', ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
