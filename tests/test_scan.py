"""The static Keras 2 scan runs grader-side before any time limit: it must be linear and never raise.

The old scan re-split the whole cell for every syntax node (`ast.get_source_segment`), so a
200 KB notebook took minutes; these tests grow a realistic source and compare the hints of the
whole with those of its parts.
"""

from __future__ import annotations

import ast
import time

import pytest

from grader.grading.migration import MAGIC, scan
from grader.grading.submission import Cell, load_submission
from tests.conftest import REPO

SCAN_SECONDS = 3.0


def legacy_code() -> str:
    """Every cell of the course's Keras 2 notebooks that parses, as one piece of code."""
    sources = [
        cell.source
        for path in sorted((REPO / "submissions" / "legacy").iterdir())
        for cell in load_submission(path).cells
    ]
    code = [
        "\n".join("" if MAGIC.match(line) else line for line in source.splitlines()) for source in sources
    ]
    return "\n".join(piece for piece in code if _parses(piece)) + "\n"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def timed_scan(source: str) -> tuple[float, list[tuple[int, str, str, str]]]:
    started = time.perf_counter()
    hints = scan([Cell(number=1, source=source)])
    return time.perf_counter() - started, [(h.line, h.idiom, h.found, h.keras3) for h in hints]


def test_a_200_kb_notebook_is_scanned_in_well_under_seconds_with_the_hints_of_its_parts() -> None:
    unit = legacy_code()
    copies = 200_000 // len(unit) + 1
    seconds, hints = timed_scan(unit * copies)
    _, unit_hints = timed_scan(unit)
    lines = unit.count("\n")
    assert unit_hints, "the legacy notebooks use Keras 2 idioms"
    assert seconds < SCAN_SECONDS, f"{len(unit) * copies:,} characters scanned in {seconds:.1f} s"
    assert hints == [
        (line + copy * lines, idiom, found, keras3)
        for copy in range(copies)
        for line, idiom, found, keras3 in unit_hints
    ]


@pytest.mark.parametrize(
    ("attack", "source"),
    [
        ("a chain of 20,000 attributes", "x" + ".fit_generator" * 20_000 + "\n"),
        ("a chain of 2,000 attributes, which parses", "x" + ".fit_generator" * 2_000 + "\n"),
        ("an expression 100,000 deep", "x = " + "1 + " * 100_000 + "1\n"),
    ],
)
def test_source_too_deep_for_python_to_parse_or_walk_is_scanned_not_raised(attack: str, source: str) -> None:
    seconds, _ = timed_scan(source)
    assert seconds < SCAN_SECONDS, attack


def test_a_long_line_that_does_not_parse_is_searched_in_linear_time() -> None:
    statement = "from keras.utils import "
    short_seconds, _ = timed_scan(statement * 500 + "(\n")
    long_seconds, hints = timed_scan(statement * 10_000 + "(\n")
    assert hints == []
    assert long_seconds < SCAN_SECONDS and long_seconds < 40 * max(short_seconds, 0.005)
    _, found = timed_scan(statement * 10_000 + "np_utils (\n")
    assert [idiom for _, idiom, _, _ in found] == ["keras.utils.np_utils"]
