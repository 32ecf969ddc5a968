"""`grade SUBMISSION`: grading one notebook or script, a hidden default command so the common case needs no subcommand."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from grader.cli.shared import (
    DEFAULT_COMMAND,
    EXIT_CODES,
    DefaultCommand,
    debug_options,
    out_option,
    overrides_options,
    reports_errors,
    rubric_source_options,
    stderr,
)
from grader.errors import ExitCode

if TYPE_CHECKING:
    from grader.grading.grade import Overrides


@click.command(DEFAULT_COMMAND, cls=DefaultCommand, hidden=True, epilog=EXIT_CODES)
@click.argument("submission", type=click.Path(path_type=Path))
@rubric_source_options
@out_option(Path("reports"), "Where <stem>.json and <stem>.html are written.")
@overrides_options
@click.option(
    "--fail-under", type=str, help="Exit 1 when the score is below this: points (7) or a percentage (70%)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the score line.")
@debug_options
@click.option(
    "--self-check",
    is_flag=True,
    help="A student's check of their work: marked 'self-check, not a grade', student view by default "
    "(implied by a student rubric from `grade rubric publish`).",
)
@click.option(
    "--student-view/--full-view",
    "student_view",
    default=None,
    help="HTML and terminal show only what a student may see before grading: hidden checks as 'hidden "
    "until grading' (default: student view in a self-check). The JSON always keeps everything.",
)
@reports_errors
def grade_one(
    submission: Path,
    rubric_path: Path | None,
    rubrics_dir: Path,
    out_dir: Path,
    overrides: Overrides,
    fail_under: str | None,
    quiet: bool,
    self_check: bool,
    student_view: bool | None,
) -> None:
    """Grade one notebook (.ipynb) or script (.py)."""
    from rich.text import Text

    from grader.grading.grade import grade_submission, resolve_rubric
    from grader.grading.submission import load_submission
    from grader.render.report import plain, print_summary, write_reports
    from grader.render.visibility import score_line

    threshold = _parse_fail_under(fail_under)
    loaded_submission = load_submission(submission)
    loaded_rubric = resolve_rubric(loaded_submission, rubric_path, rubrics_dir)
    result = grade_submission(loaded_submission, loaded_rubric, overrides)
    self_check = self_check or loaded_rubric.rubric.student is not None
    result = result.model_copy(update={"self_check": self_check})
    student_view = self_check if student_view is None else student_view
    if not result.run.sandboxed and overrides.sandbox == "auto" and not self_check:
        stderr.print(
            Text.assemble(
                ("warning:", "yellow"),
                " ",
                plain(result.run.notes[0] if result.run.notes else "not sandboxed"),
            )
        )
    paths = write_reports(result, out_dir, loaded_submission.stem, student_view=student_view)
    console = Console(highlight=False)
    if quiet:
        shown, maximum, after = score_line(result, student_view)
        console.print(Text.assemble(plain(result.submission), f": {shown:g}/{maximum:g}{after}"))
    else:
        print_summary(result, paths, console, student_view=student_view)
    if threshold is not None:
        needed = threshold[0] * result.max_score / 100 if threshold[1] else threshold[0]
        if result.score < needed - 1e-9:
            console.print(plain(f"score {result.score:g} is below --fail-under {fail_under}", "red"))
            sys.exit(int(ExitCode.BELOW_FAIL_UNDER))


def _parse_fail_under(value: str | None) -> tuple[float, bool] | None:
    if value is None:
        return None
    text = value.strip()
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a number of points (7) or a percentage (70%)", param_hint="--fail-under"
        ) from None
    return number, percent
