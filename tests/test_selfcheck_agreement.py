"""A self-check that agrees with the grade: on every check it can evaluate, its verdict is the grade's.

A student saw "5.29 / 7 on the visible checks, architecture 4.29/6" where the grade was 3/11 with
architecture 0/6: the student rubric had only the layer types, yet the self-check showed points
as if graded. Here one instructor rubric (real YAML, with hypothesis choosing each check's
visibility, `reveal` and `requires:`) is published with `grade rubric publish`'s code, and the
same measured facts (a model, the notebook's variables) are scored with both rubrics by the real
checks. Every check the self-check shows with points has the grade's status, points and message;
every other check shows no points; and the self-check's total is the grade's over those checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from grader.authoring.publish import publish
from grader.errors import RubricError
from grader.grading.check import PARTLY_CHECKED, Evidence, run_checks
from grader.grading.probe import ProbedVariable, ProbeFacts
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.render.visibility import for_student, visible_score
from grader.result import CheckResult
from grader.rubric.model import load_rubric

CHECKS = ("architecture", "size", "output", "answer")
BODY = {
    "architecture": (
        "layers:\n"
        "      - {type: Dense, units: 16, activation: relu, output_shape: [16], params: 1040}\n"
        "      - {type: Dense, units: 10, activation: softmax, output_shape: [10], params: 170}"
    ),
    "size": "total_params: 1210",
    "output": "output_shape: [10]",
    "answer": "variable: {name: answer, equals: 1210}",
}


def dense(units: int, inputs: int, activation: str, index: int) -> LayerFacts:
    return LayerFacts(
        name=f"dense_{index}",
        type="Dense",
        config={"units": units, "activation": activation},
        output_shape=(units,),
        params=units * inputs + units,
    )


def model(hidden: int, outputs: int, activation: str) -> ModelFacts:
    layers = (dense(hidden, 64, activation, 0), dense(outputs, hidden, "softmax", 1))
    return ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=layers,
        total_params=sum(layer.params for layer in layers),
        input_shape=(64,),
        output_shape=(outputs,),
    )


def rubric_text(choices: dict[str, tuple[str, bool, list[str]]]) -> str:
    lines = ["exercise: agree", "title: Agreement", "model: {variable: model, input_shape: [64]}", "checks:"]
    for check in CHECKS:
        visibility, reveal, requires = choices[check]
        lines += [f"  - id: {check}", "    points: 3", f"    visibility: {visibility}"]
        if reveal and visibility == "visible":
            lines.append("    reveal: true")
        if requires:
            lines.append(f"    requires: [{', '.join(requires)}]")
        lines.append(f"    {BODY[check]}")
    return "\n".join(lines) + "\n"


def choice(index: int) -> st.SearchStrategy[tuple[str, bool, list[str]]]:
    earlier = list(CHECKS[:index])
    return st.tuples(
        st.sampled_from(["visible", "visible", "hidden", "after_due"]),
        st.booleans(),
        st.lists(st.sampled_from(earlier), unique=True, max_size=2) if earlier else st.just([]),
    )


def both(text: str, evidence: Evidence) -> tuple[tuple[CheckResult, ...], tuple[CheckResult, ...]]:
    with tempfile.TemporaryDirectory() as folder:
        instructor = Path(folder) / "agree.yaml"
        instructor.write_text(text, encoding="utf-8")
        loaded = load_rubric(instructor)
        try:
            student = publish(loaded, Path(folder) / "student" / "agree.yaml").rubric
        except RubricError as exc:
            assert "nothing a student can check" in exc.message
            reject()
        return run_checks(loaded.rubric, evidence), run_checks(student, evidence)


@settings(max_examples=25, deadline=None)
@given(
    choices=st.tuples(*(choice(i) for i in range(len(CHECKS)))),
    hidden=st.sampled_from([16, 32]),
    outputs=st.sampled_from([10, 7]),
    activation=st.sampled_from(["relu", "tanh"]),
    answer=st.sampled_from([1210, 99]),
)
def test_every_check_the_self_check_scores_is_scored_as_the_grade_scores_it(
    choices: tuple[Any, ...], hidden: int, outputs: int, activation: str, answer: int
) -> None:
    text = rubric_text(dict(zip(CHECKS, choices, strict=True)))
    probe = ProbeFacts(variables={"answer": ProbedVariable(value=answer, type="int")})
    evidence = Evidence(model=model(hidden, outputs, activation), probe=probe)
    graded, checked = both(text, evidence)
    grade = {result.id: result for result in graded}
    scored = [result for result in checked if result.kind != "withheld" and result.max_points > 0]
    for result in scored:
        expected = grade[result.id]
        assert (result.status, result.points, result.max_points, result.message, result.visibility) == (
            expected.status,
            expected.points,
            expected.max_points,
            expected.message,
            expected.visibility,
        ), text
    for result in checked:
        if result not in scored:
            assert result.points == 0 and result.max_points == 0
            assert result.kind == "withheld" or result.message.startswith(PARTLY_CHECKED)
    shown = [r for r in scored if r.visibility == "visible"]
    assert visible_score(checked) == visible_score(grade[r.id] for r in shown)


def test_a_layers_check_without_its_answers_is_partly_checked_with_no_points() -> None:
    """The issue's case: layer types match, the settings do not; the grade gives 0/3, the self-check no points."""
    choices: dict[str, tuple[str, bool, list[str]]] = {check: ("visible", False, []) for check in CHECKS}
    graded, checked = both(rubric_text(choices), Evidence(model=model(32, 10, "tanh"), probe=ProbeFacts()))
    architecture = next(r for r in checked if r.id == "architecture")
    assert next(r for r in graded if r.id == "architecture").points < 3
    assert (architecture.status, architecture.points, architecture.max_points) == ("skipped", 0, 0)
    assert architecture.message.startswith("partly checked, no points: ")
    assert "layer types only" in architecture.message


def test_a_revealed_check_gated_by_one_without_answers_is_published_without_its_own() -> None:
    """`answer` is revealed but counts only when `size` passes, which the student rubric cannot tell."""
    choices: dict[str, tuple[str, bool, list[str]]] = {check: ("visible", False, []) for check in CHECKS}
    choices["answer"] = ("visible", True, ["size"])
    _, checked = both(rubric_text(choices), Evidence(model=model(16, 10, "relu"), probe=ProbeFacts()))
    answer = next(r for r in checked if r.id == "answer")
    assert answer.max_points == 0 and answer.message.startswith(PARTLY_CHECKED)
    assert "1210" not in answer.message
    view = for_student(
        {"checks": [c.model_dump(mode="json") for c in checked], "run": {}, "title": "t", "exercise": "agree"}
    )
    assert view["score"] == 0
