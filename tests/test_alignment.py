"""One mistake costs one row: the layer table's alignment and its "follows from" rows.

The fast tests build layer facts in-process, with the shape and parameter arithmetic written out
here (not borrowed from the grader's formulas), for the lesson's CIFAR-10 CNN with dropout. A
property test mutates one setting, inserts a layer or deletes one, and requires exactly one
charged row, naming that layer and that setting, while every later row whose settings are right
follows from it. The slow tests grade the real sample notebooks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from grader.grading.check import Evidence, run_checks
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.render.report import print_summary, render_html
from grader.result import CheckResult, GradeResult, LayerRow
from grader.rubric.model import Rubric, parse_rubric

from .conftest import GradeRunner, examples

INPUT = (32, 32, 3)


@dataclass(frozen=True)
class Layer:
    """A layer as a notebook writes it: type and settings; its shape and count are computed below."""

    type: str
    filters: int | None = None
    kernel_size: int | None = None
    strides: int | None = None
    padding: str | None = None
    activation: str | None = None
    pool_size: int | None = None
    rate: float | None = None
    units: int | None = None

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "type" and v is not None}


REFERENCE = (
    Layer("Conv2D", filters=16, kernel_size=2, strides=1, padding="same", activation="relu"),
    Layer("MaxPooling2D", pool_size=2, padding="valid"),
    Layer("Conv2D", filters=32, kernel_size=2, strides=1, padding="same", activation="relu"),
    Layer("MaxPooling2D", pool_size=2, padding="valid"),
    Layer("Conv2D", filters=64, kernel_size=2, strides=1, padding="same", activation="relu"),
    Layer("MaxPooling2D", pool_size=2, padding="valid"),
    Layer("Dropout", rate=0.3),
    Layer("Flatten"),
    Layer("Dense", units=500, activation="relu"),
    Layer("Dropout", rate=0.4),
    Layer("Dense", units=10, activation="softmax"),
)


def _spatial(size: int, window: int, stride: int, padding: str) -> int:
    return -(-size // stride) if padding == "same" else -(-(size - window + 1) // stride)


def measure(layer: Layer, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int] | None:
    """Output shape and parameter count as Keras computes them; None where Keras would refuse the layer."""
    if layer.type in ("Conv2D", "MaxPooling2D"):
        if len(shape) != 3:
            return None
        conv = layer.type == "Conv2D"
        window = (layer.kernel_size if conv else layer.pool_size) or 1
        stride = layer.strides or (1 if conv else window)
        height, width = (_spatial(d, window, stride, layer.padding or "valid") for d in shape[:2])
        if height < 1 or width < 1:
            return None
        if conv:
            assert layer.filters is not None
            return (height, width, layer.filters), layer.filters * window * window * shape[2] + layer.filters
        return (height, width, shape[2]), 0
    if layer.type == "Dense":
        assert layer.units is not None
        return (*shape[:-1], layer.units), layer.units * shape[-1] + layer.units
    if layer.type == "Flatten":
        return (math.prod(shape),), 0
    return shape, 0


def facts(layers: tuple[Layer, ...], input_shape: tuple[int, ...] = INPUT) -> ModelFacts | None:
    """The model the grader would measure, with each layer's config as Keras reports it."""
    shape = input_shape
    nodes = []
    for index, layer in enumerate(layers):
        measured = measure(layer, shape)
        if measured is None:
            return None
        shape, params = measured
        config: dict[str, Any] = {}
        for key, value in layer.settings().items():
            config[key] = [value, value] if key in ("kernel_size", "strides", "pool_size") else value
        if layer.type == "MaxPooling2D" and "strides" not in config:
            config["strides"] = config["pool_size"]
        nodes.append(
            LayerFacts(
                name=f"{layer.type.lower()}_{index}",
                type=layer.type,
                config=config,
                output_shape=shape,
                params=params,
            )
        )
    return ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=tuple(nodes),
        total_params=sum(n.params for n in nodes),
        input_shape=input_shape,
        output_shape=shape,
    )


def reference_rubric() -> Rubric:
    """The reference model as a rubric: every setting, output shape and parameter count."""
    reference = facts(REFERENCE)
    assert reference is not None
    lines = []
    for layer, node in zip(REFERENCE, reference.layers, strict=True):
        given = {"type": layer.type, **layer.settings(), "output_shape": list(node.output_shape or ())}
        given["params"] = node.params
        lines.append("      - " + json.dumps(given))
    return parse_rubric(
        "exercise: demo\ntitle: Demo\nmodel: {input_shape: [32, 32, 3]}\nchecks:\n"
        "  - id: architecture\n    points: 6\n    layers:\n" + "\n".join(lines) + "\n"
    )


RUBRIC = reference_rubric()


def architecture(layers: tuple[Layer, ...]) -> CheckResult:
    model = facts(layers)
    assert model is not None
    return run_checks(RUBRIC, Evidence(model=model))[0]


def charged(result: CheckResult) -> list[LayerRow]:
    return [row for row in result.layer_rows if row.status in ("mismatch", "missing", "extra")]


def assert_one_mistake(result: CheckResult) -> LayerRow:
    """Exactly one row is charged; every other row matches or follows from it without advice of its own."""
    rows = charged(result)
    assert len(rows) == 1, [(r.position, r.status, r.explanation) for r in result.layer_rows]
    root = rows[0]
    for row in result.layer_rows:
        if row.status == "follows":
            assert row.follows_from == root.position and row.position > root.position
            assert "check " not in (row.explanation or "")
    assert result.status == "fail" and result.first_difference == root.position - 1
    total = len(result.layer_rows)
    assert result.points == pytest.approx(round(6 * (total - 1) / total, 2))
    assert result.message.startswith(f"1 of {total} layers differs, at layer {root.position}: ")
    return root


SETTINGS: dict[str, dict[str, list[Any]]] = {
    "Conv2D": {
        "filters": [8, 16, 24, 32, 48, 64],
        "kernel_size": [1, 2, 3, 4, 5],
        "strides": [1, 2],
        "padding": ["same", "valid"],
        "activation": ["relu", "tanh", "sigmoid"],
    },
    "MaxPooling2D": {"pool_size": [2, 3, 4], "padding": ["same", "valid"]},
    "Dropout": {"rate": [0.1, 0.2, 0.3, 0.4, 0.5]},
    "Dense": {"units": [10, 64, 128, 500, 1000], "activation": ["relu", "tanh", "softmax"]},
}


@st.composite
def new_layers(draw: st.DrawFn) -> Layer:
    kind = draw(st.sampled_from(["Conv2D", "MaxPooling2D", "Dropout", "Dense", "Flatten"]))
    chosen = {key: draw(st.sampled_from(values)) for key, values in SETTINGS.get(kind, {}).items()}
    return Layer(kind, **chosen)


@settings(max_examples=examples(150), deadline=None)
@given(data=st.data())
def test_one_changed_setting_is_charged_once_and_named(data: st.DataObject) -> None:
    index = data.draw(st.sampled_from([i for i, layer in enumerate(REFERENCE) if layer.type in SETTINGS]))
    layer = REFERENCE[index]
    key = data.draw(st.sampled_from(sorted(SETTINGS[layer.type])))
    value = data.draw(st.sampled_from([v for v in SETTINGS[layer.type][key] if v != getattr(layer, key)]))
    mutated = (*REFERENCE[:index], replace(layer, **{key: value}), *REFERENCE[index + 1 :])
    if facts(mutated) is None:
        return
    root = assert_one_mistake(architecture(mutated))
    assert root.position == index + 1 and root.status == "mismatch"
    assert root.differences[0].startswith(f"{key} ")
    assert (root.explanation or "").startswith(f"{key} ")


@settings(max_examples=examples(150), deadline=None)
@given(index=st.integers(0, len(REFERENCE)), extra=new_layers())
def test_one_inserted_layer_is_charged_once_and_named(index: int, extra: Layer) -> None:
    inserted = (*REFERENCE[:index], extra, *REFERENCE[index:])
    model = facts(inserted)
    if model is None:
        return
    result = run_checks(RUBRIC, Evidence(model=model))[0]
    root = assert_one_mistake(result)
    added = model.layers[index]
    assert root.status == "extra" and root.actual is not None
    assert root.actual["type"] == extra.type
    assert {key: root.actual.get(key) for key in added.config} == added.config, (
        "the inserted layer or its twin"
    )
    assert f"an extra {extra.type} layer" in result.message


@given(index=st.integers(0, len(REFERENCE) - 1))
def test_one_deleted_layer_is_charged_once_and_named(index: int) -> None:
    deleted = (*REFERENCE[:index], *REFERENCE[index + 1 :])
    result = architecture(deleted)
    root = assert_one_mistake(result)
    assert root.status == "missing" and root.position == index + 1
    assert root.expected is not None and root.expected["type"] == REFERENCE[index].type
    assert f"a {REFERENCE[index].type} layer is missing" in result.message


def test_a_missing_pooling_layer_is_one_row_and_the_rows_after_it_follow() -> None:
    result = architecture((*REFERENCE[:3], *REFERENCE[4:]))
    statuses = [row.status for row in result.layer_rows]
    assert statuses == ["match"] * 3 + ["missing"] + ["follows"] * 5 + ["match"] * 2
    assert result.points == pytest.approx(5.45)
    assert result.message.endswith("; layers 5–9 only follow from it and are not charged")
    conv = result.layer_rows[4]
    assert conv.follows_from == 4
    assert conv.explanation == (
        "follows from layer 4: this layer's settings are right; it receives (16, 16, 32) instead of "
        "(8, 8, 32), and from that its settings give (16, 16, 64) and 8,256 params"
    )


def test_a_wrong_setting_on_a_later_layer_is_charged_against_the_input_it_receives() -> None:
    """Two mistakes, two rows: the second is explained from its real input, and what follows names it."""
    two = list(REFERENCE)
    two[0] = replace(two[0], padding="valid")
    two[2] = replace(two[2], padding="valid")
    result = architecture(tuple(two))
    assert [row.position for row in charged(result)] == [1, 3]
    assert result.message.startswith(
        "2 of 11 layers differ, first at layer 1: padding 'valid', expected 'same'"
    )
    third = result.layer_rows[2]
    assert third.explanation is not None and third.explanation.startswith("padding 'valid', expected 'same'")
    assert "height 14, expected 15 = ceil(15/1)" in third.explanation
    assert "it receives, which follows from layer 1" in third.explanation
    assert [row.follows_from for row in result.layer_rows[3:9]] == [3] * 6
    assert [row.status for row in result.layer_rows[9:]] == ["match", "match"]


def test_a_setting_the_rubric_leaves_open_is_still_charged_when_it_changes_the_shape() -> None:
    """Settings the rubric omits are the layer's own; if they contradict the rubric's shape, the row is charged."""
    rubric = parse_rubric(
        "exercise: demo\ntitle: Demo\nmodel: {input_shape: [32, 32, 3]}\nchecks:\n"
        "  - id: architecture\n    points: 6\n    layers:\n"
        "      - {type: Conv2D, filters: 16, kernel_size: 2, padding: same, output_shape: [32, 32, 16]}\n"
        "      - {type: Conv2D, filters: 8, kernel_size: 2, padding: same, output_shape: [32, 32, 8]}\n"
    )
    layers = (
        Layer("Conv2D", filters=16, kernel_size=2, strides=1, padding="valid"),
        Layer("Conv2D", filters=8, kernel_size=2, strides=2, padding="same"),
    )
    model = facts(layers)
    assert model is not None
    result = run_checks(rubric, Evidence(model=model))[0]
    assert [row.status for row in result.layer_rows] == ["mismatch", "mismatch"]


def test_a_wrong_input_shape_is_charged_on_the_first_layer_and_the_rest_follow() -> None:
    result = run_checks(RUBRIC, Evidence(model=facts(REFERENCE, (28, 28, 3))))[0]
    assert [row.position for row in charged(result)] == [1]
    assert "it receives (28, 28, 3) instead of (32, 32, 3)" in (result.layer_rows[0].explanation or "")
    assert {row.follows_from for row in result.layer_rows[1:9]} == {1}


def test_follows_rows_are_shown_in_the_json_the_html_and_the_terminal(
    grade_result: Callable[..., GradeResult],
) -> None:
    check = architecture((*REFERENCE[:3], *REFERENCE[4:]))
    result = grade_result(check, exercise="demo", title="Demo", rubric="demo.yaml")
    data = json.loads(result.to_json())
    rows = data["checks"][0]["layer_rows"]
    assert rows[4]["status"] == "follows" and rows[4]["follows_from"] == 4
    assert "follows_from" not in rows[0], "rows that follow from nothing keep their earlier JSON shape"
    assert GradeResult.model_validate(data) == result
    html = render_html(data)
    assert html.count('<tr class="follows">') == 5
    assert '<td class="status">follows from layer 4<div class="why">' in html
    assert "it costs nothing" in html
    console = Console(width=400, record=True)
    print_summary(result, (), console)
    assert "layers 5–9 only follow from it and are not charged" in console.export_text()


SAMPLES = [
    ("valid-padding", [1, 3, 5], "padding 'valid', expected 'same'"),
    ("missing-pooling", [4], "a MaxPooling2D layer is missing"),
    ("wrong-kernel-size", [1], "kernel_size (3, 3), expected (2, 2)"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("sample", "positions", "named"), SAMPLES)
def test_the_samples_are_charged_once_per_mistake(
    grade: GradeRunner, sample: str, positions: list[int], named: str
) -> None:
    """Graded for real: each of the sample's own mistakes costs one row, and only the mistakes do.

    valid-padding writes padding='valid' on each of its three Conv2D layers: three settings, three rows.
    """
    architecture = grade(f"submissions/{sample}.ipynb").check("architecture")
    rows = architecture["layer_rows"]
    assert [r["position"] for r in rows if r["status"] in ("mismatch", "missing", "extra")] == positions
    assert named in architecture["message"]
    assert architecture["points"] == pytest.approx(round(6 * (len(rows) - len(positions)) / len(rows), 2))
    for row in rows:
        if row["status"] == "follows":
            assert row["follows_from"] in positions and "check " not in row["explanation"]
