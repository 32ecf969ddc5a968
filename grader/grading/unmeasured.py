"""A grade the grader could not measure: recorded as such, never as a 0.

When the model the notebook built cannot be loaded or measured in the inspector (it timed out,
ran out of memory, died, or could not read the file), the rubric's model checks error through
no fault the student can be shown: a score of 0 there would be the grader's failure exported as
the student's grade. `grade.score_execution` then adds one note, `note(reason)`, to the result; the class outputs
(`grader.outputs.gradebook`) read it back with `reason` and give the submission the status
`unmeasured`: its grade is left empty in every export and the instructor is told why.

The marker is a note, not a new field of `GradeResult`, so results written before it still read;
every note is written by the grader (never a student's text at its start), so a student cannot
forge one, and one forged would only leave their grade empty for the instructor to decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

STATUS = "unmeasured"
PREFIX = "not measured by the grader: "
SUFFIX = "; this is the grader's failure, not the submission's: the grade is left for the instructor"


def note(reason: str) -> str:
    """The note that marks a result as unmeasured, saying why."""
    return f"{PREFIX}{reason}{SUFFIX}"


def reason(notes: Iterable[str]) -> str | None:
    """Why the grader could not measure a result with these notes; None when it could."""
    for text in notes:
        if text.startswith(PREFIX):
            return text[len(PREFIX) :].removesuffix(SUFFIX)
    return None


def reason_of(result: Mapping[str, Any] | None) -> str | None:
    """`reason` of a result read back as JSON (None for none)."""
    return reason(result.get("notes") or ()) if result is not None else None
