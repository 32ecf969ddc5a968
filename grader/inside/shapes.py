"""How a tensor shape is written in every message, on both sides of the wall."""

from __future__ import annotations

from collections.abc import Sequence


def format_shape(shape: Sequence[int | None] | None) -> str:
    """`(28, 28, 1)`, `(10,)`, `(None, 10)`; "?" when the shape is unknown."""
    if shape is None:
        return "?"
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
