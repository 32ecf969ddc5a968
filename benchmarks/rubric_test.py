"""`grade rubric test` against `grade batch` of the same notebooks, on this machine.

Copies a rubric's reference solution and its examples into a temporary folder, then times, in
turn (so that load from elsewhere falls on both alike), `grade rubric test RUBRIC` and
`grade batch FOLDER --rubric RUBRIC`, each with the same workers, and prints both wall times,
their ratio (target, issue #22: rubric test <= 2 x batch) and the load average before each run.

Not part of the test suite: it grades the notebooks twice per repeat. Run from the repository root:

    .venv/bin/python benchmarks/rubric_test.py [--rubric rubrics/cifar10-cnn.yaml] [--repeats 2] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.authoring.selftest import expectations
from grader.rubric.model import load_rubric

REPO = Path(__file__).resolve().parent.parent
GRADE = Path(sys.executable).parent / "grade"


def copy_notebooks(rubric: Path, folder: Path) -> int:
    """The rubric's solution and examples, copied under distinct names: what the batch grades."""
    wanted = expectations(load_rubric(rubric))
    for index, expectation in enumerate(wanted):
        shutil.copyfile(expectation.path, folder / f"{index:02d}-{expectation.path.name}")
    return len(wanted)


def timed(command: list[str]) -> float:
    """The command's wall time; its output is dropped, a failure stops the benchmark."""
    began = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rubric", type=Path, default=Path("rubrics/cifar10-cnn.yaml"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, help="workers for both (default: each command's own default)")
    args = parser.parse_args()
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    with tempfile.TemporaryDirectory(prefix="rubric-test-bench-") as scratch:
        folder = Path(scratch) / "notebooks"
        folder.mkdir()
        count = copy_notebooks(args.rubric, folder)
        print(f"{args.rubric}: {count} notebooks, {os.cpu_count()} CPUs", flush=True)
        for repeat in range(1, args.repeats + 1):
            before_test = load()
            test_s = timed([str(GRADE), "rubric", "test", str(args.rubric), *jobs])
            out = Path(scratch) / f"out-{repeat}"
            before_batch = load()
            batch_s = timed(
                [str(GRADE), "batch", str(folder), "--rubric", str(args.rubric), "--out", str(out), *jobs]
            )
            print(
                f"run {repeat}: rubric test {test_s:.1f} s (load {before_test}), "
                f"grade batch {batch_s:.1f} s (load {before_batch}), ratio {test_s / batch_s:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
