"""No inference of hidden outcomes: what a student reads before grading is the same whatever a hidden check did.

A visible check that `requires:` a hidden one gives points, and says "counts only when ... passes",
exactly when the hidden check passes; Gradescope's top-level `score` counted the hidden points.
Either way two resubmissions bisect a hidden bound. The property: two submissions that differ only
in a hidden check's outcome give byte-identical student-facing outputs (the student view's JSON,
HTML report and fragment, terminal summary, Markdown feedback, and what Gradescope shows before
the grades are published). Real rubric YAML, the real checks; no kernel.
"""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from grader.grading.check import Evidence, run_checks
from grader.grading.probe import ProbedVariable, ProbeFacts
from grader.outputs.gradebook import Row, gradescope_results
from grader.outputs.gradescope import feedback
from grader.render.report import print_summary, render_html
from grader.render.visibility import for_student, render_fragment
from grader.result import GradeResult
from grader.rubric.model import parse_rubric
from tests.conftest import hand_built_result

RUBRIC = """
exercise: gated
title: A gated exercise
model: {{variable: model}}
checks:
  - id: answer
    points: 2
    variable: {{name: answer, equals: 4}}
  - id: secret
    points: {secret_points}
    visibility: {visibility}
    variable: {{name: secret, equals: {bound}}}
  - id: gated
    points: 3
    requires: [secret]
    variable: {{name: answer, equals: 4}}
  - id: gated-twice
    points: 1
    requires: [gated]
    variable: {{name: answer}}
"""


def graded(rubric_text: str, answer: Any, secret: Any) -> GradeResult:
    rubric = parse_rubric(rubric_text, source="gated.yaml")
    probe = ProbeFacts(
        variables={
            "answer": ProbedVariable(value=answer, type=type(answer).__name__),
            "secret": ProbedVariable(value=secret, type=type(secret).__name__),
        }
    )
    checks = run_checks(rubric, Evidence(model=None, probe=probe))
    return hand_built_result(*checks, exercise=rubric.exercise, title=rubric.title, rubric="gated.yaml")


def gradescope_shown(results: dict[str, Any]) -> dict[str, Any]:
    """What Gradescope shows a student before publication: every top-level field, and the visible tests."""
    return {
        **{key: value for key, value in results.items() if key != "tests"},
        "tests": [test for test in results["tests"] if test["visibility"] == "visible"],
    }


def student_outputs(result: GradeResult) -> dict[str, str]:
    data = json.loads(result.to_json())
    buffer = io.StringIO()
    print_summary(result, (), Console(file=buffer, width=120, color_system=None), student_view=True)
    results = gradescope_results(Row("s", "s.ipynb", data, None))
    return {
        "view": json.dumps(for_student(data), sort_keys=True),
        "html": render_html(data, student_view=True),
        "fragment": render_fragment(data, student_view=True),
        "terminal": buffer.getvalue(),
        "markdown": feedback(data, "md"),
        "gradescope": json.dumps(gradescope_shown(results), sort_keys=True),
    }


@settings(max_examples=25, deadline=None)
@given(
    bound=st.integers(min_value=-1000, max_value=1000),
    guess=st.integers(min_value=-1000, max_value=1000),
    answer=st.sampled_from([4, 5]),
    secret_points=st.integers(min_value=1, max_value=5),
    visibility=st.sampled_from(["hidden", "after_due"]),
)
def test_a_hidden_outcome_changes_no_student_facing_byte(
    bound: int, guess: int, answer: int, secret_points: int, visibility: str
) -> None:
    """The secret check passes with one submission and fails with the other; nothing a student reads differs."""
    text = RUBRIC.format(bound=bound, secret_points=secret_points, visibility=visibility)
    passing = graded(text, answer, bound)
    failing = graded(text, answer, bound + 1 + abs(guess))
    assert passing.score != failing.score, "the instructor's record must still tell them apart"
    assert student_outputs(passing) == student_outputs(failing)


def test_a_check_gated_by_a_hidden_one_is_withheld_and_the_total_is_the_released_one() -> None:
    """The gated checks are withheld like the hidden one; the shown score counts only `answer`."""
    text = RUBRIC.format(bound=7, secret_points=2, visibility="hidden")
    view = for_student(json.loads(graded(text, 4, 7).to_json()))
    rows = {check["id"]: check for check in view["checks"]}
    assert rows["answer"]["points"] == 2
    assert all("withheld" in rows[i] and "points" not in rows[i] for i in ("secret", "gated", "gated-twice"))
    assert (view["score"], view["max_score"], view["withheld"]) == (2, 2, 3)


def test_gradescope_gives_no_top_level_score_while_checks_are_withheld() -> None:
    """Gradescope's top-level `score` overrides the tests' total and was shown: it is left out, so
    Gradescope sums the tests itself, and the gated checks' tests wait for publication."""
    text = RUBRIC.format(bound=7, secret_points=2, visibility="hidden")
    result = graded(text, 4, 7)
    results = gradescope_results(Row("s", "s.ipynb", json.loads(result.to_json()), None))
    assert "score" not in results
    assert sum(test["score"] for test in results["tests"]) == result.score
    shown = {test["name"]: test["visibility"] for test in results["tests"]}
    assert shown == {
        "answer": "visible",
        "secret": "after_published",
        "gated": "after_published",
        "gated-twice": "after_published",
    }


def test_gradescope_keeps_the_top_level_score_when_nothing_is_withheld() -> None:
    text = RUBRIC.format(bound=7, secret_points=2, visibility="visible")
    result = graded(text, 4, 7)
    results = gradescope_results(Row("s", "s.ipynb", json.loads(result.to_json()), None))
    assert results["score"] == result.score == 8
