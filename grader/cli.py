"""The `grade` command line.

`grade SUBMISSION` grades one notebook or script; subcommands (`grade rubric ...`) sit beside it.
A `GradingError` becomes a short message and its documented exit code; any other exception is a
grader bug, reported in one paragraph with exit code 5, never a raw traceback.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from grader import __version__
from grader.errors import ExitCode, GradingError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_COMMAND = "submission"

stderr = Console(stderr=True, highlight=False)


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to the default command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        wants_help = any(a in ("--help", "-h") for a in args) and first is None
        if (first is not None and first not in self.commands and not wants_help) or (
            first is None and args and not wants_help and "--version" not in args
        ):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("grade", "[OPTIONS] SUBMISSION | COMMAND [ARGS]...")


def reports_errors(func: F) -> F:
    """Turn grading errors into messages and exit codes; turn grader bugs into one clear paragraph."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GradingError as exc:
            stderr.print(f"[bold red]error:[/bold red] {exc.message}", markup=True)
            if exc.hint:
                stderr.print(f"  [cyan]hint:[/cyan] {exc.hint}", markup=True)
            sys.exit(int(exc.exit_code))
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            stderr.print(
                f"[bold red]internal error:[/bold red] the grader itself failed ({type(exc).__name__}: {exc}) "
                f"at {Path(where.filename).name}:{where.lineno}. This is a bug in the grader, not in the submission; "
                "please report it with the submission and rubric.",
                markup=True,
            )
            sys.exit(int(ExitCode.GRADER_FAILURE))

    return wrapper  # type: ignore[return-value]


@click.group(cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
def main() -> None:
    """Grade Keras exercises: run a submission in a sandboxed kernel, measure its model, write feedback.

    \b
    grade submissions/alice.ipynb            grade one notebook or .py script
    grade rubric list                         the rubrics found
    Exit codes: 0 graded, 1 below --fail-under, 2 usage, 3 bad rubric,
    4 unreadable submission, 5 grader failure, 6 sandbox required but unavailable.
    """


@main.command(DEFAULT_COMMAND, hidden=True)
@click.argument("submission", type=click.Path(path_type=Path))
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric YAML (default: from the submission).",
)
@click.option(
    "--rubrics",
    "rubrics_dir",
    type=click.Path(path_type=Path),
    default=Path("rubrics"),
    show_default=True,
    help="Folder to look up the submission's exercise id in.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where <stem>.json and <stem>.html are written.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    help="Whole-notebook time limit in seconds (overrides the rubric).",
)
@click.option(
    "--cell-timeout",
    type=click.FloatRange(min=1),
    help="Per-cell time limit in seconds (overrides the rubric).",
)
@click.option(
    "--memory-mb", type=click.IntRange(min=64), help="Kernel memory limit in MB (overrides the rubric)."
)
@click.option(
    "--require-sandbox",
    is_flag=True,
    help="Fail (exit 6) instead of running unsandboxed when bubblewrap is missing.",
)
@click.option("--no-sandbox", is_flag=True, help="Run the kernel without bubblewrap (trusted code only).")
@click.option(
    "--fail-under", type=str, help="Exit 1 when the score is below this: points (7) or a percentage (70%)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the score line.")
@reports_errors
def grade_one(
    submission: Path,
    rubric_path: Path | None,
    rubrics_dir: Path,
    out_dir: Path,
    timeout: float | None,
    cell_timeout: float | None,
    memory_mb: int | None,
    require_sandbox: bool,
    no_sandbox: bool,
    fail_under: str | None,
    quiet: bool,
) -> None:
    """Grade one notebook (.ipynb) or script (.py)."""
    from grader.grade import Overrides, grade_submission, resolve_rubric
    from grader.report import print_summary, write_reports
    from grader.run import SandboxMode
    from grader.submission import load_submission

    if require_sandbox and no_sandbox:
        raise click.UsageError("--require-sandbox and --no-sandbox contradict each other")
    threshold = _parse_fail_under(fail_under)
    loaded_submission = load_submission(submission)
    loaded_rubric = resolve_rubric(loaded_submission, rubric_path, rubrics_dir)
    mode: SandboxMode = "require" if require_sandbox else ("off" if no_sandbox else "auto")
    overrides = Overrides(timeout=timeout, cell_timeout=cell_timeout, memory_mb=memory_mb, sandbox=mode)
    result = grade_submission(loaded_submission, loaded_rubric, overrides)
    if not result.run.sandboxed and mode == "auto":
        stderr.print(
            f"[yellow]warning:[/yellow] {result.run.notes[0] if result.run.notes else 'not sandboxed'}",
            markup=True,
        )
    paths = write_reports(result, out_dir, loaded_submission.stem)
    console = Console(highlight=False)
    if quiet:
        console.print(f"{result.submission}: {result.score:g}/{result.max_score:g}")
    else:
        print_summary(result, paths, console)
    if threshold is not None:
        needed = threshold[0] * result.max_score / 100 if threshold[1] else threshold[0]
        if result.score < needed - 1e-9:
            console.print(f"[red]score {result.score:g} is below --fail-under {fail_under}[/red]")
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


if __name__ == "__main__":
    main()
