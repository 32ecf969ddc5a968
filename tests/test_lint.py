"""`grade rubric check`'s warnings about gameable accuracy checks, and the digits-cnn held-out data.

An accuracy check is gameable when its held-out images are public ones a student can rebuild (a
lookup table of them scores 1.0) or when no architecture check holds the model to a network that
has to learn. Everything here is real: rubrics written as YAML files, scikit-learn's bundled
digits, and a Keras cache folder written in the real formats (`mnist.npz`, Fashion-MNIST's
gzipped IDX files, a pickled CIFAR-10 batch); no kernel is started.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sklearn.datasets import load_digits

from grader.authoring import lint
from tests.conftest import REPO, GradeRunner

SHIPPED_HELD_OUT = REPO / "rubrics" / "data" / "digits-test.npz"
SHIPPED_TRAIN = REPO / "rubrics" / "data" / "digits-train.npz"
PINS = {
    "layers": "layers: [{type: Flatten}, {type: Dense, units: 10}]",
    "total_params": "total_params: {max: 50000}",
}


def public_digits() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.images, digits.target


def noise_images(count: int, shape: tuple[int, ...], top: int, seed: int = 0) -> np.ndarray:
    """Random uint8 images, which no public set holds."""
    return np.random.default_rng(seed).integers(0, top + 1, size=(count, *shape)).astype(np.uint8)


def nudged(images: np.ndarray, top: int, seed: int = 1) -> np.ndarray:
    """Each image with integer noise in -1..+1 per pixel: a transformed copy, clipped to 0..top."""
    noise = np.random.default_rng(seed).integers(-1, 2, size=images.shape)
    # A draw of all zeros on every changeable pixel would leave an image as it was; move one pixel.
    out = np.clip(images.astype(np.int64) + noise, 0, top)
    same = np.all(out.reshape(len(out), -1) == images.reshape(len(images), -1), axis=1)
    flat = out.reshape(len(out), -1)
    flat[same, 0] = np.where(flat[same, 0] < top, flat[same, 0] + 1, flat[same, 0] - 1)
    return flat.reshape(images.shape).astype(np.uint8)


def write_rubric(folder: Path, data: str, *, pin: str | None = "layers", name: str = "rubric.yaml") -> Path:
    """A rubric with one accuracy check on `data` and, unless `pin` is None, an architecture pin."""
    pinned = f"  - id: pin\n    points: 1\n    {PINS[pin]}\n" if pin else ""
    text = (
        "exercise: lint-me\n"
        "title: Lint me\n"
        "checks:\n"
        f"{pinned}"
        "  - id: accuracy\n"
        "    points: 2\n"
        "    accuracy:\n"
        f"      data: {data}\n"
        "      tiers: [{min: 0.9, points: 2}]\n"
    )
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_held_out(folder: Path, x: np.ndarray, name: str = "held.npz") -> str:
    np.savez(folder / name, x=x, y=np.arange(len(x)) % 10)
    return f"{{npz: {name}}}"


def warnings_about(report: lint.LintReport, words: str) -> list[lint.Finding]:
    assert not report.errors, report.errors
    return [f for f in report.warnings if words in f.message]


def position(path: Path, text: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of `text` in the file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Keras cache of this test's own: only what a test writes into it is there."""
    home = tmp_path / "keras-home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "datasets"


# --- an accuracy check needs an architecture check beside it --------------------------------------


def test_an_accuracy_check_with_no_architecture_check_is_warned_about_where_it_is(tmp_path: Path) -> None:
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, noise_images(50, (8, 8), 16)), pin=None)
    found = warnings_about(lint.lint(rubric), "pins no architecture")
    assert len(found) == 1
    assert (found[0].line, found[0].column) == position(rubric, "accuracy:")
    assert "no `layers` and no `total_params` check" in found[0].message
    assert str(found[0]).startswith(f"{rubric}:{found[0].line}:{found[0].column}: warning: accuracy check")


@pytest.mark.parametrize("pin", sorted(PINS))
def test_a_layers_or_total_params_check_pins_the_architecture(tmp_path: Path, pin: str) -> None:
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, noise_images(50, (8, 8), 16)), pin=pin)
    report = lint.lint(rubric)
    assert not report.errors and not report.warnings, report.findings


# --- held-out data that scikit-learn's digits hold ------------------------------------------------


def test_the_attack_public_digits_minus_the_handed_out_file_is_warned_about(
    tmp_path: Path, keras_home: Path
) -> None:
    """What the digits-cnn exercise held out before: the public digits its training file leaves out."""
    images, labels = public_digits()
    with np.load(SHIPPED_TRAIN) as archive:
        handed_out = {image.astype(np.uint8).tobytes() for image in archive["x"]}
    keep = np.array([image.astype(np.uint8).tobytes() not in handed_out for image in images])
    np.savez(tmp_path / "held.npz", x=images[keep].astype(np.uint8), y=labels[keep])
    rubric = write_rubric(tmp_path, "{npz: held.npz}")
    found = warnings_about(lint.lint(rubric), "byte-identical")
    assert len(found) == 1
    assert (found[0].line, found[0].column) == position(rubric, "npz:")
    assert f"{keep.sum()} of the {keep.sum()} held-out images in 'held.npz' (100.0%)" in found[0].message
    assert "scikit-learn's bundled digits" in found[0].message


@pytest.mark.parametrize(
    "stored",
    ["uint8", "float64 as load_digits returns", "float32 divided by 16", "flattened to 64 values"],
)
def test_copied_digits_are_found_however_they_are_stored(tmp_path: Path, stored: str) -> None:
    images, _ = public_digits()
    copies = np.concatenate([images[:30], noise_images(170, (8, 8), 16)])  # 15 % copied
    encodings: dict[str, np.ndarray] = {
        "uint8": copies.astype(np.uint8),
        "float64 as load_digits returns": copies.astype(np.float64),
        "float32 divided by 16": (copies / 16.0).astype(np.float32),
        "flattened to 64 values": copies.astype(np.uint8).reshape(-1, 64),
    }
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, encodings[stored]))
    found = warnings_about(lint.lint(rubric), "byte-identical")
    assert len(found) == 1, lint.lint(rubric).findings
    assert "30 of the 200 held-out images in 'held.npz' (15.0%)" in found[0].message


def test_a_transformed_copy_of_the_digits_is_not_warned_about(tmp_path: Path) -> None:
    images, _ = public_digits()
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, nudged(images.astype(np.uint8), 16)))
    report = lint.lint(rubric)
    assert not report.errors and not report.warnings, report.findings


def test_copies_below_one_percent_are_tolerated_and_one_percent_is_not(tmp_path: Path) -> None:
    images, _ = public_digits()
    rest = noise_images(198, (8, 8), 16)
    one = write_rubric(tmp_path, write_held_out(tmp_path, np.concatenate([images[:1], rest]), "one.npz"))
    assert not warnings_about(lint.lint(one), "byte-identical")  # 1 of 199: 0.5 %
    two = write_rubric(
        tmp_path, write_held_out(tmp_path, np.concatenate([images[:2], rest]), "two.npz"), name="two.yaml"
    )
    found = warnings_about(lint.lint(two), "byte-identical")
    assert len(found) == 1 and "2 of the 200 held-out images" in found[0].message


@pytest.mark.parametrize(("kind", "name"), [("sklearn", "digits"), ("keras", "mnist")])
def test_holding_out_a_public_set_itself_is_warned_about(tmp_path: Path, kind: str, name: str) -> None:
    """No cache is needed to know that Keras' test split is public: nothing is read, let alone fetched."""
    rubric = write_rubric(tmp_path, f"{{{kind}: {name}}}")
    found = warnings_about(lint.lint(rubric), "public data a student can rebuild")
    assert len(found) == 1
    assert (found[0].line, found[0].column) == position(rubric, f"{kind}:")


# --- the Keras datasets in the local cache --------------------------------------------------------


def write_mnist(folder: Path) -> dict[str, np.ndarray]:
    """A small `mnist.npz` in Keras' exact format (uint8 28x28 images, uint8 labels)."""
    arrays = {
        "x_train": noise_images(300, (28, 28), 255, seed=10),
        "y_train": np.arange(300, dtype=np.uint8) % 10,
        "x_test": noise_images(100, (28, 28), 255, seed=11),
        "y_test": np.arange(100, dtype=np.uint8) % 10,
    }
    np.savez(
        folder / "mnist.npz",
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
    )
    return arrays


@pytest.mark.parametrize("split", ["x_train", "x_test"])
def test_images_copied_from_the_cached_mnist_are_warned_about(
    tmp_path: Path, keras_home: Path, split: str
) -> None:
    mnist = write_mnist(keras_home)
    held = np.concatenate([mnist[split][:20], noise_images(80, (28, 28), 255, seed=12)])
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, held))
    found = warnings_about(lint.lint(rubric), "byte-identical")
    assert len(found) == 1
    assert "20 of the 100 held-out images in 'held.npz' (20.0%)" in found[0].message
    assert "Keras' mnist" in found[0].message and "scikit-learn" not in found[0].message


def test_mnist_divided_by_255_is_still_a_copy_and_a_transformed_one_is_not(
    tmp_path: Path, keras_home: Path
) -> None:
    mnist = write_mnist(keras_home)
    scaled = write_rubric(tmp_path, write_held_out(tmp_path, (mnist["x_test"] / 255.0).astype(np.float32)))
    assert len(warnings_about(lint.lint(scaled), "byte-identical")) == 1
    moved = write_held_out(tmp_path, nudged(mnist["x_test"], 255), "moved.npz")
    report = lint.lint(write_rubric(tmp_path, moved, name="moved.yaml"))
    assert not report.errors and not report.warnings, report.findings


def test_without_a_keras_cache_nothing_is_compared_and_nothing_is_fetched(
    tmp_path: Path, keras_home: Path
) -> None:
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, noise_images(20, (28, 28), 255)))
    assert not lint.lint(rubric).findings
    assert list(keras_home.iterdir()) == []


def test_images_copied_from_the_cached_fashion_mnist_are_warned_about(
    tmp_path: Path, keras_home: Path
) -> None:
    images = noise_images(50, (28, 28), 255, seed=20)
    (keras_home / "fashion-mnist").mkdir()
    header = np.array([2051, len(images), 28, 28], dtype=">i4").tobytes()  # IDX: magic, count, rows, cols
    with gzip.open(keras_home / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(header + images.tobytes())
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, images[:10]))
    found = warnings_about(lint.lint(rubric), "byte-identical")
    assert len(found) == 1 and "Keras' fashion_mnist" in found[0].message


@pytest.mark.parametrize("order", ["channels last, as Keras returns it", "channels first, as stored"])
def test_images_copied_from_a_cached_cifar10_batch_are_warned_about(
    tmp_path: Path, keras_home: Path, order: str
) -> None:
    stored = noise_images(40, (3, 32, 32), 255, seed=30)  # CIFAR batches hold channels first
    folder = keras_home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batch = {b"data": stored.reshape(40, -1), b"labels": list(range(40))}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    copies = stored.transpose(0, 2, 3, 1) if order.startswith("channels last") else stored
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, copies[:8]))
    found = warnings_about(lint.lint(rubric), "byte-identical")
    assert len(found) == 1 and "8 of the 8 held-out images" in found[0].message
    assert "Keras' cifar10" in found[0].message


# --- the shipped digits-cnn data --------------------------------------------------------------------


def digits_test_generator() -> ModuleType:
    """rubrics/data/make_digits_test.py, which lives beside the rubric (not a package)."""
    path = REPO / "rubrics" / "data" / "make_digits_test.py"
    spec = importlib.util.spec_from_file_location("make_digits_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_held_out_digits_share_no_image_with_scikit_learns() -> None:
    images, _ = public_digits()
    public = {image.astype(np.uint8).tobytes() for image in images}
    with np.load(SHIPPED_HELD_OUT) as archive:
        held = archive["x"]
    assert held.dtype == np.uint8 and held.shape[1:] == (8, 8) and len(held) > 0
    assert held.min() >= 0 and held.max() <= 16
    assert not [index for index, image in enumerate(held) if image.tobytes() in public]


def test_the_shipped_held_out_digits_come_from_the_digits_the_training_file_leaves_out() -> None:
    """Each held-out image is one left-out digit (same label) moved by at most 1 per pixel."""
    images, labels = public_digits()
    with np.load(SHIPPED_TRAIN) as archive:
        handed_out = {image.astype(np.uint8).tobytes() for image in archive["x"]}
    keep = np.array([image.astype(np.uint8).tobytes() not in handed_out for image in images])
    pool, pool_labels = images[keep].astype(np.int64), labels[keep]
    with np.load(SHIPPED_HELD_OUT) as archive:
        held, held_labels = archive["x"].astype(np.int64), archive["y"]
    assert len(held) == len(pool)
    distance = np.abs(held[:, None] - pool[None]).max(axis=(2, 3))  # held x pool, largest pixel change
    source = distance.argmin(axis=1)
    assert np.all(distance[np.arange(len(held)), source] == 1)
    assert sorted(source.tolist()) == list(range(len(pool)))  # one held-out image per left-out digit
    assert np.array_equal(pool_labels[source], held_labels)


def test_the_shipped_held_out_file_is_what_its_generator_makes() -> None:
    x, y = digits_test_generator().held_out(SHIPPED_TRAIN)
    with np.load(SHIPPED_HELD_OUT) as archive:
        assert np.array_equal(archive["x"], x) and np.array_equal(archive["y"], y)


def test_the_shipped_digits_rubric_gets_no_warning() -> None:
    report = lint.lint(REPO / "rubrics" / "digits-cnn.yaml")
    assert report.rubric is not None and not report.findings, report.findings


def test_the_exercise_handed_to_students_holds_no_held_out_data() -> None:
    """The seed and the transformation live beside the rubric; exercises/ is what students receive."""
    exercise = REPO / "exercises" / "digits-cnn"
    for path in exercise.rglob("*"):
        if path.is_file():
            assert "digits-test" not in path.read_text(encoding="utf-8", errors="replace"), path


# --- what the course hands out must be on the grading machine -------------------------------------


def test_each_missing_data_set_asset_and_weights_file_is_warned_about_where_the_rubric_names_it(
    tmp_path: Path, keras_home: Path
) -> None:
    (keras_home.parent / "models").mkdir()
    (keras_home.parent / "models" / "present.h5").write_bytes(b"weights")
    (tmp_path / "present.txt").write_text("here", encoding="utf-8")
    rubric = tmp_path / "course.yaml"
    rubric.write_text(
        "exercise: course\n"
        "title: Course\n"
        "datasets:\n"
        "  cifar10: {train: 10}\n"
        "assets:\n"
        "  - source: present.txt\n"
        "  - source: data/dogImages\n"
        "weights: [present.h5, missing.h5]\n"
        "checks:\n"
        "  - id: answer\n"
        "    points: 1\n"
        "    variable: {name: answer, equals: 1}\n",
        encoding="utf-8",
    )
    report = lint.lint(rubric)
    assert not report.errors, report.errors
    dataset, asset, weights = report.warnings
    assert (dataset.line, dataset.column) == position(rubric, "cifar10:")
    assert "Keras' cifar10 data set is not in the grader's Keras cache" in dataset.message
    assert "every notebook's cifar10.load_data() would fail" in dataset.message
    assert (asset.line, asset.column) == position(rubric, "source: data/dogImages")
    assert "the course file 'data/dogImages' does not exist" in asset.message
    assert (weights.line, weights.column) == position(rubric, "missing.h5")
    assert f"looked for {keras_home.parent / 'models' / 'missing.h5'}" in weights.message


# --- through the CLI ------------------------------------------------------------------------------


def test_check_prints_both_warnings_with_line_and_column_and_strict_rejects(
    grade_cli: GradeRunner, tmp_path: Path, keras_home: Path
) -> None:
    mnist = write_mnist(keras_home)
    rubric = write_rubric(tmp_path, write_held_out(tmp_path, mnist["x_test"][:50]), pin=None)
    done = grade_cli("rubric", "check", rubric)
    assert done.returncode == 0, done.stdout + done.stderr
    line, column = position(rubric, "accuracy:")
    assert f"{rubric}:{line}:{column}: warning: accuracy check `accuracy` pins no architecture" in done.stdout
    line, column = position(rubric, "npz:")
    assert (
        f"{rubric}:{line}:{column}: warning: 50 of the 50 held-out images in 'held.npz' (100.0%) are "
        "byte-identical to images of Keras' mnist" in done.stdout
    )
    assert f"ok {rubric}: 1 checks, 2 points, 2 warning(s)" in done.stdout
    strict = grade_cli("rubric", "check", "--strict", rubric)
    assert strict.returncode == 3 and "rejected (--strict)" in strict.stdout


def test_check_accepts_the_shipped_digits_rubric_strictly(grade_cli: GradeRunner) -> None:
    done = grade_cli("rubric", "check", "--strict", "rubrics/digits-cnn.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout
