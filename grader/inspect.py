"""Measuring a student's model grader-side, from the `.keras` file the probe saved.

The file is loaded with `safe_mode=True` in the grader's process: no student code runs, so a
monkeypatched `count_params` or a printed fake summary cannot change what is measured here.
TensorFlow is imported lazily (and can be warmed up in the background) because it takes
seconds, which `grade` overlaps with the student's kernel.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from grader.result import LayerFacts, ModelFacts

CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "units", "pool_size", "rate")

_keras_ready = threading.Event()
_keras_lock = threading.Lock()


class ModelLoadError(Exception):
    """The saved model could not be loaded safely; the message says why and what to change."""


def warm_up() -> None:
    """Import Keras in a background thread so that it is ready when the kernel finishes."""
    threading.Thread(target=keras_module, name="keras-warm-up", daemon=True).start()


def keras_module() -> Any:
    with _keras_lock:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import keras

        if not _keras_ready.is_set():
            _use_gpu_memory_growth()
            _keras_ready.set()
        return keras


def _use_gpu_memory_growth() -> None:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def load_model(path: Path) -> Any:
    keras = keras_module()
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        raise ModelLoadError(_load_error_message(exc)) from None


def _load_error_message(exc: Exception) -> str:
    text = str(exc)
    if "Lambda" in text or "safe_mode" in text:
        return (
            "the model contains a Lambda layer or custom code, which the grader will not run; "
            "use Keras' built-in layers instead"
        )
    if "Could not locate class" in text or "Unknown layer" in text:
        return "the model uses a custom layer class the grader does not know; use Keras' built-in layers"
    return f"the saved model could not be loaded: {type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


def measure(path: Path, variable: str) -> ModelFacts:
    """Load one saved model and measure its layers, shapes and parameter counts."""
    model = load_model(path)
    layers = tuple(_layer_facts(layer) for layer in model.layers if type(layer).__name__ != "InputLayer")
    return ModelFacts(
        variable=variable,
        class_name=type(model).__name__,
        layers=layers,
        total_params=int(model.count_params()),
        input_shape=_shape(getattr(model, "input_shape", None)),
        output_shape=_shape(getattr(model, "output_shape", None)),
    )


def _layer_facts(layer: Any) -> LayerFacts:
    config = layer.get_config()
    kept = {key: _plain(config[key]) for key in CONFIG_KEYS if key in config}
    try:
        output_shape = _shape(tuple(layer.output.shape))
    except (AttributeError, ValueError):
        output_shape = None
    return LayerFacts(
        name=layer.name,
        type=type(layer).__name__,
        config=kept,
        output_shape=output_shape,
        params=int(layer.count_params()) if layer.built else 0,
    )


def _shape(shape: Any) -> tuple[int | None, ...] | None:
    """Drop the batch dimension; a model with several inputs or outputs reports the first."""
    if shape is None:
        return None
    if isinstance(shape, list):
        shape = shape[0]
    dims = tuple(None if d is None else int(d) for d in shape)
    return dims[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return value.get("class_name") or value.get("config", {}).get("name") or str(value)
    return value
