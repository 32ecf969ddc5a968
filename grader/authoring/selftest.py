"""`grade rubric test`: grade a rubric's reference solution and its listed examples.

The solution must get full marks with every check passing; each example must get the score or
check statuses the rubric declares for it. Any difference is reported, so a rubric change that
would grade the class differently is caught before release.

What grades the files is handed in (`GradeEach`): the command passes the batch's executor
(`grader.batch.engine.grade_files`: parallel workers, kernels forked from the warm template),
which this wing may not import; `one_by_one`, grading each file alone in this process, is the
reference it must agree with. Either way the outcomes come back in a stable order: rubric by
rubric, the solution first, then the examples as the rubric lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from grader.errors import ExitCode, GradingError, RubricError
from grader.grading.grade import Overrides, grade_submission
from grader.grading.submission import load_submission
from grader.result import Failure, GradeResult
from grader.rubric.model import LoadedRubric

SCORE_TOLERANCE = 0.005

FileGrade = GradeResult | Failure
"""What grading one file gave: its result, or the row that says why it could not be graded."""
GradeEach = Callable[[Sequence[tuple[Path, LoadedRubric]], Overrides], Iterator[tuple[int, FileGrade]]]
"""Grades each (file, rubric) and yields (its index, what it gave), in any order, each exactly once."""


@dataclass(frozen=True)
class Expectation:
    """One submission the rubric must grade a known way, and what it got.

    `exit_code` is what the command exits with when this one did not pass: 1 for a grade that
    differs or a file that cannot be read (as before), 3 when the rubric has no solution to test,
    5 when the grader itself failed on the file.
    """

    path: Path
    label: str
    expected_score: float | None
    expected_statuses: dict[str, str]
    result: GradeResult | None = None
    problem: str | None = None
    hint: str = ""
    exit_code: ExitCode = ExitCode.BELOW_FAIL_UNDER
    differences: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.differences


def solution_candidates(loaded: LoadedRubric) -> list[Path]:
    """Where the solution may be: `solution:` relative to the rubric, else exercises/<id>/solution.ipynb
    beside the rubrics folder or in the working folder."""
    rubric = loaded.rubric
    if rubric.solution is not None:
        return [Path(os.path.normpath(loaded.path.parent / rubric.solution))]
    return list(
        dict.fromkeys(
            [
                loaded.path.parent.parent / "exercises" / rubric.exercise / "solution.ipynb",
                Path("exercises") / rubric.exercise / "solution.ipynb",
            ]
        )
    )


def solution_path(loaded: LoadedRubric) -> Path:
    """The reference solution; a `RubricError` naming where it was looked for when there is none."""
    candidates = solution_candidates(loaded)
    if loaded.rubric.solution is not None:
        return candidates[0]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise RubricError(
            f"{loaded.path}: no reference solution for {loaded.rubric.exercise!r} "
            f"(looked for {', '.join(str(c) for c in candidates)})",
            hint="add `solution: PATH` (relative to the rubric) to the rubric",
        )
    return found


def expectations(loaded: LoadedRubric) -> list[Expectation]:
    """The solution (full marks, every check passing) and each listed example, in the rubric's order.

    A missing solution is its row, already decided (exit code 3): the examples are still graded.
    """
    rubric = loaded.rubric
    solution = Expectation(
        path=solution_candidates(loaded)[0],
        label="solution",
        expected_score=rubric.max_score,
        expected_statuses={check.id: "pass" for check in rubric.checks},
    )
    try:
        solution = replace(solution, path=solution_path(loaded))
    except RubricError as exc:
        solution = replace(solution, problem=exc.message, hint=exc.hint, exit_code=ExitCode.BAD_RUBRIC)
    examples = [
        Expectation(
            path=Path(os.path.normpath(loaded.path.parent / example.path)),
            label="example",
            expected_score=example.score,
            expected_statuses=dict(example.statuses or {}),
        )
        for example in rubric.examples
    ]
    return [solution, *examples]


def self_test(
    rubrics: Sequence[LoadedRubric], grade_each: GradeEach, overrides: Overrides | None = None
) -> Iterator[Expectation]:
    """Grade every rubric's solution and examples at once with `grade_each`; yield each outcome in order.

    An outcome is yielded as soon as it and every one before it are decided, so the report reads
    the same whatever order the workers finish in; a row decided before grading (no solution)
    comes first, without waiting for a kernel.
    """
    wanted = [(w, loaded) for loaded in rubrics for w in expectations(loaded)]
    to_grade = [index for index, (w, _) in enumerate(wanted) if w.problem is None]
    early = ((index, w) for index, (w, _) in enumerate(wanted) if w.problem is not None)
    graded = grade_each([(wanted[i][0].path, wanted[i][1]) for i in to_grade], overrides or Overrides())
    judged = (
        (to_grade[position], judge(wanted[to_grade[position]][0], outcome))
        for position, outcome in _with_stragglers(graded, len(to_grade))
    )
    yield from _in_order(chain(early, judged))


def _in_order(items: Iterable[tuple[int, Expectation]]) -> Iterator[Expectation]:
    """Each item by its index, 0, 1, 2...: one that comes early waits for those before it."""
    waiting: dict[int, Expectation] = {}
    shown = 0
    for index, item in items:
        waiting[index] = item
        while shown in waiting:
            yield waiting.pop(shown)
            shown += 1
    yield from (waiting[i] for i in sorted(waiting))


def _with_stragglers(graded: Iterable[tuple[int, FileGrade]], count: int) -> Iterator[tuple[int, FileGrade]]:
    """What `graded` yields, then a grader-failure row for any file it never answered for."""
    seen: set[int] = set()
    for position, outcome in graded:
        seen.add(position)
        yield position, outcome
    for position in sorted(set(range(count)) - seen):
        yield position, _never_graded()


def _never_graded() -> Failure:
    """The row of a file the executor never answered for: a grader bug, never a silent gap in the report."""
    return Failure(
        stem="",
        submission="",
        kind="grader",
        message="the grader itself failed (no result came back for this file); this is a bug in the grader",
        exit_code=int(ExitCode.GRADER_FAILURE),
    )


def judge(wanted: Expectation, outcome: FileGrade) -> Expectation:
    """The expectation with what grading gave: every difference from what the rubric declares, or the problem."""
    if isinstance(outcome, Failure):
        code = ExitCode.GRADER_FAILURE if outcome.kind == "grader" else ExitCode.BELOW_FAIL_UNDER
        return replace(wanted, problem=outcome.message, hint=outcome.hint, exit_code=code)
    differences: list[str] = []
    if wanted.expected_score is not None and abs(outcome.score - wanted.expected_score) > SCORE_TOLERANCE:
        differences.append(f"score {outcome.score:g}, expected {wanted.expected_score:g}")
    got = {check.id: check.status for check in outcome.checks}
    for check_id, status in wanted.expected_statuses.items():
        if got.get(check_id) != status:
            message = next((c.message for c in outcome.checks if c.id == check_id), "")
            differences.append(f"{check_id}: {got.get(check_id)}, expected {status} ({message})")
    return replace(wanted, result=outcome, differences=tuple(differences))


def one_by_one(
    files: Sequence[tuple[Path, LoadedRubric]], overrides: Overrides
) -> Iterator[tuple[int, FileGrade]]:
    """Each file graded alone in this process, one after another: what `grade FILE --rubric R` gives.

    The reference the batch's grading must agree with (the tests compare them); a file that cannot
    be read or graded is its row, as in a batch.
    """
    for index, (path, loaded) in enumerate(files):
        try:
            yield index, grade_submission(load_submission(path), loaded, overrides)
        except GradingError as exc:
            yield index, Failure.from_error(path.stem, path.name, exc)


def exit_code_for(outcomes: Iterable[Expectation]) -> ExitCode:
    """0 when every outcome passed; else the gravest of theirs (5 grader failure, 3 no solution, 1 a difference)."""
    return max((o.exit_code for o in outcomes if not o.passed), default=ExitCode.GRADED)
