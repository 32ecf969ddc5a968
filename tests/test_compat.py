"""The course's own 2017 notebooks under Keras 3: the `keras2` layer, migration hints, training budgets.

Every sample in submissions/legacy/ is graded through the real `grade` command with the
compatibility layer on and must reach the same architecture result as its modern twin; with the
layer off, the report must explain each failure. The gradings run once per module, two at a time.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from grader.grading.migration import scan
from grader.grading.submission import Cell

from .conftest import REPO, Graded, run_grade

pytestmark = pytest.mark.slow

# name -> (submission, extra arguments); the legacy samples and their modern twins.
GRADINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conv-dims": ("submissions/legacy/conv-dims.ipynb", ("--compat", "keras2")),
    "conv-dims-twin": ("exercises/conv-dims/solution.ipynb", ()),
    "pool-dims": ("submissions/legacy/pool-dims.ipynb", ("--compat", "keras2")),
    "pool-dims-twin": ("exercises/pool-dims/solution.ipynb", ()),
    "cifar": ("submissions/legacy/cifar10-cnn-dropout.ipynb", ()),
    "cifar-twin": ("submissions/twins/cifar10-cnn-dropout.ipynb", ()),
    "cifar-off": ("submissions/legacy/cifar10-cnn-dropout.ipynb", ("--compat", "none")),
    "mnist": ("submissions/legacy/mnist-mlp.ipynb", ()),
    "mnist-again": ("submissions/legacy/mnist-mlp.ipynb", ()),
    "mnist-twin": ("submissions/twins/mnist-mlp.ipynb", ()),
    "augmentation": ("submissions/legacy/cifar10-augmentation.ipynb", ()),
    "augmentation-twin": ("submissions/twins/cifar10-augmentation.ipynb", ()),
    "augmentation-off": ("submissions/legacy/cifar10-augmentation.ipynb", ("--compat", "none")),
    "keras1": ("submissions/legacy/conv-dims-keras1.py", ("--compat", "keras2")),
}
TWINS = [
    ("conv-dims", "conv-dims-twin", "conv-layer"),
    ("pool-dims", "pool-dims-twin", "pool-layer"),
    ("cifar", "cifar-twin", "architecture"),
    ("mnist", "mnist-twin", "architecture"),
    ("augmentation", "augmentation-twin", "architecture"),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graded]:
    def one(name: str) -> tuple[str, Graded]:
        submission, extra = GRADINGS[name]
        return name, run_grade(submission, *extra, out_dir=tmp_path_factory.mktemp(name))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, GRADINGS))


def uses(graded: Graded) -> list[tuple[Any, ...]]:
    return [(u["cell"], u["line"], u["idiom"]) for u in graded.result["kernel_setup"]["uses"]]


def hints(graded: Graded) -> list[tuple[Any, ...]]:
    return [(h["cell"], h["line"], h["idiom"]) for h in graded.result["migration"]]


@pytest.mark.parametrize(("legacy", "twin", "check"), TWINS)
def test_a_legacy_notebook_grades_like_its_modern_twin(
    graded: dict[str, Graded], legacy: str, twin: str, check: str
) -> None:
    old, new = graded[legacy], graded[twin]
    assert old.returncode == 0 and new.returncode == 0, old.stderr + new.stderr
    assert old.result["kernel_setup"]["compat"] == "keras2"
    assert old.result["run"]["failing_cells"] == []
    for field in ("status", "points", "max_points", "layer_rows"):
        assert old.check(check)[field] == new.check(check)[field], field
    assert old.check(check)["status"] == "pass"
    assert old.result["score"] == new.result["score"] == old.result["max_score"]
    assert new.result["migration"] == []


def test_each_legacy_use_is_listed_with_its_cell_and_line(graded: dict[str, Graded]) -> None:
    assert uses(graded["cifar"]) == [
        (2, 2, "keras.utils.np_utils"),
        (3, 2, "keras.layers.convolutional"),
        (3, 3, "keras.layers.core"),
        (5, 3, "a .hdf5 model file"),
        (5, 4, "nb_epoch="),
        (6, 1, "a .hdf5 model file"),
        (6, 2, "history['val_acc']"),
        (6, 3, "history['acc']"),
    ]
    assert uses(graded["augmentation"]) == [
        (2, 1, "keras.utils.np_utils"),
        (3, 1, "keras.preprocessing.image.ImageDataGenerator"),
        (5, 5, "a .hdf5 model file"),
        (5, 6, "fit_generator"),
        (6, 1, "a .hdf5 model file"),
        (6, 2, "evaluate_generator"),
    ]
    assert [u[2] for u in uses(graded["conv-dims"])] == ["keras.layers.convolutional"]
    assert [u[2] for u in uses(graded["pool-dims"])] == ["keras.layers.pooling"]
    checkpoint = next(
        u for u in graded["mnist"].result["kernel_setup"]["uses"] if u["idiom"] == "a .hdf5 model file"
    )
    assert (checkpoint["found"], checkpoint["keras3"]) == ("mnist.model.best.hdf5", "mnist.model.best.keras")
    html = graded["cifar"].html
    assert "Keras 2 → Keras 3" in html and "model.weights.best.keras" in html and "fit_generator" not in html


def test_migration_hints_are_the_same_with_the_layer_on_or_off(graded: dict[str, Graded]) -> None:
    on, off = graded["cifar"].result["migration"], graded["cifar-off"].result["migration"]
    assert on == off
    assert hints(graded["cifar"]) == [
        (2, 2, "keras.utils.np_utils"),
        (2, 5, "keras.utils.np_utils"),
        (3, 2, "keras.layers.convolutional"),
        (3, 3, "keras.layers.core"),
        (5, 3, "a .hdf5 model file"),
        (5, 4, "nb_epoch="),
        (6, 1, "a .hdf5 model file"),
        (6, 2, "history['val_acc']"),
        (6, 3, "history['acc']"),
    ]
    nb_epoch = next(h for h in on if h["idiom"] == "nb_epoch=")
    assert nb_epoch["keras3"] == "epochs=" and "nb_epoch=100" in nb_epoch["found"]


def test_without_the_layer_the_report_explains_each_keras2_failure(graded: dict[str, Graded]) -> None:
    cifar = graded["cifar-off"]
    assert cifar.returncode == 0
    assert cifar.result["kernel_setup"]["compat"] is None
    cells = {c["number"]: c for c in cifar.result["run"]["cells"]}
    assert cells[2]["error_name"] in ("ImportError", "ModuleNotFoundError")
    assert "keras.utils.to_categorical" in cells[2]["hint"]
    assert cells[3]["error_name"] == "ModuleNotFoundError"
    assert "import the layers from `keras.layers`" in cells[3]["hint"]
    assert cifar.result["score"] == 0
    augmentation = {c["number"]: c for c in graded["augmentation-off"].result["run"]["cells"]}
    assert "ImageDataGenerator" in augmentation[3]["hint"]
    assert ".keras" in augmentation[5]["hint"] and augmentation[5]["error_name"] == "ValueError"
    html = cifar.html
    assert "was removed in Keras 3" in html and "no compatibility layer was on" in html


def test_training_is_capped_and_the_cap_is_reported(graded: dict[str, Graded]) -> None:
    setup = graded["mnist"].result["kernel_setup"]
    assert setup["max_epochs"] == 2
    events = [e["event"] for e in setup["training"]]
    assert events == ["epochs_capped", "trained"]
    assert setup["training"][0]["detail"] == "fit asked for 10 epochs; ran 2"
    assert (setup["training"][0]["cell"], setup["training"][0]["line"]) == (4, 4)
    assert "fit asked for 10 epochs; ran 2" in graded["mnist"].html
    fit_generator = graded["augmentation"].result["kernel_setup"]["training"]
    assert fit_generator[0]["detail"] == "fit asked for 100 epochs; ran 1"


def test_a_regrade_trains_to_the_same_numbers(graded: dict[str, Graded]) -> None:
    first = graded["mnist"].result["kernel_setup"]["training"][-1]["final"]
    again = graded["mnist-again"].result["kernel_setup"]["training"][-1]["final"]
    assert set(first) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert first == again


def test_a_keras1_convolution_is_refused_with_the_keras2_spelling(graded: dict[str, Graded]) -> None:
    keras1 = graded["keras1"]
    cell = next(c for c in keras1.result["run"]["cells"] if c["number"] == 3)
    assert cell["error_name"] == "LegacyKerasError"
    assert "Keras 1 form" in cell["error_value"] and "Conv2D(16, (2, 2))" in cell["error_value"]
    assert uses(keras1) == [(3, 3, "Conv2D(filters, rows, cols) (Keras 1)")]
    assert keras1.check("conv-layer")["status"] != "pass"
    idioms = {h["idiom"] for h in keras1.result["migration"]}
    assert {
        "Convolution2D(filters, rows, cols) (Keras 1)",
        "subsample= (Keras 1)",
        "border_mode= (Keras 1)",
    } <= idioms


def test_framework_warnings_are_folded_away_not_shown_as_output(graded: dict[str, Graded]) -> None:
    cell = next(c for c in graded["pool-dims"].result["run"]["cells"] if c["number"] == 2)
    assert "Do not pass an `input_shape`" in cell["noise"]
    assert "UserWarning" not in cell["output"] and "Total params" in cell["output"]


def test_a_submitted_checkpoint_is_loaded_instead_of_training(tmp_path: Path) -> None:
    import keras

    folder = tmp_path / "hand-in"
    folder.mkdir()
    shutil.copy(REPO / "submissions/legacy/cifar10-cnn-dropout.ipynb", folder)
    keras.utils.set_random_seed(1)
    layers = keras.layers
    trained = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            *[
                block
                for filters in (16, 32, 64)
                for block in (
                    layers.Conv2D(filters, 2, padding="same", activation="relu"),
                    layers.MaxPooling2D(2),
                )
            ],
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ]
    )
    trained.save(folder / "model.weights.best.keras")
    graded = run_grade(folder / "cifar10-cnn-dropout.ipynb", out_dir=tmp_path / "reports", cwd=REPO)
    assert graded.returncode == 0, graded.stderr
    setup = graded.result["kernel_setup"]
    assert setup["checkpoint_submitted"] is True
    assert [e["event"] for e in setup["training"]] == ["checkpoint_loaded"]
    assert "instead of training" in setup["training"][0]["detail"]
    cells = {c["number"]: c for c in graded.result["run"]["cells"]}
    assert cells[5]["status"] == "ok" and "Epoch 1" not in cells[5]["output"]
    assert cells[6]["error_name"] == "KeyError" and cells[6]["hint"] is None, "no history: fit did not train"
    assert graded.check("architecture")["status"] == "pass"
    assert "You handed in" in graded.html


def test_the_static_scan_reads_cells_that_do_not_parse_line_by_line() -> None:
    cells = [
        Cell(number=1, source="%matplotlib inline\nfrom keras.utils import np_utils\nhist.history['acc']"),
        Cell(number=2, source="model.fit_generator(gen, nb_epoch=3\nprint('unclosed'"),
    ]
    assert [(h.cell, h.line, h.idiom) for h in scan(cells)] == [
        (1, 2, "keras.utils.np_utils"),
        (1, 3, "history['acc']"),
        (2, 1, "fit_generator"),
        (2, 1, "nb_epoch="),
    ]
