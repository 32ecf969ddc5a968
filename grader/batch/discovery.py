"""Finding a class's submissions and naming each one's reports.

A folder (searched recursively) or a glob pattern names the submissions; each gets a stem its
reports are named after (`alice`, `week1__alice`), readable where it can be and unique whatever
the set of files: the mapping is one-to-one (see `_unique_stems`), so no student can overwrite
another's report, whatever their file names.
"""

from __future__ import annotations

import glob
import hashlib
import stat
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".ipynb", ".py")
RESERVED_STEMS = ("index", "gradebook", "junit", "gradescope", "final-scores")
WINDOWS_DEVICES = frozenset(
    ("con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10)))
)
DISAMBIGUATOR = "~"
UNSAFE_IN_NAMES = frozenset('/\\:*?"<>|' + DISAMBIGUATOR)
MAX_READABLE_BYTES = 100
SHORT_HASH = 8
SKIPPED_FOLDERS = (".ipynb_checkpoints", "__pycache__", ".git", ".keys", ".artifacts")


@dataclass(frozen=True)
class Found:
    """One submission file, the unique stem its reports are named after, and its path from the batch's root.

    `relative` is the folders and file name as the file system gave them (never a string split on
    separators again), for `--rubric-for` and a rubric's `match:` (`grader.rubric.globs`).
    """

    stem: str
    path: Path
    relative: tuple[str, ...]


def discover(target: str, out_dir: Path) -> list[Found]:
    """The submissions a folder (searched recursively) or a glob pattern names, with unique stems."""
    path = Path(target)
    if path.is_dir():
        base = path
        candidates = [p for p in path.rglob("*") if p.suffix in SUFFIXES]
    elif path.is_file():
        base = path.parent
        candidates = [path]
    else:
        base = Path(_static_prefix(target))
        candidates = [Path(p) for p in glob.glob(target, recursive=True) if Path(p).suffix in SUFFIXES]
    out = out_dir.resolve()
    files = sorted(
        {
            p
            for p in candidates
            if _not_a_folder(p)
            and not any(
                part in SKIPPED_FOLDERS or part.startswith(".") for part in p.relative_to(base).parts[:-1]
            )
            and not _through_a_linked_folder(p, base)
            and out not in p.resolve().parents
        }
    )
    return _unique_stems(files, base)


def _not_a_folder(path: Path) -> bool:
    """Anything but a folder, looked at without following a link.

    A link, a FIFO or a device is kept, so that reading it refuses it by name in the student's row
    (`grader.grading.submission`), rather than leaving the student out without a word.
    """
    try:
        return not stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _through_a_linked_folder(path: Path, base: Path) -> bool:
    """Whether a folder between the batch's root and `path` is a link (`mallory/` pointing at `alice/`).

    A folder search never enters one; a `**` pattern would, and would hand one student's files in
    under another's name.
    """
    folder = base
    for part in path.relative_to(base).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            return True
    return False


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard (stems are made relative to it)."""
    parts = Path(pattern).parts
    fixed = parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]
    return str(Path(*fixed)) if fixed else "."


@dataclass(frozen=True)
class _Named:
    """A submission on its way to a stem: its exact identity, and the readable stem it would like."""

    path: Path
    identity: str
    readable: str


def _unique_stems(files: list[Path], base: Path) -> list[Found]:
    """Report names, one per file, distinct even on a case-insensitive, normalising file system.

    Readable where it can be: `alice` for `alice.ipynb`, `week1__alice` for `week1/alice.ipynb`.
    Files whose readable stems are equal once case and Unicode form are folded away (`week1/alice.py`
    and `week1__alice.py`; `Carol.py` and `carol.py`; `josé` in NFC and in NFD), or that would take
    a class output's name (`index`, `x.error`), get a suffix after `~`, which no readable stem
    contains: their extension where that tells them apart (`alice~ipynb`, `alice~py`), otherwise a
    short hash of their exact relative path. The result depends only on the set of files.
    """
    named = [_Named(path, _identity(path, base), _readable_stem(path, base)) for path in files]
    groups: dict[str, list[_Named]] = {}
    for item in named:
        groups.setdefault(_fold(item.readable), []).append(item)
    stems: dict[Path, str] = {}
    for members in groups.values():
        if len(members) == 1 and not _is_reserved(members[0].readable):
            stems[members[0].path] = members[0].readable
            continue
        for item, suffix in zip(members, _disambiguators(members), strict=True):
            stems[item.path] = f"{item.readable}{DISAMBIGUATOR}{suffix}"
    folded = {item.path: _fold(stems[item.path]) for item in named}
    taken = Counter(folded.values())
    for item in named:
        if taken[folded[item.path]] > 1:
            stems[item.path] = f"_{DISAMBIGUATOR}{_digest(item.identity)}"
    return [Found(stem=stems[path], path=path, relative=_relative_parts(path, base)) for path in files]


def _disambiguators(members: list[_Named]) -> list[str]:
    """The extension of each file, where the group's extensions differ; else a hash of each path."""
    extensions = [_safe_part(item.path.suffix.lstrip(".")) for item in members]
    if all(extensions) and len({_fold(e) for e in extensions}) == len(members):
        return extensions
    digests = [_digest(item.identity) for item in members]
    short = [digest[:SHORT_HASH] for digest in digests]
    return short if len(set(short)) == len(members) else digests


def _identity(path: Path, base: Path) -> str:
    """The exact relative path, which tells any two files apart; a NUL marks one outside the base."""
    if path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return "\0" + path.as_posix()


def _relative_parts(path: Path, base: Path) -> tuple[str, ...]:
    """The folders and name of `path` below the batch's root; its name alone for a file outside it."""
    return path.relative_to(base).parts if path.is_relative_to(base) else (path.name,)


def _digest(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


def _readable_stem(path: Path, base: Path) -> str:
    """Folders and file stem joined by `__`, each part file-system safe, at most MAX_READABLE_BYTES."""
    relative = path.relative_to(base) if path.is_relative_to(base) else Path(path.name)
    joined = "__".join(_safe_part(part) for part in (*relative.parts[:-1], relative.stem))
    return joined.encode()[:MAX_READABLE_BYTES].decode(errors="ignore") or "_"


def _safe_part(part: str) -> str:
    """One part of a path in NFC, with `_` for anything unsafe in a file name or on a terminal.

    Unsafe: path separators and the characters Windows forbids, control, format and unassigned
    characters, line breaks and unusual spaces, the disambiguator (and what folds to it), and a
    leading dot, dash or space (a hidden file, an option, an invisible name).
    """
    text = "".join("_" if _unsafe(char) else char for char in unicodedata.normalize("NFC", part))
    if text[:1] in (".", "-", " "):
        text = "_" + text[1:]
    return text[:-1] + "_" if text.endswith(" ") else text


def _unsafe(char: str) -> bool:
    return (
        char in UNSAFE_IN_NAMES
        or unicodedata.category(char).startswith("C")
        or (char.isspace() and char != " ")
        or DISAMBIGUATOR in _fold(char)
    )


def _is_reserved(stem: str) -> bool:
    """A stem whose files would be a class output, an error row, or a Windows device name."""
    folded = _fold(stem)
    return folded in RESERVED_STEMS or folded.endswith(".error") or folded.split(".")[0] in WINDOWS_DEVICES


def _fold(text: str) -> str:
    """What a case-insensitive, Unicode-normalising file system (macOS, Windows) sees as the same name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
