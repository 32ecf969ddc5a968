"""Text from the student's side, made safe to keep: no lone surrogates, and (`plain`) no terminal codes.

A notebook's JSON (`"\\ud800"`), a kernel's output and a facts.json can all carry lone UTF-16
surrogates, which are valid Python strings but no valid UTF-8: the canonical JSON would then fail
to serialise and the student's grade would be lost. Each untrusted source is cleaned on arrival.

Error messages also arrive with terminal escape codes: Keras writes its argument names in bold
(`\\x1b[1m`), IPython colours tracebacks, and a student can print any code at all. Kept in a
result they show as `[1m` litter in the HTML report, a CSV or an LMS, so every error message a
result keeps goes through `plain`.
"""

from __future__ import annotations

import re
from typing import Any

TERMINAL_CODES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, bold, cursor moves (`\x1b[1m`, `\x1b[0;31m`)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks, to BEL or ST
    r"|\x1b[@-Z\\-_]"  # the other two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI
)


def clean(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (unchanged, and fast, when there is none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def plain(text: str) -> str:
    """`text` cleaned, and with every terminal escape code removed: what a person should read."""
    return TERMINAL_CODES.sub("", clean(text))


def clean_json(value: Any) -> Any:
    """A JSON value with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean(str(key)): clean_json(item) for key, item in value.items()}
    return value
