"""The typed values that flow between the stages, ending in `GradeResult`, the canonical output.

Every other format (HTML, terminal summary, gradebook rows) is rendered from a `GradeResult`
serialised as JSON, so no two formats can disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from grader.errors import GradingError, RubricError, SandboxUnavailable, SubmissionError
from grader.inside.inspector.facts import ModelFacts


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


CellStatus = Literal["ok", "error", "timeout", "skipped", "died", "memory"]
CheckStatus = Literal["pass", "fail", "error", "skipped"]
Visibility = Literal["visible", "hidden", "after_due"]
"""What a student sees of a check before grading (the rubric's `visibility`; see grader.render.visibility)."""


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
    noise: str = Field(default="", description="Framework logs and warnings, folded away in the report.")
    images: tuple[str, ...] = Field(
        default=(), description="The cell's own figures: base64 PNGs, checked and bounded in number and size."
    )


class StageTimes(Frozen):
    """Wall-clock seconds spent in each stage of grading one submission, and the kernel's peak memory.

    Both are for capacity planning: `grade batch` prints class totals of the times and the largest
    kernel, and they vary from run to run (tests compare results without them).

    `kernel_start` is from asking for a kernel until it answers (a kernel started ahead of need
    answers at once); `measure` is loading and measuring the models in the inspector; `report`
    is rendering the HTML (the JSON is written after it, so it can hold that figure).
    """

    kernel_start: float = 0.0
    prelude: float = 0.0
    cells: float = 0.0
    probe: float = 0.0
    measure: float = 0.0
    evaluate: float = 0.0
    report: float = 0.0
    kernel_prestarted: bool = False
    kernel_peak_mb: float = 0.0


class RunFacts(Frozen):
    """How the notebook ran: time, device, sandbox and the cells that did not run cleanly."""

    duration_s: float
    device: str
    sandboxed: bool
    failing_cells: tuple[int, ...]
    cells: tuple[CellOutcome, ...]
    notes: tuple[str, ...] = ()
    enforcement: tuple[str, ...] = Field(default=(), description="How the limits were enforced on this host.")
    stages: StageTimes = StageTimes()


LayerStatus = Literal["match", "mismatch", "missing", "extra", "follows"]
"""A row's verdict: "mismatch", "missing" and "extra" rows are charged; a "follows" row is not.

A "follows" row's layer has the expected type and settings, and its shape or parameter count
differs only because an earlier charged row (`follows_from`) changed the input it receives.
"""


class LayerRow(Frozen):
    """One row of the expected-against-actual layer table."""

    position: int
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None
    status: LayerStatus
    differences: tuple[str, ...] = ()
    explanation: str | None = None
    follows_from: int | None = Field(
        default=None,
        description='For a "follows" row: the position of the charged row its difference follows from.',
    )
    accepted: str | None = Field(
        default=None,
        description="The other spelling this row was matched in, that the rubric's `accept:` declares equivalent.",
    )

    @property
    def charged(self) -> bool:
        """Whether this row costs points: a difference of its own, not one inherited from an earlier row."""
        return self.status in ("mismatch", "missing", "extra")

    @model_serializer(mode="wrap")
    def _without_unset_follows(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Rows that follow from nothing and accept no other spelling serialise as before, so results
        written earlier keep their shape."""
        data: dict[str, Any] = handler(self)
        for key in ("follows_from", "accepted"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class ClassScore(Frozen):
    """How one class of the held-out data fared."""

    label: int
    count: int
    correct: int
    accuracy: float | None = Field(description="None when the held-out data has no image of this class.")


class TierOutcome(Frozen):
    """One tier of an accuracy check: the accuracy it needs, its points, and whether it was reached."""

    min: float
    points: float
    reached: bool


class Metrics(Frozen):
    """A model measured on held-out data by the grader. The report's pictures are drawn from these numbers."""

    accuracy: float
    samples: int
    correct: int
    data: str
    input_shape: tuple[int, ...]
    per_class: tuple[ClassScore, ...]
    confusion: tuple[tuple[int, ...], ...] = Field(
        description="Rows: true label; columns: predicted label, one per class of the held-out labels."
    )
    other: tuple[int, ...] = Field(
        default=(),
        description="Per true label: predictions outside the held-out labels' classes, in one 'other' column.",
    )
    tiers: tuple[TierOutcome, ...] = ()
    history: dict[str, tuple[float | None, ...]] | None = Field(
        default=None, description="Per-epoch training metrics from the notebook's `fit` (untrusted)."
    )
    device: str
    duration_s: float


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
    metrics: Metrics | None = None
    visibility: Visibility = Field(
        default="visible", description="The rubric's visibility: a student view shows only visible checks."
    )


class MigrationHint(Frozen):
    """A Keras 2 (or Keras 1) idiom found in the submission's source, and how Keras 3 spells it."""

    cell: int
    line: int = Field(description="Line within the cell (1-based).")
    idiom: str
    found: str
    keras3: str


class CompatUse(Frozen):
    """An idiom the `keras2` compatibility layer translated (or refused) while the notebook ran."""

    idiom: str
    found: str
    keras3: str
    cell: int | None = None
    line: int | None = None
    count: int = 1


class TrainingEvent(Frozen):
    """A decision of the training budget: a cap applied, a checkpoint loaded, a fit that ran."""

    event: str
    detail: str
    cell: int | None = None
    line: int | None = None
    final: dict[str, float] | None = None


class KernelSetup(Frozen):
    """What the grader set up in the kernel before the student's first cell, and what came of it."""

    seed: int
    compat: Literal["keras2"] | None = None
    max_epochs: int | None = None
    max_steps: int | None = None
    checkpoint: str | None = None
    checkpoint_submitted: bool = False
    gpu_memory_mb: int | None = Field(default=None, description="The GPU memory cap of the kernel, in MB.")
    uses: tuple[CompatUse, ...] = ()
    training: tuple[TrainingEvent, ...] = ()


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
    migration: tuple[MigrationHint, ...] = ()
    kernel_setup: KernelSetup | None = None
    self_check: bool = Field(
        default=False,
        description="A student's self-check (a student rubric, `--self-check` or `%grade`): not a grade.",
    )

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> GradeResult:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


FailureKind = Literal["submission", "rubric", "sandbox", "grader"]


class Failure(Frozen):
    """A student's row when their submission could not be graded at all, and why (`grade batch`)."""

    stem: str
    submission: str
    kind: FailureKind
    message: str
    hint: str = ""
    exit_code: int

    @classmethod
    def from_error(cls, stem: str, submission: str, error: GradingError) -> Failure:
        kinds: tuple[tuple[type[GradingError], FailureKind], ...] = (
            (SubmissionError, "submission"),
            (RubricError, "rubric"),
            (SandboxUnavailable, "sandbox"),
        )
        kind: FailureKind = next((k for cls_, k in kinds if isinstance(error, cls_)), "grader")
        return cls(
            stem=stem,
            submission=submission,
            kind=kind,
            message=error.message,
            hint=error.hint,
            exit_code=int(error.exit_code),
        )
