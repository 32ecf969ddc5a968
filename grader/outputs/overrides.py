"""The instructor's hand edits of a class: overridden checks (a regrade request) and manual points (a written answer).

They live in a CSV file the instructor keeps beside the class (`--overrides FILE`, or
`overrides.csv` in the out folder), never in the per-student `<stem>.json`, which stays the
machine's result: they are applied each time the class outputs are written, so a re-run or a
`--rescore` that rewrites the results never undoes them.

```csv
student,check,points,max_points,comment,by,at
alice,conv-layer,3,,regrade: padding 'same' is fine here,ta-kim,2026-12-03
s002,manual:essay,4,5,clear argument,prof-lee,2026-12-04
```

`student` is a stem (`alice`) or a roster value (id, submission, login or email); `check` is a check
id of the student's rubric, or `manual:<name>` for points the machine does not give, whose
`max_points` is required and the same on every row of that item. Every mistake is the file's
line and what to write instead: an unknown student or check, points outside 0..max, a duplicate.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ExitCode, GradingError
from grader.outputs.roster import RosterMatch, header_key, match_key

DEFAULT_NAME = "overrides.csv"
MANUAL_PREFIX = "manual:"
COLUMNS = ("student", "check", "points", "max_points", "comment", "by", "at")
REQUIRED = ("student", "check", "points")
ALIASES = {"check_id": "check", "max": "max_points", "out_of": "max_points", "who": "by", "when": "at"}
EXAMPLE = "student,check,points,max_points,comment,by,at"


class OverridesError(GradingError):
    """The overrides file cannot be applied as written; nothing is exported until it can."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class OverrideLine:
    """One row of the overrides file as written, and where it is (`overrides.csv:4`)."""

    source: str
    student: str
    check: str
    points: float
    max_points: float | None = None
    comment: str = ""
    by: str = ""
    at: str = ""

    @property
    def manual(self) -> str | None:
        """The manual item's name for `manual:<name>`, else None (an override of a machine check)."""
        return self.check[len(MANUAL_PREFIX) :] if self.check.startswith(MANUAL_PREFIX) else None


@dataclass(frozen=True)
class OverridesFile:
    """The parsed file: its path and its lines, in order."""

    path: Path
    lines: tuple[OverrideLine, ...]


@dataclass(frozen=True)
class ClassStudent:
    """What validation needs of one student with a row: their exercise and checks (id -> max), or no grade."""

    stem: str
    exercise: str | None
    checks: Mapping[str, float]
    graded: bool


@dataclass(frozen=True)
class Resolved:
    """The lines that apply, by stem; the manual items per exercise (name -> max); and what waits."""

    by_stem: Mapping[str, tuple[OverrideLine, ...]]
    manual_items: Mapping[str, Mapping[str, float]]
    waiting: tuple[str, ...]


def locate(out_dir: Path, given: Path | None) -> Path | None:
    """The overrides file: `--overrides`, else `overrides.csv` in the out folder where there is one."""
    if given is not None:
        return given
    default = out_dir / DEFAULT_NAME
    return default if default.is_file() else None


def read_overrides(path: Path) -> OverridesFile:
    """Parse the file; `OverridesError` naming the line for anything that is not a number or a column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OverridesError(
            f"{path}: no such overrides file", hint=f"create it with the header {EXAMPLE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OverridesError(f"{path}: cannot be read ({exc})", hint="save it as UTF-8 CSV") from None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [ALIASES.get(header_key(h), header_key(h)) for h in next(reader, [])]
    except csv.Error as exc:
        raise OverridesError(f"{path}:1: not valid CSV ({exc})", hint=f"the header is {EXAMPLE}") from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise OverridesError(f"{path}:1: no {', '.join(missing)} column", hint=f"the header is {EXAMPLE}")
    lines: list[OverrideLine] = []
    end = 1
    while True:
        start = end + 1
        try:
            values = next(reader, None)
        except csv.Error as exc:
            raise OverridesError(
                f"{path}:{start}: not valid CSV ({exc})", hint="quote a comma in a comment"
            ) from None
        end = reader.line_num
        if values is None:
            break
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise OverridesError(
                f"{path}:{start}: {len(values)} values for {len(header)} columns",
                hint='quote a comment that holds a comma: "good, but late"',
            )
        lines.append(_line(f"{path}:{start}", dict(zip(header, (v.strip() for v in values), strict=False))))
    return OverridesFile(path, tuple(lines))


def _number(source: str, field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise OverridesError(f"{source}: {field} {text!r} is not a number", hint="write points like 3 or 2.5")
    return value


def _line(source: str, cells: Mapping[str, str]) -> OverrideLine:
    for name in REQUIRED:
        if not cells.get(name):
            raise OverridesError(f"{source}: {name} is empty", hint=f"every row has a {', '.join(REQUIRED)}")
    check = cells["check"]
    given_max = cells.get("max_points", "")
    line = OverrideLine(
        source=source,
        student=cells["student"],
        check=check,
        points=_number(source, "points", cells["points"]),
        max_points=_number(source, "max_points", given_max) if given_max else None,
        comment=cells.get("comment", ""),
        by=cells.get("by", ""),
        at=cells.get("at", ""),
    )
    if line.manual is not None:
        if not line.manual.strip():
            raise OverridesError(
                f"{source}: {check!r} names no manual item", hint="write manual:<name>, e.g. manual:essay"
            )
        if line.max_points is None or line.max_points <= 0:
            raise OverridesError(
                f"{source}: manual points {check} need a positive max_points",
                hint="give the item's maximum in the max_points column, the same on every row of the item",
            )
    elif line.max_points is not None:
        raise OverridesError(
            f"{source}: max_points is for manual:<name> items; check {check}'s maximum is the rubric's",
            hint="leave max_points empty for a check",
        )
    return line


def resolve(
    overrides: OverridesFile, students: Sequence[ClassStudent], match: RosterMatch | None = None
) -> Resolved:
    """Each line applied to the stems it names, every problem as `file:line: what` (all of them at once).

    A student is a stem, or a roster value matched to their submissions; a student who has no
    grade yet (could not be graded, not measured, no submission) is not an error: their lines wait,
    listed, until the student has one.
    """
    by_key = {match_key(s.stem): s for s in students}
    owners: dict[str, list[str]] = {}
    for stem, owner in match.by_stem.items() if match is not None else ():
        for value in (owner.submission, owner.id, owner.login, owner.email, owner.canvas_id):
            if value:
                owners.setdefault(match_key(value), []).append(stem)
    roster_keys = (
        {match_key(v) for s in match.missing for v in (s.submission, s.id, s.login, s.email) if v}
        if match is not None
        else set()
    )
    problems: list[str] = []
    waiting: list[str] = []
    applied: dict[str, list[OverrideLine]] = {}
    seen: dict[tuple[str, str], str] = {}
    manual_max: dict[tuple[str, str], tuple[float, str]] = {}
    for line in overrides.lines:
        key = match_key(line.student)
        stems = [by_key[key].stem] if key in by_key else sorted(set(owners.get(key, ())))
        if not stems:
            if key in roster_keys:
                waiting.append(f"{line.source}: {line.student} has no submission")
            else:
                problems.append(
                    f"{line.source}: unknown student {line.student!r} (no submission's stem or roster value)"
                )
            continue
        for stem in stems:
            student = next(s for s in students if s.stem == stem)
            if not student.graded or student.exercise is None:
                waiting.append(f"{line.source}: {stem} has no grade yet")
                continue
            if (stem, line.check) in seen:
                problems.append(
                    f"{line.source}: {stem} {line.check} is already set at {seen[(stem, line.check)]}"
                )
                continue
            seen[(stem, line.check)] = line.source
            problem = _out_of_range(line, student, manual_max)
            if problem:
                problems.append(problem)
                continue
            applied.setdefault(stem, []).append(line)
    if problems:
        shown = "\n  ".join(problems)
        raise OverridesError(
            f"{overrides.path}: {len(problems)} problem(s):\n  {shown}",
            hint="fix these lines and run the batch again: the results are kept, nothing is regraded",
        )
    items: dict[str, dict[str, float]] = {}
    for (exercise, name), (maximum, _) in manual_max.items():
        items.setdefault(exercise, {})[name] = maximum
    return Resolved({s: tuple(lines) for s, lines in applied.items()}, items, tuple(waiting))


def _out_of_range(
    line: OverrideLine, student: ClassStudent, manual_max: dict[tuple[str, str], tuple[float, str]]
) -> str | None:
    assert student.exercise is not None
    if line.manual is not None:
        assert line.max_points is not None
        first = manual_max.setdefault((student.exercise, line.manual), (line.max_points, line.source))
        if first[0] != line.max_points:
            return f"{line.source}: {line.check} is out of {line.max_points:g} here but {first[0]:g} at {first[1]}"
        maximum = line.max_points
    elif line.check not in student.checks:
        known = ", ".join(student.checks) or "none"
        return (
            f"{line.source}: unknown check {line.check!r} for {student.stem} (exercise {student.exercise}: {known}; "
            "or manual:<name> for manual points)"
        )
    else:
        maximum = student.checks[line.check]
    if not 0 <= line.points <= maximum:
        return f"{line.source}: {line.points:g} points for {line.check} is out of range 0..{maximum:g}"
    return None


def class_students(rows: Iterable[tuple[str, Mapping[str, object] | None, bool]]) -> list[ClassStudent]:
    """The students to validate against, from (stem, the result JSON or None, graded)."""
    found = []
    for stem, result, graded in rows:
        checks: dict[str, float] = {}
        exercise = None
        if result is not None:
            exercise = str(result["exercise"])
            raw_checks = result["checks"]
            assert isinstance(raw_checks, list)
            checks = {str(c["id"]): float(c["max_points"]) for c in raw_checks}
        found.append(ClassStudent(stem, exercise, checks, graded))
    return found
