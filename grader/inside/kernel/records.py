"""Kernel side: what the grader's setup did in the student's kernel, for the probe to report.

Every use of a legacy idiom is appended to `USES` and every training decision to `TRAINING`,
each with the student's cell and line when they can be found; the probe copies both into
facts.json, where the grader validates and bounds them like any other fact from the kernel.
"""

from __future__ import annotations

import re
import sys
from typing import Any

USES: list[dict[str, Any]] = []
TRAINING: list[dict[str, Any]] = []
MAX_RECORDS = 200

STUDENT_CODE = re.compile(r"ipykernel_\d+[/\\]|<ipython-input-")


def record(idiom: str, found: str, keras3: str) -> None:
    """Note one use of a legacy idiom, with the student's cell and line when they can be found."""
    cell, line = student_position()
    for use in USES:
        if (use["idiom"], use["found"], use["cell"], use["line"]) == (idiom, found, cell, line):
            use["count"] += 1
            return
    if len(USES) < MAX_RECORDS:
        USES.append(
            {"idiom": idiom, "found": found, "keras3": keras3, "cell": cell, "line": line, "count": 1}
        )


def note_training(event: str, detail: str, **extra: Any) -> None:
    if len(TRAINING) < MAX_RECORDS:
        cell, line = student_position()
        TRAINING.append({"event": event, "detail": detail, "cell": cell, "line": line, **extra})


def student_position() -> tuple[int | None, int | None]:
    """The innermost frame of the student's cell code: (cell number, line in the cell)."""
    frame = sys._getframe(1)
    while frame is not None:
        if STUDENT_CODE.search(frame.f_code.co_filename):
            shell = _shell()
            # IPython counts the cell as run before running it, so the cell under way is one less.
            return (int(shell.execution_count) - 1 if shell is not None else None), frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None, None


def _shell() -> Any:
    try:
        return get_ipython()  # type: ignore[name-defined]
    except NameError:
        return None
