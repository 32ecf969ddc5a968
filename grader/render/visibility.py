"""What a student may see of a result before grading: the student view, and Gradescope's visibility.

A rubric check is `visible`, `hidden` or `after_due` (Gradescope's terms). The canonical JSON keeps
every check whatever its visibility: it is the instructor's record. Everything a student reads
before grading is derived from it here: the HTML report and terminal summary in student view, the
`%grade` display in a notebook, Gradescope's top-level output. In a student view a check that is
not visible is a row with its id and "hidden until grading" (or "shown after the due date") and
nothing else, since its message quotes the expected value, its description often states it, and
its layer table and metrics show it. The score shown is that of the visible checks: the total
would tell how the hidden ones went. A check gated by a hidden one (`requires:`) arrives here
already hidden (`grader.rubric.gating`, applied by `grader.grading.check.run_checks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from grader.render import pages
from grader.render.pages import STATUS_MARK
from grader.result import CheckResult, GradeResult, Visibility

WITHHELD: dict[Visibility, str] = {"hidden": "hidden until grading", "after_due": "shown after the due date"}
GRADESCOPE: dict[Visibility, str] = {
    "visible": "visible",
    "hidden": "after_published",
    "after_due": "after_due_date",
}
"""Our visibility -> Gradescope's test `visibility`. A hidden check counts towards the grade, so it is
`after_published` (shown once the instructor publishes the grades), not Gradescope's `hidden`, which
is for tests that give no points and are never shown (the autograder specification, see docs/batch.md)."""


def is_shown(check: Mapping[str, Any] | CheckResult) -> bool:
    """Whether a student sees this check's result before grading."""
    if isinstance(check, CheckResult):
        return check.visibility == "visible"
    return check.get("visibility", "visible") == "visible"


def visible_score(checks: Iterable[Mapping[str, Any] | CheckResult]) -> tuple[float, float]:
    """Points and maximum over the visible checks only: what a student view may say of the score."""
    shown = [c for c in checks if is_shown(c)]
    points = sum(c.points if isinstance(c, CheckResult) else float(c["points"]) for c in shown)
    maximum = sum(c.max_points if isinstance(c, CheckResult) else float(c["max_points"]) for c in shown)
    return round(points, 2), round(maximum, 2)


def withheld_count(checks: Iterable[Mapping[str, Any] | CheckResult]) -> int:
    return sum(1 for c in checks if not is_shown(c))


def for_student(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result's JSON as a student may see it before grading (see the module docstring).

    Each check that is not visible becomes `{id, visibility, withheld}`, where `withheld` is the
    sentence to show; `score` and `max_score` are those of the visible checks; `student_view` is
    true and `withheld` counts the checks held back.
    """
    checks = []
    for check in result["checks"]:
        if is_shown(check):
            checks.append(dict(check))
        else:
            visibility = check.get("visibility", "hidden")
            checks.append({"id": check["id"], "visibility": visibility, "withheld": WITHHELD[visibility]})
    score, maximum = visible_score(result["checks"])
    return {
        **result,
        "checks": checks,
        "score": score,
        "max_score": maximum,
        "student_view": True,
        "withheld": withheld_count(result["checks"]),
    }


def render_fragment(result: Mapping[str, Any], *, student_view: bool = True) -> str:
    """A result as an HTML fragment (inline styles, no scripts): the `%grade` display, Gradescope's output.

    Rendered with autoescaping: every message can quote what the student's notebook holds.
    """

    env = pages.environment()
    shown = for_student(result) if student_view else dict(result)
    notice = self_check_notice(bool(result.get("self_check")), bool(result["run"]["sandboxed"]))
    return env.get_template("fragment.html.j2").render(r=shown, mark=STATUS_MARK, self_check=notice)


def self_check_notice(self_check: bool, sandboxed: bool) -> str | None:
    """The line every self-check report carries: it ran on the student's machine and is not a grade."""
    if not self_check:
        return None
    return "self-check: not a grade" if sandboxed else "self-check: not sandboxed, not a grade"


def score_line(result: GradeResult, student: bool) -> tuple[float, float, str]:
    """The score to print (visible checks only in a student view) and what follows it."""
    if not student:
        return result.score, result.max_score, ""
    score, maximum = visible_score(result.checks)
    count = withheld_count(result.checks)
    suffix = f" on the visible checks; {count} check(s) hidden until grading" if count else ""
    return score, maximum, suffix
