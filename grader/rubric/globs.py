"""Globs that pick submissions by their path: a rubric's `match:` and `grade batch --rubric-for`.

The pattern is the instructor's; the path is the student's, so it is only ever the subject of a
match, never part of a pattern or a regular expression. A path is matched as the tuple of its
real folder and file names (as the file system gave them, relative to the batch's root), never
as a string split on separators again: a file named `week3\\alice.ipynb` or `week3` + newline +
`alice.ipynb` is one name at the top level, not a file in `week3/`.

The rules, anchored at the batch's root and case-sensitive on every system (so a class grades the
same on macOS as on Linux): `/` separates folders; `*`, `?` and `[...]` match within one name
(`fnmatch` syntax); `**` as a whole segment matches any number of folders, none included. Both
sides are compared in Unicode NFC, so a name typed on macOS (NFD) matches the pattern typed
elsewhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from fnmatch import fnmatchcase

MAX_GLOB_CHARS = 200
RECURSIVE = "**"


def check_glob(pattern: str) -> str:
    """`pattern` if it is a glob this module can match as written, else a ValueError saying how to fix it.

    Refused, because each would match something other than what it seems to say: an empty or
    absolute pattern, `.`/`..` or empty segments, a backslash (an escape to fnmatch, a separator
    on Windows), control characters, an unclosed `[` (fnmatch would match it literally), and `**`
    inside a name (`week**`).
    """
    if not pattern:
        raise ValueError("an empty glob matches nothing; write e.g. `week3/*.ipynb`")
    if len(pattern) > MAX_GLOB_CHARS:
        raise ValueError(f"a glob of {len(pattern)} characters; at most {MAX_GLOB_CHARS}")
    if any(not char.isprintable() for char in pattern):
        raise ValueError(f"{pattern!r}: a glob cannot hold control characters or line breaks")
    if "\\" in pattern:
        raise ValueError(
            f"{pattern!r}: use `/` between folders; a backslash is neither a separator nor an escape here"
        )
    if pattern.startswith("/"):
        raise ValueError(f"{pattern!r}: globs are relative to the batch's folder; drop the leading `/`")
    for segment in pattern.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(
                f"{pattern!r}: empty, `.` and `..` segments are not allowed; write the folders by name"
            )
        if RECURSIVE in segment and segment != RECURSIVE:
            raise ValueError(
                f"{pattern!r}: `**` matches whole folders, so it must be a segment of its own (`a/**/b`)"
            )
        if not _brackets_close(segment):
            raise ValueError(
                f"{pattern!r}: a `[` is not closed by `]` in the same segment (write `[[]` for a literal `[`)"
            )
    return pattern


def glob_matches(pattern: str, parts: Sequence[str]) -> bool:
    """Whether the relative path `parts` (folders, then the file name) matches the whole of `pattern`.

    Linear in segments x names (no recursion), so a deep folder a student made costs nothing more.
    """
    names = [unicodedata.normalize("NFC", name) for name in parts]
    reachable = {0}
    for segment in unicodedata.normalize("NFC", pattern).split("/"):
        if not reachable:
            return False
        if segment == RECURSIVE:
            reachable = set(range(min(reachable), len(names) + 1))
        else:
            reachable = {i + 1 for i in reachable if i < len(names) and fnmatchcase(names[i], segment)}
    return len(names) in reachable


def shown_path(parts: Sequence[str]) -> str:
    """A student's relative path for a message: one line, every odd character escaped, `\\` doubled.

    So a name holding a newline, a backslash or a right-to-left mark cannot pass for another
    folder or another line of the report.
    """
    return "/".join("".join(_shown_char(char) for char in name) for name in parts)


def _shown_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    return char if char.isprintable() else ascii(char)[1:-1]


def _brackets_close(segment: str) -> bool:
    """Whether every `[` of a segment opens a set that closes (fnmatch's rules: `[]]`, `[!]]`)."""
    i = 0
    while i < len(segment):
        if segment[i] == "[":
            j = i + 1
            if j < len(segment) and segment[j] == "!":
                j += 1
            if j < len(segment) and segment[j] == "]":
                j += 1
            close = segment.find("]", j)
            if close < 0:
                return False
            i = close
        i += 1
    return True
