"""Every limit a grade runs under, as the rubric and the command line spell it.

The values only: how the OS enforces them (rlimits, uids, memory cgroups, the watchdog) is
`grader.sandbox.enforce`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

MIB = 1024 * 1024
KERNEL_UID_BASE = 1_000_000
POLL_S = 0.25
DISK_POLL_EVERY = 4
MAX_FILES = 100_000
SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin"
UIDS_PER_PROCESS = 4
INSPECTOR_SLOT = 2
CGROUP_ROOT = Path("/sys/fs/cgroup")


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

    def merged(self, overrides: BaseModel) -> Limits:
        """These limits with every value `overrides` (a `LimitOverrides`) sets, validated again."""
        return Limits.model_validate(self.model_dump() | overrides.model_dump(exclude_none=True))


LimitOverrides: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "LimitOverrides",
    __config__=ConfigDict(extra="forbid", frozen=True),
    __doc__="`Limits` with every field optional: what the command line sets, None where it sets nothing.",
    **{name: (Optional[field.annotation], None) for name, field in Limits.model_fields.items()},  # noqa: UP045
)
