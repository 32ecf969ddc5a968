"""How much `grade batch` costs against simply executing the notebooks, on this machine.

Generates N architecture-only submissions (variants of the conv-dims and cifar10-cnn exercises)
in a temporary folder and prints, in one run:

- the wall time of `grade batch -j J` against the same notebooks executed one after another
  with `jupyter nbconvert --to notebook --execute` (target: batch <= 0.5 of sequential);
- the time of one `grade` against one bare nbconvert execution of the same notebook
  (target: <= 1.15), the median of a few repeats;
- the peak memory of each batch worker (grader side) and of the largest kernel;
- how long workers waited for a kernel started ahead of need, and for one launched on demand;
- the same batch with `--no-spare-kernels` (every kernel launched on demand), and a smaller
  batch of notebooks that train (copies of the digits-cnn reference solution) with `-j 1` and
  `-j 2`, with and without spare kernels.

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--few", type=int, default=8, help="notebooks that train, for the spare-kernel comparison"
    )
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

        def grade_batch(folder: Path, jobs: int, out: str, *extra: str) -> tuple[float, str]:
            command = [str(BIN / "grade"), "batch", str(folder), "-j", str(jobs), "--out", str(root / out)]
            elapsed, done = timed([*command, *extra], env)
            waits = re.search(r"kernels: .*", done.stderr)
            return elapsed, waits.group(0) if waits else "kernels: not reported"

        batch_s, batch = timed(
            [
                str(BIN / "grade"),
                "batch",
                str(root / "submissions"),
                "-j",
                str(args.jobs),
                "--out",
                str(root / "out"),
                "--spare-kernels",
            ],
            env,
        )
        print(batch.stdout.strip())
        memory = re.search(r"peak memory per worker: .*", batch.stderr)
        ratio = batch_s / sequential
        print(
            f"grade batch -j {args.jobs} --spare-kernels: {batch_s:.1f} s = {ratio:.2f} x sequential (target <= 0.5)"
        )
        print(memory.group(0) if memory else "peak memory per worker: not reported")
        waits = re.search(r"kernels: .*", batch.stderr)
        print(waits.group(0) if waits else "kernels: not reported")
        cold_s, cold_waits = grade_batch(root / "submissions", args.jobs, "out-cold", "--no-spare-kernels")
        print(
            f"grade batch -j {args.jobs} --no-spare-kernels: {cold_s:.1f} s = {cold_s / sequential:.2f} x "
            f"sequential; with spare kernels / without = {batch_s / cold_s:.2f}\n  {cold_waits}"
        )

        trained = root / "trained"
        trained.mkdir()
        for index in range(args.few):
            (trained / f"trained{index:02d}.ipynb").write_bytes(TRAINED.read_bytes())
        for jobs in (1, 2):
            spare_s, spare_waits = grade_batch(trained, jobs, f"trained-spare-{jobs}", "--spare-kernels")
            on_demand_s, on_demand_waits = grade_batch(
                trained, jobs, f"trained-cold-{jobs}", "--no-spare-kernels"
            )
            print(
                f"{args.few} notebooks that train (digits-cnn), -j {jobs}: {spare_s:.1f} s with spare kernels, "
                f"{on_demand_s:.1f} s without = {spare_s / on_demand_s:.2f}\n  {spare_waits}\n  {on_demand_waits}"
            )

        one = submissions[1]
        single, bare = [], []
        for _ in range(args.repeats):
            single.append(timed([str(BIN / "grade"), str(one), "--out", str(root / "single"), "-q"], env)[0])
            bare.append(timed(nbconvert(one, root / "nbconvert"), env)[0])
        single_s, bare_s = statistics.median(single), statistics.median(bare)
        print(
            f"single grade: {single_s:.2f} s, bare nbconvert: {bare_s:.2f} s = {single_s / bare_s:.2f} x "
            f"(target <= 1.15; median of {args.repeats})"
        )


if __name__ == "__main__":
    main()
