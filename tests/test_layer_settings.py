"""Any constructor setting of a built-in layer is checkable in a `layers:` row (issue 22, item 2).

Each model is built with real Keras, saved to a real `.keras` file, loaded and measured by the
inspector's own code (`measure.load_model`, `measure.measure`), which records each layer's whole
config, and scored by the real layer check against a real rubric. A setting the rubric asks for
is charged where it differs; the shapes and counts that only follow from it are not charged again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grader.grading.check import check_layers
from grader.inside.inspector import measure
from grader.inside.inspector.facts import ModelFacts
from grader.rubric.model import parse_rubric

pytestmark = pytest.mark.slow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RUBRIC = """\
exercise: settings
title: Every setting
model: {input_shape: [12, 12, 1]}
checks:
  - id: arch
    points: 4
    layers:
      - {type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 2, output_shape: [8, 8, 4], params: 40}
      - {type: Conv2D, filters: 2, kernel_size: [1, 1], strides: 1, use_bias: false, kernel_regularizer: l2}
      - {type: Flatten, output_shape: [128]}
      - {type: Dense, units: 3, trainable: false, kernel_regularizer: {l2: 0.01}, params: 387}
"""


def build(*, dilation: int = 2, use_bias: bool = False, trainable: bool = False, factor: float = 0.01) -> Any:
    keras = measure.keras_module()
    layers = keras.layers
    dense = layers.Dense(3, kernel_regularizer=keras.regularizers.L2(factor))
    dense.trainable = trainable
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            layers.Conv2D(4, 3, dilation_rate=dilation),
            layers.Conv2D(2, 1, use_bias=use_bias, kernel_regularizer="l2"),
            layers.Flatten(),
            dense,
        ]
    )


def measured(model: Any, folder: Path) -> ModelFacts:
    path = folder / "model.keras"
    model.save(path)
    return measure.measure(measure.load_model(path), "model")


def grade(model: Any, folder: Path) -> Any:
    rubric = parse_rubric(RUBRIC)
    check = rubric.checks[0]
    assert check.layers is not None
    return check_layers(check, check.layers, measured(model, folder), rubric.model.input_shape)


def test_a_model_with_every_setting_as_asked_passes(tmp_path: Path) -> None:
    result = grade(build(), tmp_path)
    assert result.status == "pass" and result.points == 4, result.message
    first = result.layer_rows[0]
    assert first.actual is not None and first.actual["dilation_rate"] == [2, 2]


def test_a_different_dilation_is_charged_once_and_the_shapes_after_it_follow(tmp_path: Path) -> None:
    result = grade(build(dilation=1), tmp_path)
    statuses = [row.status for row in result.layer_rows]
    assert statuses == ["mismatch", "match", "follows", "follows"], [r.explanation for r in result.layer_rows]
    assert "dilation_rate (1, 1), expected (2, 2)" in result.layer_rows[0].differences
    assert result.points == 3 and result.status == "fail"


def test_use_bias_and_trainable_are_each_the_rows_own_difference(tmp_path: Path) -> None:
    result = grade(build(use_bias=True, trainable=True), tmp_path)
    rows = result.layer_rows
    assert [row.status for row in rows] == ["match", "mismatch", "match", "mismatch"]
    assert "use_bias True, expected False" in rows[1].differences
    assert "trainable True, expected False" in rows[3].differences
    assert result.points == 2


def test_a_regularizer_is_compared_by_kind_and_by_factor(tmp_path: Path) -> None:
    result = grade(build(factor=0.5), tmp_path)
    rows = result.layer_rows
    assert [row.status for row in rows] == ["match", "match", "match", "mismatch"]
    assert any(
        d.startswith("kernel_regularizer L2(l2=0.5), expected {l2: 0.01}") for d in rows[3].differences
    )
