"""The probe, grader side: the cell that runs it in the kernel, and the shape its facts must have.

The probe itself (`grader.inside.kernel.probe`) runs in the student's process, so what it writes is
untrusted: `ProbeFacts` is the validated, bounded form the grader accepts, and `grader.grading.artifacts`
reads the files it left behind as hostile input.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from grader.grading.prelude import KernelCompatFacts
from grader.inside import kernel
from grader.inside.kernel.probe import MANIFEST_MARK

FACTS_FILE = "facts.json"
MAX_FACTS_BYTES = 4 * 1024 * 1024
HISTORY_SERIES = 32
HISTORY_POINTS = 1_000
HISTORY_KEY_CHARS = 100
VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]*$"
DEVICE = r"^(CPU|GPU \([A-Za-z0-9 _.,:()/-]{1,120}\))$"


def probe_source(out_dir: str, variables: tuple[str, ...], input_shape: tuple[int, ...] | None) -> str:
    """The probe cell: saves the models and facts into `out_dir`, a folder made for this probe alone."""
    arguments = {
        "out_dir": out_dir,
        "variables": list(variables),
        "input_shape": list(input_shape) if input_shape else None,
    }
    return kernel.cell_source("probe.save_models_and_facts", arguments, modules=("probe",))


HistoryKey = Annotated[str, StringConstraints(max_length=HISTORY_KEY_CHARS)]
HistorySeries = Annotated[list[float | None], Field(max_length=HISTORY_POINTS)]


TrainingText = Annotated[str, StringConstraints(max_length=100)]
Setting = bool | int | float | TrainingText | Annotated[list[float], Field(max_length=4)] | None
Settings = Annotated[dict[TrainingText, Setting], Field(max_length=30)]
Epochs = Annotated[int, Field(ge=0, le=10**9)]


class CompileFacts(BaseModel):
    """What `compile` was given: loss and metric names as the notebook spelt them, the optimizer's class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loss: Annotated[tuple[TrainingText, ...], Field(max_length=16)] = ()
    optimizer: TrainingText | None = None
    learning_rate: float | None = Field(default=None, allow_inf_nan=False)
    metrics: Annotated[tuple[TrainingText, ...], Field(max_length=16)] = ()


class LabelFacts(BaseModel):
    """The labels one fit call was given, from their shape and first rows: one-hot, integer, or other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shape: Annotated[tuple[Annotated[int, Field(ge=0)] | None, ...], Field(min_length=1, max_length=4)]
    kind: Literal["one_hot", "integer", "other"]
    classes: Annotated[int, Field(ge=0, le=10**9)] | None = None


class CallbackFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: TrainingText
    settings: Settings = {}


class FitFacts(BaseModel):
    """One `fit` call as the notebook asked for it (epochs before the training budget's cap)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: Epochs | None = None
    epochs_run: Epochs = 0
    batch_size: Annotated[int, Field(ge=0, le=10**9)] | None = None
    validation: bool = False
    callbacks: Annotated[tuple[CallbackFacts, ...], Field(max_length=20)] = ()
    labels: LabelFacts | None = None
    augmentation: Settings | None = None


class AugmentationLayer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom"]
    settings: Settings = {}


class TrainingFacts(BaseModel):
    """What a model was compiled and fitted with, as the student's own process reported it.

    Untrusted like a variable's value: a notebook can write anything here, so every size is
    bounded, and facts that do not validate become `refused` (the check fails, the rest of the
    probe stands). They earn no more than compiling and fitting that way would have.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    compile: CompileFacts | None = None
    fits: Annotated[tuple[FitFacts, ...], Field(max_length=20)] = ()
    fit_count: Annotated[int, Field(ge=0, le=10**9)] = 0
    epochs_asked: Annotated[int, Field(ge=0, le=10**9)] | None = None
    last_fit: Annotated[int, Field(ge=0, le=10**9)] | None = None
    augmentation_layers: Annotated[tuple[AugmentationLayer, ...], Field(max_length=16)] = ()
    refused: str | None = Field(default=None, max_length=300)


TRAINING_NODES = 5_000
"""More values than the largest valid training facts hold (20 fits of 20 callbacks, ...): refused unread."""


def _oversize(value: Any) -> str | None:
    """Refuse huge training facts before validating them item by item (a million bad items, a million errors)."""
    pending, seen = [value], 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > TRAINING_NODES:
            return f"more than {TRAINING_NODES:,} values"
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list) and len(item) <= TRAINING_NODES:
            pending.extend(item)
        elif isinstance(item, list):
            return f"a list of {len(item):,} values"
    return None


class ProbedModel(BaseModel):
    """One model the probe saved: its variable, its file and the file's size and hash (the manifest)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    variable: str = Field(pattern=VARIABLE, max_length=200)
    class_name: str = Field(alias="class", max_length=200)
    built: bool
    built_by_grader: bool = False
    file: str | None = Field(default=None, pattern=r"^models/[A-Za-z_][A-Za-z0-9_]*\.keras$", max_length=220)
    bytes: Annotated[int, Field(ge=0)] | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    error: str | None = Field(default=None, max_length=500)
    history: Annotated[dict[HistoryKey, HistorySeries], Field(max_length=HISTORY_SERIES)] | None = None
    training: TrainingFacts | None = None

    @field_validator("training", mode="wrap")
    @classmethod
    def _refuse_bad_training(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> TrainingFacts | None:
        """Training facts that do not validate are refused alone: the model's other facts still count."""
        oversize = _oversize(value)
        if oversize is not None:
            return TrainingFacts(refused=oversize)
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])[:100]
            return TrainingFacts(refused=f"{where}: {first['msg']}"[:300])


class ProbedVariable(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Any = None
    type: str = Field(max_length=200)
    error: str | None = Field(default=None, max_length=300)


class ProbeFacts(BaseModel):
    """What the probe wrote, validated. Nothing here is trusted for scoring a model."""

    model_config = ConfigDict(frozen=True)

    models: Annotated[tuple[ProbedModel, ...], Field(max_length=100)] = ()
    variables: dict[Annotated[str, StringConstraints(pattern=VARIABLE, max_length=200)], ProbedVariable] = {}
    missing_variables: tuple[Annotated[str, StringConstraints(max_length=200)], ...] = ()
    device: str = Field(default="CPU", pattern=DEVICE)
    errors: Annotated[
        tuple[Annotated[str, StringConstraints(max_length=300)], ...], Field(max_length=100)
    ] = ()
    compat: KernelCompatFacts | None = None


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    variable: str = Field(pattern=VARIABLE, max_length=200)
    file: str = Field(pattern=r"^models/[A-Za-z_][A-Za-z0-9_]*\.keras$", max_length=220)
    bytes: Annotated[int, Field(ge=0)]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ProbeManifest(BaseModel):
    """What the probe wrote, as it printed on its own cell's output: facts.json's hash and each model file's.

    Printed before the probe cell ends, so nothing the notebook left running afterwards (a hook
    that runs after every cell, a thread) can change it; the files on disk are held to it.
    """

    model_config = ConfigDict(frozen=True)

    facts_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: Annotated[tuple[ManifestEntry, ...], Field(max_length=100)] = ()


def manifest_from_output(text: str) -> ProbeManifest | None:
    """The manifest line of the probe cell's output (the first one), or None when there is none or it is malformed."""
    for line in text.splitlines():
        if line.startswith(MANIFEST_MARK):
            try:
                return ProbeManifest.model_validate_json(line[len(MANIFEST_MARK) :].strip()[: 1 << 20])
            except ValueError:
                return None
    return None
