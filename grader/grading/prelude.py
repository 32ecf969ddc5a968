"""The prelude: the cell the grader runs in the student's kernel before the student's first cell.

It installs the kernel-side set-up (`grader.inside.kernel.setup`: seeding, the Keras 2 layer, the
course's data sets, the training budget) in the kernel (see `grader.inside.kernel.cell_source`) with a
configuration built here from the rubric and the command line. What the kernel records comes back through the
probe as `KernelCompatFacts`, validated and bounded like every other fact the kernel writes.
"""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.errors import SubmissionError
from grader.grading.submission import Submission, read_regular_file
from grader.inside import kernel
from grader.result import CompatUse, KernelSetup, TrainingEvent
from grader.rubric.model import Rubric

KERNEL_SETUP_MODULES = (
    "records",
    "idioms",
    "gpu",
    "seeding",
    "keras2",
    "budget",
    "course",
    "selfcheck",
    "setup",
)
"""The kernel-side modules the prelude installs, each after the ones it imports."""
KERAS_MENTION = re.compile(r"\b(keras|tensorflow)\b")

SEED_BITS = 31
"""Seeds stay below 2**31: every generator the kernel seeds (Python, NumPy, TensorFlow) takes them."""

CompatMode = Literal["keras2"]
CompatChoice = Literal["keras2", "none"]


class PreludeConfig(BaseModel):
    """What the prelude sets up: the seed, the Keras 2 layer, and the training budget."""

    model_config = ConfigDict(frozen=True)

    seed: int = 0
    import_keras: bool = False
    compat: CompatMode | None = None
    max_epochs: int | None = None
    max_steps: int | None = None
    checkpoint: str | None = None
    course: dict[str, dict[str, str]] = {}
    gpu_memory_mb: int | None = None

    @property
    def needs_keras(self) -> bool:
        return bool(
            self.import_keras
            or self.compat
            or self.max_epochs
            or self.max_steps
            or self.checkpoint
            or any(self.course.values())
            or self.gpu_memory_mb
        )


def submission_seed(base: int, identity: str) -> int:
    """The seed one submission's kernel gets: the rubric's seed mixed with who handed the work in.

    Every kernel seeded alike made two honest students who typed the lesson's model train to the
    very same weights and history, so a similarity flag on them said nothing. Mixed with the
    submission's identity (its report stem, never its content), two runs of the same code by two
    students differ, while grading the same student again reproduces the same numbers.
    """
    digest = hashlib.sha256(f"{base}\0{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << SEED_BITS)


def mentions_keras(submission: Submission) -> bool:
    """Seeding Keras means importing it (seconds); only worth it when the notebook uses it."""
    return any(KERAS_MENTION.search(cell.source) for cell in submission.cells)


def prelude_source(config: PreludeConfig) -> str:
    """A cell that installs the kernel-side setup and runs it, leaving no names behind."""
    settings = config.model_dump()
    settings["import_keras"] = config.needs_keras
    return kernel.cell_source("setup.install", {"config": settings}, modules=KERNEL_SETUP_MODULES)


class ProbedCompatUse(BaseModel):
    """One legacy idiom the kernel-side layer translated or refused (untrusted: from the kernel)."""

    model_config = ConfigDict(frozen=True)

    idiom: str = Field(max_length=200)
    found: str = Field(max_length=300)
    keras3: str = Field(max_length=300)
    cell: Annotated[int, Field(ge=0)] | None = None
    line: Annotated[int, Field(ge=0)] | None = None
    count: Annotated[int, Field(ge=1)] = 1


class ProbedTrainingEvent(BaseModel):
    """One decision of the training budget: a cap applied, a checkpoint loaded, a fit that ran."""

    model_config = ConfigDict(frozen=True)

    event: Literal[
        "epochs_capped", "steps_capped", "checkpoint_loaded", "checkpoint_failed", "trained", "gpu_capped"
    ]
    detail: str = Field(max_length=400)
    cell: Annotated[int, Field(ge=0)] | None = None
    line: Annotated[int, Field(ge=0)] | None = None
    epochs: int | None = None
    final: dict[str, float] | None = None


class KernelCompatFacts(BaseModel):
    """The kernel-side `records.USES` and `.TRAINING` as the probe found them."""

    model_config = ConfigDict(frozen=True)

    uses: Annotated[tuple[ProbedCompatUse, ...], Field(max_length=200)] = ()
    training: Annotated[tuple[ProbedTrainingEvent, ...], Field(max_length=200)] = ()


class PreludePlan(BaseModel):
    """The prelude's configuration for one submission, and the files it needs beside the notebook."""

    model_config = ConfigDict(frozen=True)

    config: PreludeConfig
    files: tuple[Path, ...] = ()

    @property
    def source(self) -> str:
        return prelude_source(self.config)


def plan_prelude(
    submission: Submission,
    rubric: Rubric,
    compat: CompatChoice | None = None,
    course: dict[str, dict[str, str]] | None = None,
    *,
    gpu_memory_mb: int | None = None,
    identity: str | None = None,
) -> PreludePlan:
    """The submission's seed, compatibility layer, training budget and course data.

    `compat` from the CLI wins ("none" turns it off); `course` is what the kernel-side loaders
    read (see `grader.grading.course.CourseSetup.kernel_config`). `identity` names the submission
    for its seed (`submission_seed`): `grade batch` passes its report stem (the path relative to
    the class folder), and a single `grade FILE` uses the file's stem, so a notebook at the top of
    the class folder gets the same seed either way.
    """
    training = rubric.training
    config = PreludeConfig(
        seed=submission_seed(rubric.seed, identity or submission.stem),
        import_keras=mentions_keras(submission),
        compat=None if compat == "none" else (compat or rubric.compat),
        max_epochs=training.max_epochs,
        max_steps=training.max_steps,
        checkpoint=training.checkpoint,
        course=course or {},
        gpu_memory_mb=gpu_memory_mb,
    )
    return PreludePlan(config=config, files=submitted_files(submission.path, rubric))


MAX_SUBMITTED_FILE_BYTES = 1024 * 2**20
"""A checkpoint beside a notebook travels to its worker in memory: bounded like everything a student hands in."""


def read_submitted_file(path: Path) -> bytes:
    """A file that travels with a submission, read as `load_submission` reads the submission itself.

    `submitted_files` chose it by lstat; reading it by name again would follow a link swapped in
    since, so it is opened without following links and checked on the descriptor read.
    """
    data = read_regular_file(path, MAX_SUBMITTED_FILE_BYTES)
    if len(data) > MAX_SUBMITTED_FILE_BYTES:
        raise SubmissionError(
            f"{path}: over the {MAX_SUBMITTED_FILE_BYTES // 2**20} MiB limit for a file handed in beside the notebook",
            hint="hand in the model's weights only (model.save_weights), not the training data",
        )
    return data


def submitted_files(submission: Path, rubric: Rubric) -> tuple[Path, ...]:
    """The files beside a submission that travel with it: today its checkpoint, when the rubric names one.

    A batch sends them with the submission to wherever it is graded (a worker, a Ray node). Only a
    regular file travels: the student made the folder, so a link (to the held-out data, to another
    student's weights) or a FIFO is left where it is, unread.
    """
    checkpoint = rubric.training.checkpoint
    path = submission.parent / checkpoint if checkpoint else None
    if path is None:
        return ()
    try:
        regular = stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return ()
    return (path,) if regular else ()


def kernel_setup(prepared: PreludePlan, facts: KernelCompatFacts | None) -> KernelSetup:
    """What the report says about the kernel's setup: the settings, and what the kernel recorded."""
    config = prepared.config
    recorded = facts or KernelCompatFacts()
    return KernelSetup(
        seed=config.seed,
        compat=config.compat,
        max_epochs=config.max_epochs,
        max_steps=config.max_steps,
        checkpoint=config.checkpoint,
        checkpoint_submitted=bool(prepared.files),
        gpu_memory_mb=config.gpu_memory_mb,
        uses=tuple(CompatUse(**use.model_dump()) for use in recorded.uses),
        training=tuple(TrainingEvent(**event.model_dump(exclude={"epochs"})) for event in recorded.training),
    )
