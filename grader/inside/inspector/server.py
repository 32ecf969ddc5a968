"""The inspector process: import Keras once, then measure and run the models the grader sends, one at a time.

Runs sandboxed (see `grader.grading.inspector`), started as `python -m grader.inside.inspector.server FD`. It
reads nothing by path: each model and input array arrives as a file descriptor. Requests and
answers are the messages of `schema`: the measured graph, or one class index per input and how
many were not finite. It imports only modules behind the wall (a test checks what is loaded).
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

from grader.inside.inspector import schema, wire


def serve(fd: int) -> None:
    """The inspector's main loop: import Keras, say ready, then answer requests until the grader hangs up."""
    from grader.inside.inspector import measure, predict

    sock = socket.socket(fileno=fd)
    measure.keras_module()
    wire.reply(sock, schema.Ready())
    cache: dict[str, Any] = {}
    while True:
        fds: list[int] = []
        try:
            request = wire.receive(sock, time.monotonic() + 10**9, fds)
        except (ConnectionError, OSError, ValueError):
            return
        reply: schema.Measured | schema.Predicted | schema.Failed
        try:
            reply = _handle(request, fds, cache)
        except (measure.ModelLoadError, predict.PredictionError) as exc:
            reply = schema.Failed(error=str(exc))
        except Exception as exc:
            reply = schema.Failed(error=f"the model could not be inspected: {predict.first_line(exc)}")
        finally:
            for received in fds:
                with contextlib.suppress(OSError):
                    os.close(received)
        wire.reply(sock, reply)


def _handle(
    message: dict[str, Any], fds: list[int], cache: dict[str, Any]
) -> schema.Measured | schema.Predicted | schema.Failed:
    from grader.inside.inspector import measure, predict

    if not fds:
        return schema.Failed(error="no model was sent")
    if message.get("op") not in schema.OPS:
        return schema.Failed(error=f"unknown request {str(message.get('op'))[:50]!r}")
    try:
        request = schema.REQUEST.validate_python(message)
    except ValueError:
        return schema.Failed(error=f"a malformed {message['op']} request")
    if isinstance(request, schema.PredictRequest) and len(fds) < 2:
        return schema.Failed(error="no inputs were sent")
    began = time.monotonic()
    model = _load(fds[0], request.sha256, cache)
    loaded = time.monotonic()
    load_ms = round(1000 * (loaded - began), 1)
    if isinstance(request, schema.MeasureRequest):
        facts = measure.measure(model, request.variable)
        walk_ms = round(1000 * (time.monotonic() - loaded), 1)
        return schema.Measured(facts=facts, timing=schema.Timing(load_ms=load_ms, walk_ms=walk_ms))
    inputs = _array(fds[1])
    classes, nonfinite = predict.predict_classes(
        model, inputs, request.num_classes, batch_size=request.batch_size
    )
    return schema.Predicted(
        classes=tuple(classes.astype(np.int64).tolist()),
        nonfinite=nonfinite,
        device=predict.device_label(),
        duration_s=round(time.monotonic() - began, 3),
        timing=schema.Timing(load_ms=load_ms),
    )


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
