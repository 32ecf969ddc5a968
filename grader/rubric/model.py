"""The rubric: what an instructor expects of a submission, validated into frozen, typed models.

Validation is strict (unknown keys are errors) because a typo in a rubric silently grades a
whole class wrong. Errors are reported the way pydantic reports them, a key path and a message,
plus the file, line and column that the path points at in the YAML.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.tokens import (
    BlockEndToken,
    BlockMappingStartToken,
    BlockSequenceStartToken,
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
)

from grader.errors import RubricError
from grader.result import Visibility
from grader.rubric import applications, keras_catalog
from grader.rubric.data import Asset, CourseDataset, CourseSet, DataSource, Preprocess
from grader.rubric.equivalence import EquivalentForm
from grader.rubric.globs import check_glob
from grader.rubric.late import (
    DUE_EXAMPLES,
    PENALTY_EXAMPLES,
    PENALTY_PATTERN,
    Penalty,
    due_from_yaml,
    penalty_from_yaml,
)
from grader.rubric.limits import Limits
from grader.rubric.ranges import Range
from grader.rubric.training import TrainingCheckSpec

Shape = tuple[int, ...]
PairOrInt = int | tuple[int, int]

EXERCISE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerSpec(_Strict):
    """One expected layer. Only the attributes given are compared.

    Besides the lesson's settings declared here, a row may name any setting of the layer class's
    constructor (`dilation_rate`, `use_bias`, `return_sequences`, `kernel_regularizer`,
    `trainable`, ...): it is checked against Keras' own table of layer classes
    (`keras_catalog`) when the rubric is loaded, so a misspelt type, setting or activation is an
    error that names the nearest valid one instead of a check no submission can pass.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    filters: Annotated[int, Field(gt=0)] | None = None
    kernel_size: PairOrInt | None = None
    strides: PairOrInt | None = None
    padding: Literal["valid", "same", "causal"] | None = None
    activation: str | None = None
    units: Annotated[int, Field(gt=0)] | None = None
    pool_size: PairOrInt | None = None
    rate: Annotated[float, Field(ge=0, lt=1)] | None = None
    output_shape: Shape | None = Field(default=None, description="Without the batch dimension.")
    params: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        """YAML lists and mappings as plain ones, so a setting's value compares and dumps like JSON."""
        return _plain_yaml(data)

    @field_validator("type")
    @classmethod
    def _known_type(cls, name: str) -> str:
        if name not in keras_catalog.LAYERS and name not in applications.BASES:
            raise PydanticCustomError(
                "unknown_layer_type",
                "{detail}",
                {"detail": f"unknown layer type {name!r}{_unknown_type_suggestion(name)}"},
            )
        return name

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, name: str | None) -> str | None:
        if name is not None:
            _check_activation(name, ())
        return name

    @model_validator(mode="after")
    def _known_settings(self) -> LayerSpec:
        """Every setting named is one the layer class's constructor takes; activations are Keras' names."""
        class_name, settings = applications.BASES.get(self.type) or keras_catalog.LAYERS[self.type]
        allowed = (*settings, *DERIVED_SETTINGS)
        for key, value in self.attributes().items():
            if key == "type" or key in allowed:
                if key.endswith("activation") and isinstance(value, str) and key != "activation":
                    _check_activation(value, (key,))
                continue
            raise PydanticCustomError(
                "unknown_layer_setting",
                "{detail}",
                {
                    "detail": f"unknown key {key!r}{_did_you_mean(key, allowed)}: {class_name}'s constructor "
                    f"has no such setting; allowed: type, {', '.join(allowed)}",
                    "at": (key,),
                },
            )
        return self

    def attributes(self) -> dict[str, Any]:
        """The attributes this spec constrains, in a stable order (type first)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


DERIVED_SETTINGS = ("output_shape", "params")
"""What a row may state besides the constructor's settings: what the layer's settings and input give."""


def _class_of(name: str) -> str:
    return keras_catalog.LAYERS[name][0]


def _did_you_mean(word: str, choices: Iterable[str], show: Callable[[str], str] = str) -> str:
    """` (did you mean MaxPooling2D?)`: the nearest choice, compared without case (empty when none is near)."""
    by_lower = {choice.lower(): choice for choice in choices}
    near = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {show(by_lower[near[0]])}?)" if near else ""


def _unknown_type_suggestion(name: str) -> str:
    """The nearer of the nearest pretrained base (`VGG61` is VGG16) and the nearest Keras layer class."""
    base = applications.nearest(name)
    layer = _did_you_mean(name, keras_catalog.LAYERS, _class_of)
    if base is None:
        return layer
    layer_name = layer.removeprefix(" (did you mean ").removesuffix("?)").rsplit(".", 1)[-1]
    if layer and _likeness(name, layer_name) > _likeness(name, base):
        return layer
    return f" (did you mean {base}?)"


def _likeness(word: str, choice: str) -> float:
    return difflib.SequenceMatcher(None, word.lower(), choice.lower()).ratio()


def _check_activation(name: str, at: tuple[str, ...]) -> None:
    if name.lower() not in keras_catalog.ACTIVATIONS:
        raise PydanticCustomError(
            "unknown_activation",
            "{detail}",
            {
                "detail": f"unknown activation {name!r}{_did_you_mean(name, keras_catalog.ACTIVATIONS)}; "
                f"Keras' activations are {', '.join(keras_catalog.ACTIVATIONS)}",
                "at": at,
            },
        )


def _plain_yaml(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain_yaml(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_yaml(item) for item in value]
    return value


class VariableSpec(_Strict):
    """A named variable the notebook must define, e.g. the answer to a lesson question."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    equals: int | float | str | bool | list[Any] | None = None
    tolerance: Annotated[float, Field(ge=0)] = 0.0


class Tier(_Strict):
    """Partial credit: `points` when the held-out accuracy is at least `min`."""

    min: Annotated[float, Field(ge=0, le=1)]
    points: Annotated[float, Field(ge=0)]


class AccuracySpec(_Strict):
    """Accuracy on held-out data, measured grader-side; the highest tier reached gives the points."""

    data: DataSource
    preprocess: Preprocess = Preprocess()
    tiers: Annotated[list[Tier], Field(min_length=1)]
    batch_size: Annotated[int, Field(gt=0, le=8192)] = 256

    @field_validator("tiers")
    @classmethod
    def _higher_tiers_pay_more(cls, tiers: list[Tier]) -> list[Tier]:
        ordered = sorted(tiers, key=lambda t: -t.min)
        for higher, lower in itertools.pairwise(ordered):
            if higher.min == lower.min:
                raise ValueError(f"two tiers have min {higher.min:g}; each tier needs its own min")
            if lower.points >= higher.points:
                raise ValueError(
                    f"the tier at min {lower.min:g} gives {lower.points:g} points, as many as or more than "
                    f"the tier at min {higher.min:g} ({higher.points:g}); higher tiers must give more"
                )
        return ordered


CHECK_KINDS = ("layers", "total_params", "output_shape", "variable", "accuracy", "training")
CheckId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class CheckSpec(_Strict):
    """One rubric item. Exactly one of the kind keys (`layers`, `total_params`, ...) is set."""

    id: CheckId
    points: Annotated[float, Field(ge=0)]
    description: str | None = None
    visibility: Visibility = Field(
        default="visible",
        description="What a student sees of this check: visible (its result, in every report), hidden (only "
        "'hidden until grading' in the student view; Gradescope after_published) or after_due (shown after "
        "the due date; Gradescope after_due_date). The JSON result always keeps everything.",
    )
    reveal: bool = Field(
        default=False,
        description="Publish this check's expected values (params, output_shape, equals, total_params, ...) "
        "in the student rubric (`grade rubric publish`); without it a visible check is published without "
        "its answers. Not allowed on a hidden or after_due check.",
    )
    partial: bool = Field(
        default=True,
        description="layers and training: give points in proportion to the layers (or training keys) that match.",
    )
    requires: list[CheckId] = Field(
        default_factory=list,
        description="Check ids that must pass for this check to give points (e.g. an accuracy check that "
        "counts only for the exercise's architecture: a different network's accuracy says nothing about it).",
    )
    layers: Annotated[list[LayerSpec], Field(min_length=1)] | None = None
    total_params: int | Range | None = None
    output_shape: Shape | None = None
    variable: VariableSpec | None = None
    accuracy: AccuracySpec | None = None
    training: TrainingCheckSpec | None = None
    accept: list[EquivalentForm] = Field(
        default_factory=list,
        description="layers: other spellings of the same network that also match (default: none, strict).",
    )

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> CheckSpec:
        given = [kind for kind in CHECK_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a check needs exactly one of {', '.join(CHECK_KINDS)} (found: {found})")
        if self.accept and self.layers is None:
            raise ValueError("accept: lists other spellings of a layer table; it belongs on a layers check")
        if self.reveal and self.visibility != "visible":
            raise ValueError(
                f"reveal: true publishes the answers of a check that is {self.visibility}; "
                "drop reveal, or make the check visible"
            )
        if self.accuracy is not None and self.accuracy.tiers[0].points > self.points:
            raise ValueError(
                f"the top accuracy tier gives {self.accuracy.tiers[0].points:g} points, "
                f"more than the check's {self.points:g}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in CHECK_KINDS if getattr(self, kind) is not None)


class ModelSpec(_Strict):
    """Which Keras model to grade. Without `variable`, the grader picks among the models found."""

    variable: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    input_shape: Shape | None = Field(
        default=None, description="Used to build a model whose first layer has no input_shape."
    )


class ExampleSpec(_Strict):
    """A sample submission and the grade it must get: `grade rubric test` holds the rubric to it."""

    path: str = Field(description="The submission, relative to the rubric file.")
    score: Annotated[float, Field(ge=0)] | None = None
    statuses: dict[str, Literal["pass", "fail", "error", "skipped"]] | None = Field(
        default=None, description="Check id -> the status that check must get."
    )

    @model_validator(mode="after")
    def _expects_something(self) -> ExampleSpec:
        if self.score is None and self.statuses is None:
            raise ValueError("an example needs `score`, `statuses` or both")
        return self


class TrainingBudget(_Strict):
    """Caps on the notebook's `fit` calls, and a checkpoint the student may hand in instead of training."""

    max_epochs: Annotated[int, Field(gt=0)] | None = Field(default=None, description="Epochs per fit call.")
    max_steps: Annotated[int, Field(gt=0)] | None = Field(default=None, description="Batches per epoch.")
    checkpoint: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")] | None = Field(
        default=None,
        description="A weights file beside the submission (e.g. model.weights.best.keras): when it is "
        "there, fit loads it instead of training.",
    )


DueDate = Annotated[
    datetime,
    BeforeValidator(due_from_yaml),
    WithJsonSchema(
        {"type": "string", "description": f"Due date: {DUE_EXAMPLES}; a date alone means its end."}
    ),
]
PenaltyRule = Annotated[
    Penalty,
    BeforeValidator(penalty_from_yaml),
    WithJsonSchema({"type": "string", "pattern": PENALTY_PATTERN, "description": PENALTY_EXAMPLES}),
]


class LateSpec(_Strict):
    """Late submissions (`grade batch`): files modified after `due` lose `penalty`; the CLI's options win."""

    due: DueDate | None = None
    penalty: PenaltyRule | None = None

    @model_validator(mode="after")
    def _says_something(self) -> LateSpec:
        if self.due is None and self.penalty is None:
            raise ValueError(f"give `due` ({DUE_EXAMPLES}), `penalty` ({PENALTY_EXAMPLES}) or both")
        return self


WithheldReason = Literal["hidden", "answer", "data"]


class WithheldCheck(_Strict):
    """A check of the instructor's rubric that a student rubric leaves out, and why.

    `hidden`: a hidden or after_due check, of which only the id is published; `answer`: a visible
    check that cannot run without its expected value (total_params, output_shape); `data`: an
    accuracy check, whose held-out data never leaves the instructor.
    """

    id: CheckId
    reason: WithheldReason
    points: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Its points; left out for a hidden check, of which nothing is published."
    )


class StudentRubric(_Strict):
    """The mark of a student rubric, written by `grade rubric publish`: grading with it is a self-check."""

    source: str = Field(description="The instructor's rubric it was published from (file name).")
    withheld: list[WithheldCheck] = Field(
        default_factory=list, description="Checks graded only with the instructor's rubric."
    )
    without_answers: list[CheckId] = Field(
        default_factory=list,
        description="Checks published without their expected values: they check only what needs no answer "
        "(each layer's type; that a variable is defined).",
    )


MatchGlob = Annotated[str, AfterValidator(check_glob)]


class Rubric(_Strict):
    exercise: Annotated[str, Field(pattern=EXERCISE_ID.pattern)]
    title: str
    description: str | None = None
    match: Annotated[list[MatchGlob], Field(min_length=1)] | None = Field(
        default=None,
        description="Globs of the submissions this rubric grades in `grade batch --rubrics DIR`, matched against "
        "each submission's path relative to the batch's folder (`week3/*`, `**/conv-*.ipynb`), for submissions "
        "that name no exercise; see docs/batch.md.",
    )
    model: ModelSpec = ModelSpec()
    limits: Limits = Limits()
    compat: Literal["keras2"] | None = Field(
        default=None, description="keras2: run the course's Keras 2 idioms under Keras 3 (and list each use)."
    )
    seed: int = Field(default=0, description="Seeds Python, NumPy and Keras before the student's first cell.")
    training: TrainingBudget = TrainingBudget()
    late: LateSpec | None = Field(
        default=None, description="Due date and late penalty for `grade batch` (see docs/batch.md)."
    )
    checks: Annotated[list[CheckSpec], Field(min_length=1)]
    files: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Files (relative to the rubric) copied into the student's working directory, e.g. training data.",
    )
    solution: str | None = Field(
        default=None,
        description="The reference solution, relative to the rubric "
        "(default: exercises/<exercise>/solution.ipynb beside the rubrics folder).",
    )
    examples: list[ExampleSpec] = Field(
        default_factory=list, description="Sample submissions with the grade each must get."
    )
    datasets: dict[CourseSet, CourseDataset] = Field(
        default_factory=dict,
        description="Keras data sets the notebook loads (keras.datasets.X.load_data()), answered offline.",
    )
    assets: list[Asset] = Field(
        default_factory=list, description="Files and folders the course hands out, mounted read-only."
    )
    weights: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]] = Field(
        default_factory=list,
        description="Pretrained weight files (keras.applications) from the grader's Keras cache, ~/.keras/models.",
    )
    student: StudentRubric | None = Field(
        default=None,
        description="Set by `grade rubric publish`: a student rubric, without hidden checks, held-out data "
        "or unrevealed answers; grading with it is a self-check, not a grade.",
    )

    @model_validator(mode="after")
    def _student_marker_names_checks(self) -> Rubric:
        if self.student is None:
            return self
        ids = {check.id for check in self.checks}
        clash = sorted(ids & {w.id for w in self.student.withheld})
        if clash:
            raise ValueError(
                f"check id(s) {', '.join(clash)} are both checks and withheld (student.withheld)"
            )
        unknown = sorted(set(self.student.without_answers) - ids)
        if unknown:
            raise ValueError(f"student.without_answers names unknown check id(s) {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _examples_name_checks(self) -> Rubric:
        ids = {check.id for check in self.checks}
        for example in self.examples:
            unknown = sorted(set(example.statuses or {}) - ids)
            if unknown:
                raise ValueError(
                    f"example {example.path!r} names unknown check id(s) {', '.join(unknown)}; "
                    f"the checks are {', '.join(sorted(ids))}"
                )
        return self

    @field_validator("match", mode="before")
    @classmethod
    def _matches_something(cls, match: Any) -> Any:
        if isinstance(match, list) and not match:
            raise ValueError(
                "an empty `match:` list matches no submission; list globs (`week3/*`) or leave it out"
            )
        return match

    @field_validator("checks")
    @classmethod
    def _unique_ids(cls, checks: list[CheckSpec]) -> list[CheckSpec]:
        seen: set[str] = set()
        for check in checks:
            if check.id in seen:
                raise ValueError(f"check id {check.id!r} is used twice; ids must be unique")
            seen.add(check.id)
        for index, check in enumerate(checks):
            for position, required in enumerate(check.requires):
                if required in seen and required != check.id:
                    continue
                others = sorted(seen - {check.id})
                raise PydanticCustomError(
                    "unknown_requirement",
                    "{detail}",
                    {
                        "detail": f"check {check.id!r} requires {required!r}, which is not another check of "
                        f"this rubric{_did_you_mean(required, others)}; the checks are {', '.join(sorted(seen))}",
                        "at": (index, "requires", position),
                    },
                )
        return checks

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def needs_model(self) -> bool:
        return any(check.kind != "variable" for check in self.checks)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(c.variable.name for c in self.checks if c.variable is not None)


class LoadedRubric(BaseModel):
    """A validated rubric and where it came from (paths in it are relative to `path`)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    rubric: Rubric


def load_rubric(path: Path) -> LoadedRubric:
    """Read and validate a rubric, or raise `RubricError` naming file, line, key path and fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricError(f"{path}: rubric file not found", hint="check the path given to --rubric") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc})") from None
    return LoadedRubric(path=path, rubric=parse_rubric(text, source=str(path)))


def parse_rubric(text: str, *, source: str = "<rubric>") -> Rubric:
    data = _parse_yaml(text, source)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise RubricError(
            f"{source}:1:1: the rubric is {kind}, not a mapping",
            hint="start with `exercise: <id>`, `title: ...` and a `checks:` list",
        )
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_format_validation_error(exc, data, source)) from None


MAX_NESTING = 100

_OPENING = (FlowSequenceStartToken, FlowMappingStartToken, BlockSequenceStartToken, BlockMappingStartToken)
_CLOSING = (FlowSequenceEndToken, FlowMappingEndToken, BlockEndToken)


def _refuse_deep_nesting(text: str, source: str) -> None:
    """Rubrics nest a handful of levels, but ruamel's parser recurses once per level and takes
    seconds to reach Python's recursion limit; the scanner is linear, so it looks first."""
    depth = 0
    for token in YAML(typ="rt").scan(text):
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_NESTING:
                mark = token.start_mark
                raise RubricError(
                    f"{source}:{mark.line + 1}:{mark.column + 1}: not valid YAML: "
                    f"nested more than {MAX_NESTING} levels deep",
                    hint="a rubric needs a few levels: check for unclosed brackets",
                )
        elif isinstance(token, _CLOSING):
            depth -= 1


def _parse_yaml(text: str, source: str) -> Any:
    try:
        _refuse_deep_nesting(text, source)
        return YAML(typ="rt").load(text)
    except RubricError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise RubricError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except Exception as exc:
        raise RubricError(f"{source}: not valid YAML: {exc}") from None


def _format_validation_error(exc: ValidationError, data: Any, source: str) -> str:
    errors = _without_union_noise(exc.errors())
    lines = [f"{source}: the rubric does not validate ({len(errors)} error(s))"]
    for error in errors:
        at = tuple((error.get("ctx") or {}).get("at", ()))  # where inside the node a validator found it
        loc = _user_path((*error["loc"], *at))
        line, col = yaml_position(data, (*error["loc"], *at))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            loc = [*_user_path(error["loc"][:-1]), error["loc"][-1]]  # the unknown key may look like a tag
            message = f"unknown key {loc[-1]!r}; allowed: {', '.join(_allowed_keys(error['loc']))}"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"  {source}:{line}:{col}: {_dotted(loc)}: {message}")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    """pydantic names the member of a union it tried (`int`, `Range`, `tuple[int, int]`) in `loc`."""
    return isinstance(part, str) and (
        part in {"int", "float", "str", "bool", "none"}
        or part[:1].isupper()
        or any(c in part for c in "[]()")
    )


def _without_union_noise(errors: list[Any]) -> list[Any]:
    """When a union member failed on type alone but another member got further, keep the latter."""
    kept = []
    for error in errors:
        loc = _user_path(error["loc"])
        tagged = any(_is_union_tag(part) for part in error["loc"])
        shallow_type_error = tagged and error["type"].endswith(("_type", "_parsing"))
        rivals = [e for e in errors if e is not error and _user_path(e["loc"])[: len(loc)] == loc]
        if shallow_type_error and any(not e["type"].endswith(("_type", "_parsing")) for e in rivals):
            continue
        kept.append(error)
    return kept


def _user_path(loc: tuple[Any, ...]) -> list[Any]:
    return [part for part in loc if not _is_union_tag(part)]


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def yaml_position(data: Any, loc: tuple[Any, ...]) -> tuple[int, int]:
    """The 1-based line and column of the deepest node of `loc` that exists in the YAML."""
    line, col = 1, 1
    node = data
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, col = _one_based(node.lc.key(part), (line, col))
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, col = _one_based(node.lc.item(part), (line, col))
            node = node[part]
        elif isinstance(node, dict | list):
            continue
        else:
            break
    return line, col


def _one_based(mark: Any, fallback: tuple[int, int]) -> tuple[int, int]:
    """ruamel's 0-based (line, column) of a node; nodes built by a YAML tag have none."""
    if not isinstance(mark, tuple | list) or len(mark) < 2:
        return fallback
    return int(mark[0]) + 1, int(mark[1]) + 1


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the mapping that holds the unknown key, found by walking the models."""
    model: Any = Rubric
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            break
        model = _model_of(field.annotation)
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _model_of(annotation: Any) -> Any:
    """Find the BaseModel inside `list[X] | None`, `Annotated[...]` and friends."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def rubric_schema() -> dict[str, Any]:
    """The JSON Schema of the rubric format, from the same models the loader validates with."""
    schema = Rubric.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grader rubric"
    return schema


def find_rubrics(directory: Path) -> dict[str, Path]:
    """Exercise id -> rubric path, for every `*.yaml` in `directory` (id is the file stem)."""
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.y*ml")) if p.suffix in (".yaml", ".yml")}
