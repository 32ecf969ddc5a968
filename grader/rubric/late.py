"""Late submissions: a due date, a penalty rule, and how late a file's modification time makes it.

The grade a student earned stays the canonical, raw result (`<stem>.json`); lateness is a class
matter, applied in the class outputs (gradebook, LMS exports, index.html) beside the raw score, so
that changing the due date or the penalty never regrades anyone.

Dates without an offset are local time, as an instructor typing a deadline means it; a date without
a time means the end of that day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

PENALTY_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*%\s*(?:(/|per)\s*day)?\s*$"
PENALTY_RE = re.compile(PENALTY_PATTERN)
PENALTY_EXAMPLES = "'10%/day' (per started day, capped at 100%) or '20%' (flat, once late)"
DUE_EXAMPLES = "ISO 8601 like 2026-12-01T23:59 (local time) or 2026-12-01T23:59+01:00"
DAY = timedelta(days=1)


class Penalty(BaseModel):
    """A share of the score taken off a late submission: per started day late, or once (flat)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    percent: float
    per_day: bool

    def fraction(self, days_late: int) -> float:
        """The share of the score taken off (0 to 1) for a submission `days_late` started days late."""
        if days_late <= 0:
            return 0.0
        share = self.percent * (days_late if self.per_day else 1) / 100
        return min(1.0, round(share, 6))

    def describe(self) -> str:
        return f"{self.percent:g}%/day" if self.per_day else f"{self.percent:g}%"


def parse_penalty(text: str) -> Penalty:
    """`10%/day`, `10% per day` or `20%`; raises ValueError saying what is accepted."""
    match = PENALTY_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a penalty rule; write {PENALTY_EXAMPLES}")
    percent = float(match.group(1))
    if percent > 100:
        raise ValueError(f"{text!r}: a penalty above 100% takes more than the whole score; use at most 100%")
    return Penalty(percent=percent, per_day=match.group(2) is not None)


def parse_due(text: str) -> datetime:
    """An ISO 8601 date-time (local unless it has an offset; `Z` is UTC), or a date meaning its end."""
    cleaned = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
            return end_of_day(date.fromisoformat(cleaned))
        return aware(datetime.fromisoformat(cleaned))
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write {DUE_EXAMPLES}") from None


def end_of_day(day: date) -> datetime:
    return aware(datetime.combine(day, time(23, 59, 59)))


def aware(moment: datetime) -> datetime:
    """A naive date-time read as local time, as the instructor meant it; an aware one as it is."""
    return moment.astimezone() if moment.tzinfo is None else moment


def due_from_yaml(value: Any) -> datetime:
    """A rubric's `due:`: YAML hands over a string, a date, or (written with seconds) a datetime."""
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, date):
        return end_of_day(value)
    if isinstance(value, str):
        return parse_due(value)
    raise ValueError(f"{value!r} is not a date; write {DUE_EXAMPLES}")


def penalty_from_yaml(value: Any) -> Penalty:
    if isinstance(value, Penalty):
        return value
    if isinstance(value, str):
        return parse_penalty(value)
    raise ValueError(f"{value!r} is not a penalty rule; write {PENALTY_EXAMPLES} (in quotes)")


def modification_times(files: Iterable[tuple[str, Path]]) -> dict[str, float]:
    """Each submission's modification time (POSIX seconds), the moment a late check compares with the due date."""
    times = {}
    for stem, path in files:
        try:
            times[stem] = path.stat().st_mtime
        except OSError:
            continue
    return times


@dataclass(frozen=True)
class LatePolicy:
    """The due date and penalty that apply to a submission; either may be unset."""

    due: datetime | None = None
    penalty: Penalty | None = None

    def over(self, fallback: LatePolicy | None) -> LatePolicy:
        """This policy's settings, field by field, with `fallback`'s where this one has none (CLI over rubric)."""
        if fallback is None:
            return self
        return LatePolicy(due=self.due or fallback.due, penalty=self.penalty or fallback.penalty)


@dataclass(frozen=True)
class Lateness:
    """How late one submission was and what that costs."""

    submitted: datetime
    due: datetime
    days: int
    fraction: float
    penalty: Penalty | None

    @property
    def late(self) -> bool:
        return self.days > 0

    def penalised(self, score: float) -> float:
        return round(score * (1 - self.fraction), 4)

    def describe(self) -> str:
        if not self.late:
            return "on time"
        days = f"{self.days} day{'s' if self.days != 1 else ''} late"
        if self.penalty is None or not self.fraction:
            return days
        return f"{days}, −{100 * self.fraction:g}% ({self.penalty.describe()})"


def days_late(submitted: datetime, due: datetime) -> int:
    """Started days after the due date: a minute late is 1 day, 24 h and a minute is 2."""
    if submitted <= due:
        return 0
    return math.ceil((submitted - due) / DAY)


def assess(policy: LatePolicy, submitted: datetime) -> Lateness | None:
    """The lateness of a submission modified at `submitted`, or None when no due date applies."""
    if policy.due is None:
        return None
    days = days_late(submitted, policy.due)
    fraction = policy.penalty.fraction(days) if policy.penalty is not None else 0.0
    return Lateness(submitted=submitted, due=policy.due, days=days, fraction=fraction, penalty=policy.penalty)
