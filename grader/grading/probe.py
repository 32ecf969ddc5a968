"""The probe, grader side: the cell that runs it in the kernel, and the shape its facts must have.

The probe itself (`grader.inside.kernel.probe`) runs in the student's process, so what it writes is
untrusted: `ProbeFacts` is the validated, bounded form the grader accepts, and `grader.grading.artifacts`
reads the files it left behind as hostile input.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
