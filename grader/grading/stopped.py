"""A run the sandbox stopped: time ran out, the kernel ran out of memory, or it died.

Such a submission is still graded (its score counts what ran before the stop, as the rubric
says), so nothing about its score marks it; yet an instructor reading a class must see who was
stopped, since a submission that timed out on a busy machine may deserve a rerun. The mark is
read from the cells' own statuses (`CellOutcome.status`), which every result already records,
so results written before this module read the same. The progress line of `grade batch`
(`grader.cli.batch_view`), gradebook.csv's `stopped` column and index.html
(`grader.outputs.gradebook`) all say it from here, in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from grader.result import GradeResult

StopKind = Literal["timeout", "memory", "died"]
WHAT: dict[str, str] = {
    "timeout": "time ran out",
    "memory": "the kernel ran out of memory",
    "died": "the kernel died",
}
"""Each stop, as the gradebook's `stopped` column writes it (the key) and a person reads it."""


@dataclass(frozen=True)
class Stop:
    """How and where a run was stopped: the first cell whose status is a stop."""

    kind: StopKind
    cell: int

    def describe(self) -> str:
        """`time ran out in cell 4`: the words of the progress line and the class summary."""
        return f"{WHAT[self.kind]} in cell {self.cell}"


def first_stop(cells: Iterable[tuple[str, int]]) -> Stop | None:
    """The first (status, cell number) whose status is a stop; None for a run that ended on its own."""
    for status, number in cells:
        if status in WHAT:
            return Stop(kind=status, cell=number)  # type: ignore[arg-type]
    return None


def of_result(result: GradeResult) -> Stop | None:
    """The stop of a typed result (the batch's events)."""
    return first_stop((cell.status, cell.number) for cell in result.run.cells)


def of_json(result: Mapping[str, Any] | None) -> Stop | None:
    """The stop of a result read back as JSON (the class outputs); None for none or an error row."""
    if result is None:
        return None
    cells = (result.get("run") or {}).get("cells") or ()
    return first_stop((str(cell.get("status")), int(cell.get("number", 0))) for cell in cells)
