"""Late submissions: a due date in a time zone, a penalty rule, and when each submission came in.

The grade a student earned stays the canonical, raw result (`<stem>.json`); lateness is a class
matter, applied in the class outputs (gradebook, LMS exports, index.html) beside the raw score, so
that changing the due date or the penalty never regrades anyone.

When a submission came in is taken from a record the student does not control: a `submitted_at`
time an LMS wrote (a roster column or `--submissions-times`), or the last commit of a git checkout.
A file's modification time is set by whoever wrote the file (a student can date it 2020) and reset
by every copy and `git clone` (a whole class late), so it is used only when the instructor asks
(`--late-from mtime`). A recorded time must carry its offset (`+01:00`, `Z`): a bare time is
refused, since the same digits are hours apart across zones. A due date without an offset is read
in the course's time zone (`--timezone`, UTC by default), never the grading machine's; a date
without a time means the end of that day.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

PENALTY_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*%\s*(?:(/|per)\s*day)?\s*$"
PENALTY_RE = re.compile(PENALTY_PATTERN)
PENALTY_EXAMPLES = "'10%/day' (per started day, capped at 100%) or '20%' (flat, once late)"
DUE_EXAMPLES = (
    "ISO 8601 like 2026-12-01T23:59 (in the course time zone, --timezone) or 2026-12-01T23:59+01:00"
)
INSTANT_EXAMPLES = "ISO 8601 with its offset, like 2026-12-01T23:41:07+01:00 or 2026-12-01T22:41:07Z"
EXTENSION_EXAMPLES = f"a duration like 2d, 36h or 1d12h, or a new due date {INSTANT_EXAMPLES}"
DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$", re.IGNORECASE)
DAY = timedelta(days=1)
DEFAULT_ZONE = "UTC"
GIT_TIMEOUT_S = 10
GIT_SAFE_CONFIG = tuple(
    arg
    for setting in (
        "safe.directory=*",
        "core.fsmonitor=false",
        "core.pager=cat",
        "core.sshCommand=false",
        "core.hooksPath=/dev/null",
        "log.showSignature=false",
        "gpg.program=false",
        "gpg.ssh.program=false",
        "gpg.x509.program=false",
        "diff.external=",
        "log.mailmap=false",
    )
    for arg in ("-c", setting)
)
LateFrom = Literal["recorded", "git", "mtime"]
LATE_FROM: tuple[LateFrom, ...] = ("recorded", "git", "mtime")


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


def parse_zone(name: str) -> tzinfo:
    """An IANA time zone (`Europe/Berlin`, `America/Los_Angeles`, `UTC`); ValueError naming the fix."""
    cleaned = name.strip()
    if cleaned.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone; write an IANA name like Europe/Berlin, America/Los_Angeles or UTC"
        ) from None


def zone_name(zone: tzinfo) -> str:
    """How a zone is printed in a summary: its IANA name, `UTC`, or its offset."""
    return str(getattr(zone, "key", None) or ("UTC" if zone is UTC else zone))


def parse_due(text: str, zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 date-time (in `zone` unless it has an offset; `Z` is UTC), or a date meaning its end."""
    cleaned = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
            return in_zone(end_of_day(date.fromisoformat(cleaned)), zone)
        return in_zone(datetime.fromisoformat(cleaned), zone)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write {DUE_EXAMPLES}") from None


def parse_instant(text: str) -> datetime:
    """A recorded moment (an LMS's submission time): ISO 8601 with an offset, or ValueError.

    A time without an offset is refused rather than guessed: read in the wrong zone it moves a
    submission across a deadline.
    """
    cleaned = text.strip()
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write {INSTANT_EXAMPLES}") from None
    if moment.tzinfo is None or not re.search(r"(?:[+-]\d{2}:?\d{2}|Z)$", cleaned, re.IGNORECASE):
        raise ValueError(f"{text!r} has no UTC offset, so its zone is unknown; write {INSTANT_EXAMPLES}")
    return moment


@dataclass(frozen=True)
class Extension:
    """A student's own deadline: the due date moved by `by`, or replaced by `until`."""

    by: timedelta | None = None
    until: datetime | None = None

    def apply(self, due: datetime) -> datetime:
        return self.until if self.until is not None else due + (self.by or timedelta())

    def describe(self) -> str:
        if self.until is not None:
            return f"until {self.until.isoformat(timespec='minutes')}"
        return f"+{describe_duration(self.by or timedelta())}"


def describe_duration(span: timedelta) -> str:
    days, rest = divmod(int(span.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"


def parse_extension(text: str) -> Extension:
    """`2d`, `36h`, `1d12h`, `90m`, or a new due date with its offset; ValueError saying what is accepted."""
    match = DURATION_RE.match(text)
    if match is not None and any(match.groups()):
        days, hours, minutes = (int(group or 0) for group in match.groups())
        return Extension(by=timedelta(days=days, hours=hours, minutes=minutes))
    try:
        return Extension(until=parse_instant(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an extension; write {EXTENSION_EXAMPLES}") from None


def end_of_day(day: date) -> datetime:
    """The last second of `day`, naive: the zone it is in is the course's, applied by `in_zone`."""
    return datetime.combine(day, time(23, 59, 59))


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """A naive date-time read in the course's zone, as the instructor meant it; an aware one as it is."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def due_from_yaml(value: Any) -> datetime:
    """A rubric's `due:`: YAML hands over a string, a date, or a datetime.

    Without an offset it stays naive, to be read in the course's time zone when the batch knows it
    (`LatePolicy.in_zone`), never in the zone of the machine that loaded the rubric.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return end_of_day(value)
    if isinstance(value, str):
        cleaned = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
                return end_of_day(date.fromisoformat(cleaned))
            return datetime.fromisoformat(cleaned)
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write {DUE_EXAMPLES}") from None
    raise ValueError(f"{value!r} is not a date; write {DUE_EXAMPLES}")


def penalty_from_yaml(value: Any) -> Penalty:
    if isinstance(value, Penalty):
        return value
    if isinstance(value, str):
        return parse_penalty(value)
    raise ValueError(f"{value!r} is not a penalty rule; write {PENALTY_EXAMPLES} (in quotes)")


def modification_times(files: Iterable[tuple[str, Path]]) -> dict[str, float]:
    """Each file's modification time (POSIX seconds): only for `--late-from mtime`, since a student sets it."""
    times = {}
    for stem, path in files:
        try:
            times[stem] = path.stat().st_mtime
        except OSError:
            continue
    return times


def git_checkout(path: Path, root: Path) -> Path | None:
    """The nearest folder from `path`'s up to `root` (inclusive) that is a git checkout (a real `.git` folder)."""
    for folder in (path.parent, *path.parent.parents):
        if folder != root and root not in folder.parents:
            return None
        dot_git = folder / ".git"
        if dot_git.is_dir() and not dot_git.is_symlink():
            return folder
        if folder == root:
            return None
    return None


def last_commit_time(checkout: Path) -> datetime | None:
    """The committer time of HEAD in `checkout`, as git wrote it (`git log -1 --format=%cI`); None if unreadable.

    git is pointed at exactly this `.git` (no walking up into an enclosing repository), with no
    system or user configuration, no pager, no prompt, and a time limit; every setting by which a
    repository's own config could make `git log` run a program is overridden on the command line,
    since a checkout handed in as an upload carries a config the student wrote.
    """
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(checkout),
        "GIT_DIR": str(checkout / ".git"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(
            ["git", *GIT_SAFE_CONFIG, "log", "-1", "--no-show-signature", "--format=%cI"],
            cwd=checkout,
            env=environment,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        return parse_instant(done.stdout.strip())
    except ValueError:
        return None


def commit_times(files: Iterable[tuple[str, Path, Path]]) -> dict[str, float]:
    """Each submission's git checkout's last commit time (POSIX seconds), for those inside a checkout.

    `files` is (stem, file, batch root); the checkout is looked for between the two.
    """
    cache: dict[Path, datetime | None] = {}
    times = {}
    for stem, path, root in files:
        checkout = git_checkout(path, root)
        if checkout is None:
            continue
        if checkout not in cache:
            cache[checkout] = last_commit_time(checkout)
        if (when := cache[checkout]) is not None:
            times[stem] = when.timestamp()
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

    def in_zone(self, zone: tzinfo) -> LatePolicy:
        """The policy with a naive due date (a rubric's, written without an offset) read in the course's zone."""
        due = in_zone(self.due, zone) if self.due is not None else None
        return LatePolicy(due=due, penalty=self.penalty)


@dataclass(frozen=True)
class Lateness:
    """How late one submission was and what that costs; `due` is the student's own (with an extension)."""

    submitted: datetime
    due: datetime
    days: int
    fraction: float
    penalty: Penalty | None
    excused: bool = False
    extension: Extension | None = None
    source: str = ""

    @property
    def late(self) -> bool:
        return self.days > 0

    def penalised(self, score: float) -> float:
        return round(score * (1 - self.fraction), 4)

    def describe(self) -> str:
        if self.excused:
            return "excused"
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


def assess(
    policy: LatePolicy,
    submitted: datetime,
    *,
    extension: Extension | None = None,
    excused: bool = False,
    source: str = "",
) -> Lateness | None:
    """The lateness of a submission that came in at `submitted`, or None when no due date applies.

    An excused student is never late; an extension moves (or replaces) their due date.
    """
    if policy.due is None:
        return None
    due = extension.apply(policy.due) if extension is not None else policy.due
    days = 0 if excused else days_late(submitted, due)
    fraction = policy.penalty.fraction(days) if policy.penalty is not None else 0.0
    return Lateness(
        submitted=submitted,
        due=due,
        days=days,
        fraction=fraction,
        penalty=policy.penalty,
        excused=excused,
        extension=extension,
        source=source,
    )
