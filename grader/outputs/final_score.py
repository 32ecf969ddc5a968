"""A student's final score, computed in one place and written as it is by every output.

The machine's score (`<stem>.json`), the instructor's overrides and manual points
(`grader.outputs.overrides`) and the late penalty (`grader.rubric.late`) meet here and nowhere
else: gradebook.csv, junit.xml, canvas.csv, moodle.csv, Gradescope's results.json, index.html and
the student's report all show this `FinalScore`, so a student and the LMS never see two numbers.
The final is rounded to two decimals (the precision Canvas keeps) once, here, so that no output
rounds its own way (3.67 less 10% is 3.3 everywhere, never 3.303 in one file and 3.3 in another).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from grader.outputs.overrides import OverrideLine
from grader.rubric.late import Lateness

DECIMALS = 2
CENT = Decimal("0.01")


def to_cents(adjusted: float, late_fraction: float) -> float:
    """`adjusted` less `late_fraction` of it, to the cent, half a cent rounded up.

    Decimal arithmetic on the numbers as written, not binary floats: 3.9875 less 20% is 3.19, as a
    person reckons it, where the float product 3.1899999... would round to 3.18.
    """
    kept = Decimal(str(adjusted)) * (1 - Decimal(str(late_fraction)))
    return float(kept.quantize(CENT, rounding=ROUND_HALF_UP)) + 0.0


@dataclass(frozen=True)
class CheckOverride:
    """A machine check whose points the instructor set: what the machine gave, what counts, and why."""

    check: str
    original: float
    points: float
    max_points: float
    comment: str
    by: str
    at: str
    source: str


@dataclass(frozen=True)
class ManualPoints:
    """Points the machine does not give (a written answer); `points` None: not entered yet (counts 0)."""

    name: str
    points: float | None
    max_points: float
    comment: str = ""
    by: str = ""
    at: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        return f"manual:{self.name}"


@dataclass(frozen=True)
class FinalScore:
    """One student's score from the machine's to the final, with each step; `final` None: no grade.

    `status` is `graded`, `unmeasured` or `error`; only a graded student has numbers. `withheld`
    counts the checks hidden from the student, so an output a student sees knows to keep the
    total (which includes their points) to itself.
    """

    stem: str
    status: str
    raw: float | None = None
    raw_max: float | None = None
    overrides: tuple[CheckOverride, ...] = ()
    manual: tuple[ManualPoints, ...] = ()
    lateness: Lateness | None = None
    withheld: int = 0

    @property
    def graded(self) -> bool:
        return self.status == "graded" and self.raw is not None

    @property
    def adjusted(self) -> float | None:
        """The machine's score with the overrides and manual points, before any late penalty."""
        if self.raw is None or not self.graded:
            return None
        delta = sum(o.points - o.original for o in self.overrides)
        return round(self.raw + delta + sum(m.points or 0.0 for m in self.manual), 4)

    @property
    def maximum(self) -> float | None:
        """The machine's maximum and every manual item's."""
        if self.raw_max is None:
            return None
        return round(self.raw_max + sum(m.max_points for m in self.manual), 4)

    @property
    def late_fraction(self) -> float:
        return self.lateness.fraction if self.lateness is not None else 0.0

    @property
    def final(self) -> float | None:
        """The score that counts: adjusted, less the late penalty, to two decimals; None when no grade."""
        adjusted = self.adjusted
        if adjusted is None:
            return None
        return to_cents(adjusted, self.late_fraction)

    @property
    def penalty_points(self) -> float:
        adjusted = self.adjusted
        final = self.final
        return round(adjusted - final, DECIMALS) if adjusted is not None and final is not None else 0.0

    @property
    def hand_edited(self) -> bool:
        return bool(self.overrides or self.manual)

    def override_of(self, check: str) -> CheckOverride | None:
        return next((o for o in self.overrides if o.check == check), None)

    def describe_overrides(self) -> str:
        """One line of every hand edit: `conv-layer 2→3 (regrade; ta-kim 2026-12-03); manual:essay 4/5`."""
        parts = [
            f"{o.check} {o.original:g}→{o.points:g}{_why(o.comment, o.by, o.at)}" for o in self.overrides
        ]
        parts += [
            f"{m.label} {'—' if m.points is None else f'{m.points:g}'}/{m.max_points:g}"
            f"{_why(m.comment, m.by, m.at)}"
            for m in self.manual
        ]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The class-side record of this score (final-scores.json); the machine's `<stem>.json` is untouched."""
        lateness = self.lateness
        return {
            "status": self.status,
            "raw": self.raw,
            "raw_max": self.raw_max,
            "overrides": [vars(o) for o in self.overrides],
            "manual": [vars(m) for m in self.manual],
            "adjusted": self.adjusted,
            "late": None
            if lateness is None
            else {"days": lateness.days, "fraction": lateness.fraction, "describe": lateness.describe()},
            "penalty_points": self.penalty_points,
            "final": self.final,
            "max": self.maximum,
        }


def _why(comment: str, by: str, at: str) -> str:
    who = " ".join(part for part in (by, at) if part)
    inner = "; ".join(part for part in (comment, who) if part)
    return f" ({inner})" if inner else ""


def compute(
    stem: str,
    result: Mapping[str, Any] | None,
    status: str,
    *,
    lateness: Lateness | None = None,
    lines: Sequence[OverrideLine] = (),
    manual_items: Mapping[str, float] | None = None,
    withheld: int = 0,
) -> FinalScore:
    """The final score of one row: the only place the machine's score, hand edits and lateness combine.

    `lines` are the validated overrides of this student (`grader.outputs.overrides.resolve`);
    `manual_items` the exercise's manual items (name -> max), each counted for every graded
    student of the exercise, as 0 until its points are entered.
    """
    if result is None:
        return FinalScore(stem, status)
    if status != "graded":
        unentered = tuple(ManualPoints(name, None, top) for name, top in sorted((manual_items or {}).items()))
        return FinalScore(stem, status, raw_max=float(result["max_score"]), manual=unentered)
    checks = {c["id"]: c for c in result["checks"]}
    overrides = tuple(
        CheckOverride(
            line.check,
            float(checks[line.check]["points"]),
            line.points,
            float(checks[line.check]["max_points"]),
            line.comment,
            line.by,
            line.at,
            line.source,
        )
        for line in lines
        if line.manual is None and line.check in checks
    )
    entered = {line.manual: line for line in lines if line.manual is not None}
    manual = tuple(
        ManualPoints(
            name,
            entered[name].points,
            maximum,
            entered[name].comment,
            entered[name].by,
            entered[name].at,
            entered[name].source,
        )
        if name in entered
        else ManualPoints(name, None, maximum)
        for name, maximum in sorted((manual_items or {}).items())
    )
    return FinalScore(
        stem,
        status,
        raw=float(result["score"]),
        raw_max=float(result["max_score"]),
        overrides=overrides,
        manual=manual,
        lateness=lateness,
        withheld=withheld,
    )
