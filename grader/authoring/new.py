"""`grade rubric new`: a rubric measured from a reference solution (`lint` and `selftest` check it).

A rubric is only as good as its numbers. `generate` measures a reference solution through the
same sandboxed path that grades students, so the numbers it writes are the ones grading will
see; `lint` finds what validation cannot (numbers that contradict the lesson's formulas, paths
that do not exist); `self_test` grades the solution and the rubric's example submissions and
reports every difference from the grade each was declared to get.

A course's own notebooks are written for Keras 2 and download their data (`cifar10.load_data()`),
so a solution is measured the way the rubric will grade it: under the Keras 2 compatibility
layer when it asks for it or the static scan finds Keras 2 idioms, with the data sets given by
`--dataset` answered offline, and with `fit` capped by `--max-epochs` and `--max-steps`; the rubric
then says so (`compat: keras2`, `datasets:`, `training:`), and says nothing of Keras 2 otherwise.

The draft is meant to be read and trimmed by an instructor, so it reads like the lesson: its title
is the notebook's first real heading (not the licence or the "Run in Colab" badges above it), and
its layer rows spell out the settings the lesson teaches (see `_layer_spec`).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import nbformat
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from grader.errors import RubricError, SubmissionError
from grader.grading import hints, migration
from grader.grading.grade import Overrides, grade_submission
from grader.grading.prelude import CompatChoice, CompatMode
from grader.grading.submission import Submission, load_submission
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.result import CellOutcome, Metrics, MigrationHint
from grader.rubric import formulas
from grader.rubric.data import SOURCE_KINDS, CourseDataset, CourseSet, DataSource, Preprocess
from grader.rubric.model import LoadedRubric, Rubric, parse_rubric

SCHEMA_FILE = Path("docs") / "rubric.schema.json"
DEFAULT_POINTS = {"architecture": 6, "size": 1, "output": 1, "accuracy": 3}
TIER_MARGINS = (0.02, 0.10, 0.20)


# --- generation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyPlan:
    """Held-out data to measure the solution on, as the rubric will name it (paths from the cwd)."""

    data: DataSource
    preprocess: Preprocess


@dataclass(frozen=True)
class SolutionSetup:
    """How the solution runs, as the rubric will say: Keras 2 layer, data sets answered offline, epochs.

    `compat_choice` is `--compat` as given (None: decided by the static scan); `max_epochs` and
    `max_steps` are the rubric's `training:` caps (epochs per fit, batches per epoch).
    """

    compat_choice: CompatChoice | None = None
    datasets: tuple[tuple[CourseSet, CourseDataset], ...] = ()
    max_epochs: int | None = None
    max_steps: int | None = None

    def training(self) -> dict[str, int]:
        """The rubric's `training:` mapping: only the caps that were given."""
        caps = {"max_epochs": self.max_epochs, "max_steps": self.max_steps}
        return {key: value for key, value in caps.items() if value}


@dataclass(frozen=True)
class MeasuredSolution:
    """What running a reference solution taught us: its model (and accuracy), as grading measures them."""

    source: Path
    exercise: str
    title: str
    model: ModelFacts
    duration_s: float
    sandboxed: bool
    files: tuple[Path, ...] = ()
    accuracy_plan: AccuracyPlan | None = None
    accuracy: Metrics | None = None
    notes: tuple[str, ...] = ()
    compat: CompatMode | None = None
    course: SolutionSetup = SolutionSetup()


COURSE_SETS: tuple[str, ...] = get_args(CourseSet)
DATASET_OPTIONS = ("train", "test", "seed", "npz")


def parse_dataset(text: str) -> tuple[CourseSet, CourseDataset]:
    """`cifar10`, `cifar10:train=5000,test=1000` or `mnist:npz=data/mnist.npz` -> one `datasets:` item.

    The same keys as the rubric's `datasets:` (train, test, seed, npz), so that what the author
    types is what the rubric will say.
    """
    name, _, options = text.partition(":")
    if name not in COURSE_SETS:
        raise ValueError(f"{text!r}: unknown data set {name!r}; expected one of {', '.join(COURSE_SETS)}")
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in options.split(","))):
        key, equals, value = part.partition("=")
        if not equals or key not in DATASET_OPTIONS or not value:
            raise ValueError(
                f"{text!r}: {part!r} is not KEY=VALUE with KEY one of {', '.join(DATASET_OPTIONS)} "
                "(e.g. cifar10:train=5000,test=1000)"
            )
        values[key] = value
    try:
        spec = CourseDataset.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"{text!r}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    return cast(CourseSet, name), spec


def parse_datasets(texts: tuple[str, ...]) -> tuple[tuple[CourseSet, CourseDataset], ...]:
    """Every `--dataset`, each set named once."""
    parsed = [parse_dataset(text) for text in texts]
    names = [name for name, _ in parsed]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} given more than once; one --dataset per data set")
    return tuple(parsed)


def choose_compat(choice: CompatChoice | None, found: tuple[MigrationHint, ...]) -> CompatMode | None:
    """`--compat` wins; without it, the Keras 2 layer is on when the static scan finds Keras 2 idioms."""
    if choice == "none":
        return None
    if choice == "keras2" or found:
        return "keras2"
    return None


def parse_data_source(text: str) -> DataSource:
    """`npz:PATH`, `sklearn:digits` or `keras:mnist` -> the rubric's `data:` value."""
    kind, _, value = text.partition(":")
    if kind not in SOURCE_KINDS or not value:
        raise ValueError(f"{text!r}: expected npz:PATH, sklearn:NAME or keras:NAME")
    try:
        return DataSource.model_validate({kind: value})
    except ValidationError as exc:
        raise ValueError(f"{text!r}: {exc.errors()[0]['msg']}") from None


def measure_solution(
    path: Path,
    variable: str | None = None,
    exercise: str | None = None,
    *,
    files: tuple[Path, ...] = (),
    accuracy: AccuracyPlan | None = None,
    course: SolutionSetup = SolutionSetup(),
) -> MeasuredSolution:
    """Grade the solution against a provisional rubric, so it runs exactly as a student's would.

    Same sandbox, prelude, hand-out files and hidden data as `grade`; the model is measured from
    the saved file grader-side and, given data, evaluated there too. A solution written for
    Keras 2 runs under the compatibility layer (see `choose_compat`), and `course.datasets`
    answers its `load_data()` calls offline.
    """
    submission = load_submission(path)
    legacy = migration.scan(submission.cells)
    compat = choose_compat(course.compat_choice, legacy)
    provisional = _provisional_rubric(variable, files, accuracy, compat, course)
    result = grade_submission(submission, provisional, Overrides())
    failed = [c for c in result.run.cells if c.status != "ok"]
    if failed:
        cell = failed[0]
        what = f"{cell.error_name}: {cell.error_value}" if cell.error_name else cell.status
        raise SubmissionError(
            f"{path}: the solution's cell {cell.number} did not run cleanly ({what})",
            hint=_fix_for(cell, compat, course, result.notes, result.run.cells),
        )
    if result.model is None:
        problem = next((c.message for c in result.checks if c.status == "error"), "no model was measured")
        raise SubmissionError(
            f"{path}: {problem}",
            hint="build the model in a global variable of the notebook (e.g. `model = Sequential(...)`)",
        )
    metrics = next((c.metrics for c in result.checks if c.id == "accuracy"), None)
    if accuracy is not None and metrics is None:
        problem = next((c.message for c in result.checks if c.id == "accuracy"), "")
        raise RubricError(
            f"{path}: the solution could not be evaluated on {accuracy.data.describe()}: {problem}",
            hint="check --data, and --rescale/--reshape so the images look like the solution's training data",
        )
    notes = [_relevant(note) for note in result.notes if _relevant(note)]
    if compat is not None and course.compat_choice is None:
        first = legacy[0]
        notes.append(
            f"the solution uses Keras 2 idioms ({first.idiom} in cell {first.cell}, line {first.line}"
            f"{f', and {len(legacy) - 1} more' if len(legacy) > 1 else ''}): measured under the "
            "compatibility layer, and the rubric says `compat: keras2` (--compat none turns it off)"
        )
    return MeasuredSolution(
        source=path,
        exercise=exercise or submission.exercise or _exercise_from_path(path),
        title=_notebook_title(submission) or (exercise or submission.exercise or path.stem),
        model=result.model,
        duration_s=result.run.duration_s,
        sandboxed=result.run.sandboxed,
        files=files,
        accuracy_plan=accuracy,
        accuracy=metrics,
        notes=tuple(notes),
        compat=compat,
        course=course,
    )


def _fix_for(
    cell: CellOutcome,
    compat: CompatMode | None,
    course: SolutionSetup,
    notes: tuple[str, ...],
    cells: tuple[CellOutcome, ...] = (),
) -> str:
    """What the author can do about the solution's first failing cell, in `rubric new`'s own options."""
    fix_first = "a rubric is measured from a solution that runs from top to bottom; fix it first"
    subsample = hints.subsample_hint(cell, cells)
    if subsample is not None:
        return f"{subsample} ({fix_first})"
    text = f"{cell.error_value or ''}\n{cell.traceback or ''}"
    dataset = hints.KERAS_DATASET.search(text)
    if dataset and hints.NETWORK_FAILURE.search(text):
        name = dataset.group(1)
        if name in dict(course.datasets):
            why = next((note for note in notes if f"datasets.{name}" in note), "")
            return f"--dataset {name} was given but the grader could not provide it: {why}"
        return (
            f"the solution downloads Keras' {name} data set and the sandbox has no network: pass "
            f"--dataset {name} (or {name}:train=5000,test=1000 for a subsample) so that the grader "
            "answers it from its Keras cache"
        )
    if compat is None and cell.hint and "Keras 3" in cell.hint:
        return f"{cell.hint} Pass --compat keras2 to measure it under the compatibility layer."
    if cell.hint:
        return f"{cell.hint} ({fix_first})"
    return fix_first


def _relevant(note: str) -> str:
    """Grading notes that matter to an author; the provisional rubric naming no model does not."""
    if note.startswith("the rubric names no model"):
        several = note.count("`") > 4
        return (
            note.replace("the rubric names no model", "the solution defines several models")
            if several
            else ""
        )
    return note


def _provisional_rubric(
    variable: str | None,
    files: tuple[Path, ...],
    accuracy: AccuracyPlan | None,
    compat: CompatMode | None = None,
    course: SolutionSetup = SolutionSetup(),
) -> LoadedRubric:
    """A rubric that grades nothing in particular but makes `grade` run, measure and evaluate.

    It sets the kernel up as the drafted rubric will (compat, data sets, epochs); paths in it are
    relative to the current folder, as the command line gave them.
    """
    base = Path.cwd()
    checks: list[dict[str, Any]] = [{"id": "measure", "points": 1, "total_params": {"min": 0}}]
    if accuracy is not None:
        checks.append(
            {
                "id": "accuracy",
                "points": 1,
                "accuracy": {
                    "data": accuracy.data.model_dump(exclude_none=True),
                    "preprocess": accuracy.preprocess.model_dump(exclude_none=True),
                    "tiers": [{"min": 0, "points": 1}],
                },
            }
        )
    rubric = Rubric.model_validate(
        {
            "exercise": "provisional",
            "title": "measuring the reference solution",
            "model": {"variable": variable} if variable else {},
            "files": [os.path.relpath(f.resolve(), base) for f in files],
            "checks": checks,
            "compat": compat,
            "training": course.training(),
            "datasets": {name: spec.model_dump(exclude_unset=True) for name, spec in course.datasets},
        }
    )
    return LoadedRubric(path=base / "provisional-rubric.yaml", rubric=rubric)


def _exercise_from_path(path: Path) -> str:
    """exercises/<id>/solution.ipynb names its exercise by its folder."""
    candidate = path.resolve().parent.name.lower()
    return candidate if candidate and candidate[0].isalnum() else "exercise"


def _notebook_title(submission: Submission) -> str | None:
    """The notebook's first heading that names its exercise (see `choose_title`)."""
    if submission.kind != "notebook":
        return None
    try:
        notebook = nbformat.read(str(submission.path), as_version=4)
    except Exception:
        return None
    return choose_title(str(cell.source) for cell in notebook.cells if cell.cell_type == "markdown")


ATX_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
HTML_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.IGNORECASE | re.DOTALL)
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
HTML_TAG = re.compile(r"<[^>]+>")
EMPHASIS = re.compile(r"\*\*|__|`")
BOILERPLATE = re.compile(
    r"copyright|\blicen[cs]ed?\b|all rights reserved|@title|"
    r"\b(?:run|open|view)\s+(?:it\s+)?(?:in|on)\s+(?:google\s+)?(?:colab|github|kaggle|binder|tensorflow\.org)|"
    r"\bdownload\s+(?:the\s+)?notebook\b|\bview\s+source\b",
    re.IGNORECASE,
)
"""Headings above a notebook's real title: licence and copyright cells, badges and their links."""


def choose_title(markdown_cells: Iterable[str]) -> str | None:
    """The first heading of the Markdown cells that is not boilerplate, as plain text.

    Published notebooks open with a copyright cell ("##### Copyright 2019 The TensorFlow
    Authors."), a licence, or "Run in Google Colab" / "View on GitHub" badges before the heading
    that names the lesson; a heading that is one of those, or nothing but images and links, is
    skipped. Markdown (`#`) and HTML (`<h1>`) headings count; links keep their text.
    """
    for source in markdown_cells:
        for heading in _headings(source):
            text = _plain(heading)
            if text and not BOILERPLATE.search(text):
                return text
    return None


def _headings(source: str) -> Iterable[str]:
    for line in source.splitlines():
        if match := ATX_HEADING.match(line):
            yield match.group(1)
        for html in HTML_HEADING.finditer(line):
            yield html.group(1)


def _plain(heading: str) -> str:
    """A heading's words without images, link targets, tags or emphasis marks."""
    text = MARKDOWN_LINK.sub(r"\1", MARKDOWN_IMAGE.sub("", heading))
    text = EMPHASIS.sub("", HTML_TAG.sub("", text))
    return " ".join(text.split()).strip(" -:|")


def schema_reference(out: Path | None, project: Path | None = None) -> str:
    """The schema path an editor resolves from the rubric's folder (rubrics/ when printing)."""
    root = (project or Path.cwd()).resolve()
    folder = (out.parent if out is not None else root / "rubrics").resolve()
    return Path(os.path.relpath(root / SCHEMA_FILE, folder)).as_posix()


def rubric_yaml(
    measured: MeasuredSolution, schema: str, solution_ref: str | None = None, out_dir: Path | None = None
) -> str:
    """A commented rubric that grades exactly the measured model; an instructor trims it by hand.

    Paths in it (hand-out files, data) are written relative to `out_dir`, where the rubric goes.
    """
    out_dir = out_dir or Path("rubrics")
    root = _run_settings_yaml(measured, solution_ref, out_dir)
    root["checks"] = _checks_yaml(measured, out_dir)
    root.yaml_set_start_comment(_start_comment(measured, schema))
    _comment_run_settings(root, measured)
    root.yaml_set_comment_before_after_key(
        "checks", before="One item per check; `points` is what a check is worth."
    )
    text = _dump(root)
    parse_rubric(text, source="generated rubric")
    return text


def _run_settings_yaml(measured: MeasuredSolution, solution_ref: str | None, out_dir: Path) -> CommentedMap:
    """Everything above `checks:`: which exercise, which model, and what the run is given and bound by."""
    model = measured.model
    root = CommentedMap()
    root["exercise"] = measured.exercise
    root["title"] = measured.title
    model_spec = CommentedMap(variable=model.variable)
    if model.input_shape is not None and all(d is not None for d in model.input_shape):
        model_spec["input_shape"] = _flow_seq(model.input_shape)
    model_spec.fa.set_flow_style()
    root["model"] = model_spec
    timeout = max(120, 10 * math.ceil(measured.duration_s))
    limits = CommentedMap(timeout=timeout, cell_timeout=timeout)
    limits.fa.set_flow_style()
    root["limits"] = limits
    if measured.compat is not None:
        root["compat"] = measured.compat
    if measured.course.training():
        root["training"] = _flow_map(measured.course.training())
    if measured.course.datasets:
        root["datasets"] = _datasets_yaml(measured.course.datasets, out_dir)
    if measured.files:
        root["files"] = _flow_strings(_relative_to(out_dir, f) for f in measured.files)
    if solution_ref is not None:
        root["solution"] = solution_ref
    return root


def _checks_yaml(measured: MeasuredSolution, out_dir: Path) -> CommentedSeq:
    """The checks the solution passes: architecture, size, output shape, and accuracy where it was measured."""
    model = measured.model
    checks = CommentedSeq()
    checks.append(_architecture_check(model.layers))
    checks.append(CommentedMap(id="size", points=DEFAULT_POINTS["size"], total_params=model.total_params))
    if model.output_shape is not None and all(d is not None for d in model.output_shape):
        checks.append(
            CommentedMap(
                id="output", points=DEFAULT_POINTS["output"], output_shape=_flow_seq(model.output_shape)
            )
        )
    if measured.accuracy is not None and measured.accuracy_plan is not None:
        checks.append(_accuracy_check(measured.accuracy, measured.accuracy_plan, out_dir))
        checks.yaml_set_comment_before_after_key(
            len(checks) - 1,
            before=f"The solution scored {measured.accuracy.accuracy:.4f} ({measured.accuracy.correct} of "
            f"{measured.accuracy.samples}) on this data; the tiers sit "
            f"{', '.join(f'{m:g}' for m in TIER_MARGINS)} below it.",
            indent=2,
        )
    checks.yaml_set_comment_before_after_key(
        1, before="Total parameter count; use {min: ..., max: ...} to accept a range.", indent=2
    )
    if len(checks) > 2:
        checks.yaml_set_comment_before_after_key(
            2, before="Shape of the model's output, without the batch dimension.", indent=2
        )
    return checks


def _start_comment(measured: MeasuredSolution, schema: str) -> str:
    """The rubric's first lines: the schema an editor validates against, and where every number came from."""
    sandbox_note = "" if measured.sandboxed else " (unsandboxed: bubblewrap was not available)"
    return (
        f"yaml-language-server: $schema={schema}\n"
        f"Generated by `grade rubric new` from {measured.source.as_posix()}{sandbox_note}.\n"
        "Every number below was measured from that solution. Delete what you do not want to grade,\n"
        "adjust the points, then run `grade rubric check` and `grade rubric test`."
    )


def _comment_run_settings(root: CommentedMap, measured: MeasuredSolution) -> None:
    """A comment at the end of each run setting's line, saying what it does or where its number came from."""
    root.yaml_add_eol_comment("the model variable grading looks for", "model")
    root.yaml_add_eol_comment(f"seconds; the solution ran in {measured.duration_s:.1f} s", "limits")
    if measured.compat is not None:
        root.yaml_add_eol_comment("the solution is written for Keras 2", "compat")
    if measured.course.training():
        root.yaml_add_eol_comment("caps every fit call, so that a class grades in minutes", "training")
    if measured.course.datasets:
        root.yaml_add_eol_comment("keras.datasets.X.load_data() answers with these, offline", "datasets")


def _datasets_yaml(sets: tuple[tuple[CourseSet, CourseDataset], ...], out_dir: Path) -> CommentedMap:
    """`datasets:` as the rubric spells it: only the keys given, an npz path relative to the rubric."""
    mapping = CommentedMap()
    for name, spec in sets:
        values = spec.model_dump(exclude_unset=True)
        if spec.npz is not None:
            values["npz"] = _relative_to(out_dir, Path(spec.npz))
        mapping[name] = _flow_map(values)
    return mapping


def _accuracy_check(metrics: Metrics, plan: AccuracyPlan, out_dir: Path) -> CommentedMap:
    data = plan.data.model_dump(exclude_none=True)
    if plan.data.npz is not None:
        data["npz"] = _relative_to(out_dir, Path(plan.data.npz))
    spec = CommentedMap(data=_flow_map(data))
    preprocess = plan.preprocess.model_dump(exclude_none=True)
    if "reshape" in preprocess:
        preprocess["reshape"] = _flow_seq(preprocess["reshape"])
    if preprocess:
        spec["preprocess"] = _flow_map(preprocess)
    tiers = CommentedSeq(_flow_map({"min": t, "points": p}) for t, p in suggested_tiers(metrics.accuracy))
    tiers.fa.set_flow_style()
    spec["tiers"] = tiers
    check = CommentedMap(id="accuracy", points=DEFAULT_POINTS["accuracy"])
    check["description"] = "Accuracy on the held-out data, measured by the grader."
    check["accuracy"] = spec
    return check


def suggested_tiers(accuracy: float) -> list[tuple[float, int]]:
    """Full points a little below the solution's accuracy, then one point less per wider margin."""
    tiers: list[tuple[float, int]] = []
    points = DEFAULT_POINTS["accuracy"]
    for margin in TIER_MARGINS:
        threshold = max(0.0, math.floor((accuracy - margin) * 100) / 100)
        if tiers and threshold >= tiers[-1][0]:
            continue
        tiers.append((threshold, points))
        points -= 1
        if threshold == 0 or points == 0:
            break
    return tiers


def _relative_to(folder: Path, path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _flow_map(values: dict[str, Any]) -> CommentedMap:
    mapping = CommentedMap(values)
    mapping.fa.set_flow_style()
    return mapping


def _flow_strings(values: Any) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _architecture_check(layers: tuple[LayerFacts, ...]) -> CommentedMap:
    check = CommentedMap(id="architecture", points=DEFAULT_POINTS["architecture"])
    check["description"] = "Every layer, its settings, its output shape and its parameter count."
    specs = CommentedSeq()
    for layer in layers:
        specs.append(_layer_spec(layer))
    check["layers"] = specs
    check.yaml_add_eol_comment("partial credit in proportion to the layers that match", "points")
    check.yaml_add_eol_comment("drop a key to stop comparing it", "layers")
    return check


SETTINGS = ("filters", "units", "kernel_size", "pool_size", "strides", "padding", "activation", "rate")
"""The layer settings a rubric row can compare (the rubric's `LayerSpec`, the inspector's measured config)."""
CORE_SETTINGS: dict[str, tuple[str, ...]] = {
    "conv": ("filters", "kernel_size", "strides", "padding", "activation"),
    "pool": ("pool_size", "strides", "padding"),
    "Dense": ("units", "activation"),
}
"""The settings the lesson teaches for each kind of layer: a row names them even at their default, so
that a student's `strides=2` where the solution has 1 is reported as "strides 2, expected 1"."""
KERAS_DEFAULTS: dict[str, Any] = {"strides": 1, "padding": "valid", "activation": "linear"}
"""Keras' defaults for the settings that have one; the others (filters, units, ...) are always given."""


def _layer_family(layer_type: str) -> str:
    """conv for every convolution, pool for windowed pooling (not Global*), else the type itself."""
    kind = formulas.canonical_type(layer_type)
    if "Conv" in kind:
        return "conv"
    if kind in formulas.POOL_TYPES or re.fullmatch(r"(?:Max|Average)Pooling[123]D", kind):
        return "pool"
    return kind


def layer_settings(layer_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """The settings a generated row spells out for one measured layer, in the rubric's order.

    A setting is written when it is one of the lesson's core settings for the layer's kind
    (`CORE_SETTINGS`: filters, kernel size, strides, padding and activation of a convolution;
    window, strides and padding of a pooling layer; units and activation of a Dense layer), or
    when the solution's value differs from the Keras default (`KERAS_DEFAULTS`; a pooling
    layer's strides default to its window). Anything else at its default is left out, so that a
    row reads like the line of code it came from. A square window is written as one number.
    """
    core = CORE_SETTINGS.get(_layer_family(layer_type), ())
    defaults = dict(KERAS_DEFAULTS)
    if config.get("pool_size") is not None:
        defaults["strides"] = config["pool_size"]
    settings: dict[str, Any] = {}
    for key in SETTINGS:
        value = config.get(key)
        if value is None:
            continue
        if key in core or key not in defaults or _compact(value) != _compact(defaults[key]):
            settings[key] = _compact(value)
    return settings


def _layer_spec(layer: LayerFacts) -> CommentedMap:
    """A layer's row: its type, its settings (`layer_settings`), output shape and parameter count."""
    spec = CommentedMap(type=layer.type)
    spec.update(layer_settings(layer.type, layer.config))
    if layer.output_shape is not None and all(d is not None for d in layer.output_shape):
        spec["output_shape"] = _flow_seq(layer.output_shape)
    spec["params"] = layer.params
    spec.fa.set_flow_style()
    return spec


def _compact(value: Any) -> Any:
    """(2, 2) -> 2: the lesson writes square windows as one number."""
    if isinstance(value, list | tuple):
        if len(set(value)) == 1:
            return int(value[0])
        return _flow_seq(value)
    return value


def _flow_seq(values: Any) -> CommentedSeq:
    seq = CommentedSeq(int(v) for v in values)
    seq.fa.set_flow_style()
    return seq


def _dump(data: Any) -> str:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def schema_text() -> str:
    """The committed docs/rubric.schema.json, byte for byte."""
    from grader.rubric.model import rubric_schema

    return json.dumps(rubric_schema(), indent=2, ensure_ascii=False) + "\n"


def solution_reference(solution: Path, exercise: str, out: Path | None) -> str | None:
    """`solution:` for the rubric, unless the solution sits where `rubric test` looks by default."""
    folder = (out.parent if out is not None else Path("rubrics")).resolve()
    default = folder.parent / "exercises" / exercise / "solution.ipynb"
    if default.resolve() == solution.resolve():
        return None
    return Path(os.path.relpath(solution.resolve(), folder)).as_posix()


def accuracy_plan(data: str | None, rescale: float | None, reshape: str | None) -> AccuracyPlan | None:
    """The `--data/--rescale/--reshape` options as an accuracy plan; ValueError says what is wrong."""
    if data is None:
        if rescale is not None or reshape is not None:
            raise ValueError("--rescale and --reshape describe --data; give --data too")
        return None
    shape = None
    if reshape is not None:
        try:
            shape = tuple(int(part) for part in reshape.replace("x", ",").split(","))
        except ValueError:
            raise ValueError(f"--reshape {reshape!r}: expected whole numbers like 8,8,1") from None
    try:
        preprocess = Preprocess(rescale=rescale, reshape=shape)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"]) from None
    return AccuracyPlan(data=parse_data_source(data), preprocess=preprocess)


def new_rubric_text(measured: MeasuredSolution, out: Path | None) -> str:
    """The rubric `grade rubric new` writes to `out` (or prints, as if it went into rubrics/)."""
    out_dir = out.parent if out is not None else Path("rubrics")
    return rubric_yaml(
        measured,
        schema_reference(out),
        solution_reference(measured.source, measured.exercise, out),
        out_dir,
    )


def summary(measured: MeasuredSolution) -> str:
    model = measured.model
    text = f"{len(model.layers)} layers, {model.total_params:,} params"
    if measured.accuracy is not None:
        text += f", accuracy {measured.accuracy.accuracy:.4f} on {measured.accuracy.samples:,} images"
    return text
