"""`grade batch`: a class at once.

The command turns its options into `BatchSettings` and an executor for `grader.batch.engine`, which never
prints: `batch_view` draws the events it reports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from grader.cli.shared import out_option, overrides_options, reports_errors, rubric_source_options
from grader.errors import GradingError

if TYPE_CHECKING:
    from grader.batch.routing import RubricFor
    from grader.grading.grade import Overrides


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


@click.command("batch", epilog=BATCH_EXIT_CODES)
@click.argument("target", metavar="DIR_OR_GLOB")
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
    help="Due date, ISO 8601 (2026-12-01T23:59, local time unless it has an offset): files modified "
    "later are late. Overrides the rubric's late.due.",
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
@overrides_options
@reports_errors
def grade_batch(
    target: str,
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
    late_penalty: str | None,
    starter_path: Path | None,
    overrides: Overrides,
) -> None:
    """Grade every submission in a folder (or matching a glob) in parallel; see docs/batch.md."""
    import signal

    from grader.batch.discovery import discover
    from grader.batch.engine import BatchSettings, run_batch, spare_kernels_by_default
    from grader.batch.executors import Executor, LocalExecutor, RayExecutor, SlurmExecutor
    from grader.cli import batch_view
    from grader.grading.submission import load_submission
    from grader.outputs.roster import read_roster
    from grader.rubric.late import parse_due, parse_penalty
    from grader.rubric.limits import LimitOverrides

    if rubric_path is not None and rubric_for:
        raise click.UsageError(
            "--rubric grades every submission with one rubric, so --rubric-for would never apply; give one of them"
        )
    if address and executor_name != "ray":
        raise click.UsageError("--address needs --executor ray")
    if kernels_per_gpu > 1 and not gpus:
        raise click.UsageError("--kernels-per-gpu needs --gpus")
    try:
        due_date = parse_due(due) if due is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--due") from None
    try:
        penalty = parse_penalty(late_penalty) if late_penalty is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--late-penalty") from None
    starter_code: tuple[str, ...] = ()
    if starter_path is not None:
        try:
            starter_code = tuple(cell.source for cell in load_submission(starter_path).cells)
        except GradingError as exc:
            raise click.BadParameter(exc.message, param_hint="--starter") from None
    roster = read_roster(roster_path) if roster_path is not None else None
    gpu_ids = _parse_gpus(gpus, detect=not (executor_name == "ray" and address))
    workers_gpus = tuple(gpu for _ in range(kernels_per_gpu) for gpu in gpu_ids)
    given = overrides.limits.model_dump().get("gpu_memory_mb")
    cap = batch_view.shared_gpu_cap(gpu_ids, kernels_per_gpu) if given is None else None
    if cap is not None:
        limits = LimitOverrides(**{**overrides.limits.model_dump(), "gpu_memory_mb": cap})
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
        due=due_date,
        late_penalty=penalty,
    )
    found = discover(target, out_dir)
    if not found:
        raise click.UsageError(f"no submissions (.ipynb or .py) found in {target}")
    console = Console(stderr=True, highlight=False)
    workers, why = (jobs, f"{jobs} workers (-j)") if jobs else batch_view.default_workers()
    executor: Executor
    if executor_name == "ray":
        executor = RayExecutor(address, workers, workers_gpus)
    elif executor_name == "slurm":
        executor = SlurmExecutor(
            out_dir / ".slurm",
            partition=slurm_partition,
            gpus=1 if gpu_ids else 0,
            timeout_min=slurm_time,
            parallelism=workers,
        )
    else:
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
        executor = LocalExecutor(workers, workers_gpus, spare_kernels=spares, factory=forks)
        console.print(
            f"grading with {why}"
            if not workers_gpus
            else f"grading with one worker per GPU slot: {', '.join(workers_gpus)}"
        )

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    view = batch_view.BatchView(console)
    try:
        with view.showing():
            summary = run_batch(found, settings, executor, view)
    except KeyboardInterrupt:
        from grader.batch.store import ResultStore

        kept = ResultStore(out_dir).kept()
        view.say(
            plain_text(f"interrupted: {kept} results are kept in {out_dir}; run again to grade the rest")
        )
        sys.exit(INTERRUPTED)
    lines = batch_view.closing_lines(summary, str(out_dir / "index.html"))
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
