"""`grade rubric check` knows Keras: layer types, settings, activations, the model variable, data (issue 22, item 1).

Before, `type: MaxPool2d`, `activation: softmx` and `model: {variable: modle}` all printed `ok`
and a whole class would have been graded 0 on a check nobody could pass. Each mistake is now an
error at its line and column with the nearest valid name, found without starting a kernel or
importing Keras (the table of layer classes is generated from Keras and held to it below).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.authoring import lint
from grader.errors import RubricError
from grader.grading.alignment import same_setting
from grader.rubric import keras_catalog
from grader.rubric.model import parse_rubric
from tests.conftest import GradeRunner

SOLUTION = {
    "cells": [
        {
            "id": f"c{n}",
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": src,
        }
        for n, src in enumerate(
            ["%matplotlib inline\nimport keras", "model = keras.Sequential([keras.layers.Dense(2)])"]
        )
    ],
    "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def rubric_text(layer: str = "{type: Conv2D, filters: 8}", head: str = "", check: str = "") -> str:
    return (
        f"exercise: keras-lint\ntitle: Keras lint\n{head}checks:\n"
        f"  - id: arch\n    points: 1\n    layers:\n      - {layer}\n{check}"
    )


def position(text: str, needle: str) -> str:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f"{number}:{line.index(needle) + 1}"
    raise AssertionError(needle)


def load_error(text: str) -> str:
    with pytest.raises(RubricError) as caught:
        parse_rubric(text, source="r.yaml")
    return caught.value.message


# --- at load time: types, settings and activations against Keras' own table ------------------------


def test_a_misspelt_layer_type_names_the_keras_class() -> None:
    text = rubric_text("{type: MaxPool2d, pool_size: 2}")
    message = load_error(text)
    assert (
        f"r.yaml:{position(text, 'type:')}: checks[0].layers[0].type: unknown layer type 'MaxPool2d' "
        in message
    )
    assert "(did you mean MaxPooling2D?)" in message


def test_a_misspelt_activation_names_the_nearest_keras_activation() -> None:
    text = rubric_text("{type: Dense, units: 10, activation: softmx}")
    message = load_error(text)
    assert (
        f"r.yaml:{position(text, 'activation:')}: checks[0].layers[0].activation: unknown activation"
        in message
    )
    assert "(did you mean softmax?)" in message


def test_a_recurrent_activation_is_an_activation_too() -> None:
    message = load_error(rubric_text("{type: LSTM, units: 4, recurrent_activation: sigmod}"))
    assert "layers[0].recurrent_activation: unknown activation 'sigmod' (did you mean sigmoid?)" in message


def test_a_setting_the_constructor_does_not_take_is_an_error_at_its_key() -> None:
    text = rubric_text("{type: Conv2D, filters: 8, dilation_rat: 2}")
    message = load_error(text)
    assert (
        f"r.yaml:{position(text, 'dilation_rat')}: checks[0].layers[0].dilation_rat: unknown key 'dilation_rat'"
        in message
    )
    assert "(did you mean dilation_rate?)" in message


def test_a_lesson_setting_of_another_layer_kind_is_an_error() -> None:
    message = load_error(rubric_text("{type: Conv2D, units: 8}"))
    assert "layers[0].units: unknown key 'units': Conv2D's constructor has no such setting" in message


def test_an_unknown_requirement_points_at_the_item_and_suggests_the_id() -> None:
    text = rubric_text() + "  - id: size\n    points: 1\n    requires: [arhc]\n    total_params: 10\n"
    message = load_error(text)
    assert f"r.yaml:{position(text, 'arhc')}: checks[1].requires[0]: check 'size' requires 'arhc'" in message
    assert "(did you mean arch?)" in message


def test_any_constructor_setting_validates() -> None:
    rubric = parse_rubric(
        rubric_text(
            "{type: Conv2D, filters: 8, dilation_rate: 2, use_bias: false, trainable: false, "
            "kernel_regularizer: {l2: 0.01}}"
        )
    )
    layers = rubric.checks[0].layers
    assert layers is not None
    assert layers[0].attributes() == {
        "type": "Conv2D",
        "filters": 8,
        "dilation_rate": 2,
        "use_bias": False,
        "trainable": False,
        "kernel_regularizer": {"l2": 0.01},
    }
    for row in (
        "{type: Embedding, input_dim: 100, output_dim: 8}",
        "{type: LSTM, units: 4, return_sequences: true}",
    ):
        assert parse_rubric(rubric_text(row)).checks[0].layers is not None
    assert parse_rubric(rubric_text("{type: BatchNormalization, momentum: 0.9}")).checks[0].layers is not None


# --- lint: the model variable against the solution, missing data ------------------------------------


def write(folder: Path, text: str, *, solution: bool = True) -> Path:
    if solution:
        (folder / "solution.ipynb").write_text(json.dumps(SOLUTION), encoding="utf-8")
    path = folder / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_model_variable_the_solution_never_defines_is_an_error(tmp_path: Path) -> None:
    text = rubric_text(head="solution: solution.ipynb\nmodel: {variable: modle}\n")
    report = lint.lint(write(tmp_path, text))
    (error,) = report.errors
    assert f"{error.line}:{error.column}" == position(text, "variable:")
    assert (
        "'modle' is never defined in the solution" in error.message and "did you mean model?" in error.message
    )


def test_the_solutions_model_variable_passes(tmp_path: Path) -> None:
    report = lint.lint(
        write(tmp_path, rubric_text(head="solution: solution.ipynb\nmodel: {variable: model}\n"))
    )
    assert not report.findings, report.findings


def test_without_a_solution_the_variable_is_skipped_with_a_note(tmp_path: Path) -> None:
    report = lint.lint(write(tmp_path, rubric_text(head="model: {variable: modle}\n"), solution=False))
    assert not report.errors and not report.warnings
    (note,) = report.findings
    assert note.severity == "note" and "variable names not checked" in note.message


def test_missing_held_out_data_is_an_error_unless_it_lives_elsewhere(tmp_path: Path) -> None:
    check = "  - id: acc\n    points: 1\n    accuracy:\n      data: {npz: held-out.npz}\n      tiers: [{min: 0.5, points: 1}]\n"
    path = write(tmp_path, rubric_text() + check, solution=False)
    (error,) = lint.lint(path).errors
    assert f"{error.line}:{error.column}" == position(path.read_text(), "npz:")
    assert (
        "the data file 'held-out.npz' does not exist" in error.message and "--data-elsewhere" in error.message
    )
    assert not lint.lint(path, data_elsewhere=True).errors


# --- comparison: equivalent spellings of one setting ------------------------------------------------


@pytest.mark.parametrize(
    ("have", "wanted", "same"),
    [
        ([3, 3], 3, True),
        ([3], 3, True),
        ([1, 1], 1, True),
        ([1, 2], 1, False),
        ([2, 2], [2, 2], True),
        ({"class_name": "L2", "config": {"l2": 0.01}}, "l2", True),
        ({"class_name": "L2", "config": {"l2": 0.01}}, {"l2": 0.01}, True),
        ({"class_name": "L2", "config": {"l2": 0.01}}, {"l2": 0.1}, False),
        ({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}, "l1_l2", True),
        ({"class_name": "L2", "config": {"l2": 0.01}}, "l1", False),
        ({"class_name": "GlorotUniform", "config": {"seed": None}}, "glorot_uniform", True),
        ({"class_name": "DTypePolicy", "config": {"name": "float32"}}, "float32", True),
        (None, "l2", False),
        (False, False, True),
        (True, 1, False),
        ("ReLU", "relu", True),
        (0.30000001, 0.3, True),
    ],
)
def test_equivalent_spellings_of_a_setting_compare_equal(have: object, wanted: object, same: bool) -> None:
    assert same_setting(have, wanted) is same


# --- through the real CLI ---------------------------------------------------------------------------


def test_check_exits_3_naming_each_mistake_where_it_is(grade_cli: GradeRunner, tmp_path: Path) -> None:
    """One run over three rubrics: Keras typos, an unknown requirement, a model variable and missing data."""
    keras_typos = tmp_path / "typos.yaml"
    keras_typos.write_text(
        rubric_text("{type: MaxPool2d}").replace(
            "      - {type: MaxPool2d}\n",
            "      - {type: MaxPool2d}\n      - {type: Dense, units: 10, activation: softmx}\n"
            "      - {type: Conv2D, filters: 8, dilation_rat: 2}\n",
        ),
        encoding="utf-8",
    )
    requires = tmp_path / "requires.yaml"
    requires.write_text(
        rubric_text(check="    requires: [arhc]\n") + "  - id: arhcx\n    points: 1\n    total_params: 1\n"
    )
    folder = tmp_path / "course"
    folder.mkdir()
    check = "  - id: acc\n    points: 1\n    accuracy:\n      data: {npz: held-out.npz}\n      tiers: [{min: 0.5, points: 1}]\n"
    variable = write(folder, rubric_text(head="solution: solution.ipynb\nmodel: {variable: modle}\n") + check)
    done = grade_cli("rubric", "check", keras_typos, requires, variable)
    assert done.returncode == 3, done.stdout + done.stderr
    out = done.stdout
    typos = keras_typos.read_text()
    assert f"{keras_typos}:{position(typos, 'type: MaxPool2d')}: checks[0].layers[0].type" in out
    assert "unknown layer type 'MaxPool2d' (did you mean MaxPooling2D?)" in out
    assert f"{keras_typos}:{position(typos, 'activation:')}: checks[0].layers[1].activation" in out
    assert "(did you mean softmax?)" in out
    assert f"{keras_typos}:{position(typos, 'dilation_rat')}: checks[0].layers[2].dilation_rat" in out
    assert "(did you mean dilation_rate?)" in out
    assert f"{requires}:{position(requires.read_text(), 'arhc]')}: checks[0].requires[0]" in out
    assert "(did you mean arhcx?)" in out
    text = variable.read_text()
    assert f"{variable}:{position(text, 'variable:')}: error: 'modle' is never defined" in out
    assert "did you mean model?" in out
    assert f"{variable}:{position(text, 'npz:')}: error: the data file 'held-out.npz' does not exist" in out
    elsewhere = grade_cli("rubric", "check", "--data-elsewhere", variable)
    assert elsewhere.returncode == 3 and "held-out.npz" not in elsewhere.stdout


# --- the table is Keras' own ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_layer_table_is_generated_from_the_installed_keras() -> None:
    from grader.rubric import keras_catalog_build

    layers, activations, version = keras_catalog_build.catalog()
    assert version == keras_catalog.KERAS_VERSION, "run: python -m grader.rubric.keras_catalog_build"
    assert layers == keras_catalog.LAYERS
    assert activations == keras_catalog.ACTIVATIONS
