"""What every `grade` command shares: routing to the default command, error reporting, common options.

Errors are reported here, once, so that each command's exit codes mean the same thing: a
`GradingError` becomes a short message and its documented exit code, anything else a one-paragraph
grader bug with exit code 5. The options that several commands take (limits, sandbox, rubric
source, debugging) are defined once so that the commands cannot drift apart in what they accept.
"""

from __future__ import annotations

import difflib
import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from grader.errors import ExitCode, GradingError

if TYPE_CHECKING:
    from grader.grading.run import SandboxMode

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

        from grader.render.report import plain

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
    from grader.rubric.limits import Limits

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


def out_option(default: Path, help: str, name: str = "out_dir") -> Callable[[F], F]:
    """`--out` means a different thing per command (a reports folder, a zip), so only its help differs."""
    return click.option(
        "--out", name, type=click.Path(path_type=Path), default=default, show_default=True, help=help
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
    """The options that override a rubric's limits (see grader/rubric/limits.py), gathered into one `Overrides`.

    Shared by `grade` and `grade batch` so both accept exactly the same settings; limits given
    here take precedence over the rubric's `limits:` and `compat:`.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from grader.grading.grade import Overrides
        from grader.rubric.limits import LimitOverrides, Limits

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
