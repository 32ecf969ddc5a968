"""`grade rubric check`: validate a rubric, then find the mistakes validation cannot see.

A rubric can be valid and still wrong: points that sum to zero, tiers out of order, a layer's
expected numbers that contradict the lesson's formulas given the layers before it, a data file
that is not there. It can also be valid and gameable: held-out data that is (or largely is) a
public set a student can rebuild, which a lookup table of it scores 1.0 on, or an accuracy check
that no architecture check holds to a network that has to learn. Each finding names the file,
line and column, like a validation error.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import hashlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ruamel.yaml import YAML

from grader.authoring import solution_names
from grader.errors import GradingError, RubricError
from grader.grading import course, datasets
from grader.rubric import formulas
from grader.rubric.model import CheckSpec, LoadedRubric, Rubric, load_rubric, yaml_position

UNREADABLE: tuple[type[Exception], ...] = (*datasets.UNREADABLE, datasets.DatasetError)
PATH_KEYS = frozenset({"npz", "files", "file", "path", "solution"})
Severity = Literal["error", "warning", "note"]
HELD_OUT_DATA = "data"
"""A path under this key is held-out data (`accuracy.data.npz`, `datasets.X.npz`): missing, every grade is wrong."""


@dataclass(frozen=True)
class Finding:
    """One problem in a rubric, where it is, and how bad."""

    source: str
    line: int | None
    column: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.severity}: {self.message}"
        return f"{self.source}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    path: Path
    rubric: Rubric | None
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")


def lint(path: Path, *, data_elsewhere: bool = False) -> LintReport:
    """Validate a rubric, then look for the mistakes validation cannot see.

    Loading already checks each layer row against Keras' classes (type, settings, activations)
    and `requires:` against the check ids. `data_elsewhere`: the held-out data files live on the
    grading machine, not beside the rubric here, so a missing one is not an error.
    """
    try:
        loaded = load_rubric(path)
    except RubricError as exc:
        return LintReport(path, None, (_error_finding(str(path), exc),))
    raw = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    where = _Locator(str(path), raw)
    rubric = loaded.rubric
    findings = [
        *_points_findings(rubric, where),
        *_tier_findings(rubric, raw, where),
        *_formula_findings(rubric, where),
        *_path_findings(path.parent, raw, where, data_elsewhere=data_elsewhere),
        *_variable_findings(loaded, where),
        *_architecture_findings(rubric, where),
        *_public_data_findings(path.parent, rubric, where),
        *_course_findings(path.parent, rubric, where),
    ]
    return LintReport(path, rubric, tuple(findings))


def _error_finding(source: str, exc: RubricError) -> Finding:
    """A rubric error already names file:line:col on each of its lines; keep its text whole."""
    text = exc.message + (f"\n  hint: {exc.hint}" if exc.hint else "")
    return Finding(source, None, None, "error", text)


class _Locator:
    """Line and column (1-based) of a key path in the round-trip YAML."""

    def __init__(self, source: str, data: Any) -> None:
        self.source = source
        self.data = data

    def at(self, *loc: Any) -> tuple[int, int]:
        return yaml_position(self.data, loc)

    def warn(self, message: str, *loc: Any) -> Finding:
        return self.finding("warning", message, *loc)

    def finding(self, severity: Severity, message: str, *loc: Any) -> Finding:
        line, column = self.at(*loc)
        return Finding(self.source, line, column, severity, message)


def _points_findings(rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    if rubric.max_score <= 0:
        yield where.warn("the checks' points sum to zero, so every submission scores 0/0", "checks")


def _tier_findings(rubric: Rubric, raw: Any, where: _Locator) -> Iterator[Finding]:
    """Tiers listed out of order read wrongly (the grader sorts them); a low top tier caps the check."""
    for index, check in enumerate(rubric.checks):
        if check.accuracy is None:
            continue
        loc = ("checks", index, "accuracy", "tiers")
        listed = [float(tier["min"]) for tier in raw["checks"][index]["accuracy"]["tiers"]]
        if listed != sorted(listed, reverse=True):
            yield where.warn(
                f"tiers are listed out of order (min {', '.join(f'{m:g}' for m in listed)}); the grader "
                "tries the highest first, so list them that way",
                *loc,
            )
        top = check.accuracy.tiers[0].points
        if top < check.points:
            yield where.warn(
                f"the top tier gives {top:g} of the check's {check.points:g} points, so no submission "
                "can get full marks on this check",
                *loc,
            )


def _formula_findings(rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    """Chain the lesson's formulas through each layer list, from the model's input shape."""
    for index, check in enumerate(rubric.checks):
        if check.layers is not None:
            yield from _layer_chain_findings(rubric, index, check, where)


def _layer_chain_findings(rubric: Rubric, index: int, check: CheckSpec, where: _Locator) -> Iterator[Finding]:
    assert check.layers is not None
    current = rubric.model.input_shape
    all_params: list[int] = []
    for position, layer in enumerate(check.layers):
        attrs = layer.attributes()
        loc = ("checks", index, "layers", position)
        computed = formulas.expected_output(layer.type, attrs, current) if current is not None else None
        if layer.output_shape is not None and computed is not None and tuple(layer.output_shape) != computed:
            yield where.warn(
                f"layer {position + 1} ({layer.type}): output_shape {formulas.format_shape(layer.output_shape)} "
                f"contradicts the lesson's formula, which gives {formulas.format_shape(computed)} "
                f"from input {formulas.format_shape(current)}",
                *loc,
                "output_shape",
            )
        params = formulas.expected_params(layer.type, attrs, current) if current is not None else None
        if layer.params is not None and params is not None and layer.params != params[0]:
            yield where.warn(
                f"layer {position + 1} ({layer.type}): params {layer.params:,} contradicts the lesson's "
                f"formula, which gives {params[0]:,} = {params[1]} from input {formulas.format_shape(current)}",
                *loc,
                "params",
            )
        if layer.params is not None:
            all_params.append(layer.params)
        current = tuple(layer.output_shape) if layer.output_shape is not None else computed
    yield from _totals_findings(rubric, check, all_params, current, where)


def _totals_findings(
    rubric: Rubric,
    layers_check: CheckSpec,
    all_params: list[int],
    final_shape: tuple[int, ...] | None,
    where: _Locator,
) -> Iterator[Finding]:
    """A total_params or output_shape check should agree with the layer list it summarises."""
    assert layers_check.layers is not None
    complete = len(all_params) == len(layers_check.layers)
    for index, check in enumerate(rubric.checks):
        if isinstance(check.total_params, int) and complete and check.total_params != sum(all_params):
            yield where.warn(
                f"total_params {check.total_params:,} differs from the sum of the params of "
                f"`{layers_check.id}`'s layers ({sum(all_params):,})",
                "checks",
                index,
                "total_params",
            )
        if (
            check.output_shape is not None
            and final_shape is not None
            and tuple(check.output_shape) != final_shape
        ):
            yield where.warn(
                f"output_shape {formulas.format_shape(check.output_shape)} differs from the last layer of "
                f"`{layers_check.id}` ({formulas.format_shape(final_shape)})",
                "checks",
                index,
                "output_shape",
            )


def _path_findings(base: Path, raw: Any, where: _Locator, *, data_elsewhere: bool) -> Iterator[Finding]:
    """Every file the rubric names (data, hand-out files, solution, examples) should exist.

    Missing held-out data is an error: every accuracy check (or every notebook's load_data) would
    fail for every student. Where it lives only on the grading machine, `--data-elsewhere` says so.
    """
    for loc, value in _walk(raw, ()):
        names_a_path = bool(loc) and (loc[-1] in PATH_KEYS or (len(loc) > 1 and loc[-2] in PATH_KEYS))
        if not (names_a_path and isinstance(value, str) and value and not (base / value).exists()):
            continue
        if _is_data(loc):
            if not data_elsewhere:
                yield where.finding(
                    "error",
                    f"the data file {value!r} does not exist (paths are relative to the rubric's folder), so "
                    "every submission would fail this check; if it lives only on the grading machine, run "
                    "`grade rubric check --data-elsewhere`",
                    *loc,
                )
            continue
        yield where.warn(f"{value!r} does not exist (paths are relative to the rubric's folder)", *loc)


def _is_data(loc: tuple[Any, ...]) -> bool:
    """`checks[i].accuracy.data.npz` and `datasets.<set>.npz`."""
    return loc[-1] == "npz" and (loc[-2:-1] == (HELD_OUT_DATA,) or loc[:1] == ("datasets",))


def _variable_findings(loaded: LoadedRubric, where: _Locator) -> Iterator[Finding]:
    """The model variable and each variable check name a name the reference solution defines."""
    rubric = loaded.rubric
    wanted: list[tuple[tuple[Any, ...], str]] = []
    if rubric.model.variable:
        wanted.append((("model", "variable"), rubric.model.variable))
    wanted += [
        (("checks", index, "variable", "name"), check.variable.name)
        for index, check in enumerate(rubric.checks)
        if check.variable is not None
    ]
    if not wanted:
        return
    from grader.authoring.selftest import solution_path
    from grader.grading.submission import load_submission

    try:
        solution = solution_path(loaded)
        names = solution_names.defined_names(load_submission(solution))
    except GradingError as exc:
        yield where.finding(
            "note",
            f"variable names not checked: {exc.message} (add `solution: PATH` to check them)",
            *wanted[0][0],
        )
        return
    for loc, name in wanted:
        if name in names.names:
            continue
        near = difflib.get_close_matches(name, sorted(names.names), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        severity: Severity = "warning" if names.unreadable_cells else "error"
        yield where.finding(severity, f"{name!r} is never defined in the solution {solution}{hint}", *loc)


def _course_findings(base: Path, rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    """What the course hands the notebook must be on the grading machine, or every student's load fails.

    Grading turns each missing piece into a note on every report; the author hears it once, here.
    An instructor's npz is a path like any other (`_path_findings`); a Keras data set is looked for
    in this machine's Keras cache, which must be the grading machine's for the warning to hold.
    """
    for name, spec in rubric.datasets.items():
        if spec.npz is not None:
            continue
        try:
            course.cache_source(name)
        except datasets.DatasetError as exc:
            yield where.warn(f"{exc}; every notebook's {name}.load_data() would fail", "datasets", name)
    for index, asset in enumerate(rubric.assets):
        if not (base / asset.source).exists():
            yield where.warn(
                f"the course file {asset.source!r} does not exist (paths are relative to the rubric's "
                "folder); every notebook that opens it would fail",
                "assets",
                index,
                "source",
            )
    models = course.keras_models_dir()
    for index, file in enumerate(rubric.weights):
        if not (models / file).is_file():
            yield where.warn(
                f"the pretrained weights {file} are not in the grader's Keras cache (looked for "
                f"{models / file}); the grader never downloads: put the file there before grading",
                "weights",
                index,
            )


def _walk(node: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield loc, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*loc, index))


def _architecture_findings(rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    """Accuracy alone rewards any model that outputs the right labels, a lookup table included."""
    if any(check.layers is not None or check.total_params is not None for check in rubric.checks):
        return
    for index, check in enumerate(rubric.checks):
        if check.accuracy is not None:
            yield where.warn(
                f"accuracy check `{check.id}` pins no architecture: the rubric has no `layers` and no "
                "`total_params` check, so any network, or a lookup table of public images, can score; "
                "add one that matches the reference solution",
                "checks",
                index,
                "accuracy",
            )


# --- held-out data that is public -----------------------------------------------------------------

OVERLAP_SHARE = 0.01
"""Warn when at least this share of a held-out set's images is byte-identical to public images."""
ROWS_PER_CHUNK = 4096
"""Images converted and hashed at a time, so a large set never needs a float64 copy of itself."""
SCALES = (16.0, 255.0)
"""Scales that turn a float set in 0..1 back into the digits' (0..16) or 8-bit (0..255) values."""
INTEGRAL_TOLERANCE = 1e-3
"""How far from a whole number a rescaled float pixel may be (float32 keeps x / 255 * 255 within 1e-4)."""

ImageKey = bytes


@dataclass(frozen=True)
class _PublicSet:
    """A public dataset the grader can read locally: its name, image size and where its files are."""

    name: str
    values: int  # per image; only held-out sets of the same size are compared with it
    locate: Callable[[], tuple[Path, ...]]  # the files present (none: not on this machine)
    read: Callable[[tuple[Path, ...]], Iterator[np.ndarray]]  # arrays of images, pixel values 0..255


def _public_data_findings(base: Path, rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    """Held-out data a student can rebuild (a public set, or a file cut from one) can be looked up."""
    for index, check in enumerate(rubric.checks):
        if check.accuracy is None:
            continue
        source = check.accuracy.data
        if source.npz is None:
            kind = "sklearn" if source.sklearn is not None else "keras"
            yield where.warn(
                f"accuracy check `{check.id}` holds out {source.describe()}, public data a student can "
                "rebuild: a lookup table of it scores 1.0; hold out an npz derived from it by a "
                "transformation and a seed kept beside the rubric",
                "checks",
                index,
                "accuracy",
                "data",
                kind,
            )
            continue
        images = _held_out_images(base / source.npz)
        if images is None or len(images) == 0:
            continue  # missing or unreadable: the path warning or the grade itself says so
        matched, names = _public_overlap(images)
        if matched and matched >= OVERLAP_SHARE * len(images):
            yield where.warn(
                f"{matched:,} of the {len(images):,} held-out images in {source.npz!r} "
                f"({matched / len(images):.1%}) are byte-identical to images of {' and '.join(names)}, "
                "public data a student can rebuild: a lookup table of them scores 1.0 on those; derive "
                "the held-out set by a transformation and a seed kept beside the rubric",
                "checks",
                index,
                "accuracy",
                "data",
                "npz",
            )


def _held_out_images(path: Path) -> np.ndarray | None:
    """The file's images as stored (one row of values per image), or None if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            x = np.asarray(archive["x"]) if "x" in archive.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    numeric = x is not None and (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool
    )
    if x is None or not numeric or x.ndim < 2:
        return None
    return x.reshape(len(x), -1)


def _public_overlap(rows: np.ndarray) -> tuple[int, list[str]]:
    """How many rows equal an image of a public set of their size, and the names of those sets.

    Each image is hashed once and looked up in a set of the public images' hashes: linear in the
    data. Pixel values are compared as 8-bit integers, so a uint8 copy, a float64 copy (as
    `load_digits` returns) and a copy divided by 16 or 255 all match, whatever the shape.
    """
    matched = np.zeros(len(rows), dtype=bool)
    names = []
    for public in PUBLIC_SETS:
        if public.values != rows.shape[1]:
            continue
        files = public.locate()
        known = _public_keys(public.name, _stamped(files)) if files else frozenset()
        hits = _rows_in(rows, known) if known else np.zeros(len(rows), dtype=bool)
        if hits.any():
            names.append(public.name)
            matched |= hits
    return int(matched.sum()), names


def _rows_in(rows: np.ndarray, known: frozenset[ImageKey]) -> np.ndarray:
    hits = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(rows), ROWS_PER_CHUNK):
        for encoded, usable in _as_bytes(rows[start : start + ROWS_PER_CHUNK]):
            for offset in np.flatnonzero(usable):
                if _key(encoded[offset]) in known:
                    hits[start + offset] = True
    return hits


def _as_bytes(rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The rows as uint8 pixel values, under each reading that makes them whole numbers in 0..255.

    Yields (uint8 rows, which rows that reading fits). Integer data is read as it is; float data
    also as if divided by 16 or 255, the usual preprocessing of the public sets.
    """
    if rows.dtype == np.uint8:
        yield rows, np.ones(len(rows), dtype=bool)
        return
    if not np.issubdtype(rows.dtype, np.floating):
        values = rows.astype(np.int64)
        yield np.clip(values, 0, 255).astype(np.uint8), np.all((values >= 0) & (values <= 255), axis=1)
        return
    values = rows.astype(np.float64)
    finite = np.all(np.isfinite(values), axis=1)
    values = np.where(np.isfinite(values), values, -1.0)
    for scale in (1.0, *SCALES):
        scaled = values * scale
        whole = np.rint(scaled)
        fits = np.all((np.abs(scaled - whole) <= INTEGRAL_TOLERANCE) & (whole >= 0) & (whole <= 255), axis=1)
        yield np.clip(whole, 0, 255).astype(np.uint8), finite & fits


def _key(row: np.ndarray) -> ImageKey:
    return hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=16).digest()


def _stamped(files: tuple[Path, ...]) -> tuple[tuple[Path, int, int], ...]:
    """Files with their modification time and size: a changed file is hashed again."""
    stamps = []
    for file in files:
        stat = file.stat()
        stamps.append((file, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@functools.lru_cache(maxsize=8)
def _public_keys(name: str, stamped: tuple[tuple[Path, int, int], ...]) -> frozenset[ImageKey]:
    """The hashes of every image of a public set (empty when its files cannot be read)."""
    public = next(p for p in PUBLIC_SETS if p.name == name)
    keys: set[ImageKey] = set()
    try:
        for images in public.read(tuple(file for file, _, _ in stamped)):
            rows = images.reshape(len(images), -1)
            for start in range(0, len(rows), ROWS_PER_CHUNK):
                for encoded, usable in _as_bytes(rows[start : start + ROWS_PER_CHUNK]):
                    keys.update(_key(row) for row in encoded[usable])
    except UNREADABLE:
        return frozenset()
    return frozenset(keys)


# Where each public set lives, and how to read its images (never downloading: only what is there).


def _digits_files() -> tuple[Path, ...]:
    found = datasets.sklearn_file("digits")
    return (found,) if found is not None else ()


def _read_digits(files: tuple[Path, ...]) -> Iterator[np.ndarray]:
    """scikit-learn's digits as the grader reads them (float 0..16; float32 holds them exactly)."""
    yield datasets.load(datasets.DataSource(sklearn="digits"), datasets.Preprocess(), Path.cwd()).x


def _keras_files(*names: str) -> Callable[[], tuple[Path, ...]]:
    """The files of a Keras dataset in the Keras cache, looked up when asked ($KERAS_HOME may change)."""

    def locate() -> tuple[Path, ...]:
        folder = datasets.keras_datasets_dir()
        return tuple(folder / name for name in names if (folder / name).is_file())

    return locate


def _cifar_files(folders: tuple[str, ...], names: tuple[str, ...]) -> Callable[[], tuple[Path, ...]]:
    """A CIFAR set's batches, in the first of its cache folders that holds any (Keras 3 or older)."""

    def locate() -> tuple[Path, ...]:
        for folder in folders:
            found = _keras_files(*(f"{folder}/{name}" for name in names))()
            if found:
                return found
        return ()

    return locate


def _read_mnist(files: tuple[Path, ...]) -> Iterator[np.ndarray]:
    for file in files:
        with np.load(file, allow_pickle=False) as archive:
            for split in ("x_train", "x_test"):
                yield np.asarray(archive[split])


def _read_idx_images(files: tuple[Path, ...]) -> Iterator[np.ndarray]:
    """Fashion-MNIST's gzipped IDX image files: a 16-byte header, then 28x28 uint8 images."""
    for file in files:
        with gzip.open(file, "rb") as handle:
            yield np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28 * 28)


def _read_cifar(files: tuple[Path, ...]) -> Iterator[np.ndarray]:
    """Each batch in both orders: as stored (channels first) and as Keras returns it (channels last)."""
    for file in files:
        with open(file, "rb") as handle:
            batch = datasets.NumpyOnlyUnpickler(handle, encoding="bytes").load()
        stored = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3 * 32 * 32)
        yield stored
        yield stored.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, 3 * 32 * 32)


CIFAR10_FOLDERS = ("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py")
CIFAR100_FOLDERS = ("cifar-100-python-target/cifar-100-python", "cifar-100-python")
PUBLIC_SETS = (
    _PublicSet("scikit-learn's bundled digits", 64, _digits_files, _read_digits),
    _PublicSet("Keras' mnist", 28 * 28, _keras_files("mnist.npz"), _read_mnist),
    _PublicSet(
        "Keras' fashion_mnist",
        28 * 28,
        _keras_files("fashion-mnist/train-images-idx3-ubyte.gz", "fashion-mnist/t10k-images-idx3-ubyte.gz"),
        _read_idx_images,
    ),
    _PublicSet(
        "Keras' cifar10",
        3 * 32 * 32,
        _cifar_files(CIFAR10_FOLDERS, (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")),
        _read_cifar,
    ),
    _PublicSet(
        "Keras' cifar100", 3 * 32 * 32, _cifar_files(CIFAR100_FOLDERS, ("train", "test")), _read_cifar
    ),
)
"""The public sets a held-out file is compared with: scikit-learn's and those in the Keras cache."""
