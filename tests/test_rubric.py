"""Rubric validation: typed models, unknown keys rejected, errors that point at file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import RubricError
from grader.rubric.model import Range, find_rubrics, load_rubric, parse_rubric

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
exercise: demo
title: Demo
checks:
  - id: size
    points: 1
    total_params: 80
"""


def error_of(text: str) -> str:
    with pytest.raises(RubricError) as caught:
        parse_rubric(text, source="demo.yaml")
    return str(caught.value)


def test_every_shipped_rubric_validates() -> None:
    found = find_rubrics(REPO / "rubrics")
    assert {"conv-dims", "pool-dims", "cifar10-cnn"} <= set(found)
    for exercise, path in found.items():
        assert load_rubric(path).rubric.exercise == exercise


def test_cifar_rubric_adds_up_to_the_lessons_parameter_count() -> None:
    rubric = load_rubric(REPO / "rubrics" / "cifar10-cnn.yaml").rubric
    layers = next(c.layers for c in rubric.checks if c.layers)
    assert sum(layer.params or 0 for layer in layers) == 528_054
    assert next(c.total_params for c in rubric.checks if c.total_params) == 528_054


def test_minimal_rubric_parses_into_typed_checks() -> None:
    rubric = parse_rubric(MINIMAL)
    assert rubric.checks[0].kind == "total_params"
    assert rubric.max_score == 1
    assert rubric.limits.cell_timeout > 0


def test_unknown_key_names_line_path_and_allowed_keys() -> None:
    text = MINIMAL.replace("    total_params: 80", "    layers:\n      - {type: Conv2D, kernal_size: 2}")
    message = error_of(text)
    assert "demo.yaml:7:24: checks[0].layers[0].kernal_size: unknown key 'kernal_size'" in message
    assert "kernel_size" in message.split("allowed:")[1]


def test_wrong_literal_lists_the_allowed_values() -> None:
    message = error_of(
        MINIMAL.replace("    total_params: 80", "    layers: [{type: Conv2D, padding: vaild}]")
    )
    assert "checks[0].layers[0].padding" in message
    assert "'valid', 'same'" in message


def test_a_check_needs_exactly_one_kind() -> None:
    message = error_of(
        MINIMAL.replace("    total_params: 80", "    output_shape: [10]\n    total_params: 80")
    )
    assert "checks[0]: a check needs exactly one of" in message
    assert "found: total_params, output_shape" in message


def test_duplicate_check_ids_are_rejected() -> None:
    message = error_of(MINIMAL + "  - id: size\n    points: 1\n    output_shape: [10]\n")
    assert "check id 'size' is used twice" in message


def test_inverted_range_and_negative_points_are_reported_together() -> None:
    message = error_of(MINIMAL.replace("points: 1", "points: -1").replace("80", "{min: 5, max: 3}"))
    assert "checks[0].points: Input should be greater than or equal to 0" in message
    assert "min (5) is greater than max (3)" in message
    assert "valid integer" not in message, "union noise should be dropped when a better error exists"


def test_yaml_syntax_error_gives_line_and_column() -> None:
    message = error_of("exercise: demo\ntitle: [unclosed\nchecks: []\n")
    assert message.startswith("demo.yaml:")
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text"])
def test_non_mapping_documents_are_rejected(text: str) -> None:
    assert "not a mapping" in error_of(text)


def test_missing_rubric_file_is_a_rubric_error(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "nope.yaml")


def test_range_semantics() -> None:
    assert Range(min=1, max=3).contains(3) and not Range(min=1).contains(0.5)
    assert Range(max=10).describe() == "at most 10"
