"""A course file (`course.yaml`): the batch options a course sets once instead of retyping every week.

`grade batch week3/` looks for `course.yaml` in the batch's folder and then in each parent, up to
the repository root (the first folder holding `.git`), or reads `--course FILE`. What it holds
becomes the defaults of `grade batch`'s options (click's `default_map`), so the command line
still wins option by option and every value goes through the same conversion and checks as if it
had been typed. Paths in the file are relative to the file, not to where the command runs: a
course file must mean the same thing from any folder. The file is validated as a rubric is
(`grader.rubric.model`): each problem is reported with file:line:col, its key path and, for a
mistyped key, the key it was probably meant to be; it exits 3 like a bad rubric.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import ExitCode, GradingError
from grader.rubric.late import due_from_yaml, parse_penalty, parse_zone
from grader.rubric.limits import LimitOverrides, Limits
from grader.rubric.model import _parse_yaml, yaml_position

COURSE_FILE = "course.yaml"
RUBRIC_SUFFIXES = (".yaml", ".yml")


class CourseFileError(GradingError):
    """The course file is not YAML or does not validate: like a bad rubric, it exits 3."""

    exit_code = ExitCode.BAD_RUBRIC


class CourseFile(BaseModel):
    """What a course file may say; each key is a `grade batch` option (or, for `due:`, one per exercise)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roster: str | None = Field(None, description="--roster: the class roster CSV.")
    due: str | dict[str, str] | None = Field(
        None, description="--due, or a mapping of exercise id -> due date (ISO 8601, in `timezone`)."
    )
    timezone: str | None = Field(None, description="--timezone: the course's IANA time zone.")
    late_from: Literal["recorded", "git", "mtime"] | None = Field(None, description="--late-from.")
    submissions_times: str | None = Field(None, description="--submissions-times: the LMS's times CSV.")
    late_penalty: str | None = Field(None, description="--late-penalty: 10%/day or 20%.")
    limits: LimitOverrides | None = Field(
        None, description="Limits, by `Limits` field: timeout, memory_mb..."
    )
    rubrics: str | None = Field(None, description="--rubrics: the folder of rubrics.")
    rubric: str | None = Field(None, description="--rubric: one rubric for every submission.")
    rubric_for: dict[str, str] = Field(
        default_factory=dict, description="--rubric-for: folder or pattern -> rubric file or exercise id."
    )
    starter: str | None = Field(None, description="--starter: the starter notebook.")
    out: str | None = Field(None, description="--out: the reports folder.")
    jobs: int | None = Field(None, ge=1, description="-j: parallel workers.")

    @field_validator("due", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        """YAML hands a date over as a string, a date or a datetime: each is checked and kept as ISO text."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            return {str(k): _iso(v) for k, v in value.items()}
        return _iso(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_zone(value)
        return value

    @field_validator("late_penalty", mode="before")
    @classmethod
    def _penalty(cls, value: Any) -> Any:
        if isinstance(value, str):
            parse_penalty(value)
        return value

    @field_validator("limits")
    @classmethod
    def _limits_in_bounds(cls, value: LimitOverrides | None) -> LimitOverrides | None:
        """Bounds are `Limits`' own (the options check them on the command line); checked here too."""
        if value is not None:
            try:
                Limits().merged(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        return value


def _iso(value: Any) -> str:
    """A due date as the text `--due` takes; a date alone means the end of that day, as in a rubric."""
    due_from_yaml(value)
    return value.isoformat() if isinstance(value, date | datetime) else str(value).strip()


class Course(BaseModel):
    """A course file read and checked: where it is, what it says, and the options it sets."""

    model_config = ConfigDict(frozen=True)

    path: Path
    settings: CourseFile

    def defaults(self) -> dict[str, Any]:
        """`grade batch`'s option defaults (its parameter names -> values), paths made relative to the file."""
        s = self.settings
        base = self.path.parent
        values: dict[str, Any] = {
            "roster_path": _path(base, s.roster),
            "timezone_name": s.timezone,
            "late_from": s.late_from,
            "times_path": _path(base, s.submissions_times),
            "late_penalty": s.late_penalty,
            "rubrics_dir": _path(base, s.rubrics),
            "rubric_path": _path(base, s.rubric),
            "starter_path": _path(base, s.starter),
            "out_dir": _path(base, s.out),
            "jobs": s.jobs,
            "due": s.due if isinstance(s.due, str) else None,
        }
        if s.rubric_for:
            values["rubric_for"] = [
                f"{pattern}={_rubric(base, rubric)}" for pattern, rubric in s.rubric_for.items()
            ]
        if s.limits is not None:
            values.update(s.limits.model_dump(exclude_none=True))
        return {name: value for name, value in values.items() if value is not None}

    def due_by_exercise(self) -> dict[str, str]:
        """The per-exercise due dates (`due:` as a mapping), ISO text in the course's zone."""
        return dict(self.settings.due) if isinstance(self.settings.due, dict) else {}


def _path(base: Path, value: str | None) -> Path | None:
    return None if value is None else base / Path(value).expanduser()


def _rubric(base: Path, rubric: str) -> str:
    """A rubric file relative to the course file; an exercise id (no `/`, no .yaml) is looked up in --rubrics."""
    if "/" in rubric or rubric.endswith(RUBRIC_SUFFIXES):
        return str(base / rubric)
    return rubric


def find_course_file(target: str) -> Path | None:
    """`course.yaml` in the batch's folder or the nearest parent, stopping at the repository root."""
    folder = batch_folder(target).resolve()
    for candidate in (folder, *folder.parents):
        found = candidate / COURSE_FILE
        if found.is_file():
            return found
        if (candidate / ".git").exists():
            return None
    return None


def batch_folder(target: str) -> Path:
    """The folder a DIR_OR_GLOB grades: the folder itself, or the part of a glob before its first wildcard."""
    path = Path(target)
    if path.is_dir():
        return path
    fixed = []
    for part in path.parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    prefix = Path(*fixed) if fixed else Path(".")
    return prefix if prefix.is_dir() else prefix.parent


def load_course(path: Path) -> Course:
    """Read and validate a course file, or raise `CourseFileError` naming file:line:col, key path and fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseFileError(
            f"{path}: course file not found", hint="check the path given to --course"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseFileError(f"{path}: cannot read the course file ({exc})") from None
    source = str(path)
    try:
        data = _parse_yaml(text, source)
    except GradingError as exc:
        raise CourseFileError(exc.message, hint=exc.hint) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CourseFileError(
            f"{source}:1:1: the course file is a {type(data).__name__}, not a mapping",
            hint="write keys like `roster: roster.csv`, `due: 2026-12-01T23:59`, `timezone: Europe/Berlin`",
        )
    try:
        return Course(path=path, settings=CourseFile.model_validate(data))
    except ValidationError as exc:
        raise CourseFileError(
            _describe(exc, data, source), hint="see docs/batch.md, 'A course file'"
        ) from None


def _describe(exc: ValidationError, data: Any, source: str) -> str:
    """Each error as `file:line:col: key.path: message`; an unknown key with the nearest known one."""
    lines = [f"{source}: the course file does not validate ({exc.error_count()} error(s))"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        line, col = yaml_position(data, loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            allowed = list(_model_at(loc[:-1]).model_fields)
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            message = f"unknown key {loc[-1]!r}" + (f"; did you mean {near[0]!r}?" if near else "")
            message += f" (allowed: {', '.join(allowed)})"
        dotted = ".".join(str(part) for part in loc if not str(part).startswith(("str", "dict"))) or "(top)"
        lines.append(f"  {source}:{line}:{col}: {dotted}: {message}")
    return "\n".join(lines)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    return LimitOverrides if loc[:1] == ("limits",) else CourseFile
