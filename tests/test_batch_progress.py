"""`grade batch`'s progress and closing lines say what happened, no more: issue 21, item 8.

The view is driven with scripted events (`grader.batch.engine`'s typed events, in the orders a
batch sends them) and read back from rich's own task and the text it printed; the rescore's
stage totals come from a real `run_batch` over a kept execution, with a rubric that needs no
model (so no kernel and no inspector start, and the test is fast).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console

from grader.batch.discovery import Found
from grader.batch.engine import (
    BatchSettings,
    BatchSummary,
    Failed,
    Graded,
    Grading,
    Planned,
    plan_batch,
    run_batch,
)
from grader.batch.executors import Task, TaskOutcome, TaskStarted
from grader.batch.store import Keys, ResultStore
from grader.cli.batch_view import BatchView, WallClock, closing_lines, wall_time
from grader.grading.grade import Execution, Overrides
from grader.grading.probe import ProbedVariable, ProbeFacts
from grader.result import CellOutcome, Failure, GradeResult, KernelSetup, RunFacts, StageTimes
from tests.conftest import write_notebook


def task(stem: str) -> Task:
    return Task(
        stem=stem,
        name=f"{stem}.ipynb",
        payload=b"{}",
        rubric_path="/nowhere/rubric.yaml",
        rubric_label="rubric.yaml",
        overrides=Overrides(),
        keys=Keys(execution="e", scoring="s"),
    )


def failure(stem: str) -> Failure:
    return Failure(
        stem=stem, submission=f"{stem}.ipynb", kind="submission", message="broken JSON", exit_code=2
    )


def graded(stem: str, cells: tuple[CellOutcome, ...] = ()) -> GradeResult:
    return GradeResult(
        submission=f"{stem}.ipynb",
        exercise="ex",
        title="Ex",
        rubric="rubric.yaml",
        score=1,
        max_score=2,
        checks=(),
        run=RunFacts(duration_s=3.0, device="CPU", sandboxed=True, failing_cells=(), cells=cells),
        grader_version="test",
    )


class Clock:
    """A hand-wound clock for the view's wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def view_of(clock: Clock | None = None) -> tuple[BatchView, io.StringIO]:
    written = io.StringIO()
    console = Console(file=written, width=200, force_terminal=False)
    return BatchView(console, WallClock(clock) if clock is not None else None), written


def counts(view: BatchView) -> tuple[float, float | None, bool]:
    assert view.bar is not None
    bar = view.progress.tasks[view.bar]
    return bar.completed, bar.total, bar.finished


def test_error_rows_never_run_the_bar_ahead_of_running_students() -> None:
    """Two unreadable submissions and three to grade: 2/5 at once, 5/5 only when the last one ends.

    Before, the error rows were outside the total yet advanced the bar, so it read 3/3 while two
    students were still running; an error that followed a failed display counted twice.
    """
    view, _ = view_of()
    with view.showing():
        view(
            Planned(to_grade=(task("a"), task("b"), task("c")), to_rescore=(), unchanged=("u",), failures=())
        )
        assert counts(view) == (0, 3, False)
    view, _ = view_of()
    with view.showing():
        view(
            Planned(
                to_grade=(task("a"), task("b"), task("c")),
                to_rescore=(),
                unchanged=(),
                failures=(failure("x"), failure("y")),
            )
        )
        assert counts(view) == (2, 5, False), "the error rows known at planning are done, and in the total"
        view(Failed(failure("x")))
        view(Failed(failure("y")))
        assert counts(view) == (2, 5, False), "their events do not count them again"
        view(Grading("a"))
        view(Grading("b"))
        view(Graded("a", graded("a")))
        assert counts(view) == (3, 5, False)
        view(Failed(failure("b")))
        view(Failed(failure("b")))  # the engine's own error row after a display that failed
        assert counts(view) == (4, 5, False), "b counts once, and c has not run yet"
        view(Grading("c"))
        view(Grading("c"))  # a worker that died: the task starts again
        assert view.running == {"c": None}
        view(Graded("c", graded("c")))
        assert counts(view) == (5, 5, True)
        assert view.running == {}


def test_a_row_the_plan_did_not_name_grows_the_total_with_the_count() -> None:
    view, _ = view_of()
    with view.showing():
        view(Planned(to_grade=(task("a"),), to_rescore=(), unchanged=(), failures=()))
        view(Failed(failure("stranger")))
        assert counts(view) == (1, 2, False), "done never exceeds the total, nor reaches it early"


def test_the_bar_and_the_closing_line_show_the_batchs_wall_time() -> None:
    """A 5 min 51 s batch whose last student ended at 0:58 ends its bar at 0:05:51, not 0:00:58."""
    clock = Clock()
    view, written = view_of(clock)
    with view.showing():
        view(Planned(to_grade=(task("a"),), to_rescore=(), unchanged=(), failures=()))
        clock.now = 58.0
        view(Graded("a", graded("a")))
        clock.now = 351.0  # writing the class outputs, feedback
    clock.now = 900.0  # the clock stopped with the batch
    assert view.clock.elapsed() == 351.0
    assert "0:05:51" in written.getvalue().splitlines()[-1]
    summary = BatchSummary(found=1, graded=1, wall_s=351.2)
    assert " in 5 min 51 s · class summary: out/index.html" in closing_lines(summary, "out/index.html")[0]
    assert (wall_time(58.4), wall_time(3725)) == ("58 s", "1 h 02 min")


def test_a_stopped_run_is_flagged_on_its_line() -> None:
    view, written = view_of()
    cells = (
        CellOutcome(number=1, source="x = 1", status="ok"),
        CellOutcome(number=2, source="while True: pass", status="timeout"),
        CellOutcome(number=3, source="y = 2", status="skipped"),
    )
    view(Graded("slow", graded("slow", cells)))
    view(Graded("fine", graded("fine", cells[:1])))
    lines = written.getvalue().splitlines()
    assert lines[0].startswith("✔ slow: 1/2 (3.0 s on CPU) · stopped: time ran out in cell 2")
    assert "stopped" not in lines[1]


RUBRIC = """\
exercise: answers
title: Answers only
checks:
  - id: answer
    points: 2
    variable: {name: answer, equals: 42}
"""


class NoKernels:
    """An executor for a batch that must start none: it fails the test if given anything to run."""

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome | TaskStarted]:
        assert not tasks, "a rescore starts no kernel"
        return iter(())


def test_a_rescore_reports_only_the_stages_it_ran_now(tmp_path: Path) -> None:
    """The kept run took 105.2 s to start its kernel; rescoring it now starts none, and says so."""
    rubric = tmp_path / "answers.yaml"
    rubric.write_text(RUBRIC, encoding="utf-8")
    (tmp_path / "class").mkdir()
    notebook = write_notebook(tmp_path / "class" / "ann.ipynb", "answer = 42")
    out = tmp_path / "out"
    settings = BatchSettings(rubric_path=rubric, rubrics_dir=tmp_path, overrides=Overrides(), out_dir=out)
    found = [Found(stem="ann", path=notebook, relative=("ann.ipynb",))]
    [planned] = plan_batch(found, settings)
    assert isinstance(planned, Task)
    kept = Execution(
        submission="ann.ipynb",
        run=RunFacts(
            duration_s=130.0,
            device="CPU",
            sandboxed=True,
            failing_cells=(),
            cells=(CellOutcome(number=1, source="answer = 42", status="ok"),),
            stages=StageTimes(kernel_start=105.2, prelude=3.0, cells=20.0, probe=1.5, measure=0.4),
        ),
        probe=ProbeFacts(variables={"answer": ProbedVariable(value=42, type="int")}),
        kernel_setup=KernelSetup(seed=0),
    )
    old = graded("ann").model_copy(update={"run": kept.run})
    ResultStore(out).save_result(
        "ann", Keys(execution=planned.keys.execution, scoring="older"), old.to_json(), kept
    )

    summary = run_batch(found, settings, NoKernels())

    assert (summary.graded, summary.rescored, summary.failures) == (0, 1, [])
    assert set(summary.stages) <= {"measure", "evaluate"}, summary.stages
    closing = "\n".join(closing_lines(summary, "index.html"))
    assert "kernel start" not in closing and "cells" not in closing.split("time per stage")[-1]
    assert summary.wall_s > 0
