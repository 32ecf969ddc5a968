"""Every limit a grade runs under, as the rubric and the command line spell it.

The values only: how the OS enforces them (rlimits, uids, memory cgroups, the watchdog) is
`grader.sandbox.enforce`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class Limits(BaseModel):
    """Every limit a grade runs under: the rubric's `limits:`, overridden field by field on the command line.

    The one place limits are spelled: the rubric validates against this model, the command line's
    options are made from its fields (`LimitOverrides`), the kernel, its watchdog and the inspector
    read it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(default=600, gt=0, description="Whole-notebook time limit in seconds.")
    cell_timeout: float = Field(default=300, gt=0, description="Per-cell time limit in seconds.")
    memory_mb: int = Field(default=4096, ge=64, description="Kernel memory limit in MB.")
    processes: int = Field(default=256, ge=16, description="Kernel process limit, threads included.")
    output_kb: int = Field(default=256, gt=0, description="Output kept per cell in KB.")
    disk_mb: int = Field(
        default=512, gt=0, description="Disk the kernel may write in its folders and /tmp, in MB."
    )
    gpu_memory_mb: int | None = Field(
        default=None, ge=64, description="GPU memory each kernel may use, in MB (default: no cap)."
    )
    grader_timeout: float = Field(
        default=300, gt=0, description="Time limit in seconds to load, measure or evaluate one model."
    )
    grader_memory_mb: int = Field(
        default=4096, ge=256, description="Memory limit in MB of the process that loads and runs the models."
    )

    def merged(self, overrides: LimitOverrides) -> Limits:
        """These limits with every value `overrides` sets, validated again."""
        return Limits.model_validate(self.model_dump() | overrides.model_dump(exclude_none=True))


class LimitOverrides(BaseModel):
    """`Limits` with every field optional: what the command line sets, None where it sets nothing.

    Spelled out, field for field and in `Limits`' order, so that it is a type mypy reads (one
    field is replaced with `model_copy(update=...)`); `tests/test_limit_overrides.py` fails when a
    limit is added to `Limits` and not here, so a new limit still cannot miss its option. No
    bounds here: the options check them (`grader.cli.shared`), and `Limits.merged` validates again.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float | None = None
    cell_timeout: float | None = None
    memory_mb: int | None = None
    processes: int | None = None
    output_kb: int | None = None
    disk_mb: int | None = None
    gpu_memory_mb: int | None = None
    grader_timeout: float | None = None
    grader_memory_mb: int | None = None


class InspectorLimits(BaseModel):
    """The inspector's own bounds, which no rubric sets: its memory and time per request are `Limits`' grader_* fields.

    Loading a model needs room the kernel's limits do not give (TensorFlow's threads, its
    scratch files), and the first start imports TensorFlow, which takes far longer than a request.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_timeout_s: float = Field(
        default=180.0,
        gt=0,
        description="Time in seconds the inspector may take to start (import TensorFlow).",
    )
    processes: int = Field(
        default=1024, ge=16, description="The inspector's process limit, threads included."
    )
    tmp_mb: int = Field(default=2048, gt=0, description="The inspector's /tmp and largest file, in MB.")
