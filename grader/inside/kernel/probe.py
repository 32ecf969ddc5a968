"""Kernel side: the probe, the one cell the grader runs after the student's cells.

It saves every Keras model held in a global variable to the native `.keras` format, in a folder
the grader made for this probe alone, and writes `facts.json` beside them: the plain values of
the variables the rubric names, each model's file with its size and SHA-256 (the manifest the
grader holds the folder to), its training history, what it was compiled and fitted with (for
`training:` checks; the fit calls are noted by `budget`), and the device. It runs in the student's
process, so the grader treats all of it as untrusted: it bounds and validates the facts, refuses
files the manifest does not account for, and measures the models from the files alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from typing import Any

MANIFEST_MARK = "grader-probe-manifest:"
MAX_LIST = 10_000
MAX_DEPTH = 3
HISTORY_SERIES = 32
HISTORY_POINTS = 1_000
HISTORY_KEY_CHARS = 100
TEXT = 100
MAX_NAMES = 16
FITS_KEPT = 20
MAX_LAYERS = 500
AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom")
AUGMENTATION_SETTINGS = ("mode", "factor", "height_factor", "width_factor", "fill_mode")


def save_models_and_facts(out_dir: str, variables: list[str], input_shape: list[int] | None) -> None:
    """Save the models and write facts.json into `out_dir`, which the grader created for this call."""
    namespace = _user_namespace()
    facts: dict[str, Any] = {
        "models": [],
        "variables": {},
        "missing_variables": [],
        "device": "CPU",
        "errors": [],
    }
    for name in variables:
        if name not in namespace:
            facts["missing_variables"].append(name)
            continue
        value = namespace[name]
        try:
            facts["variables"][name] = {"value": plain(value), "type": type(value).__name__}
        except Exception as exc:
            facts["variables"][name] = {"error": str(exc)[:300], "type": type(value).__name__}
    keras = sys.modules.get("keras")
    if keras is not None:
        facts["models"] = _save_models(keras, namespace, out_dir, input_shape, facts["errors"])
        facts["device"] = _device(facts["errors"])
    records = sys.modules.get("grader_kernel.records")
    if records is not None:
        facts["compat"] = {
            "uses": list(getattr(records, "USES", []))[:200],
            "training": list(getattr(records, "TRAINING", []))[:200],
        }
    text = json.dumps(facts)
    with open(os.path.join(out_dir, "facts.json"), "w", encoding="utf-8") as handle:
        handle.write(text)
    manifest = {
        "facts_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "models": [
            {key: entry.get(key) for key in ("variable", "file", "bytes", "sha256")}
            for entry in facts["models"]
            if entry.get("file")
        ],
    }
    # Sent on the probe cell's own output, before anything the notebook left behind (a hook that
    # runs after each cell, a thread) can rewrite the files: the grader holds the files to it.
    print(f"{MANIFEST_MARK} {json.dumps(manifest)}", flush=True)


def _user_namespace() -> dict[str, Any]:
    return get_ipython().user_ns  # type: ignore[name-defined]  # noqa: F821


def plain(value: object, depth: int = 0) -> object:
    """A JSON-able copy of a plain value (numbers, strings, nested lists, NumPy scalars and arrays)."""
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return plain(value.item(), depth + 1)
    if hasattr(value, "tolist") and getattr(value, "size", 10**9) <= MAX_LIST:
        return plain(value.tolist(), depth + 1)
    if isinstance(value, list | tuple) and len(value) <= MAX_LIST:
        return [plain(v, depth + 1) for v in value]
    raise TypeError(f"a {type(value).__name__} is not a plain value")


def _save_models(
    keras: Any, namespace: dict[str, Any], out_dir: str, input_shape: list[int] | None, errors: list[str]
) -> list[dict[str, Any]]:
    os.makedirs(os.path.join(out_dir, "models"), exist_ok=True)
    saved: list[dict[str, Any]] = []
    seen: set[int] = set()
    for name, obj in list(namespace.items()):
        if name.startswith("_") or not isinstance(obj, keras.Model) or id(obj) in seen:
            continue
        seen.add(id(obj))
        entry: dict[str, Any] = {"variable": name, "class": type(obj).__name__, "built": bool(obj.built)}
        try:
            if not obj.built and input_shape:
                obj.build((None, *input_shape))
                entry["built_by_grader"] = True
            relative = f"models/{name}.keras"
            path = os.path.join(out_dir, relative)
            keras.saving.save_model(obj, path)
            entry.update(file=relative, **_fingerprint(path))
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        history = history_of(obj, errors, name)
        if history is not None:
            entry["history"] = history
        training = training_of(obj, errors, name)
        if training is not None:
            entry["training"] = training
        saved.append(entry)
    return saved


def _fingerprint(path: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"bytes": size, "sha256": digest.hexdigest()}


def history_of(model: Any, errors: list[str], name: str) -> dict[str, list[float | None]] | None:
    """The model's last `fit` history, bounded: at most 32 series of 1,000 points, short names."""
    history = getattr(model, "history", None)
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict):
        return None
    try:
        kept: dict[str, list[float | None]] = {}
        for key, values in list(logs.items())[:HISTORY_SERIES]:
            points = [float(x) for x in list(values)[:HISTORY_POINTS]]
            kept[str(key)[:HISTORY_KEY_CHARS]] = [x if math.isfinite(x) else None for x in points]
        return kept
    except Exception as exc:
        errors.append(f"history of {name}: {exc}"[:300])
        return None


def training_of(model: Any, errors: list[str], name: str) -> dict[str, Any] | None:
    """What the model was compiled with and what its fit calls were asked to do (the latest 20)."""
    try:
        budget = sys.modules.get("grader_kernel.budget")
        fits = budget.fits_of(model) if budget is not None else []
        noted = [facts for _, facts in getattr(budget, "FITS", [])]
        last = max(
            (index for index, facts in enumerate(noted) if any(facts is f for f in fits)), default=None
        )
        return {
            "compile": _compile_facts(model) if getattr(model, "optimizer", None) is not None else None,
            "fits": fits[-FITS_KEPT:],
            "fit_count": len(fits),
            "epochs_asked": _epochs_asked(fits),
            "last_fit": last,
            "augmentation_layers": _augmentation_layers(model),
        }
    except Exception as exc:
        errors.append(f"training of {name}: {type(exc).__name__}: {exc}"[:300])
        return None


def _epochs_asked(fits: list[dict[str, Any]]) -> int | None:
    """The epochs every noted fit call asked for, added up (a loop of 100 one-epoch fits asked for 100)."""
    asked = [facts.get("epochs") for facts in fits]
    numbers = [epochs for epochs in asked if isinstance(epochs, int)]
    return sum(numbers) if numbers and len(numbers) == len(asked) else None


def _compile_facts(model: Any) -> dict[str, Any]:
    """The loss, optimizer, learning rate and metrics as `compile` was given them."""
    config = getattr(getattr(model, "_compile_config", None), "config", None)
    config = config if isinstance(config, dict) else {}
    optimizer = model.optimizer
    return {
        "loss": _names(config.get("loss", getattr(model, "loss", None))),
        "optimizer": type(optimizer).__name__[:TEXT],
        "learning_rate": _learning_rate(optimizer),
        "metrics": _names(config.get("metrics")),
    }


def _names(value: Any) -> list[str]:
    """The names of a loss or metrics argument: a string, an object, a function, or a list or dict of them."""
    if value is None:
        return []
    items = list(value.values()) if isinstance(value, dict) else value
    items = list(items)[:MAX_NAMES] if isinstance(items, list | tuple) else [items]
    return [_name_of(item)[:TEXT] for item in items if item is not None]


def _name_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    if type(item).__name__ in ("LossFunctionWrapper", "MeanMetricWrapper"):
        return str(getattr(getattr(item, "fn", None), "__name__", type(item).__name__))
    if isinstance(item, type) or (callable(item) and hasattr(item, "__code__")):
        return str(getattr(item, "__name__", "?"))
    return type(item).__name__


def _learning_rate(optimizer: Any) -> float | None:
    try:
        rate = float(optimizer.learning_rate)
    except Exception:
        return None
    return rate if math.isfinite(rate) else None


def _augmentation_layers(model: Any) -> list[dict[str, Any]]:
    """The preprocessing layers that augment (RandomFlip, ...), nested models' included, with their settings."""
    found: list[dict[str, Any]] = []
    pending, seen = list(getattr(model, "layers", []) or []), 0
    while pending and seen < MAX_LAYERS and len(found) < MAX_NAMES:
        layer, seen = pending.pop(0), seen + 1
        pending.extend(getattr(layer, "layers", []) or [])
        if type(layer).__name__ in AUGMENTATION_LAYERS:
            config = layer.get_config()
            settings = {key: _setting(config.get(key)) for key in AUGMENTATION_SETTINGS if key in config}
            found.append({"type": type(layer).__name__, "settings": settings})
    return found


def _setting(value: Any) -> Any:
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:TEXT]
    if isinstance(value, list | tuple) and len(value) <= 4 and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]
    return None


def _device(errors: list[str]) -> str:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return "CPU"
    try:
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU ({details.get('device_name', gpus[0].name)})"
    except Exception as exc:
        errors.append(f"device: {exc}"[:300])
    return "CPU"
