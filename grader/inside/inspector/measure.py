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

A nested model's row also says what it is as a whole: its layer count, whether it trains, its
trainable and non-trainable parameters, and, when its structure is a `keras.applications` base,
which one (`bases`): the row's type is then the application's (`VGG16`), with `include_top` and
`pooling`, so a rubric row `{type: VGG16, include_top: false, trainable: false}` compares with it
like any layer's settings. A model that only calls itself "vgg16" keeps its class as its type.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grader.inside.inspector import bases, vetting
from grader.inside.inspector.facts import LayerFacts, ModelFacts, NodeKind

CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "units", "pool_size", "rate")
"""A nested model's settings recorded (its whole config is the graph, measured row by row instead)."""
MAX_LIST = 64
"""A config list longer than this (a vocabulary, a normalisation's mean) is recorded as its length only."""
MAX_DEPTH = 4
"""How deep nested configs (a regularizer's, a wrapped layer's) are recorded."""
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
    """The model saved at `path`, rebuilt from its vetted config (`vetting`): nothing it holds goes unaccounted for.

    The vetted copy is written beside `path` (the inspector's private folder for this model).
    """
    keras = keras_module()
    try:
        vetted = vetting.vetted_archive(path)
    except vetting.ConfigRefused as exc:
        raise ModelLoadError(str(exc)) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelLoadError(
            f"the saved model is not a readable .keras archive: {type(exc).__name__}"
        ) from None
    try:
        return keras.saving.load_model(vetted, safe_mode=True, compile=False)
    except Exception as exc:
        raise ModelLoadError(_load_error_message(exc)) from None
    finally:
        vetted.unlink(missing_ok=True)


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
    """Every call of an operation in `model`, from inputs to outputs: one row per call.

    A nested model is a row, then the raw operations inside it; a layer that holds a model
    inside it (a wrapper's inner layer) is followed by that model's row, so no computation the
    graph runs is left out. A layer called several times is a row per call ("conv (call 2)"):
    one layer object applied six times is six convolutions, not one.
    """
    keras = keras_module()
    seen: set[int] = set()
    for operation, call, node in _calls(model):
        if isinstance(operation, keras.layers.InputLayer):
            continue
        name = prefix + str(operation.name) + (f" (call {call})" if call > 1 else "")
        if isinstance(operation, keras.Model):
            yield _node(operation, "model", name, node)
            if id(operation) not in seen:
                seen.add(id(operation))
                yield from _inside(operation, f"{prefix}{operation.name}/")
        elif isinstance(operation, keras.layers.Layer):
            yield _node(operation, "layer", name, node)
            if id(operation) not in seen:
                seen.add(id(operation))
                for inner in _models_within(operation):
                    yield _node(inner, "model", f"{prefix}{operation.name}/{inner.name}", None)
                    yield from _inside(inner, f"{prefix}{operation.name}/{inner.name}/")
        else:
            yield _node(operation, "op", name, node)


def _inside(model: Any, prefix: str) -> Iterator[LayerFacts]:
    """What a nested model computes beyond its own layers: its raw operations and the models within it."""
    return (node for node in graph_nodes(model, prefix) if node.kind != "layer")


def _models_within(layer: Any) -> Iterator[Any]:
    """The models a layer holds inside it (a wrapper's `layer`, an RNN's `cell`), not looking inside those models."""
    keras = keras_module()
    for inner in layer._flatten_layers(include_self=False, recursive=False):
        if isinstance(inner, keras.Model):
            yield inner
        else:
            yield from _models_within(inner)


def _calls(model: Any) -> list[tuple[Any, int, Any]]:
    """Each call in the graph as (operation, its call number, the call's node), in topological order.

    The order is Keras' own order of operations where no layer is shared (deepest first, then the
    order the graph was built in). A Sequential not yet built has no graph: its layers, once each.
    """
    functional = getattr(model, "_functional", None)
    graph = functional if functional is not None else model
    by_depth = getattr(graph, "_nodes_by_depth", None)
    operations = getattr(graph, "operations", None)
    if not by_depth or operations is None:
        return [(layer, 1, None) for layer in model.layers]
    order = {id(operation): index for index, operation in enumerate(operations)}
    nodes = [
        (-depth, order.get(id(node.operation), len(order)), node)
        for depth, at_depth in by_depth.items()
        for node in at_depth
        if node.operation is not None
    ]
    nodes.sort(key=lambda item: (item[0], item[1]))
    counts: dict[int, int] = {}
    calls = []
    for _, _, node in nodes:
        counts[id(node.operation)] = counts.get(id(node.operation), 0) + 1
        calls.append((node.operation, counts[id(node.operation)], node))
    return calls


def _node(operation: Any, kind: NodeKind, name: str, node: Any) -> LayerFacts:
    """One row: the operation's settings and parameters; the shape and constants of this call (`node`), or of all."""
    try:
        config = operation.get_config()
    except Exception:
        config = {}
    keys = CONFIG_KEYS if kind == "model" else tuple(config)
    kept = {str(key): _plain(config[key]) for key in keys if key in config}
    kind_of = type(operation).__name__
    if kind == "model":
        base = _base_facts(operation)
        kind_of = base.pop("application", kind_of)
        kept.update(base)
    outputs = list(getattr(node, "outputs", None) or []) if node is not None else []
    shape = _shape(tuple(outputs[0].shape)) if outputs and hasattr(outputs[0], "shape") else None
    calls = [node] if node is not None else list(getattr(operation, "_inbound_nodes", None) or [])
    return LayerFacts(
        name=name,
        type=kind_of,
        config=kept,
        output_shape=shape if shape is not None else _output_shape(operation),
        params=_params(operation),
        kind=kind,
        constants=_constants(calls),
    )


def _base_facts(model: Any) -> dict[str, Any]:
    """A nested model as one row: its layers (as `len(model.layers)` counts them), whether and how much of it trains.

    A frozen base (`base.trainable = False`) has all its parameters non-trainable; a base one
    fine-tunes in part has some of each. When the model is a `keras.applications` base, also
    which one and how its top was built (`bases.identify`).
    """
    facts: dict[str, Any] = {
        "trainable": bool(getattr(model, "trainable", True)),
        "layers": len(model.layers),
        "trainable_params": _count(getattr(model, "trainable_weights", [])),
        "non_trainable_params": _count(getattr(model, "non_trainable_weights", [])),
    }
    found = bases.identify(model)
    return {**facts, **found} if found is not None else facts


def _count(weights: Any) -> int:
    return sum(int(np.prod(tuple(weight.shape))) for weight in weights)


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


def _constants(calls: list[Any]) -> int:
    """How many constant values (arrays and numbers that are not tensors of the graph) these calls use."""
    keras = keras_module()
    total = 0
    for node in calls:
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


def _plain(value: Any, depth: int = 0) -> Any:
    """A config value as JSON: every constructor setting is recorded, so any of them can be checked.

    A serialised Keras object (a regularizer, an initializer, a dtype policy, a wrapped layer) is
    kept as its class name and config, so a rubric can ask for `l2` or for `{l2: 0.01}`; long
    lists and deep nesting are cut, so a config cannot make the reply large.
    """
    if depth > MAX_DEPTH:
        return "..."
    if isinstance(value, tuple | list):
        if len(value) > MAX_LIST:
            return f"<{len(value)} values>"
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if "class_name" in value:
            inner = value.get("config")
            if value["class_name"] == "function" and isinstance(inner, str):
                return inner  # a function saved by name, e.g. an activation
            config = _plain(inner, depth + 1) if isinstance(inner, dict) else {}
            return {"class_name": str(value["class_name"]), "config": config}
        if len(value) > MAX_LIST:
            return f"<{len(value)} entries>"
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
