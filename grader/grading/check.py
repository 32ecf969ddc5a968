"""Scoring: each rubric check against the measured model and the probed facts -> `CheckResult`.

Checks are pure functions of typed values; nothing here touches the kernel or the file system,
so every verdict can be reproduced from the JSON result alone.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from grader.grading import alignment
from grader.grading.check_result import check_result
from grader.grading.probe import ProbeFacts
from grader.grading.training_check import check_training
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.result import CheckResult, LayerRow, Metrics, TierOutcome
from grader.rubric import formulas, gating
from grader.rubric.model import AccuracySpec, CheckSpec, LayerSpec, Range, Rubric, WithheldCheck

WITHOUT_ANSWERS = {
    "layers": "self-check: layer types only; their settings, shapes and parameter counts are checked when graded",
    "variable": "self-check: whether the value is right is checked when graded",
}
PARTLY_CHECKED = "partly checked, no points"


class Evidence(BaseModel):
    """Everything the checks may look at, gathered by the pipeline."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: ModelFacts | None
    model_problem: str | None = None
    probe: ProbeFacts | None = None
    run_problem: str | None = None
    accuracy: dict[str, Metrics | str] = {}


def run_checks(rubric: Rubric, evidence: Evidence) -> tuple[CheckResult, ...]:
    """Every check of the rubric; a student rubric adds a row per withheld check and says what it left out."""
    results = _apply_requirements(rubric, tuple(_run_check(rubric, spec, evidence) for spec in rubric.checks))
    released = gating.effective_visibility(rubric.checks)
    results = tuple(
        result
        if result.visibility == released[result.id]
        else result.model_copy(update={"visibility": released[result.id]})
        for result in results
    )
    if rubric.student is None:
        return results
    reduced = set(rubric.student.without_answers)
    results = tuple(
        partly_checked(result) if result.id in reduced and result.kind in WITHOUT_ANSWERS else result
        for result in results
    )
    return results + tuple(withheld_result(check) for check in rubric.student.withheld)


def partly_checked(result: CheckResult) -> CheckResult:
    """A self-check of a check published without its answers: its verdict on what it could see, and no points.

    Points for a check half-evaluated would read as a grade (a student saw 4.29/6 for an
    architecture graded 0/6), so it is skipped, worth nothing here, and says what it looked at.
    """
    return result.model_copy(
        update={
            "status": "skipped",
            "points": 0.0,
            "max_points": 0.0,
            "message": f"{PARTLY_CHECKED}: {result.message} ({WITHOUT_ANSWERS[result.kind]})",
        }
    )


def _apply_requirements(rubric: Rubric, results: tuple[CheckResult, ...]) -> tuple[CheckResult, ...]:
    """A check whose `requires:` did not all pass gives no points, and says which and why."""
    status = {result.id: result.status for result in results}
    specs = {spec.id: spec for spec in rubric.checks}
    gated = []
    for result in results:
        failed = [required for required in specs[result.id].requires if status.get(required) != "pass"]
        if failed and result.points > 0:
            needs = ", ".join(f"`{required}`" for required in failed)
            result = result.model_copy(
                update={
                    "status": "fail",
                    "points": 0.0,
                    "message": f"no points: this check counts only when {needs} passes ({result.message})",
                }
            )
        gated.append(result)
    return tuple(gated)


def withheld_result(check: WithheldCheck) -> CheckResult:
    """The row of a check a student rubric leaves out: not run, worth nothing here, and saying why."""
    points = f" ({check.points:g} points)" if check.points is not None else ""
    message = {
        "hidden": "hidden until grading",
        "answer": f"checked when graded{points}: the student rubric does not hold its expected value",
        "data": f"checked when graded{points}, on held-out data that the student rubric does not include",
    }[check.reason]
    return CheckResult(
        id=check.id,
        kind="withheld",
        status="skipped",
        points=0,
        max_points=0,
        message=message,
        visibility="hidden" if check.reason == "hidden" else "visible",
    )


def unaccounted_operations(rubric: Rubric, model: ModelFacts) -> tuple[LayerFacts, ...]:
    """What the model's graph computes with beyond layers, that no layers check of the rubric lists.

    That is raw operations (`keras.ops` calls) and nested models: an operation with constant
    arrays beside it, or a separately trained network nested as one row, can be the real
    classifier while the listed layers only look right. A model is graded for what its whole
    graph computes.
    """
    listed = {formulas.canonical_type(layer.type) for c in rubric.checks if c.layers for layer in c.layers}
    return tuple(
        node
        for node in model.layers
        if node.kind in ("op", "model") and formulas.canonical_type(node.type) not in listed
    )


def describe_operations(nodes: tuple[LayerFacts, ...]) -> str:
    """`Matmul (matmul, with 640 constant values), Add (add)`: what the graph computes besides its layers."""
    shown = [
        f"{node.type} ({node.name}"
        + (", a nested model" if node.kind == "model" else "")
        + (
            f", with {node.constants:,} constant value{'s' if node.constants != 1 else ''}"
            if node.constants
            else ""
        )
        + ")"
        for node in nodes[:8]
    ]
    more = f" and {len(nodes) - 8} more" if len(nodes) > 8 else ""
    return ", ".join(shown) + more


def accuracy_refusal(operations: tuple[LayerFacts, ...]) -> str:
    return (
        "not evaluated: the model computes with operations or nested models outside the layers the rubric lists: "
        f"{describe_operations(operations)}; the grader measures accuracy only for models built from the "
        "exercise's layers (use keras.layers, not keras.ops, inside the model)"
    )


def _run_check(rubric: Rubric, spec: CheckSpec, evidence: Evidence) -> CheckResult:
    if spec.variable is not None:
        return check_variable(spec, evidence)
    if spec.training is not None:
        graded = evidence.model.variable if evidence.model is not None else rubric.model.variable
        return check_training(spec, spec.training, evidence.probe, graded)
    if evidence.model is None:
        problem = evidence.model_problem or "no Keras model was found"
        return check_result(spec, "error", 0, problem)
    if spec.layers is not None:
        return check_layers(spec, spec.layers, evidence.model, rubric.model.input_shape)
    if spec.total_params is not None:
        return check_total_params(spec, spec.total_params, evidence.model)
    if spec.accuracy is not None:
        return check_accuracy(spec, spec.accuracy, evidence.accuracy.get(spec.id))
    assert spec.output_shape is not None
    return check_output_shape(spec, spec.output_shape, evidence.model)


def check_total_params(spec: CheckSpec, expected: int | Range, model: ModelFacts) -> CheckResult:
    actual = model.total_params
    if isinstance(expected, Range):
        ok, wanted = expected.contains(actual), expected.describe()
    else:
        ok, wanted = actual == expected, f"{expected:,}"
    if ok:
        return check_result(spec, "pass", spec.points, f"{actual:,} parameters, as expected ({wanted})")
    return check_result(
        spec,
        "fail",
        0,
        f"{actual:,} parameters, expected {wanted}; the layer table shows where the counts differ",
    )


def check_accuracy(spec: CheckSpec, accuracy: AccuracySpec, outcome: Metrics | str | None) -> CheckResult:
    """The highest tier the held-out accuracy reaches gives the points; below every tier, none."""
    if not isinstance(outcome, Metrics):
        return check_result(spec, "error", 0, outcome or "the model was not evaluated on the held-out data")
    tiers = tuple(
        TierOutcome(min=t.min, points=t.points, reached=round(outcome.accuracy, 6) >= round(t.min, 6))
        for t in accuracy.tiers
    )
    metrics = outcome.model_copy(update={"tiers": tiers})
    measured = f"accuracy {outcome.accuracy:.3f} on {outcome.samples:,} held-out images"
    top = tiers[0]
    reached = next((t for t in tiers if t.reached), None)
    if reached is None:
        lowest = tiers[-1]
        return check_result(
            spec, "fail", 0, f"{measured}: below the lowest tier (at least {lowest.min:g})", metrics=metrics
        )
    if reached is top:
        message = f"{measured}: reaches the top tier (at least {top.min:g})"
        return check_result(spec, "pass", top.points, message, metrics=metrics)
    return check_result(
        spec,
        "fail",
        reached.points,
        f"{measured}: reaches the tier at least {reached.min:g} ({reached.points:g} points); "
        f"full points need at least {top.min:g}",
        metrics=metrics,
    )


def check_output_shape(spec: CheckSpec, expected: tuple[int, ...], model: ModelFacts) -> CheckResult:
    actual = model.output_shape
    if actual is not None and tuple(actual) == tuple(expected):
        return check_result(
            spec, "pass", spec.points, f"the model's output shape is {formulas.format_shape(actual)}"
        )
    return check_result(
        spec,
        "fail",
        0,
        f"the model's output shape is {formulas.format_shape(actual)}, expected {formulas.format_shape(expected)}"
        " (without the batch dimension)",
    )


def check_variable(spec: CheckSpec, evidence: Evidence) -> CheckResult:
    assert spec.variable is not None
    name = spec.variable.name
    if evidence.probe is None:
        return check_result(
            spec,
            "error",
            0,
            evidence.run_problem or f"`{name}` could not be read: the notebook did not finish",
        )
    if name in evidence.probe.missing_variables or name not in evidence.probe.variables:
        return check_result(spec, "fail", 0, f"the notebook does not define `{name}`")
    probed = evidence.probe.variables[name]
    if probed.error:
        return check_result(
            spec, "fail", 0, f"`{name}` is a {probed.type}, not a plain value ({probed.error})"
        )
    if spec.variable.equals is None:
        return check_result(spec, "pass", spec.points, f"`{name}` is defined")
    expected, actual = spec.variable.equals, probed.value
    if _equal(actual, expected, spec.variable.tolerance):
        return check_result(spec, "pass", spec.points, f"`{name}` = {actual!r}, as expected")
    tolerance = f" (± {spec.variable.tolerance:g})" if spec.variable.tolerance else ""
    return check_result(spec, "fail", 0, f"`{name}` = {actual!r}, expected {expected!r}{tolerance}")


def _equal(actual: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(actual, expected, abs_tol=tolerance, rel_tol=0) or actual == expected
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(
            _equal(a, e, tolerance) for a, e in zip(actual, expected, strict=True)
        )
    return bool(actual == expected)


def check_layers(
    spec: CheckSpec, expected: list[LayerSpec], model: ModelFacts, input_shape: tuple[int, ...] | None
) -> CheckResult:
    """Points in proportion to the rows not charged: a row that only follows from an earlier difference costs nothing.

    A row matched in a spelling the rubric's `accept:` declares equivalent is named in the message
    too, so the report says which other form was taken as the rubric's.
    """
    rows = alignment.layer_rows(expected, model, input_shape, frozenset(spec.accept))
    charged = [i for i, row in enumerate(rows) if row.charged]
    if not charged:
        matched = (
            "the expected layer matches"
            if len(expected) == 1
            else f"all {len(expected)} expected layers match"
        )
        return check_result(spec, "pass", spec.points, matched + _accepted(rows), layer_rows=rows)
    points = spec.points * (len(rows) - len(charged)) / len(rows) if spec.partial else 0.0
    first = charged[0]
    extra = {r.actual["name"] for r in rows if r.status == "extra" and r.actual is not None}
    operations = tuple(node for node in model.layers if node.kind in ("op", "model") and node.name in extra)
    computes = (
        f"the model computes with operation(s) or nested model(s) the rubric does not list: "
        f"{describe_operations(operations)}; "
        if operations
        else ""
    )
    counted = (
        f"1 of {len(rows)} layers differs, at layer {rows[first].position}"
        if len(charged) == 1
        else f"{len(charged)} of {len(rows)} layers differ, first at layer {rows[first].position}"
    )
    return check_result(
        spec,
        "fail",
        points,
        f"{computes}{counted}: {_describe(rows[first])}{_following(rows, len(charged))}{_accepted(rows)}",
        layer_rows=rows,
        first_difference=first,
    )


def _accepted(rows: tuple[LayerRow, ...]) -> str:
    """`; accepted: activation as its own layer (...), declared equivalent by the rubric`, per such row."""
    return "".join(f"; accepted: {row.accepted}" for row in rows if row.accepted)


def _following(rows: tuple[LayerRow, ...], charged: int) -> str:
    """`; layers 5–8 only follow from it and are not charged`: the rows a difference carried over to."""
    positions = [row.position for row in rows if row.status == "follows"]
    if not positions:
        return ""
    spans: list[str] = []
    start = previous = positions[0]
    for position in [*positions[1:], None]:
        if position is not None and position == previous + 1:
            previous = position
            continue
        spans.append(f"{start}" if start == previous else f"{start}–{previous}")
        if position is not None:
            start = previous = position
    layers = ("layer " if len(positions) == 1 else "layers ") + ", ".join(spans)
    source = "it" if charged == 1 else "an earlier difference"
    verb = "follows" if len(positions) == 1 else "follow"
    return f"; {layers} only {verb} from {source} and {'is' if len(positions) == 1 else 'are'} not charged"


def _describe(row: LayerRow) -> str:
    if row.status == "missing":
        assert row.expected is not None
        return f"a {row.expected['type']} layer is missing" + (
            f" ({row.explanation})" if row.explanation else ""
        )
    if row.status == "extra":
        assert row.actual is not None
        what = {"op": "operation", "model": "nested model"}.get(row.actual.get("kind", "layer"), "layer")
        return (
            f"an extra {row.actual['type']} {what} ({row.actual['name']}) that the exercise does not ask for"
        )
    return row.explanation or "; ".join(row.differences)
