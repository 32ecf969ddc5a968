"""Grading a whole class: a library that plans, grades what changed, rescores what only needs it, and reports.

Reading each submission and finding its rubric happen here, in the parent, because they are cheap
and their errors (broken JSON, an unknown exercise) become that student's row at once. A student
whose submission, course files and settings are as they were (same execution key) but whose
rubric's checks changed (another scoring key) is scored again here from what ran last time, with
no kernel started (`grader.batch.store`); the others go to the executor (`grader.batch.executors`), which
runs the kernel and the model measurement. Nothing here prints: what happens is reported as
typed events to the caller (the CLI draws them), and the result is a typed summary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grader.batch.discovery import Found
from grader.batch.executors import Executor, Task, TaskOutcome, TaskStarted
from grader.batch.routing import Router, RubricFor
from grader.batch.store import Keys, ResultStore, error_text, execution_key, grader_failure, scoring_key
from grader.errors import ExitCode, GradingError, SandboxUnavailable
from grader.grading.grade import Execution, Overrides, score_execution
from grader.grading.prelude import read_submitted_file, submitted_files
from grader.grading.submission import load_submission, read_regular_file
from grader.outputs.feedback import FeedbackDue, write_feedback
from grader.outputs.gradebook import BatchEntry, SubmissionTimes, write_class_outputs
from grader.outputs.roster import Roster
from grader.result import Failure, GradeResult, StageTimes
from grader.rubric.globs import shown_path
from grader.rubric.late import (
    DEFAULT_ZONE,
    LateFrom,
    LatePolicy,
    Penalty,
    commit_times,
    modification_times,
    parse_zone,
)
from grader.rubric.model import LoadedRubric, load_rubric
from grader.sandbox import bwrap

log = logging.getLogger(__name__)


class BatchSettings(BaseModel):
    """Everything about a batch that is the same for every submission in it."""

    model_config = ConfigDict(frozen=True)

    rubric_path: Path | None
    rubrics_dir: Path
    rubric_for: tuple[RubricFor, ...] = ()
    overrides: Overrides
    out_dir: Path
    force: bool = False
    rescore: bool = False
    gpus: tuple[str, ...] = ()
    spare_kernels: bool | None = None
    factory: bool | None = None
    roster: Roster | None = None
    starter_code: tuple[str, ...] = ()
    due: datetime | None = None
    due_by_exercise: dict[str, datetime] = {}
    late_penalty: Penalty | None = None
    timezone: str = DEFAULT_ZONE
    late_from: LateFrom = "recorded"
    recorded_times: dict[str, datetime] = {}
    recorded_from: str = ""
    overrides_file: Path | None = None


@dataclass(frozen=True)
class Planned:
    """What the batch will do: who is graded, who is rescored from what ran, who is unchanged, who failed."""

    to_grade: tuple[Task, ...]
    to_rescore: tuple[Task, ...]
    unchanged: tuple[str, ...]
    failures: tuple[Failure, ...]


@dataclass(frozen=True)
class Grading:
    """A worker began grading one student (where the executor says so: the local pool)."""

    stem: str


@dataclass(frozen=True)
class Graded:
    """One student graded (or rescored) and saved."""

    stem: str
    result: GradeResult
    rescored: bool = False


@dataclass(frozen=True)
class Failed:
    """One student who could not be graded: their row is the failure."""

    failure: Failure
    saved: bool = True


BatchEvent = Planned | Grading | Graded | Failed


@dataclass(frozen=True)
class WorkerMemory:
    """The most memory one worker's processes were seen using: the grader, its inspector, a kernel."""

    grader_mb: float = 0.0
    inspector_mb: float = 0.0
    kernel_mb: float = 0.0


@dataclass
class BatchSummary:
    """What a batch did, for the CLI's last lines and exit code."""

    found: int
    graded: int = 0
    rescored: int = 0
    unchanged: int = 0
    failures: list[Failure] = field(default_factory=list)
    entries: tuple[BatchEntry, ...] = ()
    notices: tuple[str, ...] = ()
    workers: dict[str, WorkerMemory] = field(default_factory=dict)
    kernel_waits: list[tuple[bool, float]] = field(default_factory=list)
    forked: int = 0
    fallbacks: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    """The batch's wall time, planning to class outputs: the closing line's, never a stage total."""

    @property
    def grader_failures(self) -> int:
        return sum(1 for failure in self.failures if failure.kind == "grader")

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.GRADER_FAILURE if self.grader_failures else ExitCode.GRADED


def plan_batch(found: Iterable[Found], settings: BatchSettings) -> list[Task | Failure]:
    """A task per submission (with its keys), or that student's failure row if it cannot be read or
    no one rubric claims it (`grader.batch.routing`); a bad --rubric or --rubric-for raises `RubricError`."""
    router = Router.load(settings.rubric_path, settings.rubric_for, settings.rubrics_dir)
    scoring: dict[Path, str] = {}
    planned: list[Task | Failure] = []
    for item in found:
        try:
            submission = load_submission(item.path)
            loaded = router.choose(submission, item.relative)
            payload = read_regular_file(item.path)
            attachments = tuple(
                (path.name, read_submitted_file(path)) for path in submitted_files(item.path, loaded.rubric)
            )
            if loaded.path not in scoring:
                scoring[loaded.path] = scoring_key(loaded)
            keys = Keys(
                execution=execution_key(payload, attachments, loaded, settings.overrides),
                scoring=scoring[loaded.path],
            )
        except GradingError as exc:
            failure = Failure.from_error(item.stem, item.path.name, exc)
            planned.append(
                failure.model_copy(
                    update={"message": failure.message.replace(str(item.path), shown_path(item.relative))}
                )
            )
            continue
        except OSError as exc:
            planned.append(
                Failure(
                    stem=item.stem,
                    submission=item.path.name,
                    kind="submission",
                    message=f"{item.path}: cannot read ({exc.strerror})",
                    exit_code=int(ExitCode.BAD_SUBMISSION),
                )
            )
            continue
        planned.append(
            Task(
                stem=item.stem,
                name=item.path.name,
                payload=payload,
                attachments=attachments,
                rubric_path=str(loaded.path.resolve()),
                rubric_label=str(loaded.path),
                overrides=settings.overrides,
                keys=keys,
                gpus=bool(settings.gpus),
            )
        )
    return planned


def run_batch(
    found: list[Found],
    settings: BatchSettings,
    executor: Executor,
    on_event: Callable[[BatchEvent], None] = lambda event: None,
) -> BatchSummary:
    """Grade what changed, rescore what only needs it, keep the rest; write the class outputs from the disk.

    Raises `SandboxUnavailable` when the sandbox is required and cannot run; every problem of one
    student becomes that student's row (a `Failed` event), never an exception.
    """
    if settings.overrides.sandbox == "require":
        problem = bwrap.bwrap_problem()
        if problem:
            raise SandboxUnavailable(
                f"cannot sandbox the kernels: {problem}", hint="install bubblewrap, or drop --require-sandbox"
            )
    began = time.monotonic()
    store = ResultStore(settings.out_dir)
    decided = decide(plan_batch(found, settings), store, settings)
    summary = BatchSummary(found=len(found), unchanged=len(decided.unchanged))
    on_event(decided)
    for failure in decided.failures:
        _fail(failure, store, summary, on_event)
    _rescore(decided.to_rescore, store, summary, on_event)
    for outcome in executor.run(decided.to_grade):
        if isinstance(outcome, TaskStarted):
            on_event(Grading(outcome.stem))
        else:
            _record(outcome, store, summary, on_event)
    summary.entries = _class_entries(store, summary.failures)
    outputs = write_class_outputs(
        settings.out_dir,
        summary.entries,
        roster=settings.roster,
        late=LatePolicy(due=settings.due, penalty=settings.late_penalty),
        times=submission_times(found, settings),
        paths={item.stem: item.relative for item in found},
        starter_code=settings.starter_code,
        overrides_file=settings.overrides_file,
        due_by_exercise=settings.due_by_exercise,
    )
    handed = write_feedback(
        settings.out_dir,
        summary.entries,
        FeedbackDue(
            late=LatePolicy(due=settings.due),
            by_exercise=settings.due_by_exercise,
            timezone=settings.timezone,
        ),
    )
    summary.notices = (*outputs.notices, handed.notice())
    summary.wall_s = time.monotonic() - began
    return summary


def submission_times(found: Iterable[Found], settings: BatchSettings) -> SubmissionTimes:
    """When each submission came in, from what the batch was told to trust (`--late-from`).

    By default only recorded times count (a roster's `submitted_at`, `--submissions-times`): a
    file's modification time is the student's to set and a copy's to reset, so it is read only
    when the instructor asks (`mtime`); `git` reads each checkout's last commit.
    """
    observed: dict[str, float] = {}
    if settings.late_from == "mtime":
        observed = modification_times((item.stem, item.path) for item in found)
    elif settings.late_from == "git":
        observed = commit_times((item.stem, item.path, _batch_root(item)) for item in found)
    return SubmissionTimes(
        zone=parse_zone(settings.timezone),
        observed=observed,
        observed_from=settings.late_from if settings.late_from != "recorded" else "none",
        recorded=settings.recorded_times,
        recorded_from=settings.recorded_from,
    )


def _batch_root(item: Found) -> Path:
    """The batch's folder, from a submission's path and its parts below that folder."""
    return item.path.parents[len(item.relative) - 1] if item.relative else item.path.parent


def decide(planned: list[Task | Failure], store: ResultStore, settings: BatchSettings) -> Planned:
    """Sort the tasks: unchanged (both keys), rescored (same execution, other scoring), or graded."""
    to_grade: list[Task] = []
    to_rescore: list[Task] = []
    unchanged: list[str] = []
    failures: list[Failure] = []
    for item in planned:
        if isinstance(item, Failure):
            failures.append(item)
            continue
        stored = None if settings.force else store.stored_keys(item.stem)
        kept = stored is not None and stored.execution == item.keys.execution
        if kept and stored == item.keys and not settings.rescore:
            unchanged.append(item.stem)
        elif kept and store.execution(item.stem) is not None:
            to_rescore.append(item)
        else:
            to_grade.append(item)
    log.debug(
        "plan: %d to grade, %d to rescore, %d unchanged, %d failed",
        len(to_grade),
        len(to_rescore),
        len(unchanged),
        len(failures),
    )
    return Planned(tuple(to_grade), tuple(to_rescore), tuple(unchanged), tuple(failures))


def _rescore(
    tasks: Iterable[Task], store: ResultStore, summary: BatchSummary, on_event: Callable[[BatchEvent], None]
) -> None:
    """Score again, from what ran last time, students whose run is unchanged: no kernel, one inspector."""
    rubrics: dict[str, LoadedRubric] = {}
    for task in tasks:
        kept = store.execution(task.stem)
        if kept is None:
            continue
        execution, folder = kept
        try:
            loaded = rubrics.get(task.rubric_path) or load_rubric(Path(task.rubric_path))
            rubrics[task.rubric_path] = loaded
            result = score_execution(execution, loaded, folder, task.overrides).model_copy(
                update={"rubric": task.rubric_label}
            )
            store.save_result(task.stem, task.keys, result.to_json())
        except Exception as exc:
            failure = grader_failure(task.stem, task.name, f"rescoring: {error_text(exc)}")
            _fail(failure, store, summary, on_event)
            continue
        summary.rescored += 1
        _add_stages(summary, result.run.stages, only=RESCORED_STAGES)
        on_event(Graded(task.stem, result, rescored=True))


def _record(
    outcome: TaskOutcome, store: ResultStore, summary: BatchSummary, on_event: Callable[[BatchEvent], None]
) -> None:
    """Save one student's outcome and report it; never raises.

    Whatever goes wrong here (writing or rendering the report, reading the result back, the
    caller's display of the event) becomes that student's error row: one student must not stop
    the rest of the class from being graded, nor the gradebook from being written.
    """
    if outcome.worker:
        before = summary.workers.get(outcome.worker, WorkerMemory())
        summary.workers[outcome.worker] = WorkerMemory(
            grader_mb=max(before.grader_mb, outcome.worker_peak_mb),
            inspector_mb=max(before.inspector_mb, outcome.inspector_peak_mb),
            kernel_mb=max(before.kernel_mb, outcome.kernel_peak_mb),
        )
    if outcome.kernel_wait_s is not None:
        summary.kernel_waits.append((outcome.kernel_prestarted, outcome.kernel_wait_s))
    summary.forked += outcome.kernel_forked
    if outcome.kernel_fallback:
        summary.fallbacks.append(outcome.kernel_fallback)
    result = _graded(outcome)
    if isinstance(result, Failure):
        _fail(result, store, summary, on_event)
        return
    try:
        execution = Execution.model_validate_json(outcome.execution_json) if outcome.execution_json else None
        assert outcome.result_json is not None  # `_graded` read the result from it
        store.save_result(outcome.stem, outcome.keys, outcome.result_json, execution, outcome.models)
        summary.graded += 1
        _add_stages(summary, result.run.stages)
        on_event(Graded(outcome.stem, result))
    except Exception as exc:
        failure = grader_failure(outcome.stem, outcome.submission, f"recording the result: {error_text(exc)}")
        _fail(failure, store, summary, on_event)


def _fail(
    failure: Failure, store: ResultStore, summary: BatchSummary, on_event: Callable[[BatchEvent], None]
) -> None:
    """A student's error row: saved, kept for the class outputs even if saving fails, and reported."""
    summary.failures = [f for f in summary.failures if f.stem != failure.stem] + [failure]
    saved = True
    try:
        store.save_failure(failure.stem, failure)
    except OSError:
        saved = False
    with contextlib.suppress(Exception):  # the caller's display of one row must not stop the class
        on_event(Failed(failure, saved))


RESCORED_STAGES = frozenset({"measure", "evaluate"})
"""The stages a rescore runs now; the rest of its result's times are of the kept execution's run."""


def _add_stages(summary: BatchSummary, stages: StageTimes, only: frozenset[str] | None = None) -> None:
    """Add one student's stage times to the class totals: those in `only` where given, so that
    a rescore reports no kernel start, prelude or cells of a run that was not run now."""
    for name, seconds in stages.model_dump().items():
        if isinstance(seconds, float) and not name.endswith("_mb") and (only is None or name in only):
            summary.stages[name] = summary.stages.get(name, 0.0) + seconds


def _class_entries(store: ResultStore, failures: list[Failure]) -> tuple[BatchEntry, ...]:
    """Every student in the out folder; this run's failures are their rows, even where saving one failed."""
    found = {entry.stem: entry for entry in store.entries()}
    found.update(
        {failure.stem: BatchEntry(failure.stem, failure.submission, failure) for failure in failures}
    )
    return tuple(found[stem] for stem in sorted(found))


NO_OUT_FOLDER = Path(os.devnull)
"""The out folder of a batch that writes none (`grade_files`): writing there would fail, not litter."""


def grade_files(
    files: Sequence[tuple[Path, LoadedRubric]], overrides: Overrides, executor: Executor
) -> Iterator[tuple[int, GradeResult | Failure]]:
    """Grade each file with its rubric as `grade FILE --rubric R` grades it alone, on a batch's executor.

    For `grade rubric test`: the tasks are a batch's (`plan_batch`, which reads each file as a
    student's and refuses a link), and the executor's workers and forked kernels grade them; but
    each kernel is seeded by the file's own name, as a single grade seeds it, where a batch seeds
    by report stem. Nothing is written: no out folder (`NO_OUT_FOLDER`), no class outputs; a file's
    path is its `relative`, so that a failure row quotes it as given. Yields (the file's index, its
    result or failure row) as each is ready, every index once.
    """
    tasks: list[Task] = []
    for loaded, indexed in _by_rubric(files):
        settings = BatchSettings(
            rubric_path=loaded.path,
            rubrics_dir=loaded.path.parent,
            overrides=overrides,
            out_dir=NO_OUT_FOLDER,
        )
        found = [Found(stem=str(index), path=path, relative=(str(path),)) for index, path in indexed]
        for planned, (_, path) in zip(plan_batch(found, settings), indexed, strict=True):
            if isinstance(planned, Failure):
                yield int(planned.stem), planned
            else:
                tasks.append(planned.model_copy(update={"identity": path.stem}))
    for outcome in executor.run(tasks):
        if isinstance(outcome, TaskOutcome):
            yield int(outcome.stem), _graded(outcome)


def _by_rubric(
    files: Sequence[tuple[Path, LoadedRubric]],
) -> list[tuple[LoadedRubric, list[tuple[int, Path]]]]:
    """The files (with their indexes) of each rubric: a batch plans one rubric at a time."""
    grouped: dict[Path, tuple[LoadedRubric, list[tuple[int, Path]]]] = {}
    for index, (path, loaded) in enumerate(files):
        grouped.setdefault(loaded.path, (loaded, []))[1].append((index, path))
    return list(grouped.values())


def _graded(outcome: TaskOutcome) -> GradeResult | Failure:
    """The outcome's result, or its failure row; a result that cannot be read back is the grader's failure."""
    if outcome.failure is not None:
        return outcome.failure
    try:
        if outcome.result_json is None:
            raise ValueError("the worker sent back neither a result nor a failure")
        return GradeResult.model_validate_json(outcome.result_json)
    except ValueError as exc:
        return grader_failure(outcome.stem, outcome.submission, f"reading the result: {error_text(exc)}")


def spare_kernels_by_default(workers: int, gpus: tuple[str, ...]) -> bool:
    """Spare kernels pay where they find idle CPU to boot on: beside GPU workers, or when -j leaves a core free.

    Measured on 2 cores with notebooks that train (docs/performance.md): `-j 1` took 0.73x as long
    with spares, but `-j 2` took 1.07-1.11x as long, the spares' start-up competing with the
    training kernels (lowering their priority did not help).
    """
    return bool(gpus) or workers < (os.cpu_count() or 1)
