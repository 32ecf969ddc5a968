"""The one way a check's verdict becomes a `CheckResult`: the spec's id, kind, points and visibility carried over."""

from __future__ import annotations

from typing import Any

from grader.result import CheckResult
from grader.rubric.model import CheckSpec


def check_result(spec: CheckSpec, status: str, points: float, message: str, **extra: Any) -> CheckResult:
    return CheckResult(
        id=spec.id,
        kind=spec.kind,
        status=status,  # type: ignore[arg-type]
        points=round(points, 2),
        max_points=spec.points,
        message=message,
        description=spec.description,
        visibility=spec.visibility,
        **extra,
    )
