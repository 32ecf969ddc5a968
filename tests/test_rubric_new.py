"""`grade rubric new` drafts a rubric that reads right: title, layer settings, training caps, hints.

Published notebooks (the TensorFlow tutorials, course notebooks on Colab) open with a licence
cell and badges, use `tf.keras` without any Keras 2 idiom, and are often cut down to a subsample
to run fast. The fast tests here drive the pure functions with real notebooks, real numpy errors
and the real rubric parser and checks; two slow tests run `rubric new` on such notebooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader.authoring import new as authoring
from grader.grading import hints, migration
from grader.grading.check import Evidence, run_checks
from grader.grading.submission import load_submission
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.render.report import render_html
from grader.result import CellOutcome, RunFacts
from grader.rubric.model import Rubric, parse_rubric
from tests.conftest import REPO, GradeRunner

TENSORFLOW_TUTORIAL = (
    ("markdown", "##### Copyright 2019 The TensorFlow Authors."),
    ("code", '#@title Licensed under the Apache License, Version 2.0 (the "License");'),
    ("markdown", "# Convolutional Neural Network (CNN)"),
    (
        "markdown",
        '<table class="tfo-notebook-buttons" align="left">\n'
        '  <td><a target="_blank" href="https://colab.research.google.com/x.ipynb">'
        '<img src="https://www.tensorflow.org/images/colab_logo_32px.png" />Run in Google Colab</a></td>\n'
        '  <td><a target="_blank" href="https://github.com/x.ipynb">'
        '<img src="https://www.tensorflow.org/images/GitHub-Mark-32px.png" />View on GitHub</a></td>\n'
        "</table>",
    ),
    ("markdown", "This tutorial trains a simple CNN.\n\n### Import TensorFlow"),
    (
        "code",
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "from tensorflow.keras import layers, models\n"
        "rng = np.random.default_rng(0)\n"
        "train_images = rng.random((64, 12, 12, 1), dtype='float32')\n"
        "train_labels = rng.integers(0, 10, 64)",
    ),
    (
        "code",
        "model = models.Sequential()\n"
        "model.add(layers.Input((12, 12, 1)))\n"
        "model.add(layers.Conv2D(8, (3, 3), activation='relu'))\n"
        "model.add(layers.MaxPooling2D((2, 2)))\n"
        "model.add(layers.Conv2D(4, 3, strides=2, padding='same', activation='relu'))\n"
        "model.add(layers.Flatten())\n"
        "model.add(layers.Dense(10))\n"
        "model.compile(optimizer='adam',\n"
        "              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n"
        "              metrics=['accuracy'])\n"
        "history = model.fit(train_images, train_labels, epochs=3, batch_size=8)",
    ),
)

SUBSAMPLED = (
    ("markdown", "# Digits, fast"),
    (
        "code",
        "import numpy as np\n"
        "x_train = np.zeros((60000, 28, 28), 'float32')\n"
        "y_train = np.zeros(60000, 'int64')",
    ),
    ("code", "n = 1000\nx_train, y_train = x_train[:n], y_train[:n]"),
    ("code", "x_train = x_train / 255\nx_train = x_train.reshape((60000, 28, 28, 1))"),
)


def write_cells(path: Path, cells: tuple[tuple[str, str], ...]) -> Path:
    """A real nbformat-4 notebook with Markdown and code cells."""
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    notebook = nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))
    return path


def markdown_of(path: Path) -> list[str]:
    notebook = nbformat.read(str(path), as_version=4)
    return [str(cell.source) for cell in notebook.cells if cell.cell_type == "markdown"]


# --- the title -------------------------------------------------------------------------------


def test_the_title_skips_the_licence_cell_and_the_badges(tmp_path: Path) -> None:
    notebook = write_cells(tmp_path / "cnn.ipynb", TENSORFLOW_TUTORIAL)
    assert authoring.choose_title(markdown_of(notebook)) == "Convolutional Neural Network (CNN)"


@pytest.mark.parametrize(
    ("cells", "title"),
    [
        (
            [
                "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                "(https://colab.research.google.com/github/x.ipynb)",
                "# **Digits** with `Dense` layers",
            ],
            "Digits with Dense layers",
        ),
        (["## [View on GitHub](https://github.com/x)", "<h1>MNIST <i>CNN</i></h1>"], "MNIST CNN"),
        (
            [
                "# Licensed under the MIT License",
                "Copyright (c) 2020",
                "## [Cats and dogs](https://x.org) ##",
            ],
            "Cats and dogs",
        ),
        (["# ![badge](https://x/badge.svg)", "# Open in Kaggle", "# Transfer learning"], "Transfer learning"),
        (["# Copyright 2019 Google LLC. All rights reserved.", "No heading at all."], None),
    ],
)
def test_the_title_is_the_first_heading_that_names_the_lesson(cells: list[str], title: str | None) -> None:
    assert authoring.choose_title(cells) == title


# --- layer settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer_type", "config", "settings"),
    [
        (
            "Conv2D",
            {
                "filters": 8,
                "kernel_size": [3, 3],
                "strides": [1, 1],
                "padding": "valid",
                "activation": "relu",
            },
            {"filters": 8, "kernel_size": 3, "strides": 1, "padding": "valid", "activation": "relu"},
        ),
        (
            "MaxPooling2D",
            {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"},
            {"pool_size": 2, "strides": 2, "padding": "valid"},
        ),
        ("Dense", {"units": 10, "activation": "linear"}, {"units": 10, "activation": "linear"}),
        ("Dropout", {"rate": 0.25}, {"rate": 0.25}),
        ("Activation", {"activation": "linear"}, {}),
        ("Activation", {"activation": "relu"}, {"activation": "relu"}),
        ("ZeroPadding2D", {"padding": "valid"}, {}),
        (
            "LocallyConnected2D",
            {"strides": [2, 1], "padding": "same"},
            {"strides": [2, 1], "padding": "same"},
        ),
    ],
)
def test_a_row_names_the_lessons_settings_and_every_other_setting_off_its_default(
    layer_type: str, config: dict[str, Any], settings: dict[str, Any]
) -> None:
    assert authoring.layer_settings(layer_type, config) == settings


def conv_model(strides: int, side: int) -> ModelFacts:
    """Input 12x12x1, Conv2D(8, 3, strides), Flatten, Dense(10): as the inspector reports such a model.

    Shapes are without the batch dimension, as `ModelFacts` holds them.
    """
    conv_params, dense_params = 8 * 9 + 8, side * side * 8 * 10 + 10
    return ModelFacts(
        variable="model",
        class_name="Sequential",
        input_shape=(12, 12, 1),
        output_shape=(10,),
        total_params=conv_params + dense_params,
        layers=(
            LayerFacts(
                name="conv2d",
                type="Conv2D",
                config={
                    "filters": 8,
                    "kernel_size": [3, 3],
                    "strides": [strides, strides],
                    "padding": "valid",
                    "activation": "relu",
                },
                output_shape=(side, side, 8),
                params=conv_params,
            ),
            LayerFacts(name="flatten", type="Flatten", config={}, output_shape=(side * side * 8,), params=0),
            LayerFacts(
                name="dense",
                type="Dense",
                config={"units": 10, "activation": "softmax"},
                output_shape=(10,),
                params=dense_params,
            ),
        ),
    )


def drafted(model: ModelFacts, setup: authoring.SolutionSetup | None = None) -> str:
    measured = authoring.MeasuredSolution(
        source=Path("exercises/cnn/solution.ipynb"),
        exercise="cnn",
        title="A CNN",
        model=model,
        duration_s=3.0,
        sandboxed=True,
        course=setup or authoring.SolutionSetup(),
    )
    return authoring.rubric_yaml(measured, "../docs/rubric.schema.json")


def test_a_drafted_rubric_says_strides_2_expected_1() -> None:
    text = drafted(conv_model(strides=1, side=10))
    assert (
        "- {type: Conv2D, filters: 8, kernel_size: 3, strides: 1, padding: valid, activation: relu," in text
    )
    rubric: Rubric = parse_rubric(text, source="draft")
    results = run_checks(rubric, Evidence(model=conv_model(strides=2, side=5)))
    architecture = next(r for r in results if r.id == "architecture")
    assert architecture.status != "pass"
    assert "strides (2, 2), expected (1, 1)" in architecture.message


# --- training caps, and no Keras 2 where there is none --------------------------------------


def test_max_steps_is_written_beside_max_epochs() -> None:
    setup = authoring.SolutionSetup(max_epochs=1, max_steps=5)
    text = drafted(conv_model(strides=1, side=10), setup)
    assert "\ntraining: {max_epochs: 1, max_steps: 5} # caps every fit call" in text
    assert parse_rubric(text).training.max_steps == 5
    assert "compat" not in text and "Keras 2" not in text
    only_steps = drafted(conv_model(strides=1, side=10), authoring.SolutionSetup(max_steps=3))
    assert "\ntraining: {max_steps: 3}" in only_steps


def test_a_tf_keras_notebook_draws_no_keras2_layer(tmp_path: Path) -> None:
    notebook = load_submission(write_cells(tmp_path / "cnn.ipynb", TENSORFLOW_TUTORIAL))
    assert authoring.choose_compat(None, migration.scan(notebook.cells)) is None


def test_a_training_budget_alone_is_not_reported_as_keras2() -> None:
    result = json.loads((REPO / "tests" / "golden" / "alice.json").read_text(encoding="utf-8"))
    result["run"].update(duration_s=1.0, device="cpu", sandboxed=True, enforcement=[], stages={})
    result["migration"] = []
    result["kernel_setup"] = {"seed": 0, "max_epochs": 1, "max_steps": 5}
    html = render_html(result)
    assert "Keras 2" not in html
    assert "each <code>fit</code> runs at most 1 epoch(s) of 5 step(s) per epoch" in html
    result["kernel_setup"]["compat"] = "keras2"
    assert "Keras 2 → Keras 3" in render_html(result)


# --- a reshape after a subsample ---------------------------------------------------------------


def numpy_reshape_error(rows: int, shape: tuple[int, ...]) -> str:
    """The message numpy itself gives, so the hint is tested against the real wording."""
    with pytest.raises(ValueError) as failure:
        np.zeros((rows, 28, 28), "float32").reshape(shape)
    return str(failure.value)


def outcomes(
    cells: tuple[tuple[str, str], ...], error: str, *, failing: int | None = None
) -> tuple[CellOutcome, ...]:
    """The cells as a run reports them, the last (or `failing`) one failed with `error`."""
    code = [source for kind, source in cells if kind == "code"]
    failing = failing or len(code)
    return tuple(
        CellOutcome(
            number=number,
            source=source,
            status="error" if number == failing else "ok",
            error_name="ValueError" if number == failing else None,
            error_value=error if number == failing else None,
        )
        for number, source in enumerate(code, start=1)
    )


def test_a_failed_reshape_after_a_subsample_names_the_array_and_its_size() -> None:
    error = numpy_reshape_error(1000, (60000, 28, 28, 1))
    assert error == "cannot reshape array of size 784000 into shape (60000,28,28,1)"
    cells = outcomes(SUBSAMPLED[1:], error)
    hint = hints.subsample_hint(cells[-1], cells)
    assert hint is not None
    assert hint.startswith("`x_train` holds 1,000 rows since cell 2 took a subsample")
    assert "(`x_train, y_train = x_train[:n], y_train[:n]`)" in hint
    assert "asks for 60,000 rows" in hint and "`x_train.reshape((-1, 28, 28, 1))`" in hint
    facts = RunFacts(duration_s=1.0, device="cpu", sandboxed=True, failing_cells=(3,), cells=cells)
    explained = hints.explain(facts)
    assert explained.cells[-1].hint == hint and explained.cells[0].hint is None


@pytest.mark.parametrize(
    ("earlier", "reshape", "name", "rows"),
    [
        ("x_small = x_train[:500]", "x_small = np.reshape(x_small, (60000, 28, 28, 1))", "x_small", 500),
        (
            "x_train = x_train[1000:3000, :, :]",
            "x_train = x_train.reshape(60000, 28, 28, 1)",
            "x_train",
            2000,
        ),
        ("y = y[:500]\nx = x[:500]", "x = x.reshape((60000, 28, 28, 1))", "x", 500),
    ],
)
def test_the_subsample_is_found_in_its_usual_spellings(
    earlier: str, reshape: str, name: str, rows: int
) -> None:
    error = numpy_reshape_error(rows, (60000, 28, 28, 1))
    cells = outcomes((("code", "import numpy as np"), ("code", earlier), ("code", reshape)), error)
    hint = hints.subsample_hint(cells[-1], cells)
    assert hint is not None and hint.startswith(f"`{name}` holds {rows:,} rows since cell 2")


def test_no_subsample_hint_where_the_numbers_do_not_tell_of_one() -> None:
    wrong_width = numpy_reshape_error(1000, (1000, 32, 32, 3))
    no_cut = (("code", "x_train = x_train / 255"), ("code", "x_train = x_train.reshape((60000, 28, 28, 1))"))
    other_size = (
        ("code", "x_train = x_train[:200]"),
        ("code", "x_train = x_train.reshape((60000, 28, 28, 1))"),
    )
    later = (("code", "x_train = x_train.reshape((60000, 28, 28, 1))"), ("code", "x_train = x_train[:1000]"))
    for cells, failing in ((outcomes(no_cut, wrong_width), 2), (outcomes(other_size, wrong_width), 2)):
        assert hints.subsample_hint(cells[failing - 1], cells) is None
    error = numpy_reshape_error(1000, (60000, 28, 28, 1))
    for source in (no_cut, other_size):
        cells = outcomes(source, error)
        assert hints.subsample_hint(cells[-1], cells) is None
    cells = outcomes(later, error, failing=1)
    assert hints.subsample_hint(cells[0], cells) is None


# --- rubric new, end to end --------------------------------------------------------------------


@pytest.mark.slow
def test_new_drafts_a_tensorflow_tutorial_as_it_reads(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_cells(tmp_path / "solution.ipynb", TENSORFLOW_TUTORIAL)
    out = tmp_path / "rubrics" / "cnn.yaml"
    done = grade("rubric", "new", "--from", notebook, "--max-epochs", "1", "--max-steps", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "Keras 2" not in done.stderr
    text = out.read_text(encoding="utf-8")
    assert "\ntitle: Convolutional Neural Network (CNN)\n" in text
    assert "\ntraining: {max_epochs: 1, max_steps: 2} # caps every fit call" in text
    assert "compat:" not in text
    rows = [line.strip() for line in text.splitlines() if line.strip().startswith("- {type:")]
    assert rows[:3] == [
        "- {type: Conv2D, filters: 8, kernel_size: 3, strides: 1, padding: valid, activation: relu, "
        "output_shape: [10, 10, 8], params: 80}",
        "- {type: MaxPooling2D, pool_size: 2, strides: 2, padding: valid, output_shape: [5, 5, 8], params: 0}",
        "- {type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same, activation: relu, "
        "output_shape: [3, 3, 4], params: 292}",
    ]
    assert rows[-1] == "- {type: Dense, units: 10, activation: linear, output_shape: [10], params: 370}"
    tested = grade("rubric", "test", out)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.slow
def test_new_says_the_reshape_failed_because_of_the_subsample(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_cells(tmp_path / "solution.ipynb", SUBSAMPLED)
    done = grade("rubric", "new", "--from", notebook)
    assert done.returncode == 4
    said = " ".join(done.stderr.split())
    assert (
        "the solution's cell 3 did not run cleanly (ValueError: cannot reshape array of size 784000" in said
    )
    assert re.search(r"`x_train` holds 1,000 rows since cell 2 took a subsample", said), said
    assert "`x_train.reshape((-1, 28, 28, 1))`" in said
