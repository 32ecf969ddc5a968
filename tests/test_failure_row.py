"""Every way the grader itself fails on a student, in a worker or in the parent, is one kind of row."""

from __future__ import annotations

from grader.batch.store import MAX_ERROR_CHARS, error_text, grader_failure
from grader.errors import ExitCode


def test_a_grader_failure_row_blames_the_grader_and_says_where() -> None:
    failure = grader_failure("ada", "ada.ipynb", "its worker process died")
    assert (failure.stem, failure.submission, failure.kind) == ("ada", "ada.ipynb", "grader")
    assert failure.exit_code == int(ExitCode.GRADER_FAILURE)
    assert "its worker process died" in failure.message and "bug in the grader" in failure.message


def test_an_exception_is_quoted_by_type_and_bounded() -> None:
    text = error_text(ValueError("x" * (MAX_ERROR_CHARS + 100)))
    assert text == "ValueError: " + "x" * MAX_ERROR_CHARS
