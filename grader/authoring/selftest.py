"""`grade rubric test`: grade a rubric's reference solution and its listed examples.

The solution must get full marks with every check passing; each example must get the score or
check statuses the rubric declares for it. Any difference is reported, so a rubric change that
would grade the class differently is caught before release.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.errors import RubricError, SubmissionError
from grader.grading.grade import Overrides, grade_submission
from grader.grading.submission import load_submission
from grader.result import GradeResult
from grader.rubric.model import LoadedRubric

SCORE_TOLERANCE = 0.005


@dataclass(frozen=True)
class Expectation:
    """One submission the rubric must grade a known way, and what it got."""

    path: Path
    label: str
    expected_score: float | None
    expected_statuses: dict[str, str]
    result: GradeResult | None = None
    problem: str | None = None
    differences: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.differences


@dataclass(frozen=True)
class SelfTestReport:
    rubric: LoadedRubric
    outcomes: tuple[Expectation, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def solution_path(loaded: LoadedRubric) -> Path:
    """`solution:` relative to the rubric, else exercises/<id>/solution.ipynb beside rubrics/."""
    rubric = loaded.rubric
    if rubric.solution is not None:
        return loaded.path.parent / rubric.solution
    candidates = list(
        dict.fromkeys(
            [
                loaded.path.parent.parent / "exercises" / rubric.exercise / "solution.ipynb",
                Path("exercises") / rubric.exercise / "solution.ipynb",
            ]
        )
    )
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise RubricError(
            f"{loaded.path}: no reference solution for {rubric.exercise!r} "
            f"(looked for {', '.join(str(c) for c in candidates)})",
            hint="add `solution: PATH` (relative to the rubric) to the rubric",
        )
    return found


def expectations(loaded: LoadedRubric) -> list[Expectation]:
    """The solution (full marks, every check passing) and each listed example."""
    rubric = loaded.rubric
    solution = solution_path(loaded)
    wanted = [
        Expectation(
            path=solution,
            label="solution",
            expected_score=rubric.max_score,
            expected_statuses={check.id: "pass" for check in rubric.checks},
        )
    ]
    for example in rubric.examples:
        wanted.append(
            Expectation(
                path=Path(os.path.normpath(loaded.path.parent / example.path)),
                label="example",
                expected_score=example.score,
                expected_statuses=dict(example.statuses or {}),
            )
        )
    return wanted


def self_test(loaded: LoadedRubric, overrides: Overrides | None = None) -> Iterator[Expectation]:
    """Grade the solution and every example with the rubric; yield each as it is graded."""
    for expectation in expectations(loaded):
        yield _grade_expectation(loaded, expectation, overrides or Overrides())


def _grade_expectation(loaded: LoadedRubric, wanted: Expectation, overrides: Overrides) -> Expectation:
    try:
        submission = load_submission(wanted.path)
    except SubmissionError as exc:
        return replace(wanted, problem=exc.message)
    result = grade_submission(submission, loaded, overrides)
    differences: list[str] = []
    if wanted.expected_score is not None and abs(result.score - wanted.expected_score) > SCORE_TOLERANCE:
        differences.append(f"score {result.score:g}, expected {wanted.expected_score:g}")
    got = {check.id: check.status for check in result.checks}
    for check_id, status in wanted.expected_statuses.items():
        if got.get(check_id) != status:
            message = next((c.message for c in result.checks if c.id == check_id), "")
            differences.append(f"{check_id}: {got.get(check_id)}, expected {status} ({message})")
    return replace(wanted, result=result, differences=tuple(differences))
