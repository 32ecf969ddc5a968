"""Shared fixtures: the `grade` command, in process (`grade_cli`) or as the real subprocess (`grade`).

`grade_cli` runs the same click command through click's `CliRunner`, with the same arguments,
working folder and environment, and returns the same `Graded`: it is what a fast test of the
command's contract uses (messages, exit codes, reports). `grade` starts the installed entry point,
for what only a process shows (the entry point itself, signals, a real kernel's run).

Also `grade_result` (a hand-built `GradeResult`, for tests of what renders one),
`CONV_DIMS_RUBRIC`/`conv_dims_rubric` (the README's conv-dims rubric, written where a test wants
it), and a Keras cache for the whole session (`keras_cache`): small data sets in the exact formats
Keras' loaders read, so that a course notebook's `cifar10.load_data()` can be graded and no test
ever downloads anything.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from grader.result import CheckResult, GradeResult

REPO = Path(__file__).resolve().parent.parent
GRADE = Path(sys.executable).parent / "grade"

FAST_TIER_EXAMPLES_SHARE = 4
"""The fast tier draws a quarter of each property's Hypothesis examples (see `examples`)."""
_fast_tier = False


def pytest_configure(config: pytest.Config) -> None:
    """The fast tier is a run that leaves the slow tests out (`-m "not slow"`); GRADER_ALL_EXAMPLES=1 overrides."""
    global _fast_tier
    _fast_tier = "not slow" in (config.option.markexpr or "") and not os.environ.get("GRADER_ALL_EXAMPLES")


def examples(count: int) -> int:
    """Hypothesis' `max_examples` for a property: `count` in the whole suite, a quarter (25 at least) in
    the fast tier, so that the fast tier stays within its budget and the whole suite (CI) draws all.
    """
    return max(25, count // FAST_TIER_EXAMPLES_SHARE) if _fast_tier else count


@dataclass(frozen=True)
class Graded:
    """One run of the `grade` command: its exit code, its output and the JSON it wrote (if any)."""

    returncode: int
    stdout: str
    stderr: str
    out_dir: Path
    stem: str

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.out_dir / f"{self.stem}.json").read_text())

    @property
    def html(self) -> str:
        return (self.out_dir / f"{self.stem}.html").read_text()

    def check(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.result["checks"] if c["id"] == check_id)


GradeRunner = Callable[..., Graded]


def _arguments(args: tuple[str | Path, ...], out_dir: Path) -> list[str]:
    """The command line after `grade`: grading one submission with no `--out` writes into `out_dir`."""
    arguments = [*map(str, args)]
    grading_one = bool(args) and not str(args[0]).startswith("-") and str(args[0]) not in ("rubric", "batch")
    if grading_one and not any(str(a).startswith("--out") for a in args):
        arguments += ["--out", str(out_dir)]
    return arguments


def run_grade(
    *args: str | Path,
    out_dir: Path,
    cwd: Path = REPO,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> Graded:
    command = [str(GRADE), *_arguments(args, out_dir)]
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )
    stem = Path(str(args[0])).stem if args else ""
    return Graded(done.returncode, done.stdout, done.stderr, out_dir, stem)


@pytest.fixture
def grade(tmp_path: Path) -> GradeRunner:
    """Run `grade ARGS... --out <tmp>` from the repository root."""

    def runner(
        *args: str | Path, cwd: Path = REPO, timeout: float = 600, env: dict[str, str] | None = None
    ) -> Graded:
        return run_grade(*args, out_dir=tmp_path / "reports", cwd=cwd, timeout=timeout, env=env)

    return runner


def invoke_grade(
    *args: str | Path, out_dir: Path, cwd: Path = REPO, env: dict[str, str] | None = None
) -> Graded:
    """`grade ARGS...` in this process through click's `CliRunner`: what `run_grade` would return.

    Same arguments (`--out` added as there), working folder and environment (`COLUMNS=200`); stdout
    and stderr apart. An exception that escapes the command is what Python does with it in a
    process: its traceback on stderr and exit code 1.
    """
    from click.testing import CliRunner

    from grader.cli import main

    runner = CliRunner(env={"COLUMNS": "200", **(env or {})})
    with contextlib.chdir(cwd):
        done = runner.invoke(main, _arguments(args, out_dir), prog_name="grade")
    stderr = done.stderr
    if done.exc_info is not None and not isinstance(done.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*done.exc_info))
    stem = Path(str(args[0])).stem if args else ""
    return Graded(done.exit_code, done.stdout, stderr, out_dir, stem)


@pytest.fixture
def grade_cli(tmp_path: Path) -> GradeRunner:
    """Run `grade ARGS... --out <tmp>` in this process, from the repository root (no subprocess)."""

    def runner(
        *args: str | Path, cwd: Path = REPO, timeout: float = 600, env: dict[str, str] | None = None
    ) -> Graded:
        return invoke_grade(*args, out_dir=tmp_path / "reports", cwd=cwd, env=env)

    return runner


CONV_DIMS_RUBRIC = """\
exercise: conv-dims
title: Dimensionality of a convolutional layer
model: {variable: model, input_shape: [200, 200, 1]}
limits: {timeout: 300, cell_timeout: 120}
checks:
  - id: conv-layer
    points: 3
    layers:
      - {type: Conv2D, filters: 16, kernel_size: 2, strides: 2, padding: valid, activation: relu,
         output_shape: [100, 100, 16], params: 80}
  - id: params-answer
    points: 1
    variable: {name: conv_params, equals: 80}
  - id: size
    points: 1
    total_params: 80
  - id: output
    points: 1
    output_shape: [100, 100, 16]
"""
"""The README's conv-dims rubric, the one most tests write inline in some variant."""


@pytest.fixture
def conv_dims_rubric(tmp_path: Path) -> Path:
    """`CONV_DIMS_RUBRIC` written to `<tmp>/conv-dims.yaml`."""
    path = tmp_path / "conv-dims.yaml"
    path.write_text(CONV_DIMS_RUBRIC, encoding="utf-8")
    return path


def hand_built_result(*checks: CheckResult, **fields: Any) -> GradeResult:
    """A `GradeResult` as a test builds it by hand: the given checks (one passing check if none), a
    clean sandboxed run of 1 s on the CPU; `score`/`max_score` add up the checks; any field overridable.
    """
    from grader.result import CheckResult, GradeResult, RunFacts

    if not checks:
        checks = (
            CheckResult(
                id="size", kind="total_params", status="pass", points=1, max_points=1, message="80 parameters"
            ),
        )
    values: dict[str, Any] = {
        "submission": "s.ipynb",
        "exercise": "conv-dims",
        "title": "Dimensionality of a convolutional layer",
        "rubric": "rubrics/conv-dims.yaml",
        "score": sum(c.points for c in checks),
        "max_score": sum(c.max_points for c in checks),
        "checks": checks,
        "run": RunFacts(duration_s=1.0, device="CPU", sandboxed=True, failing_cells=(), cells=()),
        "grader_version": "test",
    }
    return GradeResult(**{**values, **fields})


@pytest.fixture
def grade_result() -> Callable[..., GradeResult]:
    """`hand_built_result`: `grade_result(check, ..., submission="x.ipynb")` builds a `GradeResult`."""
    return hand_built_result


def write_notebook(path: Path, *cells: str, exercise: str | None = None, **metadata: Any) -> Path:
    """A real nbformat-4 notebook with the given code cells."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata.update(
        {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    if exercise:
        notebook.metadata["grader"] = {"exercise": exercise}
    notebook.metadata.update(metadata)
    nbformat.write(notebook, str(path))
    return path


# --- a Keras cache for the session ------------------------------------------------------------

CACHE_SIZES = {
    "mnist": (600, 200),
    "fashion_mnist": (300, 100),
    "cifar10": (500, 200),
    "cifar100": (500, 100),
}
"""Training and test images per data set in the generated cache (CIFAR-10's training set: 5 batches)."""


def pattern_images(
    labels: np.ndarray, shape: tuple[int, ...], grid: tuple[int, int], seed: int
) -> np.ndarray:
    """uint8 images whose label is visible: a bright block in the label's cell of a grid, over noise.

    A tiny network trained for an epoch learns them well above chance, so that an accuracy seen
    after training says the notebook got the images and labels the rubric provided.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), *shape), dtype=np.uint8)
    rows, cols = grid
    height, width = shape[0] // rows, shape[1] // cols
    for index, label in enumerate(labels):
        top, left = (int(label) // cols) * height, (int(label) % cols) * width
        images[index, top : top + height, left : left + width] = rng.integers(190, 256, dtype=np.uint8)
    return images


def balanced_labels(count: int, classes: int, seed: int) -> np.ndarray:
    """Every class about as often, in a shuffled order."""
    return np.random.default_rng(seed).permutation(np.arange(count) % classes).astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (the MNIST distribution format), gzipped: magic, big-endian sizes, the bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """N×32×32×3 images as CIFAR stores them: one row of 3072 bytes, the red plane first."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


class Python2Pickler(pickle._Pickler):
    """Pickles bytes the way Python 2 pickled its `str`: BINSTRING opcodes, as in CIFAR's own files.

    Python 3 writes bytes at protocol 2 as a call to `_codecs.encode`, which Keras' restricted
    unpickler (`keras.src.datasets.cifar.load_batch`) rightly refuses: the real archives hold none.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def write_pickle(path: Path, batch: dict[bytes, object]) -> None:
    """A CIFAR batch: a dict with bytes keys and a uint8 array, pickled at protocol 2 as Python 2 did."""
    with open(path, "wb") as handle:
        Python2Pickler(handle, protocol=2).dump(batch)


def write_keras_cache(home: Path) -> Path:
    """`home/datasets/` with MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 as Keras' loaders read them.

    mnist.npz (x_train uint8 N×28×28, y_train uint8 N, x_test, y_test), fashion-mnist/*.gz (IDX),
    cifar-10-batches-py/{data_batch_1..5,test_batch} and cifar-100-python/{train,test}: the
    layout of the archives Keras downloads, a few hundred learnable images each.
    """
    cache = home / "datasets"
    cache.mkdir(parents=True, exist_ok=True)
    (home / "models").mkdir(exist_ok=True)
    train, test = CACHE_SIZES["mnist"]
    y_train, y_test = balanced_labels(train, 10, 1), balanced_labels(test, 10, 2)
    np.savez(
        cache / "mnist.npz",
        x_train=pattern_images(y_train, (28, 28), (2, 5), 3),
        y_train=y_train,
        x_test=pattern_images(y_test, (28, 28), (2, 5), 4),
        y_test=y_test,
    )
    fashion = cache / "fashion-mnist"
    fashion.mkdir(exist_ok=True)
    train, test = CACHE_SIZES["fashion_mnist"]
    for split, count, seed in (("train", train, 5), ("t10k", test, 7)):
        labels = balanced_labels(count, 10, seed)
        write_idx(fashion / f"{split}-labels-idx1-ubyte.gz", labels)
        write_idx(
            fashion / f"{split}-images-idx3-ubyte.gz", pattern_images(labels, (28, 28), (5, 2), seed + 1)
        )
    cifar10 = cache / "cifar-10-batches-py"
    cifar10.mkdir(exist_ok=True)
    train, test = CACHE_SIZES["cifar10"]
    per_batch = train // 5
    for number, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"], start=1):
        count = test if name == "test_batch" else per_batch
        labels = balanced_labels(count, 10, 10 + number)
        images = pattern_images(labels, (32, 32, 3), (2, 5), 20 + number)
        write_pickle(
            cifar10 / name,
            {
                b"batch_label": f"{name} of the grader's test cache".encode(),
                b"labels": [int(label) for label in labels],
                b"data": cifar_rows(images),
                b"filenames": [f"{name}_{i}.png".encode() for i in range(count)],
            },
        )
    cifar100 = cache / "cifar-100-python"
    cifar100.mkdir(exist_ok=True)
    for split, count, seed in (
        ("train", CACHE_SIZES["cifar100"][0], 30),
        ("test", CACHE_SIZES["cifar100"][1], 31),
    ):
        fine = np.random.default_rng(seed).permutation(np.arange(count) % 100)
        write_pickle(
            cifar100 / split,
            {
                b"batch_label": f"{split} of the grader's test cache".encode(),
                b"fine_labels": [int(label) for label in fine],
                b"coarse_labels": [int(label) // 5 for label in fine],
                b"data": cifar_rows(pattern_images(fine, (32, 32, 3), (10, 10), seed + 10)),
                b"filenames": [f"{split}_{i}.png".encode() for i in range(count)],
            },
        )
    return cache


@pytest.fixture(scope="session", autouse=True)
def keras_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The grader's Keras cache for every test, `$KERAS_HOME/datasets`: generated, never downloaded.

    KERAS_HOME is set in this process's environment, so every `grade` subprocess (and its batch
    workers) finds it; a test that needs an empty cache sets its own with monkeypatch.
    """
    home = tmp_path_factory.mktemp("keras-home")
    cache = write_keras_cache(home)
    before = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(home)
    yield cache
    if before is None:
        os.environ.pop("KERAS_HOME", None)
    else:
        os.environ["KERAS_HOME"] = before
