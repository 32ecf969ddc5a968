"""What a check's `requires:` tells a student: a gated check is as visible as the checks it needs.

A visible check that `requires:` a hidden one gives points, and says "counts only when `x`
passes", exactly when the hidden check passes: showing it would tell the student the hidden
outcome, and two resubmissions would bisect a hidden bound. So a check's *effective* visibility
is the most restrictive of its own and that of every check it requires, directly or through
others; every student-facing output (student view, self-check, Gradescope, the published rubric)
goes by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from grader.result import Visibility
from grader.rubric.model import CheckSpec

RESTRICTION: dict[Visibility, int] = {"visible": 0, "after_due": 1, "hidden": 2}
"""How much each visibility withholds: after_due is released at the deadline, hidden only when graded."""


def most_restrictive(visibilities: Iterable[Visibility]) -> Visibility:
    return max(visibilities, key=RESTRICTION.__getitem__, default="visible")


def effective_visibility(checks: Sequence[CheckSpec]) -> dict[str, Visibility]:
    """Each check's id -> the most restrictive visibility among it and everything it requires (transitively)."""
    specs = {spec.id: spec for spec in checks}
    return {
        spec.id: most_restrictive(specs[i].visibility for i in closure(spec.id, specs)) for spec in checks
    }


def closure(check: str, specs: Mapping[str, CheckSpec]) -> set[str]:
    """The check and every check it requires, directly or not (a cycle or an unknown id ends the walk)."""
    seen: set[str] = set()
    pending = [check]
    while pending:
        current = pending.pop()
        if current in seen or current not in specs:
            continue
        seen.add(current)
        pending.extend(specs[current].requires)
    return seen
