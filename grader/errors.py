"""One exception hierarchy for everything that can stop a grade, each with its exit code.

The CLI turns a `GradingError` into a one-paragraph message and its exit code; anything else
that escapes is a bug in the grader and is reported as such (exit code `GRADER_FAILURE`), never
as a bare traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented in README.md; scripts and CI depend on these numbers."""

    GRADED = 0
    BELOW_FAIL_UNDER = 1
    USAGE = 2
    BAD_RUBRIC = 3
    BAD_SUBMISSION = 4
    GRADER_FAILURE = 5
    NO_SANDBOX = 6


class GradingError(Exception):
    """A problem the user can act on. `hint` says what to do about it."""

    exit_code: ExitCode = ExitCode.GRADER_FAILURE

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class RubricError(GradingError):
    """The rubric file is missing, is not YAML, or does not validate."""

    exit_code = ExitCode.BAD_RUBRIC


class SubmissionError(GradingError):
    """The submission cannot be read as a notebook or a Python script."""

    exit_code = ExitCode.BAD_SUBMISSION


class SandboxUnavailable(GradingError):
    """`--require-sandbox` was given but bubblewrap cannot run here."""

    exit_code = ExitCode.NO_SANDBOX


class KernelFailure(GradingError):
    """The Jupyter kernel could not be started at all (not the student's fault)."""

    exit_code = ExitCode.GRADER_FAILURE
