"""Held-out data for accuracy checks: where it comes from, how it is prepared, and what to hide.

Only the grader's process reads this data. The student's kernel never sees it: the rubric's
folder is not mounted in the sandbox, and `files_to_hide` lists the copies a kernel could still
reach (the file itself, scikit-learn's bundled digits) so that the sandbox masks them. Nothing
here downloads: a Keras dataset must already be in the user's Keras cache, and when it is not,
the error says which file to put where.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.rubric.data import DataSource, Preprocess
from grader.rubric.formulas import format_shape

MAX_CLASSES = 1000
SKLEARN_FILES = {"digits": "digits.csv.gz"}
KERAS_FILES = {
    "mnist": ("mnist.npz",),
    "cifar10": (
        "cifar-10-batches-py-target/cifar-10-batches-py/test_batch",
        "cifar-10-batches-py/test_batch",
    ),
}
KERAS_ORIGINS = {
    "mnist": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}
# The only globals a CIFAR batch (a pickled dict of lists, bytes and numpy arrays) needs;
# `_codecs.encode` is how Python 3 writes bytes at pickle protocol 2, the original's protocol.
UNREADABLE: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    EOFError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
)
"""What reading a damaged or crafted data file (npz, gzip, CIFAR pickle) can raise."""
PICKLE_GLOBALS = frozenset(
    {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class DatasetError(Exception):
    """The held-out data cannot be read or does not fit the rubric; the message says what to fix."""


@dataclass(frozen=True)
class Dataset:
    """Model-ready inputs (float32) and integer labels (read-only: one copy is shared by every grade).

    `x_file` is a `.npy` file holding `x`, when there is one: the inspector maps it rather than
    receiving a copy (see `inputs_file`).
    """

    x: np.ndarray
    y: np.ndarray
    source: str
    x_file: Path | None = None

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1


DataKey = tuple[DataSource, Preprocess, Path | None]
"""What identifies prepared data: the source, its preparation, and the file it is read from."""


class _Loaded:
    """Data other processes prepared for this one (a batch's), and how often this one read a source itself."""

    def __init__(self) -> None:
        self.shared: dict[DataKey, Dataset] = {}
        self.reads = 0


_loaded = _Loaded()


def key(source: DataSource, preprocess: Preprocess, base_dir: Path) -> DataKey:
    return (source, preprocess, source_file(source, base_dir))


def load(source: DataSource, preprocess: Preprocess, base_dir: Path) -> Dataset:
    """The prepared data: shared with this process by a batch, else read once per process.

    Data read here is cached for as long as its file is unchanged. Raises `DatasetError` with a
    message a person can act on.
    """
    wanted = key(source, preprocess, base_dir)
    if wanted in _loaded.shared:
        return _loaded.shared[wanted]
    path = wanted[2]
    stamp = None
    if path is not None and path.is_file():
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _load(source, preprocess, path, stamp)


def share(prepared: dict[DataKey, Dataset]) -> None:
    """Use `prepared` (read once for a whole batch, by its parent process) instead of reading those sources."""
    _loaded.shared.update(prepared)


def reads() -> int:
    """How many times this process has read and prepared a source itself (a batch worker's should stay 0)."""
    return _loaded.reads


def save_shared(prepared: dict[DataKey, Dataset], folder: Path) -> list[tuple[DataKey, Path, Path, str]]:
    """Write prepared data as `.npy` files that workers memory-map: one copy in the page cache for all."""
    saved = []
    for index, (data_key, data) in enumerate(prepared.items()):
        x_file, y_file = folder / f"{index}-x.npy", folder / f"{index}-y.npy"
        np.save(x_file, data.x)
        np.save(y_file, data.y)
        saved.append((data_key, x_file, y_file, data.source))
    return saved


def map_shared(saved: list[tuple[DataKey, Path, Path, str]]) -> dict[DataKey, Dataset]:
    """The data `save_shared` wrote, memory-mapped read-only."""
    return {
        data_key: Dataset(
            x=np.load(x_file, mmap_mode="r"), y=np.load(y_file, mmap_mode="r"), source=source, x_file=x_file
        )
        for data_key, x_file, y_file, source in saved
    }


_inputs_files: dict[int, tuple[Dataset, Path]] = {}


def inputs_file(data: Dataset) -> Path:
    """A `.npy` file of `data.x` that the inspector can map: the batch's shared one, or one written once here."""
    if data.x_file is not None:
        return data.x_file
    kept = _inputs_files.get(id(data))
    if kept is not None and kept[0] is data:
        return kept[1]
    folder = Path(tempfile.mkdtemp(prefix="grader-inputs-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "x.npy"
    np.save(path, np.ascontiguousarray(data.x))
    _inputs_files[id(data)] = (data, path)
    return path


@functools.lru_cache(maxsize=8)
def _load(
    source: DataSource, preprocess: Preprocess, path: Path | None, stamp: tuple[int, int] | None
) -> Dataset:
    _loaded.reads += 1
    if source.npz is not None:
        assert path is not None
        x, y = _read_npz(path, source.npz)
    elif source.sklearn is not None:
        x, y = _read_sklearn(source.sklearn)
    else:
        assert source.keras is not None
        x, y = _read_keras(source.keras, path)
    return prepare_arrays(x, y, preprocess, source.describe())


def source_file(source: DataSource, base_dir: Path) -> Path | None:
    """The file a source is read from (for Keras, the first cache location that exists)."""
    if source.npz is not None:
        return (base_dir / source.npz).resolve()
    if source.sklearn is not None:
        return sklearn_file(source.sklearn)
    assert source.keras is not None
    candidates = [keras_datasets_dir() / name for name in KERAS_FILES[source.keras]]
    return next((c for c in candidates if c.is_file()), None)


def keras_datasets_dir() -> Path:
    """Where Keras caches datasets: `$KERAS_HOME/datasets`, else `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home).expanduser() / "datasets"


def sklearn_file(name: str) -> Path | None:
    """The file in scikit-learn's `sklearn.datasets.data` package that holds a bundled set.

    Found from scikit-learn's package spec rather than by importing it (which takes a second).
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / SKLEARN_FILES[name]
    return path.resolve() if path.is_file() else None


def files_to_hide(sources: Iterable[DataSource], base_dir: Path) -> tuple[Path, ...]:
    """Files the student's kernel must not read: each source's file, and the bundled digits.

    The digits are always hidden when there is held-out data, because an `.npz` split (like the
    digits-cnn exercise's) is often cut from them.
    """
    found = [source_file(source, base_dir) for source in sources]
    if found:
        found.append(sklearn_file("digits"))
    return tuple(dict.fromkeys(p for p in found if p is not None and p.is_file()))


def _read_npz(path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"the held-out data file {name} was not found (looked for {path})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("x", "y") if key not in archive.files]
            if missing:
                have = ", ".join(archive.files) or "none"
                raise DatasetError(
                    f"{name} has no array {' or '.join(missing)} (arrays in it: {have}); "
                    "an .npz of held-out data needs `x` (inputs) and `y` (labels)"
                )
            return archive["x"], archive["y"]
    except DatasetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{name} is not a readable .npz file of numeric arrays ({exc})") from None


def _read_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loaded = datasets.load_digits()
    return loaded.images, loaded.target


def _read_keras(name: str, path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    if path is None:
        where = keras_datasets_dir()
        wanted = where / KERAS_FILES[name][0]
        how = (
            f"download {KERAS_ORIGINS[name]} and put it at {wanted}"
            if name == "mnist"
            else f"download {KERAS_ORIGINS[name]} and extract it into {wanted.parent.parent}, "
            f"so that {wanted} exists"
        )
        raise DatasetError(
            f"Keras' {name} data is not in the Keras cache, and the grader never downloads: {how} "
            "(or set KERAS_HOME to the folder that holds `datasets/`)"
        )
    try:
        if name == "mnist":
            with np.load(path, allow_pickle=False) as archive:
                return archive["x_test"], archive["y_test"]
        with open(path, "rb") as handle:
            batch = NumpyOnlyUnpickler(handle, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(batch[b"labels"])
    except UNREADABLE as exc:
        raise DatasetError(f"the cached Keras {name} file {path} cannot be read ({exc})") from None


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Reads a CIFAR batch, refusing any global beyond numpy's array reconstruction."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def prepare_arrays(x: Any, y: Any, preprocess: Preprocess, name: str) -> Dataset:
    """Check the arrays, turn one-hot labels into integers, then cast, rescale and reshape."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DatasetError(
            f"{name}: x must be a numeric array of images, got {x.dtype} {format_shape(x.shape)}"
        )
    labels = _integer_labels(y, name)
    if len(x) != len(labels):
        raise DatasetError(f"{name}: x holds {len(x)} images but y holds {len(labels)} labels")
    if len(x) == 0:
        raise DatasetError(f"{name} holds no images")
    inputs = x.astype(np.float32)
    if preprocess.rescale is not None:
        inputs *= np.float32(preprocess.rescale)
    if preprocess.reshape is not None:
        per_image = int(np.prod(x.shape[1:]))
        wanted = int(np.prod(preprocess.reshape))
        if per_image != wanted:
            raise DatasetError(
                f"{name}: cannot reshape images of shape {format_shape(x.shape[1:])} ({per_image} values) "
                f"to {format_shape(preprocess.reshape)} ({wanted} values); fix `preprocess.reshape`"
            )
        inputs = inputs.reshape((len(inputs), *preprocess.reshape))
    inputs.flags.writeable = False
    labels.flags.writeable = False
    return Dataset(x=inputs, y=labels, source=name)


def _integer_labels(y: np.ndarray, name: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] > 1:
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.isin(y, (0, 1))):
            raise DatasetError(f"{name}: 2-D labels {format_shape(y.shape)} must be one-hot (0s and 1s)")
        if not np.all(y.sum(axis=1) == 1):
            raise DatasetError(f"{name}: some one-hot label rows do not hold exactly one 1")
        return y.argmax(axis=1).astype(np.int64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(
            f"{name}: labels of shape {format_shape(y.shape)}; expected integers (N,) or one-hot (N, classes)"
        )
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise DatasetError(f"{name}: labels must be whole numbers (class indices), got {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= MAX_CLASSES):
        raise DatasetError(f"{name}: labels must lie in 0..{MAX_CLASSES - 1}, got {y.min()}..{y.max()}")
    return y.astype(np.int64)
