"""The `grade` command line.

`grade SUBMISSION` grades one notebook or script; subcommands (`grade rubric ...`) sit beside it.
A `GradingError` becomes a short message and its documented exit code; any other exception is a
grader bug, reported in one paragraph with exit code 5, never a raw traceback.
"""

from __future__ import annotations

import difflib
import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import click
from rich.console import Console

from grader import __version__
from grader.errors import ExitCode, GradingError

if TYPE_CHECKING:
    from grader.grade import Overrides
    from grader.gradescope import OutputFormat
    from grader.run import SandboxMode

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_COMMAND = "submission"
MAX_ERROR_CHARS = 1_000
SUBMISSION_SUFFIXES = (".ipynb", ".py")

stderr = Console(stderr=True, highlight=False)


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to the default command.

    A first argument that is no file and reads like a mistyped command (`grade bacth`) is a usage
    error that suggests the command, not "no such file"; `grade --help` shows the default
    command's options too, since grading one submission is what most people came for.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        wants_help = any(a in ("--help", "-h") for a in args) and first is None
        if first is not None and first not in self.commands and not Path(first).exists():
            visible = [name for name, command in self.commands.items() if not command.hidden]
            close = difflib.get_close_matches(first, visible, n=1, cutoff=0.6)
            if close and Path(first).suffix not in SUBMISSION_SUFFIXES:
                raise click.UsageError(f"no such command {first!r}; did you mean {close[0]!r}?", ctx)
        if (first is not None and first not in self.commands and not wants_help) or (
            first is None and args and not wants_help and "--version" not in args
        ):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("grade", "[OPTIONS] SUBMISSION | COMMAND [ARGS]...")

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        command = self.commands[DEFAULT_COMMAND]
        rows = [row for row in (p.get_help_record(ctx) for p in command.get_params(ctx)) if row is not None]
        with formatter.section("Options for grading one submission (grade SUBMISSION [OPTIONS])"):
            formatter.write_dl(rows)


class DefaultContext(click.Context):
    """The default command's context: its messages name `grade`, never the hidden command's name."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else "grade"


class DefaultCommand(click.Command):
    """The hidden default command, whose usage reads `grade [OPTIONS] SUBMISSION`."""

    context_class = DefaultContext

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("grade", "[OPTIONS] SUBMISSION")


EXIT_CODES = (
    "Exit codes: 0 graded (whatever the score), 1 below --fail-under, 2 usage, 3 bad rubric, "
    "4 unreadable submission, 5 grader failure, 6 sandbox required but unavailable."
)


def reports_errors(func: F) -> F:
    """Turn grading errors into messages and exit codes; turn grader bugs into one clear paragraph."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GradingError as exc:
            print_error("error:", exc.message, exc.hint)
            sys.exit(int(exc.exit_code))
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            from grader import debugging

            if debugging.settings.debug:
                traceback.print_exc()
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print_error(
                "internal error:",
                f"the grader itself failed ({type(exc).__name__}: {str(exc)[:MAX_ERROR_CHARS]}) "
                f"at {Path(where.filename).name}:{where.lineno}. This is a bug in the grader, not in the submission; "
                "please report it with the submission and rubric.",
            )
            sys.exit(int(ExitCode.GRADER_FAILURE))

    return wrapper  # type: ignore[return-value]


def print_error(label: str, message: str, hint: str = "") -> None:
    """An error on stderr, its message as plain text: messages quote file names and values a student chose.

    Should the terminal not take even that (an encoding without its characters), the message goes
    out ASCII-escaped, so that the exit code that follows is still what ends the command.
    """
    try:
        from rich.text import Text

        from grader.report import plain

        stderr.print(Text.assemble((label, "bold red"), " ", plain(message)))
        if hint:
            stderr.print(Text.assemble("  ", ("hint:", "cyan"), " ", plain(hint)))
    except Exception:
        text = f"{label} {message}" + (f"\n  hint: {hint}" if hint else "")
        sys.stderr.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")


def _limit_option(name: str, field: Any) -> Callable[[F], F]:
    """A command-line option for one field of `Limits`: its name, type, bounds and help come from the field."""
    import annotated_types

    kinds = [
        kind
        for kind in (int, float)
        if kind in (field.annotation, *getattr(field.annotation, "__args__", ()))
    ]
    at_least = next((float(m.ge) for m in field.metadata if isinstance(m, annotated_types.Ge)), None)  # type: ignore[arg-type]
    above = next((float(m.gt) for m in field.metadata if isinstance(m, annotated_types.Gt)), None)  # type: ignore[arg-type]
    bound: click.ParamType
    if kinds and kinds[0] is int:
        lowest = at_least if at_least is not None else (above + 1 if above is not None else None)
        bound = click.IntRange(min=int(lowest) if lowest is not None else None)
    else:
        bound = click.FloatRange(min=at_least if at_least is not None else above, min_open=at_least is None)
    return click.option(f"--{name.replace('_', '-')}", name, type=bound, help=field.description)


def _override_options() -> tuple[Callable[[F], F], ...]:
    from grader.limits import Limits

    return (
        *(_limit_option(name, field) for name, field in Limits.model_fields.items()),
        click.option(
            "--require-sandbox",
            is_flag=True,
            help="Fail (exit 6) instead of running unsandboxed when bubblewrap is missing.",
        ),
        click.option(
            "--no-sandbox", is_flag=True, help="Run kernels without bubblewrap (trusted code only)."
        ),
        click.option(
            "--compat",
            type=click.Choice(["keras2", "none"]),
            help="keras2: run the course's Keras 2 idioms under Keras 3 and list each use; none: turn off the "
            "rubric's compatibility layer.",
        ),
    )


RUBRIC_SOURCE_OPTIONS = (
    click.option(
        "--rubric",
        "rubric_path",
        type=click.Path(path_type=Path),
        help="Rubric YAML (default: from each submission).",
    ),
    click.option(
        "--rubrics",
        "rubrics_dir",
        type=click.Path(path_type=Path),
        default=Path("rubrics"),
        show_default=True,
        help="Folder to look up a submission's exercise id in.",
    ),
)


def overrides_options(func: F) -> F:
    """The options that override a rubric's limits (see grader/limits.py), gathered into one `Overrides`.

    Shared by `grade` and `grade batch` so both accept exactly the same settings; limits given
    here take precedence over the rubric's `limits:` and `compat:`.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from grader.grade import Overrides
        from grader.limits import LimitOverrides, Limits

        require, off = kwargs.pop("require_sandbox"), kwargs.pop("no_sandbox")
        if require and off:
            raise click.UsageError("--require-sandbox and --no-sandbox contradict each other")
        limits = LimitOverrides(**{name: kwargs.pop(name) for name in Limits.model_fields})
        sandbox: SandboxMode = "require" if require else ("off" if off else "auto")
        kwargs["overrides"] = Overrides(limits=limits, sandbox=sandbox, compat=kwargs.pop("compat"))
        return func(*args, **kwargs)

    for option in reversed(_override_options()):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def debug_options(func: F) -> F:
    """--debug and --keep-workdir (see grader/debugging.py), applied before the command runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from grader import debugging

        debugging.configure(debug=kwargs.pop("debug"), keep_workdir=kwargs.pop("keep_workdir"))
        return func(*args, **kwargs)

    wrapper = click.option(
        "--keep-workdir",
        is_flag=True,
        help="Keep the kernel's folder (working folder, artifacts, kernel log); the report says where.",
    )(wrapper)
    wrapper = click.option(
        "--debug",
        is_flag=True,
        help="Log what the grader does to stderr, print its full traceback on an internal error, keep the "
        "kernel's folder.",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


def rubric_source_options(func: F) -> F:
    """--rubric and --rubrics: which rubric grades a submission."""
    for option in reversed(RUBRIC_SOURCE_OPTIONS):
        func = option(func)
    return func


@click.group(
    cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES
)
@click.version_option(__version__, prog_name="grade")
def main() -> None:
    """Grade Keras exercises: run a submission in a sandboxed kernel, measure its model, write feedback.

    \b
    grade submissions/alice.ipynb            grade one notebook or .py script
    grade SUBMISSION --help                   options for grading one submission
    """


@main.command(DEFAULT_COMMAND, cls=DefaultCommand, hidden=True, epilog=EXIT_CODES)
@click.argument("submission", type=click.Path(path_type=Path))
@rubric_source_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where <stem>.json and <stem>.html are written.",
)
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

    from grader.grade import grade_submission, resolve_rubric
    from grader.report import plain, print_summary, write_reports
    from grader.submission import load_submission
    from grader.visibility import score_line

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


@main.group("rubric")
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
    out: Path | None,
    force: bool,
) -> None:
    """Measure a reference solution in the sandbox and write a commented rubric for it."""
    from grader import authoring

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
    setup = authoring.SolutionSetup(compat_choice=compat, datasets=sets, max_epochs=max_epochs)
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
@reports_errors
def rubric_check(rubrics: tuple[Path, ...], strict: bool) -> None:
    """Validate rubrics and warn about likely mistakes (exit 3 on errors)."""
    from grader.authoring_report import print_lint
    from grader.lint import lint

    reports = [lint(path) for path in rubrics]
    console = Console(highlight=False, soft_wrap=True)
    for report in reports:
        print_lint(report, console, strict=strict)
    if any(r.errors for r in reports) or (strict and any(r.warnings for r in reports)):
        sys.exit(int(ExitCode.BAD_RUBRIC))


@rubric_group.command("test")
@click.argument("rubrics", nargs=-1, required=True, type=click.Path(path_type=Path))
@reports_errors
def rubric_test(rubrics: tuple[Path, ...]) -> None:
    """Grade the solution (full marks) and the rubric's examples (their declared grades); exit 1 on a difference."""
    from grader.authoring_report import print_expectation
    from grader.rubric import load_rubric
    from grader.selftest import self_test

    console = Console(highlight=False, soft_wrap=True)
    passed = True
    for path in rubrics:
        for outcome in self_test(load_rubric(path)):
            print_expectation(outcome, console)
            passed = passed and outcome.passed
    if not passed:
        sys.exit(int(ExitCode.BELOW_FAIL_UNDER))


@rubric_group.command("schema")
@reports_errors
def rubric_schema_command() -> None:
    """Print the JSON Schema of the rubric format (docs/rubric.schema.json)."""
    from grader.authoring import schema_text

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
    from grader.publish import publish, write_published
    from grader.rubric import load_rubric

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
    from grader.authoring_report import rubric_table

    Console(highlight=False).print(rubric_table(rubrics_dir))


BATCH_EXIT_CODES = (
    "Exit codes: 0 batch done (a student's unreadable file is a row, not a failure), 2 usage (a bad "
    "option, no submissions found, or a --roster that cannot be read), 3 bad --rubric, 5 the grader "
    "failed on a submission, 6 sandbox required but unavailable, 130 interrupted (Ctrl-C or SIGTERM; "
    "the results already written are kept, and a re-run grades the rest)."
)


@main.command("batch", epilog=BATCH_EXIT_CODES)
@click.argument("target", metavar="DIR_OR_GLOB")
@rubric_source_options
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Parallel workers (default: the CPUs, as far as memory allows; the batch says how many).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Reports, gradebook.csv, junit.xml, gradescope/, index.html.",
)
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

    from grader import batch_view
    from grader.batch import BatchSettings, run_batch, spare_kernels_by_default
    from grader.discovery import discover
    from grader.executors import Executor, LocalExecutor, RayExecutor, SlurmExecutor
    from grader.late import parse_due, parse_penalty
    from grader.limits import LimitOverrides
    from grader.roster import read_roster
    from grader.submission import load_submission

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
        from grader.factory import factory_problem

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
        from grader.store import ResultStore

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
    from grader.report import plain

    return plain(text)


def _parse_gpus(value: str | None, *, detect: bool = True) -> tuple[str, ...]:
    """`--gpus all` (every GPU nvidia-smi lists) or `--gpus 0,1`; a usage error otherwise.

    Without `detect` (a Ray cluster, whose GPUs are on other machines) `all` stays `("all",)`:
    Ray, not this machine, knows which GPUs there are.
    """
    from grader.batch_view import visible_gpus

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


OUTPUT_FORMAT_OPTION = click.option(
    "--output-format",
    type=click.Choice(["html", "md", "text"]),
    default="html",
    show_default=True,
    help="How the feedback every student sees (results.json's top-level output) is written.",
)


@main.group("gradescope")
def gradescope_group() -> None:
    """Gradescope: build an autograder zip for a rubric; grade inside it."""


@gradescope_group.command("build")
@click.argument("rubric", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("autograder.zip"),
    show_default=True,
    help="The zip to upload to Gradescope.",
)
@OUTPUT_FORMAT_OPTION
@click.option(
    "--require-sandbox",
    is_flag=True,
    help="Grade only under bubblewrap: without it every submission gets a 'sandbox' error instead of a grade.",
)
@reports_errors
def gradescope_build(rubric: Path, out: Path, output_format: str, require_sandbox: bool) -> None:
    """Write an autograder zip: setup.sh, run_autograder, the grader as a wheel, the rubric and its data."""
    from grader import gradescope
    from grader.rubric import load_rubric

    built = gradescope.build(load_rubric(rubric), out, cast("OutputFormat", output_format), require_sandbox)
    click.echo(f"wrote {out}: {built.summary()}", err=True)


@gradescope_group.command("run")
@click.option("--rubric", "rubric_path", required=True, type=click.Path(path_type=Path))
@click.option(
    "--submission",
    "submission_dir",
    type=click.Path(path_type=Path),
    default=Path("/autograder/submission"),
    show_default=True,
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    default=Path("/autograder/results/results.json"),
    show_default=True,
)
@OUTPUT_FORMAT_OPTION
@overrides_options
@reports_errors
def gradescope_run(
    rubric_path: Path, submission_dir: Path, results_path: Path, output_format: str, overrides: Overrides
) -> None:
    """Grade the one submission in a folder into Gradescope's results.json (what run_autograder calls).

    results.json is written whatever happens, so this exits 0 once it is.
    """
    from grader import gradescope

    chosen = cast("OutputFormat", output_format)
    results = gradescope.run(rubric_path, submission_dir, results_path, chosen, overrides)
    click.echo(f"wrote {results_path}: {results.get('score', 0):g}", err=True)


if __name__ == "__main__":
    main()
