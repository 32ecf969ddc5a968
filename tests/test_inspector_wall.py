"""The inspector behind its own wall: the server loads only code from behind it, and both sides speak one schema.

`tests/test_import_graph.py` checks the static import graph; here a fresh interpreter really
starts the inspector's server (it imports Keras, says it is ready, answers requests over a real
socket) and then reports which of the grader's modules it had loaded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.inside.inspector import schema, wire
from grader.inside.inspector.facts import LayerFacts, ModelFacts

from .conftest import REPO

SERVE_AND_REPORT = """
import json, os, socket, sys, tempfile, threading, time
from grader.inside.inspector import schema, server, wire

ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
serving = threading.Thread(target=server.serve, args=(theirs.detach(),), daemon=True)
serving.start()
deadline = time.monotonic() + 600
replies = [wire.receive(ours, deadline)]
wire.send(ours, schema.MeasureRequest(variable="model", sha256="0" * 64), [], deadline)
replies.append(wire.receive(ours, deadline))
with tempfile.TemporaryFile() as empty:
    wire.send(ours, schema.PredictRequest(sha256="0" * 64, num_classes=2, batch_size=1), [empty.fileno()], deadline)
    replies.append(wire.receive(ours, deadline))
ours.close()
serving.join(60)
print(json.dumps({"replies": replies, "modules": sorted(sys.modules)}))
"""


@pytest.mark.slow
def test_the_inspector_server_loads_nothing_of_the_grader_outside_grader_inside(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    ready, no_model, no_inputs = report["replies"]
    assert schema.Ready.model_validate(ready) == schema.Ready()
    assert schema.Failed.model_validate(no_model).error == "no model was sent"
    assert schema.Failed.model_validate(no_inputs).error == "no inputs were sent"
    modules = report["modules"]
    assert "keras" in modules, "the server really started: it imported Keras"
    assert "grader.inside.inspector.measure" in modules and "grader.inside.inspector.predict" in modules
    inside = ("grader", "grader.inside")  # the packages themselves: `grader/__init__.py` imports nothing
    outside = [
        m
        for m in modules
        if m.startswith("grader.") and m not in inside and not m.startswith("grader.inside.")
    ]
    assert outside == [], f"the inspector loaded grader modules from outside the wall: {outside}"


def test_a_request_and_its_reply_cross_the_wire_as_the_same_models() -> None:
    """What one side builds is what the other side validates, over a real socket with a descriptor beside it."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 10
    facts = ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=(LayerFacts(name="d", type="Dense", config={"units": 2}, output_shape=(None, 2), params=6),),
        total_params=6,
        input_shape=(None, 2),
        output_shape=(None, 2),
    )
    with ours, theirs:
        read_end, write_end = socket.socketpair()
        with read_end, write_end:
            request = schema.PredictRequest(sha256="a" * 64, num_classes=10, batch_size=32)
            wire.send(ours, request, [read_end.fileno()], deadline)
            fds: list[int] = []
            received = schema.REQUEST.validate_python(wire.receive(theirs, deadline, fds))
            assert received == request and len(fds) == 1
            for fd in fds:
                socket.socket(fileno=fd).close()
        wire.reply(theirs, schema.Measured(facts=facts, timing=schema.Timing(load_ms=1.5)))
        measured = schema.Measured.model_validate(wire.receive(ours, deadline))
        assert measured.facts == facts and measured.timing.load_ms == 1.5
        wire.reply(theirs, schema.Predicted(classes=(1, 0), nonfinite=0, device="CPU", duration_s=0.1))
        predicted = schema.Predicted.model_validate(wire.receive(ours, deadline))
        assert predicted.prediction() == schema.Prediction(
            classes=(1, 0), nonfinite=0, device="CPU", duration_s=0.1
        )


def test_the_grader_refuses_a_reply_that_is_not_the_schemas() -> None:
    """The inspector holds a student's model: a reply with fields the schema does not have is malformed."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        schema.Predicted.model_validate(
            {"ok": True, "classes": [1], "nonfinite": 0, "device": "CPU", "duration_s": 0.1, "labels": [3]}
        )
    with pytest.raises(ValidationError):
        schema.Predicted.model_validate(
            {"ok": True, "classes": [1], "nonfinite": -1, "device": "x" * 500, "duration_s": 0.1}
        )
    with pytest.raises(ValidationError):
        schema.REQUEST.validate_python({"op": "exec", "code": "import os"})
