"""What a course hands its notebooks, offline: Keras data sets, files and folders, pretrained weights.

A course's notebooks are written to fetch their data: `cifar10.load_data()` downloads 170 MB,
`VGG16(weights='imagenet')` fetches its weights, and they read the image folders and feature
files the course handed out at fixed relative paths. The grader's kernels have no network, and
an instructor cannot ask a class to edit those cells, so the rubric provides them:

```yaml
datasets:                      # keras.datasets.<name>.load_data() answers with these
  cifar10: {train: 5000, test: 1000}   # from the grader's Keras cache, a fixed subsample
  mnist: {npz: data/mnist.npz}         # or the instructor's file (x_train, y_train, x_test, y_test)
assets:                        # mounted read-only where the notebook expects them
  - {source: data/dogImages, target: dogImages}
weights: [vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5]   # from the grader's Keras cache
```

Everything is read-only inside the sandbox, prepared grader-side (nothing is downloaded, ever),
and a missing piece is one line in the report saying which file, where the grader looked and
which rubric key provides it. The held-out data of accuracy checks is separate (`datasets.py`).
"""

from __future__ import annotations

import atexit
import functools
import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.grading import datasets
from grader.rubric.data import Asset, CourseDataset, CourseSet

SANDBOX_DATASETS = Path("/grader/datasets")
KERAS_MODELS = Path(".keras") / "models"
CACHE_FILES: dict[str, tuple[tuple[str, ...], ...]] = {
    "mnist": (("mnist.npz",),),
    "fashion_mnist": (("fashion-mnist",),),
    "cifar10": (("cifar-10-batches-py-target", "cifar-10-batches-py"), ("cifar-10-batches-py",)),
    "cifar100": (("cifar-100-python-target", "cifar-100-python"), ("cifar-100-python",)),
}
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


@dataclass(frozen=True)
class Mount:
    """A grader-side file or folder, and where the kernel sees it (absolute, or relative to its folder)."""

    source: Path
    target: str


@dataclass(frozen=True)
class CourseSetup:
    """Read-only mounts for the sandbox, what the kernel-side loaders read, and a note per missing piece."""

    mounts: tuple[Mount, ...] = ()
    datasets: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()

    def kernel_config(self, sandboxed: bool, workdir: Path | None = None) -> dict[str, dict[str, str]]:
        """The kernel-side configuration: each data set's and each mounted weights file's path as the kernel sees it.

        For the weights files of the rubric's `weights:` that were found and mounted, and for them
        alone, Keras' `get_file` answers with the mounted file and checks no hash (the kernel's
        `course.install`): an instructor's copy need not be ImageNet's byte for byte, and the
        grader never downloads.
        """
        by_target = {} if sandboxed else {m.target: str(m.source) for m in self.mounts}
        weights = {file: str(KERAS_MODELS / file) for file in self.weights}
        return {
            "datasets": {name: by_target.get(path, path) for name, path in self.datasets},
            "weights": {file: by_target.get(path, path) for file, path in weights.items()},
        }


def prepare_course_data(
    wanted_sets: Mapping[CourseSet, CourseDataset], assets: list[Asset], weights: list[str], base_dir: Path
) -> CourseSetup:
    """Resolve everything the rubric provides; a missing piece becomes a note, never a failed grade."""
    mounts: list[Mount] = []
    loaded: list[tuple[str, str]] = []
    notes: list[str] = []
    for name, spec in wanted_sets.items():
        try:
            prepared = prepared_file(name, spec, base_dir)
        except datasets.DatasetError as exc:
            notes.append(f"{exc} (rubric key datasets.{name}); the notebook's {name}.load_data() will fail")
            continue
        target = str(SANDBOX_DATASETS / f"{name}.npz")
        mounts.append(Mount(prepared, target))
        loaded.append((name, target))
    for asset in assets:
        source = (base_dir / asset.source).resolve()
        target = asset.target or Path(asset.source).name
        if not source.exists():
            notes.append(
                f"the course file {asset.source} was not found (looked for {source}; rubric key assets); "
                f"the notebook will not find {target}"
            )
            continue
        mounts.append(Mount(source, target))
    models = keras_models_dir()
    mounted: list[str] = []
    for file in weights:
        source = models / file
        if not source.is_file():
            notes.append(
                f"the pretrained weights {file} are not in the grader's Keras cache (looked for {source}; "
                "rubric key weights): put the file there, the grader never downloads"
            )
            continue
        mounts.append(Mount(source, str(KERAS_MODELS / file)))
        mounted.append(file)
    return CourseSetup(
        mounts=tuple(mounts), datasets=tuple(loaded), notes=tuple(notes), weights=tuple(mounted)
    )


def keras_models_dir() -> Path:
    """Where Keras caches pretrained weights: `$KERAS_HOME/models`, else `~/.keras/models`."""
    return datasets.keras_datasets_dir().parent / "models"


def prepared_file(name: str, spec: CourseDataset, base_dir: Path) -> Path:
    """The data set as Keras returns it, subsampled as asked, in one `.npz` (written once per process)."""
    source = (base_dir / spec.npz).resolve() if spec.npz else cache_source(name)
    return _prepare(name, spec, source, _stamp(source))


def _stamp(source: Path) -> tuple[int, int]:
    """Newest modification time and total size of the file, or of the files in the folder.

    A folder's own time changes only when an entry is added or removed, not when a file in it is
    replaced in place (CIFAR's batches are), so the files' own times are what tell a new copy.
    """
    files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    stats = [f.stat() for f in files]
    return max((s.st_mtime_ns for s in stats), default=0), sum(s.st_size for s in stats)


def cache_source(name: str) -> Path:
    """The data set's file or folder in the grader's Keras cache; `DatasetError` naming where to put it."""
    home = datasets.keras_datasets_dir()
    for parts in CACHE_FILES[name]:
        candidate = home.joinpath(*parts)
        if candidate.exists():
            return candidate
    wanted = " and ".join(str(home.joinpath(*parts)) for parts in CACHE_FILES[name])
    raise datasets.DatasetError(
        f"Keras' {name} data set is not in the grader's Keras cache (looked for {wanted}); the grader never "
        "downloads: copy it there from a machine with network (run keras.datasets."
        f"{name}.load_data() once), or give the rubric an npz file"
    )


@functools.lru_cache(maxsize=8)
def _prepare(name: str, spec: CourseDataset, source: Path, stamp: tuple[int, int]) -> Path:
    arrays = _read(name, source) if not spec.npz else _read_npz(source, spec.npz)
    rng = np.random.default_rng(spec.seed)
    for split, keep in (("train", spec.train), ("test", spec.test)):
        count = len(arrays[f"x_{split}"])
        if keep is not None and keep < count:
            chosen = np.sort(rng.choice(count, size=keep, replace=False))
            for key in [k for k in arrays if k.endswith(split) or k.endswith(f"{split}_coarse")]:
                arrays[key] = arrays[key][chosen]
    digest = hashlib.sha256(repr((name, spec, str(source), stamp)).encode()).hexdigest()[:16]
    path = _cache_folder() / f"{name}-{digest}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@functools.cache
def _cache_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="grader-course-"))
    os.chmod(folder, 0o755)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _read(name: str, source: Path) -> dict[str, np.ndarray]:
    try:
        if name == "mnist":
            return _read_npz(source, "mnist.npz")
        if name == "fashion_mnist":
            return _read_fashion(source)
        if name == "cifar10":
            train = [_cifar_batch(source / f"data_batch_{i}", b"labels") for i in range(1, 6)]
            x_test, y_test = _cifar_batch(source / "test_batch", b"labels")
            return {
                "x_train": np.concatenate([x for x, _ in train]),
                "y_train": np.concatenate([y for _, y in train]).astype(np.uint8).reshape(-1, 1),
                "x_test": x_test,
                "y_test": y_test.astype(np.uint8).reshape(-1, 1),
            }
        fine_train, coarse_train = _cifar100(source / "train")
        fine_test, coarse_test = _cifar100(source / "test")
        return {
            "x_train": fine_train[0],
            "y_train": fine_train[1],
            "y_train_coarse": coarse_train,
            "x_test": fine_test[0],
            "y_test": fine_test[1],
            "y_test_coarse": coarse_test,
        }
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise datasets.DatasetError(
            f"the cached Keras {name} data at {source} cannot be read ({exc})"
        ) from None


def _read_npz(path: Path, label: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in archive.files]
            if missing:
                raise datasets.DatasetError(
                    f"{label} has no array {', '.join(missing)}: a course data set needs x_train, y_train, "
                    "x_test and y_test, as keras.datasets returns them"
                )
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise datasets.DatasetError(f"{label} is not a readable .npz file ({exc})") from None


def _read_fashion(folder: Path) -> dict[str, np.ndarray]:
    found = []
    for file in FASHION_FILES:
        with gzip.open(folder / file, "rb") as handle:
            raw = handle.read()
        found.append(np.frombuffer(raw, np.uint8, offset=8 if "labels" in file else 16))
    y_train, x_train, y_test, x_test = found
    return {
        "x_train": x_train.reshape(len(y_train), 28, 28),
        "y_train": y_train,
        "x_test": x_test.reshape(len(y_test), 28, 28),
        "y_test": y_test,
    }


def _cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        batch = datasets.NumpyOnlyUnpickler(handle, encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.asarray(batch[label_key])


def _cifar100(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    images, fine = _cifar_batch(path, b"fine_labels")
    _, coarse = _cifar_batch(path, b"coarse_labels")
    return (images, fine.astype(np.int64).reshape(-1, 1)), coarse.astype(np.int64).reshape(-1, 1)
