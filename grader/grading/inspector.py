"""The inspector: the one process that loads students' saved models, in a sandbox of its own.

Loading a `.keras` file runs Keras' deserialisation over bytes a student crafted, and
`safe_mode` has had bypasses; a model can also be built to take for ever or all memory to load
or to run. So the grader never loads a model in its own process. Each grader process (a `grade`,
a batch worker) keeps one long-lived inspector that has imported TensorFlow once: bubblewrap, no
network, the system and Python read-only, no view of the rubric, the reports or any student's
folder, its own uid when the grader is root, a hard memory limit where the host allows one and a
watchdog on its memory. It receives each model and input array as a file descriptor over a Unix
socket (it can open nothing of the grader's by path), and answers with plain, bounded JSON: the
measured graph, or one class index per input. Every request has a wall-clock limit; past it, or
past the memory limit, the inspector is killed (and started again for the next request), and the
check that asked gets an error saying so, never a hang.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing import util as multiprocessing_util
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from grader import debugging
from grader.grading.artifacts import ModelFile
from grader.inside.inspector import schema, wire
from grader.inside.inspector.facts import ModelFacts
from grader.inside.inspector.schema import Prediction, Timing
from grader.rubric import limits
from grader.sandbox import bwrap, command, enforce

log = logging.getLogger(__name__)


class InspectorError(Exception):
    """A model could not be measured or evaluated; the message is for the report, in words a student can act on."""


class InspectorSettings(BaseModel):
    """How an inspector is started and bounded; two equal settings make interchangeable inspectors."""

    model_config = ConfigDict(frozen=True)

    sandboxed: bool
    memory_mb: int = limits.Limits().grader_memory_mb
    timeout_s: float = limits.Limits().grader_timeout
    bounds: limits.InspectorLimits = limits.InspectorLimits()


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    socket: socket.socket
    watchdog: enforce.Watchdog
    cgroup: enforce.MemoryCgroup | None
    log: Path
    ready: bool = False


class Inspector:
    """A client of one inspector process, started on first use (or `start`, ahead of need) and restarted after a kill."""

    def __init__(self, settings: InspectorSettings) -> None:
        self.settings = settings
        self._process: _Process | None = None
        self._lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="grader-inspector-"))
        self.last_timing = Timing()
        self.starts = 0

    def start(self) -> None:
        """Launch the process now (it imports TensorFlow while the caller does something else)."""
        with self._lock:
            if self._process is None or self._process.popen.poll() is not None:
                self._process = self._spawn()

    def measure(self, model: ModelFile) -> ModelFacts:
        reply = self._call(schema.MeasureRequest(variable=model.variable, sha256=model.sha256), [model.path])
        try:
            return schema.Measured.model_validate(reply).facts
        except ValidationError as exc:
            raise InspectorError(
                f"the inspector's measurement of `{model.variable}` was malformed ({exc})"
            ) from None

    def predict(self, model: ModelFile, inputs: Path, num_classes: int, batch_size: int) -> Prediction:
        request = schema.PredictRequest(sha256=model.sha256, num_classes=num_classes, batch_size=batch_size)
        reply = self._call(request, [model.path, inputs])
        try:
            return schema.Predicted.model_validate(reply).prediction()
        except ValidationError as exc:
            raise InspectorError(
                f"the inspector's predictions were malformed ({exc.errors()[0]['msg']})"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._kill()
        if debugging.settings.keep_workdir:
            log.info("kept the inspector's logs in %s", self.folder)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

    # ---- the client side of the protocol ------------------------------------------------------

    def _call(
        self, request: schema.MeasureRequest | schema.PredictRequest, files: list[Path]
    ) -> dict[str, Any]:
        """Send `request` with `files` as descriptors; the reply, still to be validated as the answer expected."""
        with self._lock:
            began = time.monotonic()
            if self._process is None or self._process.popen.poll() is not None:
                self._process = self._spawn()
            process = self._process
            try:
                if not process.ready:
                    schema.Ready.model_validate(
                        wire.receive(process.socket, began + self.settings.bounds.start_timeout_s)
                    )
                    process.ready = True
                deadline = time.monotonic() + self.settings.timeout_s
                fds = [os.open(path, os.O_RDONLY | os.O_CLOEXEC) for path in files]
                try:
                    wire.send(process.socket, request, fds, deadline)
                finally:
                    for fd in fds:
                        os.close(fd)
                reply = wire.receive(process.socket, deadline)
            except (TimeoutError, OSError, ValueError, ConnectionError) as exc:
                message = self._failure(process, exc)
                log.warning("stopping the inspector: %s (log: %s)", message, process.log)
                self._kill()
                raise InspectorError(message) from None
            self.last_timing = _timing(reply).model_copy(
                update={"round_trip_ms": round(1000 * (time.monotonic() - began), 1)}
            )
        if not reply.get("ok"):
            raise InspectorError(str(reply.get("error", "the inspector failed"))[:1000])
        return reply

    def _failure(self, process: _Process, exc: BaseException) -> str:
        """Why a request failed, in words: the time limit, the memory limit, or the process died."""
        breach = process.watchdog.breach
        if (breach is not None and breach.limit == "memory") or process.watchdog.oom_killed():
            return (
                f"the grader stopped loading or running the model: it used more than "
                f"{self.settings.memory_mb} MB of memory"
            )
        if isinstance(exc, TimeoutError):
            return (
                f"the grader stopped loading or running the model after {self.settings.timeout_s:.0f} s "
                "(its time limit for one model)"
            )
        code = process.popen.poll()
        return f"the process that loads the model died while loading or running it (exit status {code})"

    def _spawn(self) -> _Process:
        self.starts += 1
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cgroup = enforce.MemoryCgroup.create(self.settings.memory_mb, purpose="inspector")
        uid = enforce.kernel_uid(enforce.INSPECTOR_SLOT) if self.settings.sandboxed else None
        bounds = self.settings.bounds
        layout = bwrap.SandboxLayout(readable=package_folders(), uid=uid, tmp_mb=bounds.tmp_mb)
        spec = command.SandboxSpec(
            program=(sys.executable, "-m", "grader.inside.inspector.server", str(child.fileno())),
            env=inspector_env(),
            layout=layout if self.settings.sandboxed else None,
            cgroup_procs=cgroup.procs if cgroup is not None else None,
            # RLIMIT_NPROC counts every process of the uid: without a uid of its own, it would count the grader's.
            processes=bounds.processes if uid is not None else None,
            file_mb=bounds.tmp_mb,
        )
        log_path = self.folder / f"inspector-{self.starts}.log"
        with open(log_path, "wb") as stderr:
            popen = subprocess.Popen(
                spec.argv(),
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
                cwd=self.folder,
            )
        child.close()
        watchdog = enforce.Watchdog(
            limits.Limits(
                memory_mb=self.settings.memory_mb, processes=bounds.processes, disk_mb=bounds.tmp_mb
            ),
            (),
            cgroup,
        )
        watchdog.start(popen.pid)
        log.debug("started inspector %s (sandboxed %s, log %s)", popen.pid, self.settings.sandboxed, log_path)
        return _Process(popen=popen, socket=parent, watchdog=watchdog, cgroup=cgroup, log=log_path)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.watchdog.stop()
        with contextlib.suppress(OSError):
            process.socket.close()
        with contextlib.suppress(OSError):
            os.killpg(process.popen.pid, 9)
        with contextlib.suppress(OSError):
            process.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=10)
        if process.cgroup is not None:
            process.cgroup.remove()


def _timing(reply: dict[str, Any]) -> Timing:
    """What the inspector says the request cost (zeros where it says nothing usable: it is for planning only)."""
    try:
        return Timing.model_validate(reply.get("timing") or {})
    except ValidationError:
        return Timing()


def inspector_env() -> dict[str, str]:
    """The inspector's whole environment (`command.sandbox_env`): nothing of the grader's but what passes through."""
    return command.sandbox_env(Path("/tmp"), "inspector")


def package_folders() -> tuple[Path, ...]:
    """The grader's own code, when it lives outside the Python installation (an editable install)."""
    package = Path(__file__).resolve().parent.parent  # grader/, above grader/grading/inspector/
    roots = bwrap.python_roots()
    inside = any(package.is_relative_to(root) for root in roots) or any(
        str(package).startswith(system + "/") for system in bwrap.SYSTEM_DIRS
    )
    return () if inside else (package,)


_shared: Inspector | None = None


def process_inspector(settings: InspectorSettings) -> Inspector:
    """This process's inspector for `settings` (one per process: a batch worker keeps it between students)."""
    global _shared
    if _shared is not None and _shared.settings != settings:
        _shared.close()
        _shared = None
    if _shared is None:
        _shared = Inspector(settings)
        # A multiprocessing worker leaves through os._exit, which skips atexit but runs Finalize.
        multiprocessing_util.Finalize(None, _close_shared, exitpriority=10)
        atexit.register(_close_shared)
    return _shared


def peak_mb() -> float:
    """The most memory this process's inspector was seen using (0 when it has none)."""
    process = _shared._process if _shared is not None else None
    return round(process.watchdog.peak_bytes / limits.MIB, 1) if process is not None else 0.0


def _close_shared() -> None:
    global _shared
    inspector, _shared = _shared, None
    if inspector is not None:
        inspector.close()
