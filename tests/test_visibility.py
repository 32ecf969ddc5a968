"""Visibility: what a student sees of a hidden check before grading is its id and nothing else.

A hidden check's message quotes its expected value, its description often states it, its layer
table and metrics show it. These tests hold every student-facing rendering of one result (the HTML
report and terminal summary in student view, the `%grade` fragment, Gradescope's results.json and
its Markdown feedback) to that, and check that the full view and the JSON still have it (so each
test can fail). Pure functions over typed values: none starts a kernel.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from grader.errors import RubricError
from grader.grading.check import Evidence, run_checks
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.outputs.gradebook import Row, gradescope_results
from grader.outputs.gradescope import feedback, md_escape
from grader.render.report import print_summary, render_html
from grader.render.visibility import (
    GRADESCOPE,
    for_student,
    render_fragment,
    self_check_notice,
    visible_score,
)
from grader.result import (
    CellOutcome,
    CheckResult,
    ClassScore,
    GradeResult,
    LayerRow,
    Metrics,
    RunFacts,
)
from grader.rubric.model import parse_rubric

SECRET = "987654"
"""The hidden checks' expected value: it must reach no student-facing output."""
SECRET_SHOWN = "987,654"


def metrics(accuracy: float) -> Metrics:
    return Metrics(
        accuracy=accuracy,
        samples=2,
        correct=1,
        data="held-out.npz",
        input_shape=(8, 8, 1),
        per_class=(ClassScore(label=0, count=1, correct=1, accuracy=1.0),),
        confusion=((1,),),
        device="CPU",
        duration_s=0.1,
    )


def result(*, self_check: bool = False, sandboxed: bool = True) -> GradeResult:
    """A graded notebook with a visible check, a hidden layers check, an after_due check and a hidden accuracy check."""
    secret_row = LayerRow(
        position=1,
        expected={"type": "Dense", "units": int(SECRET), "params": int(SECRET)},
        actual={"name": "dense", "type": "Dense", "units": 10, "params": 650},
        status="mismatch",
        differences=(f"units 10, expected {SECRET_SHOWN}",),
        explanation=f"units 10, expected {SECRET_SHOWN}",
    )
    return GradeResult(
        submission="alice.ipynb",
        exercise="digits-mlp",
        title="A multilayer perceptron",
        rubric="rubrics/digits-mlp.yaml",
        score=6,
        max_score=10,
        checks=(
            CheckResult(
                id="output",
                kind="output_shape",
                status="pass",
                points=1,
                max_points=1,
                message="the output is (10,)",
            ),
            CheckResult(
                id="secret-layers",
                kind="layers",
                status="fail",
                points=0,
                max_points=3,
                message=f"0 of 1 expected layers match; first difference at layer 1: units 10, expected {SECRET_SHOWN}",
                description=f"A Dense layer of {SECRET} units",
                layer_rows=(secret_row,),
                first_difference=0,
                visibility="hidden",
            ),
            CheckResult(
                id="after-due",
                kind="total_params",
                status="pass",
                points=2,
                max_points=2,
                message=f"650 parameters, expected at most {SECRET}",
                visibility="after_due",
            ),
            CheckResult(
                id="accuracy",
                kind="accuracy",
                status="fail",
                points=3,
                max_points=4,
                message=f"accuracy 0.500 on 2 held-out images: full points need at least 0.{SECRET}",
                metrics=metrics(0.5),
                visibility="hidden",
            ),
        ),
        run=RunFacts(
            duration_s=1.0,
            device="CPU",
            sandboxed=sandboxed,
            failing_cells=(),
            cells=(CellOutcome(number=1, source="x = 1", status="ok"),),
        ),
        model=ModelFacts(
            variable="model",
            class_name="Sequential",
            layers=(
                LayerFacts(name="dense", type="Dense", config={"units": 10}, output_shape=(10,), params=650),
            ),
            total_params=650,
            input_shape=(64,),
            output_shape=(10,),
        ),
        grader_version="test",
        self_check=self_check,
    )


def as_json(graded: GradeResult) -> dict:
    return json.loads(graded.to_json())


def summary(graded: GradeResult, *, student_view: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=300, highlight=False, color_system=None)
    print_summary(graded, (Path("reports/alice.html"),), console, student_view=student_view)
    return buffer.getvalue()


def assert_secret_free(text: str) -> None:
    assert SECRET not in text and SECRET_SHOWN not in text


def test_the_json_keeps_every_check_and_its_visibility() -> None:
    data = as_json(result())
    assert [c["visibility"] for c in data["checks"]] == ["visible", "hidden", "after_due", "hidden"]
    assert SECRET_SHOWN in data["checks"][1]["message"]


def test_the_student_view_keeps_only_the_id_of_a_check_that_is_not_visible() -> None:
    view = for_student(as_json(result()))
    assert view["checks"][0]["message"] == "the output is (10,)"
    assert view["checks"][1] == {
        "id": "secret-layers",
        "visibility": "hidden",
        "withheld": "hidden until grading",
    }
    assert view["checks"][2]["withheld"] == "shown after the due date"
    assert (view["score"], view["max_score"], view["withheld"]) == (1, 1, 3)
    assert_secret_free(json.dumps(view))


def test_the_visible_score_leaves_out_the_hidden_checks() -> None:
    assert visible_score(result().checks) == (1, 1)
    assert visible_score(as_json(result())["checks"]) == (1, 1)


def test_the_html_report_in_student_view_holds_no_hidden_expected_value() -> None:
    full = render_html(as_json(result()))
    student = render_html(as_json(result()), student_view=True)
    assert SECRET_SHOWN in full and SECRET in full
    assert_secret_free(student)
    assert "hidden until grading" in student and "shown after the due date" in student
    assert "the output is (10,)" in student
    assert "3 check(s) hidden until grading" in student
    assert "Accuracy: accuracy" not in student and "Layers: secret-layers" not in student
    assert "1 / 1" in student


def test_the_terminal_summary_in_student_view_holds_no_hidden_expected_value() -> None:
    full = summary(result(), student_view=False)
    student = summary(result(), student_view=True)
    assert SECRET_SHOWN in full and "6 / 10" in full
    assert_secret_free(student)
    assert "1 / 1 on the visible checks; 3 check(s) hidden until grading" in student
    assert "secret-layers" in student and "hidden until grading" in student


def test_the_notebook_fragment_holds_no_hidden_expected_value() -> None:
    assert SECRET_SHOWN in render_fragment(as_json(result()), student_view=False)
    fragment = render_fragment(as_json(result()))
    assert_secret_free(fragment)
    assert "<script" not in fragment and "<style" not in fragment
    assert "the output is (10,)" in fragment and "hidden until grading" in fragment


def test_a_self_check_says_so_in_every_rendering() -> None:
    assert self_check_notice(False, False) is None
    assert self_check_notice(True, True) == "self-check: not a grade"
    graded = result(self_check=True, sandboxed=False)
    notice = "self-check: not sandboxed, not a grade"
    assert notice in summary(graded, student_view=True)
    assert notice in render_html(as_json(graded), student_view=True)
    assert notice in render_fragment(as_json(graded))
    assert notice not in render_html(as_json(result(sandboxed=False)))


def test_gradescope_results_map_visibility_and_keep_hidden_values_out_of_what_students_see() -> None:
    results = gradescope_results(Row("alice", "alice.ipynb", as_json(result()), None))
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert {name: t["visibility"] for name, t in tests.items()} == {
        "output": "visible",
        "secret-layers": "after_published",
        "after-due": "after_due_date",
        "accuracy": "after_published",
    }
    assert SECRET_SHOWN in tests["secret-layers"]["output"], "the instructor still sees it in Gradescope"
    shown = [results["output"], *(json.dumps(t) for t in results["tests"] if t["visibility"] == "visible")]
    assert_secret_free(" ".join(shown))
    assert results["output"] == (
        "A multilayer perceptron: 1/1 on the visible checks; 3 check(s) hidden until grading"
    )
    assert "leaderboard" not in results, "a hidden accuracy check gives no leaderboard"
    assert GRADESCOPE == {"visible": "visible", "hidden": "after_published", "after_due": "after_due_date"}


def test_a_visible_accuracy_check_gets_a_gradescope_leaderboard_column() -> None:
    data = as_json(result())
    data["checks"][3]["visibility"] = "visible"
    results = gradescope_results(Row("alice", "alice.ipynb", data, None))
    assert results["leaderboard"] == [{"name": "Accuracy", "value": 0.5}]
    data["checks"][3]["metrics"] = None
    assert gradescope_results(Row("a", "a.ipynb", data, None))["leaderboard"] == [
        {"name": "Accuracy", "value": 0.0}
    ]


def test_gradescope_feedback_is_the_student_view_in_html_or_markdown() -> None:
    data = as_json(result())
    data["checks"][0]["message"] = "`model` = [link](x) | *bold* <b>"
    markdown = feedback(data, "md")
    html = feedback(data, "html")
    for text in (markdown, html):
        assert_secret_free(text)
        assert "hidden until grading" in text
    assert md_escape("`model` = [link](x) | *bold* <b>") in markdown
    assert "| *bold*" not in markdown
    assert "&lt;b&gt;" in html and "<b>`model`" not in html


RUBRIC = """
exercise: conv-dims
title: t
model: {input_shape: [4, 4, 1]}
checks:
  - {id: shown, points: 1, output_shape: [10]}
  - {id: quiet, points: 1, visibility: hidden, total_params: 80}
"""


def test_the_rubric_takes_visibility_and_reveal_and_refuses_contradictions() -> None:
    rubric = parse_rubric(RUBRIC)
    assert [(c.visibility, c.reveal) for c in rubric.checks] == [("visible", False), ("hidden", False)]
    with pytest.raises(RubricError, match="reveal: true publishes the answers of a check that is hidden"):
        parse_rubric(RUBRIC.replace("visibility: hidden,", "visibility: hidden, reveal: true,"))
    with pytest.raises(RubricError, match=r"checks\[1\]\.visibility"):
        parse_rubric(RUBRIC.replace("visibility: hidden", "visibility: secret"))


def test_checks_carry_their_visibility_and_a_student_rubric_lists_what_it_withholds() -> None:
    model = ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=(),
        total_params=80,
        input_shape=None,
        output_shape=(10,),
    )
    checks = run_checks(parse_rubric(RUBRIC), Evidence(model=model))
    assert [(c.id, c.status, c.visibility) for c in checks] == [
        ("shown", "pass", "visible"),
        ("quiet", "pass", "hidden"),
    ]
    student = parse_rubric(
        RUBRIC.replace("  - {id: quiet, points: 1, visibility: hidden, total_params: 80}\n", "")
        + "student:\n  source: x.yaml\n  withheld: [{id: quiet, reason: hidden}, {id: size, reason: answer, points: 2}]\n"
    )
    rows = run_checks(student, Evidence(model=model))
    assert [(c.id, c.status, c.visibility, c.max_points) for c in rows] == [
        ("shown", "pass", "visible", 1),
        ("quiet", "skipped", "hidden", 0),
        ("size", "skipped", "visible", 0),
    ]
    assert rows[1].message == "hidden until grading"
    assert "checked when graded (2 points)" in rows[2].message
