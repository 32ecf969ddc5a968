"""The typed values that flow between the stages, ending in `GradeResult`, the canonical output.

Every other format (HTML, terminal summary, gradebook rows) is rendered from a `GradeResult`
serialised as JSON, so no two formats can disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


CellStatus = Literal["ok", "error", "timeout", "skipped", "died", "memory"]
CheckStatus = Literal["pass", "fail", "error", "skipped"]


class CellOutcome(Frozen):
    """What happened to one of the student's cells."""

    number: int
    first_line: int = 1
    source: str
    status: CellStatus
    error_name: str | None = None
    error_value: str | None = None
    traceback: str | None = None
    output: str = ""
    output_truncated: bool = False
    hint: str | None = None


class RunFacts(Frozen):
    """How the notebook ran: time, device, sandbox and the cells that did not run cleanly."""

    duration_s: float
    device: str
    sandboxed: bool
    failing_cells: tuple[int, ...]
    cells: tuple[CellOutcome, ...]
    notes: tuple[str, ...] = ()


class LayerFacts(Frozen):
    """One layer of a saved model, as the grader measured it."""

    name: str
    type: str
    config: dict[str, Any]
    output_shape: tuple[int | None, ...] | None
    params: int


class ModelFacts(Frozen):
    """A student's model as measured by the grader from the saved `.keras` file."""

    variable: str
    class_name: str
    layers: tuple[LayerFacts, ...]
    total_params: int
    input_shape: tuple[int | None, ...] | None
    output_shape: tuple[int | None, ...] | None


class LayerRow(Frozen):
    """One row of the expected-against-actual layer table."""

    position: int
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None
    status: Literal["match", "mismatch", "missing", "extra"]
    differences: tuple[str, ...] = ()
    explanation: str | None = None


class CheckResult(Frozen):
    id: str
    kind: str
    status: CheckStatus
    points: float
    max_points: float
    message: str
    description: str | None = None
    layer_rows: tuple[LayerRow, ...] = ()
    first_difference: int | None = Field(default=None, description="Index into layer_rows.")


class GradeResult(Frozen):
    """The canonical result of grading one submission."""

    submission: str
    exercise: str
    title: str
    rubric: str
    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    run: RunFacts
    model: ModelFacts | None = None
    notes: tuple[str, ...] = ()
    grader_version: str

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> GradeResult:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
