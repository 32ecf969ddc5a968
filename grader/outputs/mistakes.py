"""The class's most common mistakes, each quoting the values it groups (index.html's "most common problems").

A mistake is grouped by words that are the same for every student who made it ("layer 1,
kernel_size"), never by a message that quotes each student's own numbers; but a group that showed
only its words, or one student's numbers for all of them, would hide what the class actually did
(three students with a 3x3 kernel and one with a 7x7 are told apart by the values, not the
count). So each group keeps, per student, the value of their mistake (expected → found for a
layer setting; the numbers of a message) and shows them tallied: "layer 1, kernel_size: 12
students ((2, 2) → (3, 3) ×8, (2, 2) → (7, 7) ×4)".

The results are the canonical JSON dicts (`grader.outputs.gradebook` reads them back from disk).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

COMMON_MISTAKES = 10
QUOTED_VALUES = 5
VALUE_CHARS = 60
NUMBERS = re.compile(r"\d[\d,.]*")
DERIVED_ATTRIBUTES = frozenset({"output_shape", "params"})
UNGRADABLE = "could not be graded"


@dataclass(frozen=True)
class Found:
    """One student's mistake: its group's words, the words as this student's would read, its value."""

    group: str
    words: str
    value: str | None = None


@dataclass(frozen=True)
class CommonMistake:
    """A mistake across the class: how many students made it, in which check, and the values they had.

    `values` are (value, students) most common first; `others` counts the values not quoted.
    """

    students: int
    label: str
    mistake: str
    values: tuple[tuple[str, int], ...] = ()
    others: int = 0

    def quoted(self) -> str:
        """`(2, 2) → (3, 3) ×8, (2, 2) → (7, 7) ×4`, and how many other values there were."""
        shown = ", ".join(f"{value} ×{n}" for value, n in self.values)
        return shown + (
            f", {self.others} other value{'s' if self.others != 1 else ''}" if self.others else ""
        )

    def describe(self) -> str:
        """`layer 1, kernel_size: 12 students ((2, 2) → (3, 3) ×8, …)`: the mistake in one line."""
        count = f"{self.students} student{'s' if self.students != 1 else ''}"
        return f"{self.mistake}: {count}" + (f" ({self.quoted()})" if self.values else "")


def in_message(message: str) -> Found:
    """A message grouped with its numbers blanked; its numbers are its value."""
    numbers = [number.rstrip(".,") for number in NUMBERS.findall(message)]
    return Found(NUMBERS.sub("N", message), message, "; ".join(numbers) if numbers else None)


def in_check(check: Mapping[str, Any]) -> list[Found]:
    """What went wrong in one failed check.

    A layer's output shape and parameter count follow from the layers before it, so after the first
    differing row they differ for that reason alone (valid padding on layer 1 changes every shape
    after it); only the first differing row's shape and count are a mistake of their own. A check
    with no layer table is grouped by its message.
    """
    rows = [row for row in check.get("layer_rows") or [] if row["status"] != "match"]
    if not rows:
        return [in_message(check["message"])]
    found: list[Found] = []
    for index, row in enumerate(rows):
        where = f"layer {row['position']}"
        if row["status"] == "missing":
            words = f"{where}: missing {row['expected']['type']}"
            found.append(Found(words, words))
        elif row["status"] == "extra":
            kind = "operation" if row["actual"].get("kind") == "op" else "layer"
            words = f"{where}: extra {row['actual']['type']} {kind}"
            found.append(Found(words, words))
        else:
            for difference in row["differences"]:
                attribute, _, rest = difference.partition(" ")
                if index == 0 or attribute not in DERIVED_ATTRIBUTES:
                    words = f"{where}, {attribute}"
                    found.append(Found(words, words, setting_change(rest)))
    return found


def setting_change(rest: str) -> str | None:
    """`3 → 5` from the alignment's `(have), expected (wanted)` (after the attribute's name)."""
    have, sep, wanted = rest.rpartition(", expected ")
    if not sep:
        return None
    return f"{_short(wanted)} → {_short(have)}"


def _short(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…"


def tally(students: Iterable[Mapping[tuple[str, str], Found]]) -> list[CommonMistake]:
    """The most common mistakes of the class, from each student's (check label, group) -> mistake.

    A group whose students all read the same words shows those words (a message with the same
    numbers for all); otherwise it shows the group's words, and the values tell the students apart.
    """
    counts: Counter[tuple[str, str]] = Counter()
    values: dict[tuple[str, str], Counter[str]] = {}
    words: dict[tuple[str, str], set[str]] = {}
    for found in students:
        counts.update(found.keys())
        for key, mistake in found.items():
            words.setdefault(key, set()).add(mistake.words)
            if mistake.value is not None:
                values.setdefault(key, Counter())[mistake.value] += 1
    common = []
    for (label, group), n in counts.most_common(COMMON_MISTAKES):
        seen = values.get((label, group), Counter())
        variants = words[(label, group)]
        same = len(variants) == 1
        quoted = () if same and group != next(iter(variants)) else tuple(seen.most_common(QUOTED_VALUES))
        common.append(
            CommonMistake(
                students=n,
                label=label,
                mistake=next(iter(variants)) if same else group,
                values=quoted,
                others=max(0, len(seen) - len(quoted)) if quoted else 0,
            )
        )
    return common


def of_student(
    failed_checks: Iterable[tuple[str, Mapping[str, Any]]], ungradable: str | None = None
) -> dict[tuple[str, str], Found]:
    """One student's mistakes, once each: their failed checks (label, check), or why they could not be graded."""
    found: dict[tuple[str, str], Found] = {}
    if ungradable is not None:
        mistake = in_message(ungradable)
        found[(UNGRADABLE, mistake.group)] = mistake
    for label, check in failed_checks:
        for mistake in in_check(check):
            found[(label, mistake.group)] = mistake
    return found
