"""The inspector process: import Keras once, then measure and run the models the grader sends, one at a time.

Runs sandboxed (see `grader.grading.inspector`), started as `python -m grader.inside.inspector.server FD`. It
reads nothing by path: each model and input array arrives as a file descriptor. Answers are plain
JSON: the measured graph, or one class index per input and how many were not finite.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader.inside.inspector import wire


def serve(fd: int) -> None:
    """The inspector's main loop: import Keras, say ready, then answer requests until the grader hangs up."""
    from grader.inside.inspector import measure, predict

    sock = socket.socket(fileno=fd)
    measure.keras_module()
    wire.reply(sock, {"ready": True})
    cache: dict[str, Any] = {}
    while True:
        fds: list[int] = []
        try:
            request = wire.receive(sock, time.monotonic() + 10**9, fds)
        except (ConnectionError, OSError, ValueError):
            return
        try:
            reply = _handle(request, fds, cache)
        except (measure.ModelLoadError, predict.PredictionError) as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:
            reply = {"ok": False, "error": f"the model could not be inspected: {predict.first_line(exc)}"}
        finally:
            for received in fds:
                with contextlib.suppress(OSError):
                    os.close(received)
        wire.reply(sock, reply)


def _handle(request: dict[str, Any], fds: list[int], cache: dict[str, Any]) -> dict[str, Any]:
    from grader.inside.inspector import measure, predict

    if not fds:
        return {"ok": False, "error": "no model was sent"}
    began = time.monotonic()
    model = _load(fds[0], str(request.get("sha256")), cache)
    loaded = time.monotonic()
    timing = {"load_ms": round(1000 * (loaded - began), 1)}
    if request.get("op") == "measure":
        facts = measure.measure(model, str(request.get("variable", "model")))
        timing["walk_ms"] = round(1000 * (time.monotonic() - loaded), 1)
        return {"ok": True, "facts": facts.model_dump(mode="json"), "timing": timing}
    if request.get("op") == "predict" and len(fds) >= 2:
        inputs = _array(fds[1])
        classes, nonfinite = predict.predict_classes(
            model, inputs, int(request["num_classes"]), batch_size=int(request["batch_size"])
        )
        return {
            "ok": True,
            "classes": classes.astype(np.int64).tolist(),
            "nonfinite": nonfinite,
            "device": predict.device_label(),
            "duration_s": round(time.monotonic() - began, 3),
            "timing": timing,
        }
    return {"ok": False, "error": f"unknown request {str(request.get('op'))[:50]!r}"}


def _load(fd: int, sha256: str, cache: dict[str, Any]) -> Any:
    """The model sent as `fd`, loaded from a private copy (Keras wants a `.keras` path); the last one is kept."""
    from grader.inside.inspector import measure

    if cache.get("sha256") == sha256:
        return cache["model"]
    cache.clear()
    folder = Path(tempfile.mkdtemp(prefix="model-"))
    path = folder / "model.keras"
    try:
        with os.fdopen(os.dup(fd), "rb") as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        model = measure.load_model(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cache.update(sha256=sha256, model=model)
    return model


def _array(fd: int) -> np.ndarray:
    """A `.npy` file sent as `fd`, memory-mapped read-only (shared with every other reader of the file)."""
    with os.fdopen(os.dup(fd), "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        offset = handle.tell()
    if dtype.hasobject:
        raise ValueError("inputs must be numeric")
    mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    return np.ndarray(shape, dtype=dtype, buffer=mapped, offset=offset, order="F" if fortran else "C")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
