"""The one CSV writer of every file the grader hands on: gradebook.csv, similarity.csv, canvas.csv, moodle.csv.

Each cell can come from a student (a file name, a variable name, an error message) or a roster:
a spreadsheet opening the file runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula (`=HYPERLINK("http://x")`, `=cmd|' /C calc'!A0`), so such a text
cell is written with a leading apostrophe, which spreadsheets show as text and do not run (the
OWASP advice for CSV injection). Numbers are values the grader computed, never text anyone
typed, so they are written as numbers: a negative score (`-0.5`) stays a number a spreadsheet
sums, and an LMS imports, rather than a quoted string. Only `int` and `float` count as numbers;
a student's text that looks like one (`-1`) is still text and is escaped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


def cell(value: Cell) -> str:
    """One cell as written: text that a spreadsheet would run made inert; numbers as numbers; None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    """`path` with `header` and `rows`, every cell through `cell`; UTF-8, the csv module's quoting."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([cell(name) for name in header])
        for row in rows:
            writer.writerow([cell(value) for value in row])
