"""Measuring a saved model: every node of its computation graph, its shapes, parameters and weights.

Runs in the inspector process (`grader.grading.inspector`), never in the student's kernel: the model is
loaded from the `.keras` file the probe saved, with `safe_mode=True`, so no student code runs
and a monkeypatched `count_params` or a printed fake summary cannot change what is measured.

What is measured is the whole graph from the inputs to the outputs, not `model.layers`: a Keras 3
functional model can compute with raw `keras.ops` calls and constant arrays, which are neither
layers nor weights, yet decide what the model outputs. Each such operation is a node of kind
"op" (with the number of constant values it computes with), each nested model a node of kind
"model" whose own operations are walked too, so a check can name anything the rubric's layers do
not account for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grader.inside.inspector.facts import LayerFacts, ModelFacts, NodeKind

CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "units", "pool_size", "rate")
SKETCH_SIZE = 64
SKETCH_SEED = 20171

_keras_lock = threading.Lock()
_keras_ready = threading.Event()


class ModelLoadError(Exception):
    """The saved model could not be loaded safely; the message says why and what to change."""


def keras_module() -> Any:
    """Keras, imported on first use (seconds: TensorFlow), with GPU memory growth set once."""
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
    first = text.splitlines()[0][:300] if text else ""
    return f"the saved model could not be loaded: {type(exc).__name__}: {first}"


def measure(model: Any, variable: str) -> ModelFacts:
    """The graph's nodes in order (inputs excluded), shapes, parameter and constant counts, a weight fingerprint."""
    nodes = tuple(graph_nodes(model))
    digest, sketch = weights_fingerprint(model)
    return ModelFacts(
        variable=variable,
        class_name=type(model).__name__,
        layers=nodes,
        total_params=int(model.count_params()),
        input_shape=_shape(getattr(model, "input_shape", None)),
        output_shape=_shape(getattr(model, "output_shape", None)),
        constants=sum(node.constants for node in nodes),
        weights_sha256=digest,
        weights_sketch=sketch,
    )


def graph_nodes(model: Any, prefix: str = "") -> Iterator[LayerFacts]:
    """Every operation of `model` from inputs to outputs; a nested model, then the raw operations inside it."""
    keras = keras_module()
    for operation in _operations(model):
        if isinstance(operation, keras.layers.InputLayer):
            continue
        if isinstance(operation, keras.Model):
            yield _node(operation, "model", prefix)
            inner = f"{prefix}{operation.name}/"
            yield from (node for node in graph_nodes(operation, inner) if node.kind != "layer")
        elif isinstance(operation, keras.layers.Layer):
            yield _node(operation, "layer", prefix)
        else:
            yield _node(operation, "op", prefix)


def _operations(model: Any) -> list[Any]:
    """A functional model's operations in topological order; a Sequential's layers (it holds no raw ops)."""
    functional = getattr(model, "_functional", None)
    if functional is not None:
        return list(functional.operations)
    operations = getattr(model, "operations", None)
    return list(operations) if operations is not None else list(model.layers)


def _node(operation: Any, kind: NodeKind, prefix: str) -> LayerFacts:
    try:
        config = operation.get_config()
    except Exception:
        config = {}
    kept = {key: _plain(config[key]) for key in CONFIG_KEYS if key in config}
    return LayerFacts(
        name=prefix + str(operation.name),
        type=type(operation).__name__,
        config=kept,
        output_shape=_output_shape(operation),
        params=_params(operation),
        kind=kind,
        constants=_constants(operation),
    )


def _params(operation: Any) -> int:
    if not getattr(operation, "built", True) or not hasattr(operation, "count_params"):
        return 0
    try:
        return int(operation.count_params())
    except ValueError:
        return 0


def _output_shape(operation: Any) -> tuple[int | None, ...] | None:
    try:
        return _shape(tuple(operation.output.shape))
    except (AttributeError, ValueError, TypeError):
        nodes = getattr(operation, "_inbound_nodes", None) or []
        outputs = getattr(nodes[0], "outputs", None) if nodes else None
        if outputs:
            return _shape(tuple(outputs[0].shape))
        return None


def _constants(operation: Any) -> int:
    """How many constant values (arrays and numbers that are not tensors of the graph) the operation's calls use."""
    keras = keras_module()
    total = 0
    for node in getattr(operation, "_inbound_nodes", None) or []:
        arguments = getattr(node, "arguments", None)
        if arguments is None:
            continue
        for value in keras.tree.flatten((arguments.args, arguments.kwargs)):
            if isinstance(value, keras.KerasTensor) or value is None or isinstance(value, str | bool):
                continue
            if isinstance(value, int | float):
                total += 1
            elif hasattr(value, "shape"):
                total += int(np.prod(tuple(value.shape))) if tuple(value.shape) else 1
    return total


def weights_fingerprint(model: Any) -> tuple[str, tuple[float, ...]]:
    """SHA-256 of every weight in order, and a 64-number count sketch of them (cosine ~ weights' cosine).

    The sketch lets the class summary find models trained to nearly the same weights without
    keeping the weights: each weight value is added, with a fixed pseudo-random sign, into one of
    64 fixed pseudo-random buckets.
    """
    digest = hashlib.sha256()
    sketch = np.zeros(SKETCH_SIZE, dtype=np.float64)
    offset = 0
    for weight in model.weights:
        values = np.asarray(weight.numpy())
        digest.update(str((values.dtype.str, values.shape)).encode())
        digest.update(np.ascontiguousarray(values).tobytes())
        flat = values.astype(np.float64, copy=False).ravel()
        rng = np.random.default_rng([SKETCH_SEED, offset, flat.size])
        buckets = rng.integers(0, SKETCH_SIZE, size=flat.size)
        signs = rng.integers(0, 2, size=flat.size) * 2 - 1
        sketch += np.bincount(buckets, weights=flat * signs, minlength=SKETCH_SIZE)
        offset += flat.size
    return digest.hexdigest(), tuple(round(float(v), 6) for v in sketch)


def _shape(shape: Any) -> tuple[int | None, ...] | None:
    """Drop the batch dimension; a model with several inputs or outputs reports the first."""
    if shape is None:
        return None
    if isinstance(shape, list):
        shape = shape[0]
    if not isinstance(shape, tuple | list) or not shape:
        return None
    dims = tuple(None if d is None else int(d) for d in shape)
    return dims[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return value.get("class_name") or value.get("config", {}).get("name") or str(value)
    return value
