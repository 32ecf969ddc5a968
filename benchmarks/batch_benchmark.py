"""How much `grade batch` costs against simply executing the notebooks, on this machine.

Generates N architecture-only submissions (variants of the conv-dims and cifar10-cnn exercises)
in a temporary folder and prints, in one run:

- the wall time of `grade batch -j J` against the same notebooks executed one after another
  with `jupyter nbconvert --to notebook --execute` (target: batch <= 0.2 of sequential), with the
  warm kernel factory on (`--factory`) and off (`--no-factory`);
- the grading overhead per submission: batch wall time x workers / submissions, minus the
  student cells' own time (target: under 1 s);
- the time of one `grade` against one bare nbconvert execution of the same notebook
  (target: <= 1.05), the median of a few repeats;
- the peak memory of each batch worker (grader side) and of the largest kernel, and the time per
  stage (kernel start, prelude, cells, probe, measure, evaluate, report) for the class;
- a re-run of the same batch (nothing changed: every student skipped), and a rescoring of every
  student from the executions the first batch kept (`--rescore`: no kernel starts).

Not part of the test suite: it takes several minutes. Run from the repository root:

    .venv/bin/python benchmarks/batch_benchmark.py [--count 40] [--jobs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TRAINED = REPO / "submissions" / "digits-trained.ipynb"
CIFAR_FILTERS = ((16, 32, 64), (8, 16, 32), (16, 32, 32), (32, 32, 64))
CONV_SHAPES = ((16, 2, 2), (16, 3, 2), (8, 2, 2), (16, 2, 1), (32, 2, 2))


def cifar_variant(index: int) -> str:
    a, b, c = CIFAR_FILTERS[index % len(CIFAR_FILTERS)]
    kernel = 2 if index % 3 else 3
    return (
        "from keras.models import Sequential\n"
        "from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense, Input\n"
        "model = Sequential([\n"
        "    Input((32, 32, 3)),\n"
        f"    Conv2D({a}, {kernel}, padding='same', activation='relu'), MaxPooling2D(2),\n"
        f"    Conv2D({b}, {kernel}, padding='same', activation='relu'), MaxPooling2D(2),\n"
        f"    Conv2D({c}, {kernel}, padding='same', activation='relu'), MaxPooling2D(2),\n"
        "    Flatten(), Dense(500, activation='relu'), Dense(10, activation='softmax'),\n"
        "])\n"
        "model.summary()\n"
    )


def conv_variant(index: int) -> str:
    filters, size, stride = CONV_SHAPES[index % len(CONV_SHAPES)]
    return (
        "from keras.models import Sequential\n"
        "from keras.layers import Conv2D, Input\n"
        f"model = Sequential([Input((200, 200, 1)), Conv2D({filters}, {size}, strides={stride}, "
        "padding='valid', activation='relu')])\n"
        "model.summary()\n"
        f"conv_params = {filters * size * size + filters}\n"
        f"conv_height = {(200 - size) // stride + 1}\n"
    )


def write_submissions(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        exercise, source = (
            ("cifar10-cnn", cifar_variant(index)) if index % 2 else ("conv-dims", conv_variant(index))
        )
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        notebook.metadata.update(
            {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "grader": {"exercise": exercise},
            }
        )
        path = folder / f"student{index:02d}.ipynb"
        nbformat.write(notebook, str(path))
        paths.append(path)
    return paths


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done


def nbconvert(path: Path, out: Path) -> list[str]:
    return [
        str(BIN / "jupyter"),
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        str(path),
        "--output-dir",
        str(out),
    ]


def stage_seconds(stderr: str, name: str) -> float:
    """A stage's class total from the batch's "time per stage" line (0 when absent)."""
    line = re.search(r"time per stage, class total: (.*)", stderr)
    found = re.search(rf"{name} ([0-9.]+) s", line.group(1)) if line else None
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "200"}
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        root = Path(tmp)
        submissions = write_submissions(root / "submissions", args.count)
        print(f"{args.count} submissions, {os.cpu_count()} CPUs, -j {args.jobs}", flush=True)

        sequential = 0.0
        for path in submissions:
            elapsed, _ = timed(nbconvert(path, root / "nbconvert"), env)
            sequential += elapsed
        print(
            f"sequential nbconvert: {sequential:.1f} s ({sequential / args.count:.2f} s per notebook)",
            flush=True,
        )

        for flag in ("--factory", "--no-factory"):
            command = [
                str(BIN / "grade"), "batch", str(root / "submissions"), "-j", str(args.jobs),
                "--out", str(root / f"out{flag}"), flag, "--no-spare-kernels",
            ]  # fmt: skip
            batch_s, batch = timed(command, env)
            cells = stage_seconds(batch.stderr, "cells")
            overhead = batch_s * args.jobs / args.count - cells / args.count
            print(f"grade batch -j {args.jobs} {flag}: {batch.stdout.strip().splitlines()[-1]}")
            print(
                f"  {batch_s:.1f} s = {batch_s / sequential:.2f} x sequential (target <= 0.2); "
                f"grading overhead per submission {overhead:.2f} s (target < 1 s: wall x workers / "
                f"submissions - the student cells' own {cells / args.count:.2f} s)"
            )
            for pattern in (
                "peak memory per worker: .*",
                "kernel factory: .*",
                "time per stage, class total: .*",
            ):
                found = re.search(pattern, batch.stderr)
                if found:
                    print(f"  {found.group(0)}")

        out = root / "out--factory"
        for again in ([], ["--rescore"]):
            command = [
                str(BIN / "grade"),
                "batch",
                str(root / "submissions"),
                "-j",
                str(args.jobs),
                "--out",
                str(out),
                *again,
            ]
            rerun_s, rerun = timed(command, env)
            what = "rescored from the kept executions (--rescore)" if again else "a re-run, nothing changed"
            print(
                f"{what}: {rerun_s:.1f} s = {rerun_s / args.count:.2f} s per submission; "
                f"{rerun.stdout.strip().splitlines()[-1]}"
            )

        one = submissions[1]
        single, bare = [], []
        for _ in range(args.repeats):
            single.append(timed([str(BIN / "grade"), str(one), "--out", str(root / "single"), "-q"], env)[0])
            bare.append(timed(nbconvert(one, root / "nbconvert"), env)[0])
        single_s, bare_s = statistics.median(single), statistics.median(bare)
        print(
            f"single grade: {single_s:.2f} s, bare nbconvert: {bare_s:.2f} s = {single_s / bare_s:.2f} x "
            f"(target <= 1.05; median of {args.repeats})"
        )


if __name__ == "__main__":
    main()
