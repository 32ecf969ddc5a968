"""How `grade batch` looks on the terminal: a progress bar, a line per student, the closing summary.

Part of the command line (the only layer that prints): `grader.batch.engine` reports what happens as
typed events, and this draws them. Every student-controlled string (stems, messages, the device
a kernel reports) is printed as plain text, and a line the terminal cannot take is escaped or
dropped, never allowed to stop the batch: the rows are on disk whatever the terminal does.

The bar is honest: its total is every student this run gives a row (graded, rescored, or an
error row), and a student counts as done once, when their row is final: an error row known at
planning counts from the start, any other when its student's grading ends, so the bar never
reaches its total while a student is still running. Its clock is the batch's wall time, frozen
when the batch ends, not rich's per-task clock, which stops when the count reaches the total.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from grader.batch.engine import BatchEvent, BatchSummary, Failed, Graded, Grading, Planned
from grader.grading import stopped, unmeasured
from grader.render.report import plain

MIB = 1024 * 1024
WORKER_MEMORY_MB = 1536
"""About what one worker needs at once: its grader side with the inspector (~0.7 GB) and a kernel (~0.7 GB)."""
STAGES = ("kernel_start", "prelude", "cells", "probe", "measure", "evaluate", "report")


class WallClock:
    """The batch's wall time as the bar shows it: running while the view shows, frozen after."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.started: float | None = None
        self.stopped: float | None = None

    def start(self) -> None:
        self.started, self.stopped = self.now(), None

    def stop(self) -> None:
        if self.started is not None:
            self.stopped = self.now()

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.stopped if self.stopped is not None else self.now()) - self.started


class WallTimeColumn(ProgressColumn):
    """The batch's elapsed wall time (`WallClock`), in rich's `0:05:51` form."""

    def __init__(self, clock: WallClock) -> None:
        super().__init__()
        self.clock = clock

    def render(self, task: Task) -> Text:
        seconds = int(self.clock.elapsed())
        return Text(
            f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", style="progress.elapsed"
        )


class BatchView:
    """Draws a batch's events; use as a context manager around `grader.batch.engine.run_batch`."""

    def __init__(self, console: Console, clock: WallClock | None = None) -> None:
        self.console = console
        self.clock = clock or WallClock()
        self.progress = Progress(
            TextColumn("[bold]grading[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            WallTimeColumn(self.clock),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.description}", markup=False),
            console=console,
            transient=False,
        )
        self.bar: TaskID | None = None
        self.running: dict[str, None] = {}
        self.counted: set[str] = set()
        self.ended: set[str] = set()

    @contextmanager
    def showing(self) -> Iterator[BatchView]:
        """Show the bar while the batch runs; its last drawing shows the batch's whole wall time."""
        self.clock.start()
        with self.progress:
            try:
                yield self
            finally:
                self.clock.stop()

    def __call__(self, event: BatchEvent) -> None:
        if isinstance(event, Planned):
            self._planned(event)
        elif isinstance(event, Grading):
            if event.stem not in self.ended:
                self.running[event.stem] = None
            self._describe()
        elif isinstance(event, Graded) and (why := unmeasured.reason(event.result.notes)) is not None:
            self.say(
                Text.assemble(
                    ("?", "magenta"), " ", plain(event.stem), ": not measured, no grade: ", plain(why)
                )
            )
            self._done(event.stem)
        elif isinstance(event, Graded):
            result = event.result
            mark, style = ("↻", "cyan") if event.rescored else ("✔", "green")
            how = "rescored from what ran" if event.rescored else f"{result.run.duration_s:.1f} s on "
            stop = stopped.of_result(result)
            self.say(
                Text.assemble(
                    (mark, style),
                    " ",
                    plain(event.stem),
                    f": {result.score:g}/{result.max_score:g} ({how}",
                    plain("" if event.rescored else result.run.device),
                    ")",
                    ("", "") if stop is None else (f" · stopped: {stop.describe()}", "yellow"),
                )
            )
            self._done(event.stem)
        elif isinstance(event, Failed):
            self.say(
                Text.assemble(
                    ("!", "magenta"), " ", plain(event.failure.stem), ": ", plain(event.failure.message)
                )
            )
            if not event.saved:
                self.say(plain(f"  (the error row of {event.failure.stem} could not be saved)", "magenta"))
            self._done(event.failure.stem)

    def _planned(self, planned: Planned) -> None:
        if planned.unchanged:
            self.say(plain(f"{len(planned.unchanged)} unchanged since the last run (use --force to regrade)"))
        if planned.to_rescore:
            self.say(
                plain(
                    f"{len(planned.to_rescore)} to score again from what ran last time "
                    "(only the rubric's checks changed; no kernel is started for them)"
                )
            )
        # Error rows known now are done now: counted at the start (not as progress, so they do
        # not speed up the estimate), never later when they would run ahead of running students.
        self.counted = {task.stem for task in (*planned.to_grade, *planned.to_rescore)}
        self.ended = {failure.stem for failure in planned.failures}
        self.counted |= self.ended
        if self.counted:
            self.bar = self.progress.add_task("", total=len(self.counted), completed=len(self.ended))

    def _done(self, stem: str) -> None:
        """One student's row is final: counted once, however many events say so (an error after a
        failed display, a retried worker), and added to the total if the plan did not name them."""
        self.running.pop(stem, None)
        if stem not in self.ended:
            self.ended.add(stem)
            self.counted.add(stem)
            if self.bar is not None:
                self.progress.update(self.bar, total=len(self.counted), completed=len(self.ended))
        self._describe()

    def _describe(self) -> None:
        if self.bar is None:
            return
        now = list(self.running)
        shown = ", ".join(now[:3]) + (f" +{len(now) - 3}" if len(now) > 3 else "")
        self.progress.update(self.bar, description=f"now: {shown}" if shown else "")

    def say(self, text: Text) -> None:
        """One line above the progress bar; escaped to ASCII, or dropped, if the terminal cannot take it."""
        target = self.progress.console
        try:
            target.print(text, highlight=False, soft_wrap=True)
        except Exception:
            escaped = text.plain.encode("ascii", "backslashreplace").decode("ascii")
            with contextlib.suppress(Exception):
                target.print(Text(escaped), highlight=False, soft_wrap=True)


def closing_lines(summary: BatchSummary, out_index: str) -> list[str]:
    """What the batch did, its memory per worker, its kernels and where its time went (class totals)."""
    lines = [
        f"{summary.found} submissions: {summary.graded} graded, {summary.rescored} rescored, "
        f"{summary.unchanged} unchanged, {len(summary.failures)} could not be graded in "
        f"{wall_time(summary.wall_s)} · class summary: {out_index}",
        *summary.notices,
    ]
    if summary.workers:
        lines.append(
            f"peak memory per worker: {max(w.grader_mb for w in summary.workers.values()):.0f} MB grader side, "
            f"{max(w.inspector_mb for w in summary.workers.values()):.0f} MB its model inspector, "
            f"{max(w.kernel_mb for w in summary.workers.values()):.0f} MB largest kernel ({len(summary.workers)} workers)"
        )
    if summary.kernel_waits:
        lines.append(kernel_wait_line(summary.kernel_waits))
    if summary.forked or summary.fallbacks:
        line = f"kernel factory: {summary.forked} of {len(summary.kernel_waits)} kernels forked from the warm template"
        if summary.fallbacks:
            reasons = sorted(set(summary.fallbacks))
            line += f"; {len(summary.fallbacks)} launched instead ({'; '.join(reasons[:3])})"
        lines.append(line)
    if summary.stages:
        spent = ", ".join(
            f"{name.replace('_', ' ')} {summary.stages.get(name, 0.0):.1f} s"
            for name in STAGES
            if name in summary.stages
        )
        lines.append(f"time per stage, class total: {spent}")
    return lines


def wall_time(seconds: float) -> str:
    """`5 min 51 s`, `58 s`, `1 h 02 min`: a batch's wall time in words."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} min"


def kernel_wait_line(waits: list[tuple[bool, float]]) -> str:
    """How long workers waited for their kernels to answer, split by started-ahead or launched on demand."""

    def mean(values: list[float]) -> str:
        return f"{sum(values) / len(values):.2f} s" if values else "-"

    ahead = [wait for prestarted, wait in waits if prestarted]
    on_demand = [wait for prestarted, wait in waits if not prestarted]
    return (
        f"kernels: {len(ahead)} of {len(waits)} started ahead of need; mean wait for a kernel to answer "
        f"{mean(ahead)} when started ahead, {mean(on_demand)} when launched on demand"
    )


def default_workers() -> tuple[int, str]:
    """As many workers as CPUs, and no more than memory allows; and why, in words."""
    import psutil

    cpus = os.cpu_count() or 1
    fit = max(1, int(psutil.virtual_memory().available // (WORKER_MEMORY_MB * MIB)))
    workers = min(cpus, fit)
    return (
        workers,
        f"{workers} workers ({cpus} CPUs; available memory fits {fit} at ~{WORKER_MEMORY_MB} MB each)",
    )


def visible_gpus() -> tuple[str, ...]:
    """The GPUs nvidia-smi lists, by index."""
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return ()
    try:
        listing = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU "))


def gpu_memory_mb(gpu: str) -> int | None:
    """A GPU's total memory in MB, as nvidia-smi reports it (None without nvidia-smi)."""
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return None
    try:
        answer = subprocess.run(
            [nvidia_smi, f"--id={gpu}", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return int(answer.stdout.strip().splitlines()[0])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None


def shared_gpu_cap(gpus: tuple[str, ...], kernels_per_gpu: int) -> int | None:
    """The memory each of `kernels_per_gpu` kernels may take on the smallest GPU: 90 % of it, shared evenly."""
    if kernels_per_gpu <= 1:
        return None
    totals = [total for total in (gpu_memory_mb(gpu) for gpu in dict.fromkeys(gpus)) if total]
    return int(min(totals) * 0.9 / kernels_per_gpu) if totals else None
