"""`grade rubric ...`: an author's tools for writing and testing rubrics.

The work is done in `grader.authoring.new`, `grader.authoring.lint`, `grader.authoring.selftest` and `grader.authoring.publish`, which
print nothing; here are only the options, the messages and the exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click
from rich.console import Console

from grader.cli.shared import reports_errors
from grader.errors import ExitCode

if TYPE_CHECKING:
    from grader.authoring.selftest import GradeEach


@click.group("rubric")
def rubric_group() -> None:
    """Write and test rubrics: new, check, test, schema, publish, list."""


@rubric_group.command("new")
@click.option(
    "--from", "solution", required=True, type=click.Path(path_type=Path), help="The reference solution."
)
@click.option("--variable", help="The model variable to grade (default: the only model, or `model`).")
@click.option("--exercise", help="Exercise id (default: the notebook's, or its folder's name).")
@click.option("--data", help="Held-out data for an accuracy check: npz:PATH, sklearn:digits or keras:mnist.")
@click.option("--rescale", type=float, help="With --data: multiply pixel values by this.")
@click.option("--reshape", help="With --data: the shape of one input, e.g. 8,8,1.")
@click.option(
    "--file", "files", multiple=True, type=click.Path(path_type=Path), help="A file handed to the notebook."
)
@click.option(
    "--dataset",
    "course_sets",
    multiple=True,
    metavar="NAME[:train=N,test=N,seed=N,npz=PATH]",
    help="A Keras data set the solution loads (mnist, fashion_mnist, cifar10, cifar100), answered offline "
    "from the grader's Keras cache (or npz=PATH) and written under datasets:.",
)
@click.option(
    "--compat",
    type=click.Choice(["keras2", "none"]),
    help="keras2: measure under the Keras 2 compatibility layer (default: when the solution uses Keras 2 "
    "idioms); none: never.",
)
@click.option(
    "--max-epochs", type=click.IntRange(min=1), help="Cap every fit call (written as training: {max_epochs})."
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    help="Cap every epoch at this many batches (written as training: {max_steps}).",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), help="Write the rubric here (default: stdout)."
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@reports_errors
def rubric_new(
    solution: Path,
    variable: str | None,
    exercise: str | None,
    data: str | None,
    rescale: float | None,
    reshape: str | None,
    files: tuple[Path, ...],
    course_sets: tuple[str, ...],
    compat: Literal["keras2", "none"] | None,
    max_epochs: int | None,
    max_steps: int | None,
    out: Path | None,
    force: bool,
) -> None:
    """Measure a reference solution in the sandbox and write a commented rubric for it."""
    from grader.authoring import new as authoring

    if out is not None and out.exists() and not force:
        raise click.UsageError(f"{out} exists; pass --force to overwrite it")
    try:
        plan = authoring.accuracy_plan(data, rescale, reshape)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--data/--rescale/--reshape") from None
    try:
        sets = authoring.parse_datasets(course_sets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset") from None
    setup = authoring.SolutionSetup(
        compat_choice=compat, datasets=sets, max_epochs=max_epochs, max_steps=max_steps
    )
    measured = authoring.measure_solution(
        solution, variable, exercise, files=files, accuracy=plan, course=setup
    )
    text = authoring.new_rubric_text(measured, out)
    for note in measured.notes:
        click.echo(f"note: {note}", err=True)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}: {authoring.summary(measured)}; next: grade rubric check {out}", err=True)


@rubric_group.command("check")
@click.argument("rubrics", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Exit 3 on warnings too.")
@click.option(
    "--data-elsewhere",
    is_flag=True,
    help="The held-out data files live only on the grading machine: a missing one is not an error here.",
)
@reports_errors
def rubric_check(rubrics: tuple[Path, ...], strict: bool, data_elsewhere: bool) -> None:
    """Validate rubrics against Keras' layers and the solution, and warn about likely mistakes (exit 3 on errors)."""
    from grader.authoring.lint import lint
    from grader.authoring.report import print_lint

    reports = [lint(path, data_elsewhere=data_elsewhere) for path in rubrics]
    console = Console(highlight=False, soft_wrap=True)
    for report in reports:
        print_lint(report, console, strict=strict)
    if any(r.errors for r in reports) or (strict and any(r.warnings for r in reports)):
        sys.exit(int(ExitCode.BAD_RUBRIC))


RUBRIC_TEST_EXIT_CODES = (
    "Exit codes: 0 every outcome as declared, 1 a grade differs or an example cannot be read, 3 a rubric "
    "that does not validate or has no reference solution, 5 the grader failed on a file."
)


@rubric_group.command("test", epilog=RUBRIC_TEST_EXIT_CODES)
@click.argument("rubrics", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    help="Parallel workers, as `grade batch -j` (default: the CPUs, as far as memory allows).",
)
@click.option(
    "--factory/--no-factory",
    default=None,
    help="Fork each kernel from a warm template that imported TensorFlow once, as `grade batch` does "
    "(default: on where it can run: the grader is root and bubblewrap works).",
)
@reports_errors
def rubric_test(rubrics: tuple[Path, ...], workers: int | None, factory: bool | None) -> None:
    """Grade the solution (full marks) and the rubric's examples (their declared grades) as a batch; exit 1 on a difference."""
    from grader.authoring.report import print_expectation
    from grader.authoring.selftest import exit_code_for, self_test
    from grader.cli.shared import print_error
    from grader.rubric.model import load_rubric

    loaded = [load_rubric(path) for path in rubrics]
    grade_each = _batch_grading(workers, factory)
    console = Console(highlight=False, soft_wrap=True)
    outcomes = []
    for outcome in self_test(loaded, grade_each):
        print_expectation(outcome, console)
        outcomes.append(outcome)
    for outcome in outcomes:
        if outcome.exit_code == ExitCode.BAD_RUBRIC and outcome.problem:
            print_error("error:", outcome.problem, outcome.hint)
    code = exit_code_for(outcomes)
    if code != ExitCode.GRADED:
        sys.exit(int(code))


def _batch_grading(workers: int | None, factory: bool | None) -> GradeEach:
    """Grade on `grade batch`'s local executor: its workers, its kernel factory, its fallbacks (said on stderr)."""
    from grader.batch.engine import grade_files
    from grader.cli.batch import local_executor
    from grader.cli.batch_view import default_workers

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    count, why = (workers, f"{workers} workers (-j)") if workers else default_workers()
    executor = local_executor(err, count, why, (), factory, None)
    return lambda files, overrides: grade_files(files, overrides, executor)


@rubric_group.command("schema")
@reports_errors
def rubric_schema_command() -> None:
    """Print the JSON Schema of the rubric format (docs/rubric.schema.json)."""
    from grader.authoring.new import schema_text

    click.echo(schema_text(), nl=False)


@rubric_group.command("publish")
@click.argument("rubric", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="Where the student rubric goes."
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@reports_errors
def rubric_publish(rubric: Path, out: Path, force: bool) -> None:
    """Write the rubric a student may have: no hidden checks, held-out data or unrevealed answers."""
    from grader.authoring.publish import publish, write_published
    from grader.rubric.model import load_rubric

    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; pass --force to overwrite it")
    loaded = load_rubric(rubric)
    if out.resolve() == loaded.path.resolve():
        raise click.UsageError("--out is the instructor's rubric itself; write the student rubric elsewhere")
    published = publish(loaded, out)
    write_published(published, out)
    click.echo(f"wrote {out}: {published.summary()}", err=True)


@rubric_group.command("list")
@click.option(
    "--rubrics", "rubrics_dir", type=click.Path(path_type=Path), default=Path("rubrics"), show_default=True
)
@reports_errors
def rubric_list(rubrics_dir: Path) -> None:
    """The rubrics found, with exercise id, title and points."""
    from grader.authoring.report import rubric_table

    Console(highlight=False).print(rubric_table(rubrics_dir))
