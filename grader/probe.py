"""The probe: the one cell the grader runs in the student's kernel after the student's cells.

It saves every Keras model it finds to the native `.keras` format and writes the plain facts
the rubric asks for to `facts.json`. It runs inside the student's process, so the grader treats
everything it writes as untrusted: `ProbeFacts` validates and bounds it, and the models are
measured grader-side from the saved files, never from what the kernel reports about them.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.prelude import KernelCompatFacts

FACTS_FILE = "facts.json"
MAX_FACTS_BYTES = 2 * 1024 * 1024


def _grader_probe(out_dir: str, variables: list[str], input_shape: list[int] | None) -> None:
    """Runs in the kernel. Self-contained on purpose: only the standard library at module level."""
    import json as _json
    import math as _math
    import os as _os
    import sys as _sys

    namespace = get_ipython().user_ns  # type: ignore[name-defined]  # noqa: F821
    facts: dict = {"models": [], "variables": {}, "missing_variables": [], "device": "CPU", "errors": []}

    def plain(value: object, depth: int = 0) -> object:
        if depth > 3:
            raise TypeError("nested too deeply")
        if isinstance(value, bool | str) or value is None:
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value) if _math.isfinite(value) else str(value)
        if hasattr(value, "item") and getattr(value, "shape", None) == ():
            return plain(value.item(), depth + 1)
        if hasattr(value, "tolist") and getattr(value, "size", 10**9) <= 10_000:
            return plain(value.tolist(), depth + 1)
        if isinstance(value, list | tuple) and len(value) <= 10_000:
            return [plain(v, depth + 1) for v in value]
        raise TypeError(f"a {type(value).__name__} is not a plain value")

    for name in variables:
        if name not in namespace:
            facts["missing_variables"].append(name)
            continue
        try:
            facts["variables"][name] = {
                "value": plain(namespace[name]),
                "type": type(namespace[name]).__name__,
            }
        except Exception as exc:
            facts["variables"][name] = {"error": str(exc)[:300], "type": type(namespace[name]).__name__}

    keras = _sys.modules.get("keras")
    if keras is not None:
        _os.makedirs(_os.path.join(out_dir, "models"), exist_ok=True)
        seen: dict[int, str] = {}
        for name, obj in list(namespace.items()):
            if name.startswith("_") or not isinstance(obj, keras.Model):
                continue
            if id(obj) in seen:
                continue
            seen[id(obj)] = name
            entry: dict = {"variable": name, "class": type(obj).__name__, "built": bool(obj.built)}
            try:
                if not obj.built and input_shape:
                    obj.build((None, *input_shape))
                    entry["built_by_grader"] = True
                path = _os.path.join(out_dir, "models", f"{name}.keras")
                keras.saving.save_model(obj, path)
                entry["file"] = f"models/{name}.keras"
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
            history = getattr(obj, "history", None)
            if history is not None and isinstance(getattr(history, "history", None), dict):
                try:
                    entry["history"] = {
                        str(k): [float(x) if _math.isfinite(float(x)) else None for x in v][:10_000]
                        for k, v in history.history.items()
                    }
                except Exception as exc:
                    facts["errors"].append(f"history of {name}: {exc}"[:300])
            facts["models"].append(entry)
        tf = _sys.modules.get("tensorflow")
        if tf is not None:
            try:
                gpus = tf.config.list_physical_devices("GPU")
                if gpus:
                    details = tf.config.experimental.get_device_details(gpus[0])
                    facts["device"] = f"GPU ({details.get('device_name', gpus[0].name)})"
            except Exception as exc:
                facts["errors"].append(f"device: {exc}"[:300])
    shim = _sys.modules.get("grader_compat")
    if shim is not None:
        facts["compat"] = {
            "uses": list(getattr(shim, "USES", []))[:200],
            "training": list(getattr(shim, "TRAINING", []))[:200],
        }
    with open(_os.path.join(out_dir, "facts.json"), "w") as handle:
        _json.dump(facts, handle)


def probe_source(out_dir: Path, variables: tuple[str, ...], input_shape: tuple[int, ...] | None) -> str:
    """The probe cell: the function above, called once, then removed from the student's namespace."""
    arguments = ", ".join(
        json.dumps(a) for a in (str(out_dir), list(variables), list(input_shape) if input_shape else None)
    ).replace("null", "None")
    return f"{inspect.getsource(_grader_probe)}\n_grader_probe({arguments})\ndel _grader_probe\n"


class ProbedModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    variable: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    class_name: str = Field(alias="class", max_length=200)
    built: bool
    built_by_grader: bool = False
    file: str | None = Field(default=None, pattern=r"^models/[A-Za-z_][A-Za-z0-9_]*\.keras$")
    error: str | None = Field(default=None, max_length=500)
    history: dict[str, list[float | None]] | None = None


class ProbedVariable(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Any = None
    type: str = Field(max_length=200)
    error: str | None = Field(default=None, max_length=300)


class ProbeFacts(BaseModel):
    """What the probe wrote, validated. Nothing here is trusted for scoring a model."""

    model_config = ConfigDict(frozen=True)

    models: tuple[ProbedModel, ...] = ()
    variables: dict[str, ProbedVariable] = {}
    missing_variables: tuple[str, ...] = ()
    device: str = Field(default="CPU", max_length=200)
    errors: tuple[str, ...] = ()
    compat: KernelCompatFacts | None = None


def read_probe_facts(artifacts: Path) -> ProbeFacts | None:
    """The probe's facts, or None when it did not run to the end or wrote something malformed."""
    path = artifacts / FACTS_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_FACTS_BYTES:
            return None
        return ProbeFacts.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None
