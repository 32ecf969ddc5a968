"""Training-configuration checks (issue 22, item 3): what a model was compiled and fitted with.

A rubric's `training:` check names a loss, an optimizer and its learning rate, metrics, epochs,
a batch size, callbacks, augmentation, validation, or that the loss fits the labels. Names are
held to Keras' own when the rubric loads (without importing Keras); the kernel notes each `fit`
call and the probe reports the compile settings; the grader bounds those facts (they come from
the student's process, so they are hostile input) and compares them, explaining a mismatch in
the lesson's terms: a sparse loss with one-hot labels is told exactly that.

Fast tests build the probe's facts by hand; the slow ones grade real notebooks through `grade`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grader.errors import RubricError
from grader.grading.probe import ProbeFacts, TrainingFacts
from grader.grading.training_check import check_training, layer_augmentation
from grader.inside.kernel import budget
from grader.rubric import training
from grader.rubric.model import CheckSpec, parse_rubric
from tests.conftest import REPO, GradeRunner

HEAD = "exercise: t\ntitle: T\nchecks:\n"
ONE_HOT = {"shape": [1797, 10], "kind": "one_hot", "classes": 10}
INTEGERS = {"shape": [1797], "kind": "integer", "classes": 10}
LESSON_COMPILE = {
    "loss": ["categorical_crossentropy"],
    "optimizer": "RMSprop",
    "learning_rate": 0.0010000000474974513,
    "metrics": ["accuracy"],
}
LESSON_FIT = {
    "epochs": 100,
    "epochs_run": 1,
    "batch_size": 32,
    "validation": True,
    "callbacks": [{"type": "ModelCheckpoint", "settings": {"monitor": "val_loss", "save_best_only": True}}],
    "labels": ONE_HOT,
}


def check_spec(points: float = 1, partial: bool = True, **expected: Any) -> CheckSpec:
    return CheckSpec.model_validate({"id": "t", "points": points, "partial": partial, "training": expected})


def probe(
    compile: dict[str, Any] | None = None, fits: list[dict[str, Any]] | None = None, **more: Any
) -> ProbeFacts:
    fitted = [LESSON_FIT] if fits is None else fits
    facts: dict[str, Any] = {
        "compile": LESSON_COMPILE if compile is None else compile,
        "fits": fitted,
        "fit_count": len(fitted),
        "last_fit": 0 if fitted else None,
        **more,
    }
    model = {"variable": "model", "class": "Sequential", "built": True, "training": facts}
    return ProbeFacts.model_validate({"models": [model]})


def graded(
    facts: ProbeFacts, points: float = 1, partial: bool = True, **expected: Any
) -> tuple[float, str, str]:
    spec = check_spec(points, partial, **expected)
    assert spec.training is not None
    result = check_training(spec, spec.training, facts, "model")
    return result.points, result.status, result.message


def load_error(text: str) -> str:
    with pytest.raises(RubricError) as caught:
        parse_rubric(HEAD + text, source="r.yaml")
    return caught.value.message


# --- the rubric: names held to Keras' ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "spellings"),
    [
        ("loss", ["categorical_crossentropy", "CategoricalCrossentropy", "categoricalCrossentropy"]),
        ("optimizer", ["rmsprop", "RMSprop", "RMSProp"]),
    ],
)
def test_keras_spellings_of_one_name_are_one_name(key: str, spellings: list[str]) -> None:
    canonical = {"loss": training.canonical_loss, "optimizer": training.canonical_optimizer}[key]
    assert {canonical(name) for name in spellings} == {spellings[0] if key == "loss" else "RMSprop"}
    for name in spellings:
        rubric = parse_rubric(HEAD + f"  - {{id: a, points: 1, training: {{{key}: {name}}}}}\n")
        assert getattr(rubric.checks[0].training, key) == name


def test_short_names_keras_accepts_are_accepted() -> None:
    assert training.canonical_loss("mse") == "mean_squared_error"
    assert training.canonical_metric("acc") == "accuracy"
    assert training.canonical_metric("CategoricalAccuracy") == "categorical_accuracy"
    assert training.canonical_callback("modelcheckpoint") == "ModelCheckpoint"


@pytest.mark.parametrize(
    ("entry", "needle", "message"),
    [
        (
            "training: {loss: categorical_crosentropy}",
            "loss",
            "unknown loss 'categorical_crosentropy' (did you mean categorical_crossentropy?)",
        ),
        (
            "training: {optimizer: rmsprob}",
            "optimizer",
            "unknown optimizer 'rmsprob' (did you mean RMSprop?)",
        ),
        (
            "training: {callbacks: [EarlyStopping, ModelCheckpiont]}",
            "ModelCheckpiont",
            "unknown callback 'ModelCheckpiont' (did you mean ModelCheckpoint?)",
        ),
        ("training: {metrics: [acuracy]}", "acuracy", "unknown metric 'acuracy' (did you mean accuracy?)"),
        (
            "training: {augmentation: {horizontal_flips: true}}",
            "horizontal_flips",
            "unknown ImageDataGenerator setting 'horizontal_flips' (did you mean horizontal_flip?)",
        ),
    ],
)
def test_a_misspelt_name_is_an_error_at_its_line_with_the_nearest_keras_name(
    entry: str, needle: str, message: str
) -> None:
    error = load_error("  - id: a\n    points: 1\n    " + entry + "\n")
    column = len("    ") + entry.index(needle) + 1
    assert f"r.yaml:6:{column}: " in error, error
    assert message in error


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("training: {}", "a training check needs at least one of loss, optimizer"),
        ("training: {loss_fits_labels: false}", "loss_fits_labels"),
        ("training: {learning_rate: -0.1}", "learning_rate"),
        ("training: {epochs: {min: 10, max: 5}}", "min (10) is greater than max (5)"),
        ("training: {batch_size: 0}", "batch_size"),
        ("training: {loss: mse, optimiser: adam}", "unknown key 'optimiser'"),
    ],
)
def test_a_training_check_that_cannot_mean_anything_is_refused(entry: str, message: str) -> None:
    assert message in load_error(f"  - {{id: a, points: 1, {entry}}}\n")


def test_rubric_check_exits_3_on_an_unknown_optimizer(grade_cli: GradeRunner, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        HEAD + "  - id: opt\n    points: 1\n    training: {optimizer: rmsprob}\n", encoding="utf-8"
    )
    done = grade_cli("rubric", "check", path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert (
        f"{path}:6:16: checks[0].training.optimizer: unknown optimizer 'rmsprob' (did you mean RMSprop?)"
        in (done.stdout)
    )


def test_the_committed_training_rubric_checks_clean(grade_cli: GradeRunner) -> None:
    done = grade_cli(
        "rubric", "check", "--strict", "rubrics/digits-training.yaml", "rubrics/cifar10-cnn-dropout.yaml"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout


# --- the check, on hand-built facts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "compile", "fit", "mismatch"),
    [
        ({"loss": "CategoricalCrossentropy"}, {}, {}, None),
        (
            {"loss": "categorical_crossentropy"},
            {"loss": ["mean_squared_error"]},
            {},
            "loss: expected categorical_crossentropy, found mean_squared_error",
        ),
        ({"optimizer": "rmsprop"}, {}, {}, None),
        ({"optimizer": "rmsprop"}, {"optimizer": "Adam"}, {}, "optimizer: expected RMSprop, found Adam"),
        ({"learning_rate": 0.001}, {}, {}, None),
        ({"learning_rate": {"max": 0.0001}}, {}, {}, "learning_rate: expected at most 0.0001, found 0.001"),
        ({"metrics": ["accuracy"]}, {"metrics": ["categorical_accuracy"]}, {}, None),
        (
            {"metrics": ["accuracy"]},
            {"metrics": []},
            {},
            "metrics: expected accuracy among the compiled metrics",
        ),
        ({"epochs": {"min": 10}}, {}, {}, None),
        ({"epochs": 20}, {}, {}, "epochs: expected 20, found 100"),
        ({"batch_size": 32}, {}, {}, None),
        ({"batch_size": 64}, {}, {}, "batch_size: expected 64, found 32"),
        ({"callbacks": ["ModelCheckpoint"]}, {}, {}, None),
        (
            {"callbacks": ["EarlyStopping"]},
            {},
            {},
            "callbacks: expected EarlyStopping, found ModelCheckpoint",
        ),
        ({"validation": True}, {}, {}, None),
        ({"validation": True}, {}, {"validation": False}, "validation: the last fit call did not validate"),
        ({"loss_fits_labels": True}, {}, {}, None),
        (
            {"augmentation": {"horizontal_flip": True}},
            {},
            {},
            "augmentation: none found (fit on ImageDataGenerator(...).flow(x, y)",
        ),
    ],
)
def test_each_key_matches_or_names_what_it_expected_and_found(
    expected: dict[str, Any], compile: dict[str, Any], fit: dict[str, Any], mismatch: str | None
) -> None:
    facts = probe({**LESSON_COMPILE, **compile}, [{**LESSON_FIT, **fit}])
    points, status, message = graded(facts, **expected)
    if mismatch is None:
        assert (points, status) == (1, "pass"), message
        assert "as expected" in message or "suits" in message
    else:
        assert (points, status) == (0, "fail")
        assert mismatch in message, message


def test_a_sparse_loss_with_one_hot_labels_is_told_exactly_that() -> None:
    facts = probe({**LESSON_COMPILE, "loss": ["sparse_categorical_crossentropy"]})
    _, _, message = graded(facts, loss_fits_labels=True)
    assert message == (
        "`model`: the loss does not fit the labels: sparse_categorical_crossentropy expects integer class labels, "
        "but the labels fitted on are one-hot (shape (1797, 10), 10 classes): with one-hot labels use "
        "categorical_crossentropy (or fit on the integer labels)"
    )
    _, _, loss_message = graded(facts, loss="categorical_crossentropy")
    assert (
        "found sparse_categorical_crossentropy (sparse_categorical_crossentropy expects integer"
        in loss_message
    )
    assert "one-hot (shape (1797, 10), 10 classes)" in loss_message


def test_a_one_hot_loss_with_integer_labels_is_told_exactly_that() -> None:
    facts = probe(LESSON_COMPILE, [{**LESSON_FIT, "labels": INTEGERS}])
    points, status, message = graded(facts, loss_fits_labels=True)
    assert (points, status) == (0, "fail")
    assert (
        "categorical_crossentropy expects one-hot labels, but the labels fitted on are integer class labels "
        "(shape (1797,), 10 classes): with integer labels use sparse_categorical_crossentropy (or one-hot encode "
        "them with keras.utils.to_categorical)"
    ) in message
    assert (
        graded(
            probe(
                {**LESSON_COMPILE, "loss": ["SparseCategoricalCrossentropy"]},
                [{**LESSON_FIT, "labels": INTEGERS}],
            ),
            loss_fits_labels=True,
        )[1]
        == "pass"
    )


def test_without_labels_to_see_the_loss_cannot_be_said_to_fit() -> None:
    _, status, message = graded(
        probe(LESSON_COMPILE, [{**LESSON_FIT, "labels": None}]), loss_fits_labels=True
    )
    assert status == "fail" and "could not see the labels" in message


def test_partial_credit_is_the_share_of_keys_matched_and_names_every_mismatch() -> None:
    facts = probe({**LESSON_COMPILE, "optimizer": "Adam"}, [{**LESSON_FIT, "batch_size": 128}])
    expected: dict[str, Any] = {"optimizer": "rmsprop", "learning_rate": 0.001, "batch_size": 32}
    points, status, message = graded(facts, points=3, **expected)
    assert (points, status) == (1, "fail")
    assert (
        "optimizer: expected RMSprop, found Adam" in message
        and "batch_size: expected 32, found 128" in message
    )
    assert graded(facts, points=3, partial=False, **expected)[:2] == (0, "fail")


def test_epochs_add_up_over_the_fit_calls_as_asked_before_the_budget() -> None:
    fits = [{**LESSON_FIT, "epochs": 5, "epochs_run": 1}, {**LESSON_FIT, "epochs": 5, "epochs_run": 1}]
    assert graded(probe(LESSON_COMPILE, fits), epochs=10)[1] == "pass"


def test_an_uncompiled_or_unfitted_model_says_so() -> None:
    facts = ProbeFacts.model_validate(
        {"models": [{"variable": "model", "class": "Sequential", "built": True, "training": {"fits": []}}]}
    )
    assert "the model was never compiled" in graded(facts, loss="mse")[2]
    assert "the model was never fitted" in graded(facts, epochs=1)[2]


def test_augmentation_reads_the_generator_and_the_preprocessing_layers() -> None:
    generator = {
        "horizontal_flip": True,
        "width_shift_range": 0.1,
        "zoom_range": [0.8, 1.2],
        "rotation_range": 0,
    }
    facts = probe(LESSON_COMPILE, [{**LESSON_FIT, "augmentation": generator}])
    assert (
        graded(facts, augmentation={"horizontal_flip": True, "width_shift_range": 0.1, "zoom_range": 0.2})[1]
        == "pass"
    )
    _, _, message = graded(facts, augmentation={"vertical_flip": True, "width_shift_range": 0.2})
    assert (
        "vertical_flip expected True, found None" in message
        and "width_shift_range expected 0.2, found 0.1" in message
    )
    layers = probe(
        augmentation_layers=[
            {"type": "RandomFlip", "settings": {"mode": "horizontal"}},
            {"type": "RandomTranslation", "settings": {"height_factor": 0.1, "width_factor": [-0.1, 0.1]}},
        ]
    )
    assert graded(layers, augmentation={"horizontal_flip": True, "width_shift_range": 0.1})[1] == "pass"
    assert layer_augmentation(layers.models[0].training.augmentation_layers)["vertical_flip"] is False  # type: ignore[union-attr]


def test_without_a_named_model_the_model_fitted_last_is_checked() -> None:
    first = {
        "variable": "first",
        "class": "Sequential",
        "built": True,
        "training": {"compile": {**LESSON_COMPILE, "optimizer": "SGD"}, "fits": [LESSON_FIT], "last_fit": 0},
    }
    second = {
        "variable": "second",
        "class": "Sequential",
        "built": True,
        "training": {"compile": LESSON_COMPILE, "fits": [LESSON_FIT], "last_fit": 1},
    }
    facts = ProbeFacts.model_validate({"models": [second, first]})
    spec = check_spec(optimizer="rmsprop")
    assert spec.training is not None
    result = check_training(spec, spec.training, facts, None)
    assert (result.status, result.message) == ("pass", "`second`: optimizer RMSprop, as expected")
    missing = check_training(spec, spec.training, facts, "modle")
    assert (missing.status, missing.message) == ("fail", "the notebook does not define the model `modle`")
    unfinished = check_training(spec, spec.training, None, "model")
    assert unfinished.status == "error" and "did not finish" in unfinished.message


# --- hostile facts: bounded, refused alone, never a crash or a point -----------------------------


def hostile(training: Any) -> ProbeFacts:
    """Facts as the grader reads them: JSON from the student's process (artifacts admit up to 4 MB of it)."""
    model = {
        "variable": "model",
        "class": "Sequential",
        "built": True,
        "history": {"loss": [0.5]},
        "training": training,
    }
    return ProbeFacts.model_validate_json(json.dumps({"models": [model], "device": "CPU"}))


@pytest.mark.parametrize(
    "training",
    [
        {"compile": {"loss": ["x" * 10_000_000], "optimizer": "RMSprop"}},
        {"fits": [{**LESSON_FIT, "callbacks": [{}] * 1_000_000}]},
        {"fits": [{}] * 1_000_000},
        {"compile": {"loss": 5, "optimizer": ["RMSprop"]}},
        {"compile": LESSON_COMPILE, "fits": "all of them"},
        {"compile": {**LESSON_COMPILE, "learning_rate": "NaN"}},
        {
            "compile": LESSON_COMPILE,
            "fits": [{**LESSON_FIT, "labels": {"shape": [1] * 100, "kind": "one_hot"}}],
        },
        {"compile": LESSON_COMPILE, "fits": [{**LESSON_FIT, "labels": {"shape": [2], "kind": "telepathic"}}]},
        {"compile": LESSON_COMPILE, "score": 100},
        "full marks please",
        [1, 2, 3],
    ],
    ids=[
        "10MB-loss",
        "10^6-callbacks",
        "10^6-fits",
        "wrong-types",
        "fits-a-string",
        "nan-rate",
        "deep-shape",
        "unknown-label-kind",
        "extra-key",
        "a-string",
        "a-list",
    ],
)
def test_hostile_training_facts_are_refused_alone_quickly_and_score_nothing(training: Any) -> None:
    started = time.perf_counter()
    facts = hostile(training)
    assert time.perf_counter() - started < 5
    model = facts.models[0]
    assert model.history == {"loss": [0.5]}, "the model's other facts still stand"
    assert model.training is not None and model.training.refused
    assert len(model.training.refused) <= 300
    points, status, message = graded(facts, loss="categorical_crossentropy", optimizer="rmsprop")
    assert (points, status) == (0, "fail")
    assert "training facts the notebook reported for `model` were refused" in message
    assert len(message) < 500


def test_long_names_within_bounds_are_shown_as_found_not_trusted() -> None:
    facts = probe({**LESSON_COMPILE, "loss": ["categorical_crossentropy_" + "x" * 70]})
    points, status, message = graded(facts, loss="categorical_crossentropy")
    assert (points, status) == (0, "fail") and "x" * 70 in message


def test_the_kernel_reads_labels_from_their_shape_and_first_rows() -> None:
    import numpy as np

    integers = np.arange(5000) % 10
    assert budget._labels(integers) == {"shape": [5000], "kind": "integer", "classes": 10}
    assert budget._labels(np.eye(10)[integers]) == {"shape": [5000, 10], "kind": "one_hot", "classes": 10}
    sorted_labels = budget._labels(np.sort(integers)[:, None])
    assert sorted_labels is not None and sorted_labels["classes"] == 10, (
        "from every label, not the first rows"
    )
    assert budget._labels(np.full((4, 3), 0.3)) == {"shape": [4, 3], "kind": "other", "classes": None}
    assert budget._labels("not an array") is None
    assert (
        TrainingFacts.model_validate({"fits": [{"labels": budget._labels(np.eye(3))}]}).fits[0].labels
        is not None
    )


# --- against the installed Keras and real notebooks (slow) ---------------------------------------


KERAS_NAMES = """
import inspect, json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
from keras.src.legacy.preprocessing.image import ImageDataGenerator
def classes(module, base):
    return sorted(n for n, v in vars(module).items()
                  if not n.startswith("_") and isinstance(v, type) and issubclass(v, base) and v is not base)
def functions(module):
    return sorted(n for n, v in vars(module).items()
                  if not n.startswith("_") and inspect.isfunction(v) and n not in ("get", "serialize", "deserialize"))
print(json.dumps({
    "version": keras.__version__,
    "loss_classes": classes(keras.losses, keras.losses.Loss),
    "losses": functions(keras.losses),
    "optimizers": classes(keras.optimizers, keras.optimizers.Optimizer),
    "callbacks": classes(keras.callbacks, keras.callbacks.Callback),
    "metric_classes": classes(keras.metrics, keras.metrics.Metric),
    "metrics": functions(keras.metrics),
    "generator": [p for p in inspect.signature(ImageDataGenerator.__init__).parameters if p != "self"],
    "legacy": sorted(n for n in dir(getattr(keras.optimizers, "legacy", None)) if n[:1].isupper()),
}))
"""


@pytest.mark.slow
def test_the_name_tables_are_keras_own() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KERAS_NAMES], capture_output=True, text=True, check=True, timeout=300
    )
    keras = json.loads(done.stdout.strip().splitlines()[-1])
    assert keras["version"] == training.KERAS_VERSION, "regenerate the tables in grader/rubric/training.py"
    assert tuple(keras["loss_classes"]) == training.LOSS_CLASSES
    assert tuple(keras["losses"]) == training.LOSSES
    assert tuple(keras["optimizers"]) == training.OPTIMIZERS
    assert tuple(keras["callbacks"]) == training.CALLBACKS
    assert tuple(keras["metric_classes"]) == training.METRIC_CLASSES
    assert tuple(keras["generator"]) == training.IMAGE_DATA_GENERATOR
    assert {training.canonical_loss(name) for name in keras["loss_classes"]} == set(training.LOSSES)
    assert all(training.canonical_metric(name) for name in keras["metrics"] + keras["metric_classes"])
    assert all(training.canonical_optimizer(name) for name in keras["legacy"] if name != "Optimizer")


KERNEL_FACTS = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
from grader.inside.kernel import budget, keras2, probe
sys.modules["grader_kernel.budget"] = budget
keras2.install(keras)
budget.install(keras, {"compat": "keras2", "max_epochs": 1})
from keras.preprocessing.image import ImageDataGenerator
x = np.random.rand(64, 8, 8, 1).astype("float32")
y = keras.utils.to_categorical(np.arange(64) % 3, 3)
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.RandomFlip("horizontal"), keras.layers.Flatten(),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer=keras.optimizers.RMSprop(learning_rate=0.002),
              metrics=["acc"])
datagen = ImageDataGenerator(width_shift_range=0.1, zoom_range=0.2, horizontal_flip=True)
stop = keras.callbacks.EarlyStopping(patience=3)
model.fit_generator(datagen.flow(x, y, batch_size=16), steps_per_epoch=2, epochs=5, callbacks=[stop], verbose=0)
errors = []
print(json.dumps(probe.training_of(model, errors, "model")), errors)
"""


@pytest.mark.slow
def test_the_kernel_notes_a_keras2_fit_generator_call_with_its_augmentation() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KERNEL_FACTS],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=REPO,
    )
    line, errors = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert errors == "[]"
    facts = TrainingFacts.model_validate(json.loads(line))
    assert facts.refused is None and facts.compile is not None
    assert facts.compile.model_dump() == {
        "loss": ("CategoricalCrossentropy",),
        "optimizer": "RMSprop",
        "learning_rate": pytest.approx(0.002),
        "metrics": ("acc",),
    }
    (fit,) = facts.fits
    assert (fit.epochs, fit.epochs_run, fit.batch_size, fit.validation) == (5, 1, 16, False)
    assert [(c.type, c.settings["patience"]) for c in fit.callbacks] == [("EarlyStopping", 3)]
    assert fit.labels is not None and (fit.labels.kind, fit.labels.classes) == ("one_hot", 3)
    assert fit.augmentation is not None
    assert (fit.augmentation["width_shift_range"], fit.augmentation["zoom_range"]) == (0.1, [0.8, 1.2])
    assert [layer.type for layer in facts.augmentation_layers] == ["RandomFlip"]
    assert (facts.fit_count, facts.epochs_asked) == (1, 5)


TRAINING_RUBRIC = REPO / "rubrics" / "digits-training.yaml"


@pytest.mark.slow
def test_the_lesson_set_up_gets_full_marks_through_grade(grade: GradeRunner) -> None:
    done = grade(REPO / "submissions" / "training" / "matching.ipynb", "--rubric", TRAINING_RUBRIC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.result["score"] == done.result["max_score"] == 7
    assert done.check("architecture")["status"] == "pass"
    assert done.check("loss")["message"] == "`model`: loss categorical_crossentropy, as expected"
    assert done.check("optimizer")["status"] == "pass"


@pytest.mark.slow
def test_a_sparse_loss_on_one_hot_labels_and_adam_are_charged_with_the_lesson_s_reason(
    grade: GradeRunner,
) -> None:
    done = grade(REPO / "submissions" / "training" / "mismatching.ipynb", "--rubric", TRAINING_RUBRIC)
    assert done.returncode == 0, done.stdout + done.stderr
    loss, optimizer, labels = done.check("loss"), done.check("optimizer"), done.check("labels")
    assert (loss["status"], loss["points"], optimizer["points"], labels["points"]) == ("fail", 0, 0, 0)
    assert "expected categorical_crossentropy, found sparse_categorical_crossentropy" in loss["message"]
    assert (
        "expects integer class labels, but the labels fitted on are one-hot (shape (1797, 10), 10 classes)"
        in (labels["message"])
    )
    assert "optimizer: expected RMSprop, found Adam" in optimizer["message"]
    architecture = done.check("architecture")
    charged = [row for row in architecture["layer_rows"] if row["status"] == "mismatch"]
    assert [row["expected"]["dilation_rate"] for row in charged] == [2], architecture
    assert "dilation_rate (1, 1), expected (2, 2)" in charged[0]["differences"]
    assert [row["follows_from"] for row in architecture["layer_rows"][1:3]] == [1, 1]
    assert done.result["score"] == pytest.approx(0.67 + 3 * 3 / 4, abs=0.01)


def test_epochs_come_from_the_kernel_s_total_when_more_fits_ran_than_were_kept() -> None:
    looped = probe(LESSON_COMPILE, [{**LESSON_FIT, "epochs": 1}] * 20, fit_count=100, epochs_asked=100)
    assert graded(looped, epochs={"min": 100})[1] == "pass"
    unknown = probe(LESSON_COMPILE, [{**LESSON_FIT, "epochs": 1}] * 20, fit_count=100)
    assert "epochs: epochs asked for across the fit calls could not be read" in graded(unknown, epochs=100)[2]


def test_the_kernel_records_every_generator_setting_a_rubric_may_name() -> None:
    """The kernel's list (it imports nothing of the grader's) and the rubric's are one list written twice."""
    from grader.inside.kernel import budget
    from grader.rubric import training

    assert tuple(budget.GENERATOR_SETTINGS) == training.AUGMENTATION_SETTINGS
