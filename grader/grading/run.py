"""Running a submission: a fresh Jupyter kernel, the student's cells one by one, then the probe.

A failing cell does not stop the run (later cells still run, as a student would see in
Jupyter); a cell past its time is interrupted; a kernel that dies or is stopped for memory ends
the run, and every cell it did not reach is reported as skipped. Nothing the student does can
raise out of here: every outcome becomes a `CellOutcome`.

What the kernel leaves behind (facts.json and the saved models) is read only once the kernel and
everything it started are gone, and then as hostile input (`grader.grading.artifacts`).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import logging
import math
import queue
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

from grader import debugging
from grader.errors import KernelFailure, SandboxUnavailable
from grader.grading import artifacts, noise, probe
from grader.grading.submission import Submission
from grader.result import CellOutcome, RunFacts, StageTimes
from grader.rubric import limits
from grader.rubric.limits import Limits
from grader.sandbox import bwrap, enforce, kernels
from grader.text import clean

log = logging.getLogger(__name__)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROBE_TIMEOUT_S = 180
PROBE_MIN_S = 30
PRELUDE_TIMEOUT_S = 180
RECOVERY_TIMEOUT_S = 10
STARTUP_TIMEOUT_S = 120
NOISE_LIMIT = 64 * 1024
MAX_FIGURE_CHARS = 400 * 1024
MAX_FIGURES = 12
MAX_FIGURES_PER_CELL = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SandboxMode = Literal["auto", "require", "off"]


@dataclass(frozen=True)
class RunResult:
    """How the notebook ran, and what the grader accepted of what its kernel left behind."""

    facts: RunFacts
    artifacts: artifacts.Artifacts

    @property
    def probe(self) -> probe.ProbeFacts | None:
        return self.artifacts.facts


@dataclass
class _Finished:
    """The coroutine's part of a run: the cells' outcomes, and the shut-down kernel whose folder is left to read."""

    outcomes: list[CellOutcome]
    notes: list[str]
    kernel: kernels.StartedKernel | None
    probe_folder: str | None
    started: float
    stages: dict[str, float] = field(default_factory=dict)
    prestarted: bool = False
    manifest: probe.ProbeManifest | None = None
    stage: str = "kernel start"


def run_submission(
    submission: Submission,
    *,
    workspace: Path,
    bounds: Limits,
    sandbox_mode: SandboxMode = "auto",
    variables: tuple[str, ...] = (),
    input_shape: tuple[int, ...] | None = None,
    files: Sequence[Path] = (),
    hidden_files: Sequence[Path] = (),
    mounts: Sequence[tuple[Path, str]] = (),
    prelude: str = "",
    import_keras: bool = False,
) -> RunResult:
    """Run `submission` in a sandboxed kernel; what the probe saved ends up in `workspace/artifacts`.

    `files` are copied into the kernel's working directory first (data the exercise hands the
    student); `hidden_files` are masked inside the sandbox (e.g. a package's copy of the held-out
    data); `mounts` are the course's files, read-only (source, destination: absolute, or relative to
    the working folder; see grader.grading.course). `prelude` runs before the student's first cell and is not reported as one (see
    grader.grading.prelude); `import_keras` when it imports Keras, so that the kernel can do so as it
    starts. The kernel may be a spare launched ahead of need (see grader.sandbox.kernels).
    """
    problem = bwrap.bwrap_problem() if sandbox_mode != "off" else "disabled with --no-sandbox"
    if problem and sandbox_mode == "require":
        raise SandboxUnavailable(
            f"cannot sandbox the kernel: {problem}", hint="install bubblewrap, or drop --require-sandbox"
        )
    recipe = kernels.KernelRecipe(
        sandboxed=problem is None,
        own_uid=problem is None and enforce.kernel_uid() is not None,
        limits=bounds,
        hidden_files=tuple(hidden_files),
        mounts=tuple(mounts),
        import_keras=import_keras,
    )
    runner = _Runner(submission, recipe, prelude=prelude)
    finished = kernels.run_on_loop(
        runner.run(workspace, [submission.path, *files], variables, input_shape, sandbox_note=problem)
    )
    return runner.result(finished, workspace / "artifacts")


class _BoundedClient(NotebookClient):
    """nbclient's executor, keeping at most `output_limit` bytes of output per cell."""

    output_limit: int = 256 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept_bytes: dict[int, int] = {}
        self.noise_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()
        self.output_polls: set[asyncio.Task[Any]] = set()

    async def _async_poll_output_msg(self, parent_msg_id: str, cell: Any, cell_index: int) -> None:
        """nbclient's poll of a cell's output, kept track of so that a timed-out cell's can be stopped.

        nbclient leaves that poll running after a timeout, and it takes every IOPub message and drops
        those of other cells: everything the next cells (and the probe) printed would be lost.
        """
        task = asyncio.current_task()
        if task is not None:
            self.output_polls.add(task)
        try:
            await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        finally:
            if task is not None:
                self.output_polls.discard(task)

    async def stop_output_polls(self) -> None:
        """Stop the output polls still running (those of cells that timed out)."""
        polls = list(self.output_polls)
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        content = msg.get("content", {})
        if content.get("name") == "stderr" and noise.is_noise(str(content.get("text", ""))):
            noisy = self.noise_bytes.get(cell_index, 0) + len(str(content.get("text", "")))
            self.noise_bytes[cell_index] = noisy
            return None if noisy > NOISE_LIMIT else super().output(outs, msg, display_id, cell_index)
        size = enforce.output_size(content)
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
    def __init__(self, submission: Submission, recipe: kernels.KernelRecipe, *, prelude: str = ""):
        self.submission = submission
        self.recipe = recipe
        self.prelude = prelude
        self.limits = recipe.limits
        self.watchdog = enforce.Watchdog(self.limits, ())
        self.enforcement = enforce.MemoryEnforcement.of(None, self.limits.memory_mb)
        self.figures = 0

    async def run(
        self,
        workspace: Path,
        files: list[Path],
        variables: tuple[str, ...],
        input_shape: tuple[int, ...] | None,
        sandbox_note: str | None,
    ) -> _Finished:
        """Start the kernel, run the prelude, the cells and the probe, then shut the kernel down.

        A kernel that dies or is lost ends the run with a note; one that never started is a
        `KernelFailure`.
        """
        asyncio.get_running_loop().set_exception_handler(_quiet_abandoned_polls)
        cells = [nbformat.v4.new_code_cell(c.source) for c in self.submission.cells]
        finished = self._begin(sandbox_note)
        client: _BoundedClient | None = None
        try:
            kernel = await self._start_kernel(workspace / "kernel", files, finished)
            client = self._client(kernel, cells)
            await self._until_ready(kernel, finished)
            await self._run_notebook(client, kernel, cells, variables, input_shape, finished)
        except DeadKernelError:
            if not finished.outcomes:
                finished.notes.append(
                    f"the kernel died during the grader's {finished.stage} (before the student's first cell); "
                    "no cell ran: re-run the grade, and if it dies again, check the kernel's memory limit"
                )
        except (RuntimeError, TimeoutError, OSError) as exc:
            await self._lost_kernel(exc, finished, client)
        finally:
            self.watchdog.stop()
        if finished.kernel is not None:
            await kernels.shut_down(finished.kernel)
        return finished

    def _begin(self, sandbox_note: str | None) -> _Finished:
        """The run's record before anything ran: the notes on what the sandbox could not enforce."""
        notes = [] if self.recipe.sandboxed else [f"not sandboxed: {sandbox_note}"]
        notes += enforce.unenforced(self.limits, sandboxed=self.recipe.sandboxed, own_uid=self.recipe.own_uid)
        return _Finished(outcomes=[], notes=notes, kernel=None, probe_folder=None, started=time.monotonic())

    async def _start_kernel(
        self, folder: Path, files: list[Path], finished: _Finished
    ) -> kernels.StartedKernel:
        """A kernel (a spare where one is waiting), the submission's files handed in, its limits' watchdog made."""
        kernel, prestarted = await kernels.acquire(self.recipe, folder)
        finished.kernel, finished.prestarted = kernel, prestarted
        kernels.hand_in(kernel, files)
        self.watchdog = enforce.Watchdog(self.limits, (kernel.workdir, kernel.artifacts), kernel.cgroup)
        self.enforcement = enforce.MemoryEnforcement.of(kernel.cgroup, self.limits.memory_mb)
        return kernel

    def _client(self, kernel: kernels.StartedKernel, cells: list[Any]) -> _BoundedClient:
        """nbclient's executor for the student's cells (and a last `pass`), bound to the kernel and the output limit."""
        notebook = nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell("pass")])
        client = _BoundedClient(
            notebook,
            km=kernel.manager,
            allow_errors=True,
            interrupt_on_timeout=False,
            startup_timeout=int(STARTUP_TIMEOUT_S),
            iopub_timeout=5,
            record_timing=False,
            shutdown_kernel="immediate",
        )
        client.output_limit = self.limits.output_kb * 1024
        client.kc = kernel.client
        return client

    async def _until_ready(self, kernel: kernels.StartedKernel, finished: _Finished) -> None:
        """Wait for the kernel to answer, then watch it; the next submission's spare starts now."""
        await kernels.wait_until_ready(kernel, STARTUP_TIMEOUT_S)
        finished.stages["kernel_start"] = time.monotonic() - finished.started
        kernels.record_start(kernel, finished.prestarted, finished.stages["kernel_start"])
        self.watchdog.start(kernel.pid)
        spare_problem = await kernels.prepare_spare(self.recipe)
        if spare_problem:
            finished.notes.append(spare_problem)

    async def _run_notebook(
        self,
        client: _BoundedClient,
        kernel: kernels.StartedKernel,
        cells: list[Any],
        variables: tuple[str, ...],
        input_shape: tuple[int, ...] | None,
        finished: _Finished,
    ) -> None:
        """The prelude, the student's cells, and the probe while the kernel is alive, each timed as a stage."""
        async with client.async_setup_kernel(cleanup_kc=True):
            finished.stage = "prelude"
            finished.stages["prelude"] = await self._run_prelude(client, finished.notes)
            finished.started += finished.stages["prelude"]
            finished.stage, began = "cells", time.monotonic()
            alive = await self._run_cells(client, cells, finished.started, finished.outcomes)
            finished.stages["cells"] = time.monotonic() - began
            if alive:
                finished.stage, began = "probe", time.monotonic()
                finished.probe_folder = kernels.probe_folder(kernel)
                finished.manifest = await self._run_probe(
                    client, kernel.artifacts / finished.probe_folder, variables, input_shape, finished.notes
                )
                finished.stages["probe"] = time.monotonic() - began
            self.watchdog.sample()

    async def _lost_kernel(
        self, exc: BaseException, finished: _Finished, client: _BoundedClient | None
    ) -> None:
        """After a cell ran, a lost kernel ends the run with a note; before any, it never started: `KernelFailure`."""
        outcomes = finished.outcomes
        if outcomes:
            finished.notes.append(
                f"the run stopped after cell {outcomes[-1].number} because the grader lost the kernel "
                f"({type(exc).__name__}: {str(exc)[:200]}); later cells did not run"
            )
            return
        self.watchdog.stop()
        if client is not None:
            atexit.unregister(client._cleanup_kernel)
        failed, finished.kernel = finished.kernel, None
        log_tail = _tail(failed.log) if failed is not None else ""
        if failed is not None:
            await kernels.discard(failed)
        raise KernelFailure(
            f"the Jupyter kernel did not start: {exc}" + (f"\n  kernel log: {log_tail}" if log_tail else ""),
            hint="check that ipykernel is installed in the grader's environment; "
            "try --no-sandbox to see whether the sandbox is the cause",
        ) from None

    def result(self, finished: _Finished, snapshot: Path) -> RunResult:
        """Read what the (shut-down) kernel left behind, then remove its folder; off the event loop."""
        kernel = finished.kernel
        collected = artifacts.Artifacts.empty()
        if kernel is not None:
            collected = artifacts.collect(
                kernel.artifacts, finished.probe_folder, snapshot, finished.manifest
            )
            if debugging.settings.keep_workdir:
                finished.notes.append(f"the kernel's folder was kept (--keep-workdir): {kernel.folder}")
                log.info("kept the kernel's folder %s", kernel.folder)
            else:
                kernels.remove(kernel)
        outcomes = finished.outcomes
        for cell in self.submission.cells[len(outcomes) :]:
            outcomes.append(
                CellOutcome(
                    number=cell.number, first_line=cell.first_line, source=cell.source, status="skipped"
                )
            )
        if collected.facts is not None:
            device = collected.facts.device
        elif finished.probe_folder is not None:
            device = "unknown (the probe's facts were refused)"
        else:
            device = "unknown (the probe did not run)"
        stages = StageTimes(
            **{name: round(seconds, 3) for name, seconds in finished.stages.items()},
            kernel_prestarted=finished.prestarted,
            kernel_peak_mb=round(self.watchdog.peak_bytes / limits.MIB, 1),
        )
        facts = RunFacts(
            duration_s=round(time.monotonic() - finished.started, 3),
            device=device,
            sandboxed=self.recipe.sandboxed,
            failing_cells=tuple(c.number for c in outcomes if c.status not in ("ok", "skipped")),
            cells=tuple(outcomes),
            notes=tuple(finished.notes),
            enforcement=(self.enforcement.description,),
            stages=stages,
        )
        return RunResult(facts=facts, artifacts=collected)

    async def _run_cells(
        self, client: _BoundedClient, cells: list[Any], started: float, outcomes: list[CellOutcome]
    ) -> bool:
        """Run the student's cells; False when the kernel is gone and nothing more can run."""
        for index, (cell, source) in enumerate(zip(cells, self.submission.cells, strict=True)):
            remaining = self.limits.timeout - (time.monotonic() - started)
            if remaining <= 0:
                return True
            limit = min(self.limits.cell_timeout, remaining)
            client.timeout = max(1, math.ceil(limit))
            status: str = "ok"
            try:
                await client.async_execute_cell(cell, index)
            except CellTimeoutError:
                status = "timeout"
            except DeadKernelError:
                breach = self.watchdog.breach
                memory = (breach is not None and breach.limit == "memory") or self.watchdog.oom_killed()
                status = "memory" if memory else "died"
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
            if status == "timeout" and limit < self.limits.cell_timeout:
                return True
        return True

    def _outcome(
        self, client: _BoundedClient, cell: Any, index: int, source: Any, status: str, limit: float
    ) -> CellOutcome:
        output, error = _collect_output(cell.outputs)
        hint = None
        if status == "ok" and error is not None:
            status = "error"
        if status == "timeout":
            which = (
                "the notebook's total time" if limit < self.limits.cell_timeout else "the per-cell time limit"
            )
            hint = f"Stopped after {limit:.0f} s ({which}). Look for an endless loop or too many training epochs."
        elif status in ("memory", "died") and self.watchdog.breach is not None:
            hint = self.watchdog.breach.hint
        elif status == "memory":
            hint = enforce.memory_hint(self.limits.memory_mb) + " (The hard memory limit stopped it.)"
        elif status == "died":
            hint = "The kernel died while running this cell (it exited, crashed or was killed)."
        truncated = index in client.truncated
        if truncated:
            output += f"\n[output truncated: over {self.limits.output_kb} KB]"
        room = min(MAX_FIGURES_PER_CELL, MAX_FIGURES - self.figures)
        figures = _collect_figures(cell.outputs, room) if room > 0 else ()
        self.figures += len(figures)
        return CellOutcome(
            number=source.number,
            first_line=source.first_line,
            source=source.source,
            status=status,  # type: ignore[arg-type]
            error_name=clean(str(error.get("ename")))[:200] if error else None,
            error_value=clean(str(error.get("evalue")))[:2000] if error else None,
            traceback=clean(ANSI.sub("", "\n".join(map(str, error.get("traceback", [])))))[-20_000:]
            if error
            else None,
            output=clean(output),
            output_truncated=truncated,
            hint=hint,
            noise=clean(_collect_noise(cell.outputs)),
            images=figures,
        )

    async def _recover(self, client: _BoundedClient) -> bool:
        """After a timeout: interrupt the kernel and check that it answers again."""
        assert client.km is not None
        await client.stop_output_polls()
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
            await self._recover(client)
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
        out_dir: Path,
        variables: tuple[str, ...],
        input_shape: tuple[int, ...] | None,
        notes: list[str],
    ) -> probe.ProbeManifest | None:
        """Run the probe cell; the manifest it printed on its own output (None if it did not finish)."""
        source = probe.probe_source(str(out_dir), variables, input_shape)
        cell = nbformat.v4.new_code_cell(source)
        # The probe runs in the student's process, where a hook of theirs can hold it: bound it by
        # the notebook's own limits too (a cell's, and the whole notebook's), since it needs only
        # seconds to save a model.
        own = min(self.limits.cell_timeout, self.limits.timeout)
        limit = min(PROBE_TIMEOUT_S, max(PROBE_MIN_S, own))
        client.timeout = math.ceil(limit)
        client.output_limit = max(client.output_limit, 64 * 1024)
        try:
            await client.async_execute_cell(cell, len(self.submission.cells), store_history=False)
        except CellTimeoutError:
            notes.append(
                f"the grader's probe did not finish within {limit:.0f} s in the student's kernel "
                "(something the notebook left running, a hook or a thread, may have held it)"
            )
            return None
        except DeadKernelError:
            breach = self.watchdog.breach
            if (breach is not None and breach.limit == "memory") or self.watchdog.oom_killed():
                notes.append(
                    "the kernel was stopped during the grader's probe: "
                    + (breach.hint if breach is not None else enforce.memory_hint(self.limits.memory_mb))
                    + " (Something the notebook left running, a thread or a hook, kept allocating.)"
                )
            elif breach is not None:
                notes.append(f"the kernel was stopped during the grader's probe: {breach.hint}")
            else:
                notes.append("the grader's probe could not finish: the student's kernel died while it ran")
            return None
        output, error = _collect_output(cell.outputs)
        log.debug("the probe printed %r; error %r", output[:2000], error)
        if error is not None:
            notes.append(f"the grader's probe failed: {error.get('ename')}: {str(error.get('evalue'))[:300]}")
        return probe.manifest_from_output(output)


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


def _collect_noise(outputs: list[Any]) -> str:
    """The framework's stderr noise of a cell (folded away in the report)."""
    found = [
        noise.split_noise(str(o.get("text", "")))[1]
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    return ANSI.sub("", "".join(found))[-NOISE_LIMIT:]


def _collect_output(outputs: list[Any]) -> tuple[str, dict[str, Any] | None]:
    """The cell's visible text output, and its error output if it raised.

    A figure's text stand-in (`<Figure size 640x480 with 1 Axes>`) is left out when the figure
    itself is kept (`_collect_figures`).
    """
    parts: list[str] = []
    error = None
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = str(output.get("text", ""))
            parts.append(noise.split_noise(text)[0] if output.get("name") == "stderr" else text)
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "text/plain" in data and _png(data) is None:
                parts.append(str(data["text/plain"]) + "\n")
        elif kind == "error":
            error = dict(output)
    return ANSI.sub("", "".join(parts)), error


def _collect_figures(outputs: list[Any], room: int) -> tuple[str, ...]:
    """The cell's own PNG figures, at most `room` of them: each must decode as a PNG of bounded size.

    They come from the student's kernel, so a figure is kept only if it is what it says it is (the
    report embeds it as a data URI, never as markup).
    """
    figures: list[str] = []
    for output in outputs:
        if len(figures) >= room:
            break
        if output.get("output_type") in ("execute_result", "display_data"):
            figure = _png(output.get("data", {}))
            if figure is not None:
                figures.append(figure)
    return tuple(figures)


def _png(data: Any) -> str | None:
    encoded = data.get("image/png") if isinstance(data, dict) else None
    if not isinstance(encoded, str) or len(encoded) > MAX_FIGURE_CHARS:
        return None
    compact = "".join(encoded.split())
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return compact if raw.startswith(PNG_SIGNATURE) else None
