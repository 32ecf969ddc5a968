"""Accuracy on held-out data: loading sources, evaluating saved models, tiers, faults and the report.

Everything is real: scikit-learn's bundled digits, `.npz` files and a Keras cache folder written
here in the real formats, real Keras models, and the digits samples graded by the real `grade`
command in the sandbox, with real (seeded, small) training.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.errors import RubricError
from grader.grading import datasets, evaluate, inspector
from grader.grading.artifacts import ModelFile
from grader.grading.check import check_accuracy
from grader.grading.evaluate import EvaluationError
from grader.inside.inspector.measure import keras_module
from grader.render import plots
from grader.result import ClassScore, Metrics
from grader.rubric.model import CheckSpec, parse_rubric
from grader.sandbox import bwrap
from tests.conftest import REPO, Graded, run_grade, write_notebook

DIGITS = datasets.DataSource(sklearn="digits")
AS_IMAGES = datasets.Preprocess(rescale=1 / 16, reshape=(8, 8, 1))
SAMPLES = {
    "trained": REPO / "submissions" / "digits-trained.ipynb",
    "fake": REPO / "submissions" / "digits-fake-accuracy.ipynb",
    "undertrained": REPO / "submissions" / "digits-undertrained.ipynb",
    "wrong-shape": REPO / "submissions" / "digits-wrong-input-shape.ipynb",
    "solution": REPO / "exercises" / "digits-cnn" / "solution.ipynb",
}


def digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.uint8), digits.target.astype(np.uint8)


# --- datasets ------------------------------------------------------------------------------------


def test_sklearn_digits_are_rescaled_and_reshaped_into_read_only_arrays() -> None:
    data = datasets.load(DIGITS, AS_IMAGES, Path("."))
    assert data.x.shape == (1797, 8, 8, 1)
    assert data.x.dtype == np.float32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.num_classes == 10 and sorted(set(data.y.tolist())) == list(range(10))
    with pytest.raises(ValueError):
        data.x[0, 0, 0, 0] = 5.0


def test_npz_with_one_hot_labels_loads_the_same_as_integer_labels(tmp_path: Path) -> None:
    images, labels = digit_arrays()
    np.savez(tmp_path / "ints.npz", x=images[:200], y=labels[:200])
    np.savez(tmp_path / "onehot.npz", x=images[:200], y=np.eye(10, dtype=np.float32)[labels[:200]])
    np.savez(tmp_path / "column.npz", x=images[:200], y=labels[:200, None])
    loaded = [
        datasets.load(datasets.DataSource(npz=name), AS_IMAGES, tmp_path)
        for name in ("ints.npz", "onehot.npz", "column.npz")
    ]
    for data in loaded[1:]:
        np.testing.assert_array_equal(data.y, loaded[0].y)
        np.testing.assert_array_equal(data.x, loaded[0].x)
    assert loaded[0].source == "ints.npz"


def test_an_npz_is_read_once_until_the_file_changes(tmp_path: Path) -> None:
    images, labels = digit_arrays()
    np.savez(tmp_path / "held.npz", x=images[:50], y=labels[:50])
    source = datasets.DataSource(npz="held.npz")
    first = datasets.load(source, AS_IMAGES, tmp_path)
    assert datasets.load(source, AS_IMAGES, tmp_path) is first
    np.savez(tmp_path / "held.npz", x=images[:60], y=labels[:60])
    os.utime(tmp_path / "held.npz", ns=(1, 1))
    assert len(datasets.load(source, AS_IMAGES, tmp_path).y) == 60


@pytest.mark.parametrize(
    ("arrays", "raw", "message"),
    [
        (None, None, "held.npz was not found"),
        (None, b"this is not a zip archive", "is not a readable .npz file"),
        ({"x": np.zeros((3, 8, 8))}, None, "has no array y (arrays in it: x)"),
        ({"x": np.zeros((3, 8, 8)), "y": np.zeros(4, int)}, None, "x holds 3 images but y holds 4 labels"),
        ({"x": np.zeros((3, 4, 4)), "y": np.zeros(3, int)}, None, "cannot reshape images of shape (4, 4)"),
        ({"x": np.zeros((2, 8, 8)), "y": np.array([0.5, 1.0])}, None, "labels must be whole numbers"),
        ({"x": np.zeros((2, 8, 8)), "y": np.array([-1, 1])}, None, "labels must lie in 0..999"),
        ({"x": np.zeros((2, 8, 8)), "y": np.full((2, 3), 2)}, None, "must be one-hot (0s and 1s)"),
        ({"x": np.zeros((2, 8, 8)), "y": np.ones((2, 3))}, None, "rows do not hold exactly one 1"),
        ({"x": np.array([{"a": 1}, {"b": 2}], dtype=object), "y": np.zeros(2)}, None, "not a readable .npz"),
    ],
)
def test_broken_npz_files_give_a_message_that_names_the_problem(
    tmp_path: Path, arrays: dict[str, Any] | None, raw: bytes | None, message: str
) -> None:
    path = tmp_path / "held.npz"
    if arrays is not None:
        np.savez(path, **arrays)  # type: ignore[arg-type]
    if raw is not None:
        path.write_bytes(raw)
    with pytest.raises(datasets.DatasetError) as caught:
        datasets.load(datasets.DataSource(npz="held.npz"), AS_IMAGES, tmp_path)
    assert message in str(caught.value)


def _fake_keras_cache(root: Path) -> None:
    """A Keras cache with small files in the real formats: mnist.npz and a pickled CIFAR batch."""
    cache = root / "datasets"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        cache / "mnist.npz",
        x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 20, dtype=np.uint8),
        x_test=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        y_test=np.arange(12, dtype=np.uint8) % 10,
    )
    batch_dir = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    batch_dir.mkdir(parents=True)
    planes = np.zeros((5, 3, 32, 32), dtype=np.uint8)
    planes[:, 0], planes[:, 1], planes[:, 2] = 10, 20, 30  # red, green, blue planes, as CIFAR stores them
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [3, 1, 4, 1, 5],
        b"data": planes.reshape(5, 3072),
        b"filenames": [f"img{i}.png".encode() for i in range(5)],
    }
    (batch_dir / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))


def test_keras_test_splits_are_read_from_the_cache_named_by_keras_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_keras_cache(tmp_path / "keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    mnist = datasets.load(
        datasets.DataSource(keras="mnist"),
        datasets.Preprocess(rescale=1 / 255, reshape=(28, 28, 1)),
        tmp_path,
    )
    assert mnist.x.shape == (12, 28, 28, 1) and mnist.y.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    cifar = datasets.load(datasets.DataSource(keras="cifar10"), datasets.Preprocess(), tmp_path)
    assert cifar.x.shape == (5, 32, 32, 3)
    assert cifar.x[0, 7, 9].tolist() == [10.0, 20.0, 30.0]
    assert cifar.y.tolist() == [3, 1, 4, 1, 5]


def test_the_keras_cache_in_home_is_used_without_keras_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_keras_cache(tmp_path / ".keras")
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    data = datasets.load(datasets.DataSource(keras="mnist"), datasets.Preprocess(), tmp_path)
    assert data.x.shape == (12, 28, 28)


def test_a_missing_keras_cache_says_which_file_to_put_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    with pytest.raises(datasets.DatasetError) as mnist:
        datasets.load(datasets.DataSource(keras="mnist"), datasets.Preprocess(), tmp_path)
    assert "never downloads" in str(mnist.value)
    assert f"put it at {tmp_path / 'empty' / 'datasets' / 'mnist.npz'}" in str(mnist.value)
    with pytest.raises(datasets.DatasetError) as cifar:
        datasets.load(datasets.DataSource(keras="cifar10"), datasets.Preprocess(), tmp_path)
    assert "cifar-10-python.tar.gz" in str(cifar.value)
    assert str(tmp_path / "empty" / "datasets" / "cifar-10-batches-py-target") in str(cifar.value)


def test_a_cifar_batch_that_pickles_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_keras_cache(tmp_path / "keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    batch = (
        tmp_path / "keras" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch"
    )
    batch.write_bytes(pickle.dumps({b"data": os.getcwd}, protocol=2))
    with pytest.raises(datasets.DatasetError, match=re.escape("refusing to load posix.getcwd")):
        datasets.load(datasets.DataSource(keras="cifar10"), datasets.Preprocess(), tmp_path)


def test_the_bundled_digits_and_the_data_file_are_hidden_from_the_kernel(tmp_path: Path) -> None:
    import sklearn.datasets.data

    images, labels = digit_arrays()
    np.savez(tmp_path / "held.npz", x=images[:10], y=labels[:10])
    hidden = datasets.files_to_hide([datasets.DataSource(npz="held.npz")], tmp_path)
    bundled = (Path(sklearn.datasets.data.__file__).parent / "digits.csv.gz").resolve()
    assert hidden == ((tmp_path / "held.npz").resolve(), bundled)
    assert datasets.files_to_hide([], tmp_path) == ()


# --- evaluation: the real inspector process, sandboxed where bubblewrap can run -----------------


@pytest.fixture(scope="module")
def models_inspector() -> Iterator[inspector.Inspector]:
    """One real inspector process for the module, as a batch worker keeps one."""
    settings = inspector.InspectorSettings(sandboxed=bwrap.bwrap_problem() is None)
    inspecting = inspector.Inspector(settings)
    yield inspecting
    inspecting.close()


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, datasets.Dataset, Path]:
    """A small dense model trained for a few seeded epochs on most of the digits; the rest held out."""
    keras = keras_module()
    keras.utils.set_random_seed(0)
    data = datasets.load(DIGITS, AS_IMAGES, Path("."))
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data.x[:1400], data.y[:1400], epochs=8, batch_size=64, verbose=0)
    held_out = datasets.Dataset(x=data.x[1400:], y=data.y[1400:], source="digits 1400-")
    return model, held_out, tmp_path_factory.mktemp("models")


def saved(model: Any, folder: Path, name: str) -> ModelFile:
    path = folder / f"{name}.keras"
    model.save(path)
    return ModelFile(variable=name, path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=0)


def evaluated(
    models_inspector: inspector.Inspector, model: ModelFile, held_out: datasets.Dataset, batch_size: int = 256
) -> Metrics:
    prediction = models_inspector.predict(
        model, datasets.inputs_file(held_out), held_out.num_classes, batch_size
    )
    return evaluate.compute_metrics(prediction, held_out, 0.0)


@pytest.mark.slow
def test_evaluation_matches_a_bare_predict_and_counts_every_image(
    models_inspector: inspector.Inspector, digits_model: tuple[Any, Any, Path]
) -> None:
    model, held_out, folder = digits_model
    metrics = evaluated(models_inspector, saved(model, folder, "dense"), held_out)
    expected = float((model.predict(held_out.x, verbose=0).argmax(axis=1) == held_out.y).mean())
    assert metrics.accuracy == pytest.approx(expected, abs=1e-6)
    assert 0.5 < metrics.accuracy < 1.0  # trained: far above chance (0.1), yet not perfect
    assert metrics.samples == len(held_out.y) == sum(c.count for c in metrics.per_class)
    assert metrics.correct == sum(c.correct for c in metrics.per_class)
    assert np.array(metrics.confusion).sum() == metrics.samples
    assert [c.label for c in metrics.per_class] == list(range(10))
    assert metrics.input_shape == (8, 8, 1)
    assert metrics.device.startswith(("CPU", "GPU"))


@pytest.mark.slow
def test_evaluation_is_the_same_from_run_to_run_and_for_any_batch_size(
    models_inspector: inspector.Inspector, digits_model: tuple[Any, Any, Path]
) -> None:
    model, held_out, folder = digits_model
    file = saved(model, folder, "dense")
    first = evaluated(models_inspector, file, held_out)
    for batch_size in (256, 7, 1000):
        again = evaluated(models_inspector, file, held_out, batch_size)
        assert again.confusion == first.confusion and again.accuracy == first.accuracy


@pytest.mark.slow
def test_a_model_for_other_inputs_is_an_error_naming_both_shapes(
    models_inspector: inspector.Inspector, digits_model: tuple[Any, Any, Path]
) -> None:
    keras = keras_module()
    _, held_out, folder = digits_model
    flat = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(inspector.InspectorError) as caught:
        evaluated(models_inspector, saved(flat, folder, "flat"), held_out)
    assert "expects inputs of shape (64,)" in str(caught.value)
    assert "held-out images are (8, 8, 1)" in str(caught.value)


@pytest.mark.slow
def test_too_few_outputs_for_the_labels_is_an_error(
    models_inspector: inspector.Inspector, digits_model: tuple[Any, Any, Path]
) -> None:
    keras = keras_module()
    _, held_out, folder = digits_model
    five = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    with pytest.raises(
        inspector.InspectorError, match=r"outputs 5 scores per image, but the held-out labels have 10"
    ):
        evaluated(models_inspector, saved(five, folder, "five"), held_out)


@pytest.mark.slow
def test_a_model_that_outputs_nan_is_an_error_that_names_no_image_and_no_count(
    models_inspector: inspector.Inspector, digits_model: tuple[Any, Any, Path]
) -> None:
    keras = keras_module()
    _, held_out, folder = digits_model
    broken = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    kernel = np.zeros((64, 10), dtype=np.float32)
    kernel[[4, 5, 6], 3] = 3e38  # overflows only for images bright at pixels 4-6: which ones must not leak
    broken.layers[-1].kernel.assign(kernel)
    lit = int((~np.isfinite(broken.predict(held_out.x, verbose=0)).all(axis=1)).sum())
    assert 0 < lit < len(held_out.y)
    with pytest.raises(EvaluationError) as caught:
        evaluated(models_inspector, saved(broken, folder, "broken"), held_out)
    assert "NaN or infinite scores for some of the held-out images" in str(caught.value)
    assert "image " not in str(caught.value).replace("images", "")
    assert str(lit) not in str(caught.value), "not even how many: a count of images meeting a condition leaks"


def test_predictions_outside_the_classes_go_into_one_other_column() -> None:
    """A model whose 'prediction' is a pixel value cannot read the held-out images back through the report."""
    labels = np.array([0, 1, 2, 2, 1], dtype=np.int64)
    held_out = datasets.Dataset(x=np.zeros((5, 2), dtype=np.float32), y=labels, source="five")
    prediction = inspector.Prediction(classes=(0, 1793, 2, 255, 1), nonfinite=0, device="CPU", duration_s=0.0)
    metrics = evaluate.compute_metrics(prediction, held_out, 0.0)
    assert len(metrics.confusion) == 3 and all(len(row) == 3 for row in metrics.confusion)
    assert metrics.other == (0, 1, 1)
    assert [c.label for c in metrics.per_class] == [0, 1, 2]
    assert metrics.correct == 3 and metrics.samples == 5
    assert "1793" not in metrics.model_dump_json() and "255" not in metrics.model_dump_json()


@pytest.mark.slow
def test_the_inspector_is_stopped_at_its_time_limit_and_starts_again(
    digits_model: tuple[Any, Any, Path],
) -> None:
    """A model too slow to run becomes a message naming the limit, and the next request is served afresh."""
    keras = keras_module()
    model, _, folder = digits_model
    heavy = keras.Sequential(
        [keras.Input((128, 128, 3))]
        + [keras.layers.Conv2D(256, 3, padding="same") for _ in range(4)]
        + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    )
    images = datasets.Dataset(
        x=np.zeros((2000, 128, 128, 3), dtype=np.float32), y=np.arange(2000) % 10, source="zeros"
    )
    settings = inspector.InspectorSettings(sandboxed=bwrap.bwrap_problem() is None, timeout_s=0.5)
    slow = inspector.Inspector(settings)
    try:
        slow.start()
        with pytest.raises(inspector.InspectorError, match=r"after 0 s \(its time limit for one model\)"):
            evaluated(slow, saved(heavy, folder, "heavy"), images)
        facts = slow.measure(saved(model, folder, "dense"))
        assert facts.total_params == 650 and slow.starts == 2
    finally:
        slow.close()


# --- scoring and rubric ---------------------------------------------------------------------------


def _accuracy_check(tiers: str) -> CheckSpec:
    rubric = parse_rubric(
        "exercise: x\ntitle: t\nchecks:\n  - id: acc\n    points: 4\n"
        f"    accuracy: {{data: {{sklearn: digits}}, tiers: {tiers}}}\n"
    )
    return rubric.checks[0]


def _metrics(correct: int, samples: int = 200) -> Metrics:
    return Metrics(
        accuracy=correct / samples,
        samples=samples,
        correct=correct,
        data="d",
        input_shape=(8, 8, 1),
        per_class=(ClassScore(label=0, count=samples, correct=correct, accuracy=correct / samples),),
        confusion=((correct,),),
        device="CPU",
        duration_s=0.1,
    )


@pytest.mark.parametrize(
    ("correct", "status", "points"), [(190, "pass", 4), (189, "fail", 3), (180, "fail", 3), (119, "fail", 0)]
)
def test_the_highest_tier_reached_gives_the_points(correct: int, status: str, points: float) -> None:
    spec = _accuracy_check("[{min: 0.60, points: 2}, {min: 0.95, points: 4}, {min: 0.90, points: 3}]")
    assert spec.accuracy is not None
    result = check_accuracy(spec, spec.accuracy, _metrics(correct))
    assert (result.status, result.points) == (status, points)
    assert result.metrics is not None
    assert [t.min for t in result.metrics.tiers] == [0.95, 0.90, 0.60]
    assert f"accuracy {correct / 200:.3f} on 200 held-out images" in result.message


def test_an_evaluation_problem_is_a_check_error_with_its_message() -> None:
    spec = _accuracy_check("[{min: 0.9, points: 4}]")
    assert spec.accuracy is not None
    result = check_accuracy(spec, spec.accuracy, "the model outputs NaN")
    assert (result.status, result.points, result.message) == ("error", 0, "the model outputs NaN")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ("[{min: 0.9, points: 2}, {min: 0.95, points: 2}]", "higher tiers must give more"),
        ("[{min: 0.9, points: 2}, {min: 0.9, points: 3}]", "two tiers have min 0.9"),
        ("[{min: 0.9, points: 5}]", "the top accuracy tier gives 5 points, more than the check's 4"),
        (
            "[{min: 1.2, points: 2}]",
            "checks[0].accuracy.tiers[0].min: Input should be less than or equal to 1",
        ),
    ],
)
def test_inconsistent_tiers_are_rubric_errors(tiers: str, message: str) -> None:
    with pytest.raises(RubricError, match=re.escape(message)):
        _accuracy_check(tiers)


def test_plots_are_png_data_uris() -> None:
    uri = plots.confusion_matrix_uri([[5, 1], [0, 7]])
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,"))[:8] == b"\x89PNG\r\n\x1a\n"
    curves = plots.training_curves_uri({"loss": [1.0, 0.5, None], "accuracy": [0.5, 0.8, 0.9]})
    assert curves is not None and curves.startswith("data:image/png;base64,")
    assert plots.training_curves_uri({"loss": []}) is None


# --- the digits exercise through the real `grade` command ----------------------------------------


def _faults_submission(folder: Path) -> tuple[Path, Path]:
    """A rubric whose data is missing, broken or absent from the Keras cache, beside one good check,
    and a notebook that looks for the held-out data from inside the sandbox."""
    images, labels = digit_arrays()
    np.savez(folder / "held.npz", x=images[:100], y=labels[:100])
    (folder / "broken.npz").write_bytes(b"PK not really a zip")
    np.savez(folder / "no-labels.npz", x=images[:10])
    tiers = "[{min: 0.0, points: 1}]"
    rubric = folder / "rubric.yaml"
    rubric.write_text(
        f"""exercise: faults
title: Faults
model: {{variable: model}}
checks:
  - {{id: good, points: 1, accuracy: {{data: {{npz: held.npz}}, preprocess: {{rescale: 0.0625, reshape: [8, 8, 1]}}, tiers: {tiers}}}}}
  - {{id: missing, points: 1, accuracy: {{data: {{npz: nowhere.npz}}, tiers: {tiers}}}}}
  - {{id: malformed, points: 1, accuracy: {{data: {{npz: broken.npz}}, tiers: {tiers}}}}}
  - {{id: no-labels, points: 1, accuracy: {{data: {{npz: no-labels.npz}}, tiers: {tiers}}}}}
  - {{id: mnist, points: 1, accuracy: {{data: {{keras: mnist}}, tiers: {tiers}}}}}
  - {{id: hidden-file, points: 1, variable: {{name: hidden_bytes, equals: 0}}}}
  - {{id: bundled-digits, points: 1, variable: {{name: bundled_digits_readable, equals: false}}}}
""",
        encoding="utf-8",
    )
    notebook = write_notebook(
        folder / "peek.ipynb",
        "import keras\n"
        "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])",
        f"try:\n    hidden_bytes = len(open({str(folder / 'held.npz')!r}, 'rb').read())\n"
        "except OSError:\n    hidden_bytes = 0",
        "from sklearn.datasets import load_digits\n"
        "try:\n    bundled_digits_readable = len(load_digits().target) > 0\n"
        "except Exception:\n    bundled_digits_readable = False",
    )
    return notebook, rubric


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graded]:
    """The digits samples, the reference solution and the faults rubric, graded by the real CLI
    two at a time (the samples train for real), with an empty Keras cache."""
    out = tmp_path_factory.mktemp("digits-reports")
    faults = tmp_path_factory.mktemp("faults")
    notebook, rubric = _faults_submission(faults)
    jobs: dict[str, tuple[Any, ...]] = {name: (path,) for name, path in SAMPLES.items()}
    jobs["faults"] = (notebook, "--rubric", rubric, "--require-sandbox")
    with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(max_workers=2) as pool:
        patch.setenv("KERAS_HOME", str(faults / "no-keras-cache"))
        futures = {name: pool.submit(run_grade, *args, out_dir=out) for name, args in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
def test_the_reference_solution_gets_full_points(graded: dict[str, Graded]) -> None:
    done = graded["solution"]
    assert done.returncode == 0, done.stderr
    accuracy = done.check("accuracy")
    assert accuracy["status"] == "pass" and accuracy["metrics"]["accuracy"] >= 0.95
    assert all(check["status"] == "pass" for check in done.result["checks"])
    assert done.result["score"] == done.result["max_score"] == 8


@pytest.mark.slow
def test_a_well_trained_model_reaches_the_top_tier_with_the_full_report(graded: dict[str, Graded]) -> None:
    done = graded["trained"]
    assert done.returncode == 0, done.stderr
    accuracy = done.check("accuracy")
    assert (accuracy["status"], accuracy["points"]) == ("pass", 4)
    metrics = accuracy["metrics"]
    assert metrics["samples"] == 360 and metrics["accuracy"] >= 0.95
    assert [t["reached"] for t in metrics["tiers"]] == [True, True, True]
    assert len(metrics["per_class"]) == 10 and sum(c["count"] for c in metrics["per_class"]) == 360
    assert sum(map(sum, metrics["confusion"])) == 360
    assert len(metrics["history"]["loss"]) == 15 and len(metrics["history"]["val_accuracy"]) == 15
    assert "base64" not in json.dumps(done.result)
    html = done.html
    assert html.count('src="data:image/png;base64,') == 2
    assert "Confusion matrix" in html and "Training curves" in html and "Per class" in html
    assert f"{metrics['accuracy']:.4f}" in html


@pytest.mark.slow
def test_a_printed_accuracy_claim_does_not_count(graded: dict[str, Graded]) -> None:
    done = graded["fake"]
    assert done.returncode == 0, done.stderr
    accuracy = done.check("accuracy")
    assert (accuracy["status"], accuracy["points"]) == ("fail", 0)
    assert accuracy["metrics"]["accuracy"] < 0.3
    assert "below the lowest tier" in accuracy["message"]
    assert accuracy["metrics"]["history"] is None
    assert "Training curves" not in done.html
    # The right network, never trained: every check but accuracy passes.
    assert [c["id"] for c in done.result["checks"] if c["status"] != "pass"] == ["accuracy"]
    assert done.result["score"] == done.result["max_score"] - accuracy["max_points"] == 4


@pytest.mark.slow
def test_too_little_training_earns_a_partial_tier(graded: dict[str, Graded]) -> None:
    done = graded["undertrained"]
    assert done.returncode == 0, done.stderr
    accuracy = done.check("accuracy")
    assert (accuracy["status"], accuracy["points"]) == ("fail", 2)
    assert 0.6 <= accuracy["metrics"]["accuracy"] < 0.9
    assert [t["reached"] for t in accuracy["metrics"]["tiers"]] == [False, False, True]
    assert "reaches the tier at least 0.6 (2 points)" in accuracy["message"]


@pytest.mark.slow
def test_a_model_for_the_wrong_input_shape_is_a_clear_check_error(graded: dict[str, Graded]) -> None:
    done = graded["wrong-shape"]
    assert done.returncode == 0, done.stderr
    accuracy = done.check("accuracy")
    assert accuracy["status"] == "error" and accuracy["points"] == 0
    assert "expects inputs of shape (64,)" in accuracy["message"]
    assert "held-out images are (8, 8, 1)" in accuracy["message"]
    assert done.check("output")["status"] == "pass"
    assert done.check("size")["status"] == "pass"
    architecture = done.check("architecture")
    assert architecture["status"] == "fail"  # a dense network, not the CNN asked for
    # Aligned with the CNN asked for, only the final Dense(10, softmax) lines up: 1 of its 7 rows.
    assert architecture["points"] == pytest.approx(2 / 7, abs=0.01)
    assert done.result["score"] == pytest.approx(2 + 2 / 7, abs=0.01)


@pytest.mark.slow
def test_data_faults_are_check_errors_and_held_out_data_is_invisible_to_the_kernel(
    graded: dict[str, Graded],
) -> None:
    done = graded["faults"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.check("good")["status"] == "pass"
    assert done.check("good")["metrics"]["samples"] == 100
    errors = {check: done.check(check) for check in ("missing", "malformed", "no-labels", "mnist")}
    assert all(c["status"] == "error" and c["points"] == 0 for c in errors.values())
    assert "nowhere.npz was not found" in errors["missing"]["message"]
    assert "broken.npz is not a readable .npz file" in errors["malformed"]["message"]
    assert "has no array y" in errors["no-labels"]["message"]
    assert "mnist.npz" in errors["mnist"]["message"] and "never downloads" in errors["mnist"]["message"]
    assert done.check("hidden-file")["status"] == "pass"
    assert done.check("bundled-digits")["status"] == "pass", done.check("bundled-digits")["message"]
    assert done.result["score"] == 3
