"""Scoring, checked directly: each check kind against measured facts built here (no kernel, no model).

The checks are pure functions of typed values, so every verdict here is reproduced from facts
written out in the test: the layer table's pairing, the lesson's formulas in explanations, raw
operations in the graph, variables with tolerances, parameter ranges and output shapes.
"""

from __future__ import annotations

from typing import Any

import pytest

from grader.grading.check import Evidence, accuracy_refusal, run_checks, unaccounted_operations
from grader.grading.probe import ProbeFacts
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.rubric.model import Rubric, parse_rubric

CIFAR_HEAD = """\
exercise: demo
title: Demo
model: {input_shape: [32, 32, 3]}
checks:
  - id: architecture
    points: 6
    layers:
      - {type: Conv2D, filters: 16, kernel_size: 2, padding: same, output_shape: [32, 32, 16], params: 208}
      - {type: MaxPooling2D, pool_size: 2, output_shape: [16, 16, 16], params: 0}
      - {type: Flatten, output_shape: [4096], params: 0}
      - {type: Dense, units: 10, activation: softmax, output_shape: [10], params: 40970}
  - id: size
    points: 1
    total_params: {min: 40000, max: 42000}
  - id: output
    points: 1
    output_shape: [10]
  - id: answer
    points: 1
    variable: {name: conv_params, equals: 208}
  - id: ratio
    points: 1
    variable: {name: ratio, equals: 0.5, tolerance: 0.01}
"""


def node(
    type_: str, output: tuple[int, ...], params: int = 0, kind: str = "layer", **config: Any
) -> LayerFacts:
    return LayerFacts(
        name=type_.lower(),
        type=type_,
        config=config,
        output_shape=output,
        params=params,
        kind=kind,  # type: ignore[arg-type]
    )


def model(*layers: LayerFacts) -> ModelFacts:
    return ModelFacts(
        variable="model",
        class_name="Functional",
        layers=layers,
        total_params=sum(layer.params for layer in layers),
        input_shape=(32, 32, 3),
        output_shape=layers[-1].output_shape,
    )


RIGHT = (
    node("Conv2D", (32, 32, 16), 208, filters=16, kernel_size=[2, 2], padding="same", activation="relu"),
    node("MaxPooling2D", (16, 16, 16), pool_size=[2, 2]),
    node("Flatten", (4096,)),
    node("Dense", (10,), 40970, units=10, activation="softmax"),
)


def grade(facts: ModelFacts | None, rubric: Rubric | None = None, **evidence: Any) -> dict[str, Any]:
    rubric = rubric or parse_rubric(CIFAR_HEAD)
    results = run_checks(rubric, Evidence(model=facts, **evidence))
    return {result.id: result for result in results}


def probe(**variables: Any) -> ProbeFacts:
    return ProbeFacts.model_validate(
        {
            "variables": {
                name: {"value": value, "type": type(value).__name__} for name, value in variables.items()
            }
        }
    )


def test_the_right_model_passes_every_model_check() -> None:
    results = grade(model(*RIGHT), probe=probe(conv_params=208, ratio=0.505))
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(results, "pass")
    assert results["architecture"].message == "all 4 expected layers match"


def test_a_wrong_kernel_size_is_explained_with_the_lessons_formula() -> None:
    wrong = node("Conv2D", (32, 32, 16), 448, filters=16, kernel_size=[3, 3], padding="same")
    result = grade(model(wrong, *RIGHT[1:]))["architecture"]
    assert result.status == "fail" and result.first_difference == 0
    row = result.layer_rows[0]
    assert "kernel_size (3, 3), expected (2, 2)" in (row.explanation or "")
    assert "params 448, expected 208 = 16·2·2·3 + 16" in (row.explanation or "")
    assert result.points == pytest.approx(6 * 3 / 4)


def test_a_missing_layer_is_one_row_not_a_shift() -> None:
    result = grade(model(RIGHT[0], RIGHT[2], RIGHT[3]))["architecture"]
    assert [row.status for row in result.layer_rows] == ["match", "missing", "match", "match"]
    assert "a MaxPooling2D layer is missing" in result.message


def test_all_or_nothing_when_partial_is_off() -> None:
    rubric = parse_rubric(CIFAR_HEAD.replace("    points: 6\n", "    points: 6\n    partial: false\n", 1))
    result = grade(model(RIGHT[0], RIGHT[2], RIGHT[3]), rubric)["architecture"]
    assert result.status == "fail" and result.points == 0


def test_raw_operations_fail_the_architecture_and_are_named() -> None:
    """A classifier hidden in keras.ops calls beside the right layers: the graph walk shows it."""
    hidden = (
        node("Matmul", (10,), kind="op").model_copy(update={"constants": 30720}),
        node("Add", (10,), kind="op"),
    )
    facts = model(*RIGHT, *hidden)
    result = grade(facts)["architecture"]
    assert result.status == "fail"
    assert "operation" in result.message and "Matmul (matmul, with 30,720 constant values)" in result.message
    extra = [row for row in result.layer_rows if row.status == "extra"]
    assert [row.actual["kind"] for row in extra if row.actual] == ["op", "op"]
    assert [op.type for op in unaccounted_operations(parse_rubric(CIFAR_HEAD), facts)] == ["Matmul", "Add"]


def test_operations_the_rubric_lists_are_accounted_for() -> None:
    rubric = parse_rubric(
        CIFAR_HEAD.replace("      - {type: Flatten,", "      - {type: Add}\n      - {type: Flatten,")
    )
    facts = model(RIGHT[0], RIGHT[1], node("Add", (16, 16, 16), kind="op"), *RIGHT[2:])
    assert unaccounted_operations(rubric, facts) == ()


def test_an_accuracy_check_is_refused_for_a_model_with_unaccounted_operations() -> None:
    message = accuracy_refusal((node("Matmul", (10,), kind="op"),))
    assert message.startswith("not evaluated") and "Matmul" in message


def test_parameter_ranges_and_output_shapes() -> None:
    small = model(*RIGHT[:3], node("Dense", (5,), 20485, units=5, activation="softmax"))
    results = grade(small)
    assert results["size"].status == "fail" and "expected between 40000 and 42000" in results["size"].message
    assert (
        results["output"].status == "fail"
        and "output shape is (5,), expected (10,)" in results["output"].message
    )


@pytest.mark.parametrize(
    ("values", "answer", "ratio"),
    [
        ({"conv_params": 208, "ratio": 0.509}, "pass", "pass"),
        ({"conv_params": 208.0, "ratio": 0.52}, "pass", "fail"),
        ({"conv_params": True, "ratio": "0.5"}, "fail", "fail"),
    ],
)
def test_variables_are_compared_by_value_with_the_rubrics_tolerance(
    values: dict[str, Any], answer: str, ratio: str
) -> None:
    results = grade(model(*RIGHT), probe=probe(**values))
    assert (results["answer"].status, results["ratio"].status) == (answer, ratio)


def test_a_missing_variable_and_a_missing_model_say_why() -> None:
    results = grade(None, model_problem="the notebook defines no Keras model", probe=probe())
    assert results["architecture"].status == "error"
    assert results["architecture"].message == "the notebook defines no Keras model"
    assert results["answer"].status == "fail" and "does not define `conv_params`" in results["answer"].message


def test_variables_are_an_error_when_the_notebook_did_not_finish() -> None:
    results = grade(
        None, run_problem="time ran out in cell 3, so the notebook's state could not be inspected"
    )
    assert results["answer"].status == "error" and "time ran out in cell 3" in results["answer"].message
