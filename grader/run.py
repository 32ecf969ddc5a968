"""Running a submission: a fresh Jupyter kernel, the student's cells one by one, then the probe.

A failing cell does not stop the run (later cells still run, as a student would see in
Jupyter); a cell past its time is interrupted; a kernel that dies or is stopped for memory ends
the run, and every cell it did not reach is reported as skipped. Nothing the student does can
raise out of here: every outcome becomes a `CellOutcome`.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import math
import os
import queue
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import nbformat
import psutil
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async
from pydantic import BaseModel, ConfigDict

from grader import limits, noise, probe, sandbox
from grader.errors import KernelFailure, SandboxUnavailable
from grader.result import CellOutcome, RunFacts
from grader.submission import Submission

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROBE_TIMEOUT_S = 180
PRELUDE_TIMEOUT_S = 180
RECOVERY_TIMEOUT_S = 10
NOISE_LIMIT = 64 * 1024

SandboxMode = Literal["auto", "require", "off"]


class RunOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeout: float
    cell_timeout: float
    memory_mb: int
    output_kb: int
    processes: int = 256
    disk_mb: int = 512
    sandbox: SandboxMode = "auto"
    startup_timeout: float = 120


class RunResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    facts: RunFacts
    probe: probe.ProbeFacts | None
    artifacts: Path


def run_submission(
    submission: Submission,
    *,
    workspace: Path,
    options: RunOptions,
    variables: tuple[str, ...] = (),
    input_shape: tuple[int, ...] | None = None,
    files: Sequence[Path] = (),
    hidden_files: Sequence[Path] = (),
    prelude: str = "",
) -> RunResult:
    """Run `submission` in a kernel whose working directory is `workspace/work`.

    `files` are copied into the working directory first (data the exercise hands the student);
    `hidden_files` are masked inside the sandbox (e.g. a package's copy of the held-out data).
    `prelude` runs before the student's first cell and is not reported as one (see grader.prelude).
    """
    layout = _prepare_workspace(workspace, submission, files, hidden_files)
    problem = sandbox.bwrap_problem() if options.sandbox != "off" else "disabled with --no-sandbox"
    if problem and options.sandbox == "require":
        raise SandboxUnavailable(
            f"cannot sandbox the kernel: {problem}", hint="install bubblewrap, or drop --require-sandbox"
        )
    uid = limits.kernel_uid() if problem is None else None
    layout = layout.model_copy(update={"uid": uid, "tmp_mb": options.disk_mb})
    if uid is not None:
        limits.hand_over((layout.workdir, layout.artifacts, layout.ipc), uid)
    runner = _Runner(submission, layout, options, sandboxed=problem is None, prelude=prelude)
    return asyncio.run(runner.run(variables, input_shape, sandbox_note=problem))


def _prepare_workspace(
    workspace: Path, submission: Submission, files: Sequence[Path], hidden_files: Sequence[Path]
) -> sandbox.SandboxLayout:
    layout = sandbox.SandboxLayout(
        workdir=workspace / "work",
        artifacts=workspace / "artifacts",
        ipc=workspace / "ipc",
        hidden_files=tuple(hidden_files),
    )
    for folder in (layout.workdir, layout.artifacts, layout.ipc, workspace / "kernels"):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(submission.path, layout.workdir / submission.path.name)
    for file in files:
        shutil.copy2(file, layout.workdir / file.name)
    return layout


class _BoundedClient(NotebookClient):
    """nbclient's executor, keeping at most `output_limit` bytes of output per cell."""

    output_limit: int = 256 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept_bytes: dict[int, int] = {}
        self.noise_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        content = msg.get("content", {})
        if content.get("name") == "stderr" and noise.is_noise(str(content.get("text", ""))):
            noisy = self.noise_bytes.get(cell_index, 0) + len(str(content.get("text", "")))
            self.noise_bytes[cell_index] = noisy
            return None if noisy > NOISE_LIMIT else super().output(outs, msg, display_id, cell_index)
        size = limits.output_size(content)
        kept = self.kept_bytes.get(cell_index, 0)
        if kept + size > self.output_limit and msg["msg_type"] != "error":
            self.truncated.add(cell_index)
            room = self.output_limit - kept
            if msg["msg_type"] != "stream" or room <= 0:
                return None
            msg = {**msg, "content": {**content, "text": str(content.get("text", ""))[:room]}}
            size = room
        self.kept_bytes[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)


class _Runner:
    def __init__(
        self,
        submission: Submission,
        layout: sandbox.SandboxLayout,
        options: RunOptions,
        *,
        sandboxed: bool,
        prelude: str = "",
    ):
        self.submission = submission
        self.prelude = prelude
        self.layout = layout
        self.options = options
        self.sandboxed = sandboxed
        self.limits = limits.KernelLimits(
            memory_mb=options.memory_mb, processes=options.processes, disk_mb=options.disk_mb
        )
        self.watchdog = limits.Watchdog(self.limits, (layout.workdir, layout.artifacts))

    async def run(
        self, variables: tuple[str, ...], input_shape: tuple[int, ...] | None, sandbox_note: str | None
    ) -> RunResult:
        started = time.monotonic()
        asyncio.get_running_loop().set_exception_handler(_quiet_abandoned_polls)
        cells = [nbformat.v4.new_code_cell(c.source) for c in self.submission.cells]
        notebook = nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell("pass")])
        client = _BoundedClient(
            notebook,
            km=self._kernel_manager(),
            allow_errors=True,
            interrupt_on_timeout=False,
            startup_timeout=int(self.options.startup_timeout),
            iopub_timeout=5,
            record_timing=False,
            shutdown_kernel="immediate",
        )
        client.output_limit = self.options.output_kb * 1024
        notes = [] if self.sandboxed else [f"not sandboxed: {sandbox_note}"]
        notes += limits.unenforced(self.limits, sandboxed=self.sandboxed, uid=self.layout.uid)
        outcomes: list[CellOutcome] = []
        probe_facts = None
        try:
            with open(self.layout.workdir.parent / "kernel.log", "wb") as kernel_log:
                async with client.async_setup_kernel(cleanup_kc=True, stdout=kernel_log, stderr=kernel_log):
                    watchdog = asyncio.ensure_future(self.watchdog.watch(lambda: _kernel_process(client)))
                    try:
                        started += await self._run_prelude(client, notes)
                        alive = await self._run_cells(client, cells, started, outcomes)
                        if alive:
                            probe_facts = await self._run_probe(client, variables, input_shape, notes)
                    finally:
                        watchdog.cancel()
        except DeadKernelError:
            pass
        except (RuntimeError, TimeoutError) as exc:
            if not outcomes:
                atexit.unregister(client._cleanup_kernel)
                log_tail = _tail(self.layout.workdir.parent / "kernel.log")
                raise KernelFailure(
                    f"the Jupyter kernel did not start: {exc}"
                    + (f"\n  kernel log: {log_tail}" if log_tail else ""),
                    hint="check that ipykernel is installed in the grader's environment; "
                    "try --no-sandbox to see whether the sandbox is the cause",
                ) from None
        for cell in self.submission.cells[len(outcomes) :]:
            outcomes.append(
                CellOutcome(
                    number=cell.number, first_line=cell.first_line, source=cell.source, status="skipped"
                )
            )
        facts = RunFacts(
            duration_s=round(time.monotonic() - started, 3),
            device=probe_facts.device if probe_facts else "unknown (the probe did not run)",
            sandboxed=self.sandboxed,
            failing_cells=tuple(c.number for c in outcomes if c.status not in ("ok", "skipped")),
            cells=tuple(outcomes),
            notes=tuple(notes),
        )
        return RunResult(facts=facts, probe=probe_facts, artifacts=self.layout.artifacts)

    async def _run_cells(
        self, client: _BoundedClient, cells: list[Any], started: float, outcomes: list[CellOutcome]
    ) -> bool:
        """Run the student's cells; False when the kernel is gone and nothing more can run."""
        for index, (cell, source) in enumerate(zip(cells, self.submission.cells, strict=True)):
            remaining = self.options.timeout - (time.monotonic() - started)
            if remaining <= 0:
                return True
            limit = min(self.options.cell_timeout, remaining)
            client.timeout = max(1, math.ceil(limit))
            status: str = "ok"
            try:
                await client.async_execute_cell(cell, index)
            except CellTimeoutError:
                status = "timeout"
            except DeadKernelError:
                breach = self.watchdog.breach
                status = "memory" if breach is not None and breach.limit == "memory" else "died"
            outcome = self._outcome(client, cell, index, source, status, limit)
            outcomes.append(outcome)
            if status in ("died", "memory"):
                return False
            if status == "timeout" and not await self._recover(client):
                client.shutdown_kernel = "immediate"
                outcomes[-1] = outcome.model_copy(
                    update={
                        "hint": (outcome.hint or "")
                        + " The kernel did not respond after the interrupt; later cells did not run."
                    }
                )
                return False
            if status == "timeout" and limit < self.options.cell_timeout:
                return True
        return True

    def _outcome(
        self, client: _BoundedClient, cell: Any, index: int, source: Any, status: str, limit: float
    ) -> CellOutcome:
        text, error = _collect_output(cell.outputs)
        hint = None
        if status == "ok" and error is not None:
            status = "error"
        if status == "timeout":
            which = (
                "the notebook's total time"
                if limit < self.options.cell_timeout
                else "the per-cell time limit"
            )
            hint = f"Stopped after {limit:.0f} s ({which}). Look for an endless loop or too many training epochs."
        elif status in ("memory", "died") and self.watchdog.breach is not None:
            hint = self.watchdog.breach.hint
        elif status == "died":
            hint = "The kernel died while running this cell (it exited, crashed or was killed)."
        truncated = index in client.truncated
        if truncated:
            text += f"\n[output truncated: over {self.options.output_kb} KB]"
        return CellOutcome(
            number=source.number,
            first_line=source.first_line,
            source=source.source,
            status=status,  # type: ignore[arg-type]
            error_name=error.get("ename") if error else None,
            error_value=str(error.get("evalue"))[:2000] if error else None,
            traceback=ANSI.sub("", "\n".join(error.get("traceback", [])))[-20_000:] if error else None,
            output=text,
            output_truncated=truncated,
            hint=hint,
            noise=_collect_noise(cell.outputs),
        )

    async def _recover(self, client: _BoundedClient) -> bool:
        """After a timeout: interrupt the kernel and check that it answers again."""
        assert client.km is not None
        try:
            await ensure_async(client.km.interrupt_kernel())
            client.timeout = RECOVERY_TIMEOUT_S
            await client.async_execute_cell(nbformat.v4.new_code_cell("pass"), len(self.submission.cells))
            return True
        except (CellTimeoutError, DeadKernelError, RuntimeError):
            return False

    async def _run_prelude(self, client: _BoundedClient, notes: list[str]) -> float:
        """The grader's setup cell (seeds, compatibility layer, training budget); not a student cell.

        Returns its duration, which does not count against the notebook's time limit.
        """
        if not self.prelude:
            return 0.0
        began = time.monotonic()
        cell = nbformat.v4.new_code_cell(self.prelude)
        client.timeout = PRELUDE_TIMEOUT_S
        try:
            await client.async_execute_cell(cell, len(self.submission.cells), store_history=False)
        except CellTimeoutError:
            notes.append("the grader's prelude (seeding, compatibility layer) did not finish in time")
            return time.monotonic() - began
        _, error = _collect_output(cell.outputs)
        if error is not None:
            notes.append(f"the grader's prelude failed: {error.get('ename')}: {error.get('evalue')}")
        client.kept_bytes.pop(len(self.submission.cells), None)
        client.noise_bytes.pop(len(self.submission.cells), None)
        client.truncated.discard(len(self.submission.cells))
        return time.monotonic() - began

    async def _run_probe(
        self,
        client: _BoundedClient,
        variables: tuple[str, ...],
        input_shape: tuple[int, ...] | None,
        notes: list[str],
    ) -> probe.ProbeFacts | None:
        source = probe.probe_source(self.layout.artifacts, variables, input_shape)
        cell = nbformat.v4.new_code_cell(source)
        client.timeout = PROBE_TIMEOUT_S
        client.output_limit = max(client.output_limit, 64 * 1024)
        try:
            await client.async_execute_cell(cell, len(self.submission.cells), store_history=False)
        except (CellTimeoutError, DeadKernelError):
            notes.append("the grader's probe could not finish in the student's kernel")
            return None
        _, error = _collect_output(cell.outputs)
        if error is not None:
            notes.append(f"the grader's probe failed: {error.get('ename')}: {error.get('evalue')}")
        return probe.read_probe_facts(self.layout.artifacts)

    def _kernel_manager(self) -> AsyncKernelManager:
        spec_dir = self.layout.workdir.parent / "kernels" / "grader"
        spec_dir.mkdir(parents=True, exist_ok=True)
        kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        env = _kernel_env(self.layout.workdir)
        rlimits = limits.rlimit_argv(self.limits)
        if self.sandboxed:
            argv = sandbox.bwrap_command(
                self.layout, [*rlimits, "env", "-i", *[f"{k}={v}" for k, v in env.items()], *kernel_argv]
            )
        else:
            argv = [*rlimits, *kernel_argv]
        spec = {
            "argv": argv,
            "display_name": "grader",
            "language": "python",
            "interrupt_mode": "message",
            "env": {} if self.sandboxed else env,
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
        manager = limits.UidKernelManager(
            kernel_name="grader",
            kernel_spec_manager=specs,
            transport="ipc",
            ip=str(self.layout.ipc / "kernel"),
            connection_file=str(self.layout.ipc / "connection.json"),
            cwd=str(self.layout.workdir),
        )
        manager.kernel_uid = self.layout.uid
        return manager


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _quiet_abandoned_polls(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop the error of nbclient's output poll, left running after a cell timeout, when its channel closes.

    Python would otherwise print it as "Task exception was never retrieved" with a traceback.
    """
    if isinstance(context.get("exception"), queue.Empty):
        return
    loop.default_exception_handler(context)


def _kernel_process(client: NotebookClient) -> psutil.Process | None:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    pid = getattr(process, "pid", None)
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _kernel_env(workdir: Path) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's leaks in except what is listed here."""
    env = {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    }
    for name in ("CUDA_VISIBLE_DEVICES", "TF_FORCE_GPU_ALLOW_GROWTH", "OMP_NUM_THREADS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _collect_noise(outputs: list[Any]) -> str:
    """The framework's stderr noise of a cell (folded away in the report)."""
    found = [
        noise.split_noise(str(o.get("text", "")))[1]
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    return ANSI.sub("", "".join(found))[-NOISE_LIMIT:]


def _collect_output(outputs: list[Any]) -> tuple[str, dict[str, Any] | None]:
    """The cell's visible text output, and its error output if it raised."""
    parts: list[str] = []
    error = None
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = str(output.get("text", ""))
            parts.append(noise.split_noise(text)[0] if output.get("name") == "stderr" else text)
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "text/plain" in data:
                parts.append(str(data["text/plain"]) + "\n")
        elif kind == "error":
            error = dict(output)
    return ANSI.sub("", "".join(parts)), error
