"""What the sandbox adds to each submission's start-up: bwrap vs --no-sandbox, same one-cell script.

Each run starts a fresh kernel, runs `x = 1`, runs the probe and shuts the kernel down (what
`run_submission` does for every submission, minus any training). Modes alternate so that load
from elsewhere on the machine falls on both alike.

    .venv/bin/python benchmarks/sandbox_startup.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.grading.run import SandboxMode, run_submission
from grader.grading.submission import load_submission
from grader.rubric.limits import Limits
from grader.sandbox import bwrap, enforce
from grader.sandbox.bwrap import bwrap_problem

LIMITS = Limits(timeout=120, cell_timeout=60, memory_mb=2048, output_kb=64)


def one_run(script: Path, mode: SandboxMode) -> float:
    submission = load_submission(script)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as workspace:
        result = run_submission(submission, workspace=Path(workspace), bounds=LIMITS, sandbox_mode=mode)
    elapsed = time.perf_counter() - started
    assert result.facts.sandboxed == (mode == "require"), result.facts.notes
    assert [c.status for c in result.facts.cells] == ["ok"]
    return elapsed


def bare_bwrap(runs: int) -> float:
    """Median seconds bwrap itself takes to set up the kernel's sandbox and run /bin/true in it."""
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as folder:
        work, artifacts, ipc = Path(folder) / "work", Path(folder) / "artifacts", Path(folder) / "ipc"
        layout = bwrap.SandboxLayout(
            workdir=work, writable=(artifacts, ipc), uid=enforce.kernel_uid(), tmp_mb=512
        )
        for path in (work, artifacts, ipc):
            path.mkdir()
        argv = bwrap.bwrap_command(layout, ["/bin/true"])
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(runs: int) -> None:
    if problem := bwrap_problem():
        sys.exit(f"cannot measure the sandbox here: {problem}")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "tiny.py"
        script.write_text("x = 1\n")
        one_run(script, "off")  # warm the file cache for both
        times: dict[SandboxMode, list[float]] = {"off": [], "require": []}
        for _ in range(runs):
            for mode in times:
                times[mode].append(one_run(script, mode))
    for mode, label in (("off", "--no-sandbox"), ("require", "bwrap")):
        values = times[mode]
        print(
            f"{label:13} median {statistics.median(values):.3f} s  mean {statistics.mean(values):.3f} s  "
            f"min {min(values):.3f} s  ({len(values)} runs)"
        )
    added = statistics.median(times["require"]) - statistics.median(times["off"])
    print(f"sandbox adds {added * 1000:+.0f} ms per submission (difference of medians)")
    print(
        f"bwrap alone: {bare_bwrap(20) * 1000:.1f} ms to build the sandbox and run /bin/true (median of 20)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
