"""Grading one submission end to end: rubric -> run -> inspect -> check -> `GradeResult`.

This is the pipeline the CLI (and batch grading) calls; each stage hands the next a typed value.
The inspect stage happens in the inspector process (`grader.grading.inspector`), on the files the run
accepted (`grader.grading.artifacts`): the one file per model that is both measured and evaluated.
"""

from __future__ import annotations

import contextlib
import difflib
import shutil
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grader import __version__, debugging
from grader.errors import RubricError
from grader.grading import (
    course,
    datasets,
    evaluate,
    hints,
    inspector,
    migration,
    prelude,
    shell_hints,
    unmeasured,
)
from grader.grading.artifacts import Artifacts, ModelFile
from grader.grading.check import Evidence, accuracy_refusal, run_checks, unaccounted_operations
from grader.grading.prelude import CompatChoice
from grader.grading.probe import ProbedModel, ProbeFacts
from grader.grading.run import SandboxMode, run_submission
from grader.grading.submission import Submission
from grader.inside.inspector.facts import ModelFacts
from grader.result import GradeResult, KernelSetup, MigrationHint, RunFacts
from grader.rubric import formulas
from grader.rubric.limits import LimitOverrides, Limits
from grader.rubric.model import LoadedRubric, Rubric, find_rubrics, load_rubric
from grader.sandbox import bwrap
from grader.text import plain


class Overrides(BaseModel):
    """Command-line settings that take precedence over the rubric's: limits (field by field), sandbox, compat."""

    model_config = ConfigDict(frozen=True)

    limits: LimitOverrides = LimitOverrides()
    sandbox: SandboxMode = "auto"
    compat: CompatChoice | None = None


def resolve_rubric(submission: Submission, rubric_path: Path | None, rubrics_dir: Path) -> LoadedRubric:
    """`--rubric` wins; otherwise the exercise id the submission carries, looked up in `rubrics_dir`."""
    if rubric_path is not None:
        return load_rubric(rubric_path)
    found = find_rubrics(rubrics_dir)
    listing = ", ".join(found) or f"none in {rubrics_dir}"
    if submission.exercise is None:
        where = (
            "notebook metadata `grader.exercise`"
            if submission.kind == "notebook"
            else "a `# grader: exercise=ID` line"
        )
        raise RubricError(
            f"{submission.path}: which rubric? the submission names no exercise ({where})",
            hint=f"pass --rubric PATH; rubrics found: {listing}",
        )
    if submission.exercise not in found:
        raise RubricError(
            f"{submission.path}: no rubric for exercise {submission.exercise!r} in {rubrics_dir}",
            hint=f"pass --rubric PATH or --rubrics DIR; rubrics found: {listing}",
        )
    return load_rubric(found[submission.exercise])


class StoredModel(BaseModel):
    """A saved model the run accepted, kept in an execution's folder (file name, hash, size)."""

    model_config = ConfigDict(frozen=True)

    variable: str
    file: str
    sha256: str
    size: int


class Execution(BaseModel):
    """What running a submission left behind: enough to score it again without running it.

    Kept by `grade batch` beside the results (`.artifacts/<stem>/`, with the model files), so a
    rubric change that touches only scoring regrades a class with no kernel started.
    """

    model_config = ConfigDict(frozen=True)

    submission: str
    run: RunFacts
    probe: ProbeFacts | None
    models: tuple[StoredModel, ...] = ()
    notes: tuple[str, ...] = ()
    kernel_setup: KernelSetup
    migration: tuple[MigrationHint, ...] = ()

    def artifacts(self, folder: Path) -> Artifacts:
        """The accepted artifacts again, their files in `folder`."""
        models = {m.variable: ModelFile(m.variable, folder / m.file, m.sha256, m.size) for m in self.models}
        return Artifacts(facts=self.probe, models=models)


class KeptGrade(BaseModel):
    """A grade and what ran to earn it (its model files in the `keep` folder it was graded with)."""

    model_config = ConfigDict(frozen=True)

    execution: Execution
    result: GradeResult


def grade_submission(submission: Submission, loaded: LoadedRubric, overrides: Overrides) -> GradeResult:
    """Run the submission, then score what it left: the whole pipeline for one student."""
    with tempfile.TemporaryDirectory(prefix="grader-kept-") as kept:
        return grade_and_keep(submission, loaded, overrides, Path(kept)).result


def grade_and_keep(
    submission: Submission,
    loaded: LoadedRubric,
    overrides: Overrides,
    keep: Path,
    identity: str | None = None,
) -> KeptGrade:
    """Execute, then score: the one path a submission is graded by, alone (`grade_submission`) or in a batch.

    The inspector starts first, so that it imports TensorFlow while the kernel runs; the accepted
    model files stay in `keep`, for a batch to keep beside the result. `identity` seeds the
    kernel (see `execute`).
    """
    if loaded.rubric.needs_model:
        shared_inspector(loaded, overrides).start()
    execution = execute(submission, loaded, overrides, keep, identity)
    return KeptGrade(execution=execution, result=score_execution(execution, loaded, keep, overrides))


def execute(
    submission: Submission,
    loaded: LoadedRubric,
    overrides: Overrides,
    keep: Path,
    identity: str | None = None,
) -> Execution:
    """Run the submission in its sandboxed kernel; the accepted model files are moved into `keep`.

    `identity` (a batch's report stem) seeds the kernel (`prelude.submission_seed`).
    """
    rubric = loaded.rubric
    limits = effective_limits(loaded, overrides)
    sandboxed = overrides.sandbox != "off" and bwrap.bwrap_problem() is None
    provided = course.prepare_course_data(rubric.datasets, rubric.assets, rubric.weights, loaded.path.parent)
    setup = prelude.plan_prelude(
        submission,
        rubric,
        overrides.compat,
        provided.kernel_config(sandboxed),
        gpu_memory_mb=limits.gpu_memory_mb,
        identity=identity,
    )
    with _workspace() as workspace:
        run = run_submission(
            submission,
            workspace=Path(workspace),
            bounds=limits,
            sandbox_mode=overrides.sandbox,
            variables=rubric.variables,
            input_shape=rubric.model.input_shape,
            files=[*_rubric_files(loaded), *setup.files],
            hidden_files=datasets.files_to_hide(
                [c.accuracy.data for c in rubric.checks if c.accuracy], loaded.path.parent
            ),
            mounts=[(mount.source, mount.target) for mount in provided.mounts],
            prelude=setup.source,
            import_keras=setup.config.needs_keras,
        )
        stored = _keep_models(run.artifacts, keep)
    facts = hints.explain(
        migration.explain_failures(plain_errors(run.facts), compat=setup.config.compat is not None)
    )
    environment = (
        *shell_hints.installs(facts.cells),
        *shell_hints.keras_backend(facts.cells, keras_imported_first=setup.config.needs_keras),
    )
    return Execution(
        submission=submission.path.name,
        run=facts,
        probe=run.probe,
        models=stored,
        notes=(*provided.notes, *run.artifacts.refusals, *environment),
        kernel_setup=prelude.kernel_setup(setup, run.probe.compat if run.probe else None),
        migration=migration.scan(submission.cells),
    )


def _workspace() -> contextlib.AbstractContextManager[str]:
    """The kernel's folder for one run: removed after it, unless --keep-workdir keeps it to look at."""
    if debugging.settings.keep_workdir:
        return contextlib.nullcontext(tempfile.mkdtemp(prefix="grader-"))
    return tempfile.TemporaryDirectory(prefix="grader-")


def _keep_models(accepted: Artifacts, keep: Path) -> tuple[StoredModel, ...]:
    """Move the accepted model files into `keep` (before the workspace goes), as the execution records them."""
    keep.mkdir(parents=True, exist_ok=True)
    stored = []
    for model in accepted.models.values():
        shutil.move(model.path, keep / model.path.name)
        stored.append(
            StoredModel(variable=model.variable, file=model.path.name, sha256=model.sha256, size=model.size)
        )
    return tuple(stored)


def score_execution(
    execution: Execution,
    loaded: LoadedRubric,
    folder: Path,
    overrides: Overrides | None = None,
    *,
    sandboxed_inspector: bool | None = None,
) -> GradeResult:
    """Measure, evaluate and check what an execution left (its model files in `folder`) against the rubric.

    The inspector is sandboxed when the run was, unless `sandboxed_inspector` says otherwise: a
    self-check in the student's own kernel (`%grade`) ran unsandboxed, yet loads the models under
    bubblewrap wherever it can.
    """
    rubric = loaded.rubric
    artifacts = execution.artifacts(folder)
    sandboxed = execution.run.sandboxed if sandboxed_inspector is None else sandboxed_inspector
    limits = effective_limits(loaded, overrides or Overrides())
    models = _inspector(sandboxed, limits) if rubric.needs_model else None
    began = time.monotonic()
    model, chosen, problem, notes = _measure_model(rubric, artifacts, execution.run, models)
    if model is not None:
        notes += shell_hints.replaced_model(execution.run.cells, rubric.model.variable, model.variable)
    measured = time.monotonic()
    accuracy: dict[str, evaluate.AccuracyOutcome] = {}
    if models is not None and model is not None:
        operations = unaccounted_operations(rubric, model)
        accuracy = evaluate.evaluate_checks(
            rubric.checks,
            loaded.path.parent,
            chosen,
            models,
            history=_history(artifacts, model.variable),
            refusal=accuracy_refusal(operations) if operations else None,
        )
    stages = execution.run.stages.model_copy(
        update={"measure": round(measured - began, 3), "evaluate": round(time.monotonic() - measured, 3)}
    )
    evidence = Evidence(
        model=model,
        model_problem=problem,
        probe=execution.probe,
        run_problem=_run_problem(execution.run),
        accuracy=accuracy,
    )
    checks = run_checks(rubric, evidence)
    return GradeResult(
        submission=execution.submission,
        exercise=rubric.exercise,
        title=rubric.title,
        rubric=str(loaded.path),
        score=round(sum(c.points for c in checks), 2),
        max_score=rubric.max_score,
        checks=checks,
        run=execution.run.model_copy(update={"stages": stages}),
        model=model,
        notes=(*execution.notes, *notes),
        grader_version=__version__,
        migration=execution.migration,
        kernel_setup=execution.kernel_setup,
    )


def effective_limits(loaded: LoadedRubric, overrides: Overrides) -> Limits:
    """The rubric's limits, each replaced by the command line's where it gives one."""
    return loaded.rubric.limits.merged(overrides.limits)


def shared_inspector(loaded: LoadedRubric, overrides: Overrides) -> inspector.Inspector:
    """The inspector `score_execution` will use for a run with these settings (start it early: TensorFlow takes seconds)."""
    sandboxed = overrides.sandbox != "off" and bwrap.bwrap_problem() is None
    return _inspector(sandboxed, effective_limits(loaded, overrides))


def _inspector(sandboxed: bool, limits: Limits) -> inspector.Inspector:
    """This process's inspector, sandboxed whenever the kernels are, bound by the grader-side limits."""
    return inspector.process_inspector(
        inspector.InspectorSettings(
            sandboxed=sandboxed, memory_mb=limits.grader_memory_mb, timeout_s=limits.grader_timeout
        )
    )


def _history(artifacts: Artifacts, variable: str) -> dict[str, tuple[float | None, ...]] | None:
    facts = artifacts.facts
    probed = next((m for m in facts.models if m.variable == variable), None) if facts else None
    if probed is None or not probed.history:
        return None
    return {key: tuple(values) for key, values in probed.history.items()}


def _rubric_files(loaded: LoadedRubric) -> list[Path]:
    """The rubric's `files:`, resolved beside it; a missing one is the rubric's fault."""
    paths = [loaded.path.parent / name for name in loaded.rubric.files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise RubricError(
            f"{loaded.path}: the rubric's files: list names file(s) that do not exist: {', '.join(missing)}",
            hint="paths in files: are relative to the rubric file",
        )
    return paths


def plain_errors(facts: RunFacts) -> RunFacts:
    """The run's facts with terminal codes taken out of every cell's error (Keras writes names in bold)."""
    cells = tuple(
        cell.model_copy(
            update={
                "error_name": plain(cell.error_name) if cell.error_name else cell.error_name,
                "error_value": plain(cell.error_value) if cell.error_value else cell.error_value,
                "traceback": plain(cell.traceback) if cell.traceback else cell.traceback,
            }
        )
        if cell.status != "ok"
        else cell
        for cell in facts.cells
    )
    return facts.model_copy(update={"cells": cells})


def _run_problem(facts: RunFacts) -> str | None:
    ended = next((c for c in facts.cells if c.status in ("died", "memory", "timeout")), None)
    if ended is None:
        return None
    what = {"died": "the kernel died", "memory": "the kernel ran out of memory", "timeout": "time ran out"}[
        ended.status
    ]
    return f"{what} in cell {ended.number}, so the notebook's state could not be inspected"


def _measure_model(
    rubric: Rubric, artifacts: Artifacts, facts: RunFacts, models: inspector.Inspector | None
) -> tuple[ModelFacts | None, ModelFile | None, str | None, list[str]]:
    """Pick the model to grade among those the probe saved, and measure it in the inspector.

    Returns the measurement, the file it was measured from (the one accuracy checks evaluate), the
    problem when there is no model to grade, and notes.
    """
    if not rubric.needs_model or models is None:
        return None, None, None, []
    probe = artifacts.facts
    if probe is None:
        return None, None, _run_problem(facts) or "the notebook's models could not be inspected", []
    if not probe.models:
        failed = [c.number for c in facts.cells if c.status == "error"]
        hint = (
            f"; cell {failed[0]} failed, which may be where the model should have been built"
            if failed
            else ""
        )
        return (
            None,
            None,
            f"the notebook defines no Keras model (a keras.Model held in a global variable){hint}",
            [],
        )
    wanted = rubric.model.variable
    named = [m for m in probe.models if m.variable == wanted]
    candidates = named or list(probe.models)
    measured = [(m, *_measure_one(m, artifacts, models)) for m in candidates]
    chosen, model, problem, grader_side = max(measured, key=lambda item: _similarity(rubric, item[1]))
    notes: list[str] = []
    if model is None and grader_side and problem is not None:
        notes.append(unmeasured.note(problem))
    if not named:
        reason = (
            f"the rubric grades `{wanted}`, which the notebook does not define"
            if wanted
            else "the rubric names no model"
        )
        found = ", ".join(f"`{m.variable}`" for m in probe.models)
        notes.append(f"{reason}; graded `{chosen.variable}` (models found: {found})")
    if chosen.built_by_grader:
        notes.append(
            f"`{chosen.variable}` was not built (its first layer has no input_shape); the grader built it "
            f"with input shape {rubric.model.input_shape} to measure it"
        )
    return model, artifacts.models.get(chosen.variable) if model else None, problem, notes


def _measure_one(
    probed: ProbedModel, artifacts: Artifacts, models: inspector.Inspector
) -> tuple[ModelFacts | None, str | None, bool]:
    """The model's measurement, or the problem and whether it lay on the grader's side of the wall.

    A model the student's kernel could not save is the notebook's doing (a layer Keras cannot
    serialise); one the inspector could not load or measure (a time or memory limit, a crash, a
    loader error) is the grader's, and must not become the student's 0 (`grader.grading.unmeasured`).
    """
    saved = artifacts.models.get(probed.variable)
    if probed.error or saved is None:
        why = plain(probed.error or "the probe saved no file for it")
        return None, f"`{probed.variable}` could not be saved for inspection: {why}", False
    try:
        return models.measure(saved), None, False
    except inspector.InspectorError as exc:
        return None, f"`{probed.variable}`: {plain(str(exc))}", True


def _similarity(rubric: Rubric, model: ModelFacts | None) -> float:
    """How closely a measured model's layer types follow the rubric's (to pick among several)."""
    if model is None:
        return -1.0
    expected = [formulas.canonical_type(layer.type) for c in rubric.checks if c.layers for layer in c.layers]
    actual = [formulas.canonical_type(layer.type) for layer in model.layers]
    return difflib.SequenceMatcher(a=expected, b=actual, autojunk=False).ratio()
