"""Text from the student's side, made safe to keep: no lone surrogates.

A notebook's JSON (`"\\ud800"`), a kernel's output and a facts.json can all carry lone UTF-16
surrogates, which are valid Python strings but no valid UTF-8: the canonical JSON would then fail
to serialise and the student's grade would be lost. Each untrusted source is cleaned on arrival.
"""

from __future__ import annotations

from typing import Any


def clean(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (unchanged, and fast, when there is none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def clean_json(value: Any) -> Any:
    """A JSON value with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean(str(key)): clean_json(item) for key, item in value.items()}
    return value
