"""`grade batch`: a class at once.

The command turns its options into `BatchSettings` and an executor for `grader.batch.engine`, which never
prints: `batch_view` draws the events it reports.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
from rich.console import Console

from grader.cli.shared import out_option, overrides_options, reports_errors, rubric_source_options
from grader.errors import GradingError

if TYPE_CHECKING:
    from datetime import datetime

    from grader.batch.discovery import Found
    from grader.batch.engine import BatchSettings
    from grader.batch.executors import Executor
    from grader.batch.routing import RubricFor
    from grader.grading.grade import Overrides
    from grader.rubric.late import LateFrom, Penalty


BATCH_EXIT_CODES = (
    "Exit codes: 0 batch done (a student's unreadable file is a row, not a failure), 2 usage (a bad "
    "option, no submissions found, or a --roster that cannot be read), 3 a bad rubric of --rubric or "
    "--rubric-for, 5 the grader failed on a submission, 6 sandbox required but unavailable, 130 "
    "interrupted (Ctrl-C or SIGTERM; the results already written are kept, and a re-run grades the rest)."
)


def _rubric_for(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[Any, ...]:
    """Each `--rubric-for PATTERN=RUBRIC` parsed and its glob checked, or a usage error saying what is wrong."""
    from grader.batch.routing import RubricFor

    try:
        return tuple(RubricFor.parse(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


class CourseCommand(click.Command):
    """`grade batch`, whose option defaults come from a course file (`grader.batch.course_file`).

    The arguments are read once, without conversion, to find DIR_OR_GLOB and `--course`; the course
    file's settings become the context's `default_map`, so that an option typed on the command line
    still wins and a value from the file is converted and checked as a typed one is. A bad course
    file is kept and raised in the command, where errors become exit codes.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from grader.batch.course_file import find_course_file, load_course

        try:
            opts, _, _ = self.make_parser(ctx).parse_args(args=list(args))
        except click.ClickException:
            return super().parse_args(ctx, args)
        target, given = opts.get("target"), opts.get("course_path")
        try:
            path = Path(given) if given else (find_course_file(str(target)) if target else None)
            if path is not None:
                course = load_course(path)
                ctx.default_map = {**(ctx.default_map or {}), **course.defaults()}
                ctx.meta["course"] = course
        except GradingError as exc:
            ctx.meta["course_error"] = exc
        return super().parse_args(ctx, args)


@click.command("batch", cls=CourseCommand, epilog=BATCH_EXIT_CODES)
@click.argument("target", metavar="DIR_OR_GLOB")
@click.option(
    "--course",
    "course_path",
    type=click.Path(path_type=Path),
    help="Course file of default options (default: course.yaml in DIR_OR_GLOB's folder or a parent, up "
    "to the repository root); options typed here win. See docs/batch.md, 'A course file'.",
)
@rubric_source_options
@click.option(
    "--rubric-for",
    "rubric_for",
    metavar="PATTERN=RUBRIC",
    multiple=True,
    callback=_rubric_for,
    help="Grade the submissions whose path (relative to DIR_OR_GLOB's folder) matches PATTERN with RUBRIC, "
    "a rubric file or an exercise id in --rubrics: 'week3/*=conv-dims'. Repeatable; `*` stays within a "
    "folder, `**` spans folders. Wins over a notebook's exercise and a rubric's match:; see docs/batch.md.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Parallel workers (default: the CPUs, as far as memory allows; the batch says how many).",
)
@out_option(Path("reports"), "Reports, gradebook.csv, junit.xml, gradescope/, index.html.")
@click.option(
    "--force", is_flag=True, help="Regrade every submission, even those unchanged since the last run."
)
@click.option(
    "--rescore",
    is_flag=True,
    help="Score every student again from what ran last time, without running (their files unchanged); "
    "a batch does this by itself when only the rubric's checks changed.",
)
@click.option(
    "--gpus", help="`all` or GPU numbers (0,1): workers per GPU, each with its own CUDA_VISIBLE_DEVICES."
)
@click.option(
    "--kernels-per-gpu",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --gpus: this many workers (kernels) share each GPU, each capped to its share of the GPU's "
    "memory (or --gpu-memory-mb).",
)
@click.option(
    "--executor",
    "executor_name",
    type=click.Choice(["local", "ray", "slurm"]),
    default="local",
    show_default=True,
    help="Worker processes on this machine, a Ray cluster, or Slurm jobs (submitit; runs locally "
    "where there is no Slurm).",
)
@click.option("--address", help="Ray cluster address (with --executor ray; default: a local Ray instance).")
@click.option("--slurm-partition", help="With --executor slurm: the partition to submit to.")
@click.option(
    "--slurm-time",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="With --executor slurm: each job's time limit in minutes.",
)
@click.option(
    "--factory/--no-factory",
    default=None,
    help="Local workers fork each kernel from a warm template that imported TensorFlow once, in the same "
    "sandbox (default: on where it can run: the grader is root and bubblewrap works).",
)
@click.option(
    "--spare-kernels/--no-spare-kernels",
    default=None,
    help="Local workers launch each next kernel while the current one runs "
    "(default: on with --gpus or when -j leaves a CPU free, unless kernels are forked).",
)
@click.option(
    "--roster",
    "roster_path",
    type=click.Path(path_type=Path),
    help="CSV of students (submission, id, name, email, section): roster columns in gradebook.csv, "
    "canvas.csv and moodle.csv; see docs/batch.md.",
)
@click.option(
    "--due",
    help="Due date, ISO 8601 (2026-12-01T23:59, in --timezone unless it has an offset): submissions "
    "that came in later are late. Overrides the rubric's late.due.",
)
@click.option(
    "--timezone",
    "timezone_name",
    default="UTC",
    show_default=True,
    help="The course's time zone (IANA, e.g. Europe/Berlin): a due date without an offset is read in it, "
    "never in the grading machine's, and times are shown in it.",
)
@click.option(
    "--late-from",
    type=click.Choice(["recorded", "git", "mtime"]),
    default="recorded",
    show_default=True,
    help="Where a submission's time comes from: recorded (a submitted_at column in the roster or "
    "--submissions-times), git (each checkout's last commit), or mtime (file modification times, which "
    "a student can set and a copy resets; only if you must).",
)
@click.option(
    "--submissions-times",
    "times_path",
    type=click.Path(path_type=Path),
    help="CSV of student (or submission) and submitted_at (ISO 8601 with offset), as the LMS recorded them.",
)
@click.option(
    "--late-penalty",
    help="Late penalty: 10%/day (per started day, capped at 100%) or 20% (flat). Overrides the rubric's "
    "late.penalty.",
)
@click.option(
    "--starter",
    "starter_path",
    type=click.Path(path_type=Path),
    help="The starter notebook the class was handed; its lines are set aside when comparing code "
    "(default: exercises/<id>/starter.ipynb beside the rubrics).",
)
@click.option(
    "--overrides",
    "overrides_file",
    type=click.Path(path_type=Path),
    help="CSV of the instructor's overrides and manual points (student, check or manual:<name>, points, "
    "max_points, comment, by, at), applied to the class outputs, never to the results; default: "
    "overrides.csv in --out where there is one. See docs/batch.md.",
)
@overrides_options
@reports_errors
def grade_batch(
    target: str,
    course_path: Path | None,
    rubric_path: Path | None,
    rubrics_dir: Path,
    rubric_for: tuple[RubricFor, ...],
    jobs: int | None,
    out_dir: Path,
    force: bool,
    rescore: bool,
    gpus: str | None,
    kernels_per_gpu: int,
    executor_name: str,
    address: str | None,
    slurm_partition: str | None,
    slurm_time: int,
    factory: bool | None,
    spare_kernels: bool | None,
    roster_path: Path | None,
    due: str | None,
    timezone_name: str,
    late_from: str,
    times_path: Path | None,
    late_penalty: str | None,
    starter_path: Path | None,
    overrides_file: Path | None,
    overrides: Overrides,
) -> None:
    """Grade every submission in a folder (or matching a glob) in parallel; see docs/batch.md."""
    from grader.batch.discovery import discover
    from grader.batch.engine import BatchSettings
    from grader.cli import batch_view
    from grader.outputs.roster import read_roster

    rubric_path, rubric_for = _course_file_choice(rubric_path, rubric_for)
    if rubric_path is not None and rubric_for:
        raise click.UsageError(
            "--rubric grades every submission with one rubric, so --rubric-for would never apply; give one of them"
        )
    if address and executor_name != "ray":
        raise click.UsageError("--address needs --executor ray")
    if kernels_per_gpu > 1 and not gpus:
        raise click.UsageError("--kernels-per-gpu needs --gpus")
    late = _late_options(due, timezone_name, times_path, late_penalty)
    starter_code = _starter_code(starter_path)
    roster = read_roster(roster_path) if roster_path is not None else None
    if overrides_file is not None:
        from grader.outputs.overrides import read_overrides

        read_overrides(overrides_file)  # a typo stops the batch before any kernel starts
    gpu_ids = _parse_gpus(gpus, detect=not (executor_name == "ray" and address))
    workers_gpus = tuple(gpu for _ in range(kernels_per_gpu) for gpu in gpu_ids)
    given = overrides.limits.gpu_memory_mb
    cap = batch_view.shared_gpu_cap(gpu_ids, kernels_per_gpu) if given is None else None
    if cap is not None:
        limits = overrides.limits.model_copy(update={"gpu_memory_mb": cap})
        overrides = overrides.model_copy(update={"limits": limits})
    settings = BatchSettings(
        rubric_path=rubric_path,
        rubrics_dir=rubrics_dir,
        rubric_for=rubric_for,
        overrides=overrides,
        out_dir=out_dir,
        force=force,
        rescore=rescore,
        gpus=workers_gpus,
        spare_kernels=spare_kernels,
        roster=roster,
        starter_code=starter_code,
        due=late.due,
        due_by_exercise=late.due_by_exercise,
        late_penalty=late.penalty,
        timezone=timezone_name,
        late_from=cast("LateFrom", late_from),
        recorded_times=late.recorded,
        recorded_from=times_path.name if times_path is not None else "",
        overrides_file=overrides_file,
    )
    found = discover(target, out_dir)
    if not found:
        raise click.UsageError(f"no submissions (.ipynb or .py) found in {target}")
    console = Console(stderr=True, highlight=False)
    workers, why = (jobs, f"{jobs} workers (-j)") if jobs else batch_view.default_workers()
    if executor_name == "ray":
        from grader.batch.executors import RayExecutor

        executor: Executor = RayExecutor(address, workers, workers_gpus)
    elif executor_name == "slurm":
        from grader.batch.executors import SlurmExecutor

        executor = SlurmExecutor(
            out_dir / ".slurm",
            partition=slurm_partition,
            gpus=1 if gpu_ids else 0,
            timeout_min=slurm_time,
            parallelism=workers,
        )
    else:
        executor = local_executor(console, workers, why, workers_gpus, factory, spare_kernels)
    _run_and_report(found, settings, executor, console)


@dataclass(frozen=True)
class _LateOptions:
    """The late options as the batch reads them: due dates in the course's zone, recorded times, penalty."""

    due: datetime | None
    due_by_exercise: dict[str, datetime]
    recorded: dict[str, datetime]
    penalty: Penalty | None


def _course_file_choice(
    rubric_path: Path | None, rubric_for: tuple[RubricFor, ...]
) -> tuple[Path | None, tuple[RubricFor, ...]]:
    """Which of --rubric and --rubric-for applies when a course file gave one and the command line the other."""
    ctx = click.get_current_context()
    if "course_error" in ctx.meta:
        raise ctx.meta["course_error"]
    course = ctx.meta.get("course")
    if course is None:
        return rubric_path, rubric_for
    Console(stderr=True, highlight=False).print(plain_text(f"options from {course.path}"))
    source = click.core.ParameterSource
    if rubric_path is not None and ctx.get_parameter_source("rubric_for") is source.DEFAULT_MAP:
        rubric_for = ()  # --rubric typed here replaces the course file's rubric_for
    if rubric_for and ctx.get_parameter_source("rubric_path") is source.DEFAULT_MAP:
        rubric_path = None  # --rubric-for typed here replaces the course file's rubric
    return rubric_path, rubric_for


def _late_options(
    due: str | None, timezone_name: str, times_path: Path | None, late_penalty: str | None
) -> _LateOptions:
    """--due, --timezone, --submissions-times, --late-penalty and the course file's per-exercise due dates."""
    from grader.outputs.roster import read_submission_times
    from grader.rubric.late import parse_due, parse_penalty, parse_zone

    try:
        zone = parse_zone(timezone_name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    try:
        due_date = parse_due(due, zone) if due is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--due") from None
    recorded = read_submission_times(times_path) if times_path is not None else {}
    try:
        penalty = parse_penalty(late_penalty) if late_penalty is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--late-penalty") from None
    course = click.get_current_context().meta.get("course")
    due_by_exercise = {}
    for exercise, text in (course.due_by_exercise() if course is not None else {}).items():
        try:
            due_by_exercise[exercise] = parse_due(text, zone)
        except ValueError as exc:
            raise click.BadParameter(f"{exercise}: {exc}", param_hint="the course file's due") from None
    return _LateOptions(due_date, due_by_exercise, recorded, penalty)


def _starter_code(starter_path: Path | None) -> tuple[str, ...]:
    """The cells of the notebook the class was handed (--starter), set aside by the similarity flags."""
    from grader.grading.submission import load_submission

    if starter_path is None:
        return ()
    try:
        return tuple(cell.source for cell in load_submission(starter_path).cells)
    except GradingError as exc:
        raise click.BadParameter(exc.message, param_hint="--starter") from None


def local_executor(
    console: Console,
    workers: int,
    why: str,
    workers_gpus: tuple[str, ...],
    factory: bool | None,
    spare_kernels: bool | None,
) -> Executor:
    """The process pool on this machine: forked kernels where the factory can run, spares where they pay."""
    from grader.batch.engine import spare_kernels_by_default
    from grader.batch.executors import LocalExecutor
    from grader.sandbox.factory import factory_problem

    problem = factory_problem() if factory is not False else None
    forks = factory is not False and problem is None
    if factory and problem is not None:
        console.print(plain_text(f"kernels are launched, not forked: {problem}"))
    spares = (
        (not forks and spare_kernels_by_default(workers, workers_gpus))
        if spare_kernels is None
        else spare_kernels
    )
    console.print(
        f"grading with {why}"
        if not workers_gpus
        else f"grading with one worker per GPU slot: {', '.join(workers_gpus)}"
    )
    return LocalExecutor(workers, workers_gpus, spare_kernels=spares, factory=forks)


def _run_and_report(
    found: list[Found], settings: BatchSettings, executor: Executor, console: Console
) -> None:
    """Run the batch under the progress view, then the closing lines; exit with the batch's code (130 if stopped)."""
    import signal

    from grader.batch.engine import run_batch
    from grader.cli import batch_view

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    view = batch_view.BatchView(console)
    try:
        with view.showing():
            summary = run_batch(found, settings, executor, view)
    except KeyboardInterrupt:
        from grader.batch.store import ResultStore

        kept = ResultStore(settings.out_dir).kept()
        view.say(
            plain_text(
                f"interrupted: {kept} results are kept in {settings.out_dir}; run again to grade the rest"
            )
        )
        sys.exit(INTERRUPTED)
    lines = batch_view.closing_lines(summary, str(settings.out_dir / "index.html"))
    Console(highlight=False).print(plain_text(lines[0]), soft_wrap=True)
    for line in lines[1:]:
        view.say(plain_text(line))
    sys.exit(int(summary.exit_code))


INTERRUPTED = 130


def plain_text(text: str) -> Any:
    from grader.render.report import plain

    return plain(text)


def _parse_gpus(value: str | None, *, detect: bool = True) -> tuple[str, ...]:
    """`--gpus all` (every GPU nvidia-smi lists) or `--gpus 0,1`; a usage error otherwise.

    Without `detect` (a Ray cluster, whose GPUs are on other machines) `all` stays `("all",)`:
    Ray, not this machine, knows which GPUs there are.
    """
    from grader.cli.batch_view import visible_gpus

    if value is None:
        return ()
    if value.strip() == "all" and not detect:
        return ("all",)
    if value.strip() == "all":
        found = visible_gpus()
        if not found:
            raise click.BadParameter("no GPU found (nvidia-smi lists none)", param_hint="--gpus")
        return found
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    if not ids or not all(part.isdigit() for part in ids):
        raise click.BadParameter(f"{value!r}: expected `all` or GPU numbers like 0,1", param_hint="--gpus")
    return ids
