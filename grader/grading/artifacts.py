"""Reading what the kernel left behind, as hostile input.

The artifacts folder is writable by the student's code, so anything in it may be crafted: a
symlink to a grader-side file or a device, a FIFO that blocks a reader for ever, a sparse file of
terabytes, a facts.json that names one variable twice so that two checks grade two different
models. This module reads it only after the kernel is gone, without ever blocking or following a
link: every entry is `lstat`ed (through directory file descriptors, so no path component can be
swapped), anything but a regular file or a folder is refused, files are opened with
`O_NOFOLLOW | O_NONBLOCK` and read with a byte bound. What is accepted is exactly what the probe's
manifest accounts for: facts.json and the `.keras` files it lists, in the folder the grader made
for the probe, with the size and SHA-256 the probe recorded. Each accepted model is copied into a
grader-owned snapshot, the one file both measured and evaluated. Everything refused becomes a
sentence in the report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grader import text
from grader.grading.probe import (
    DEVICE,
    FACTS_FILE,
    HISTORY_KEY_CHARS,
    HISTORY_POINTS,
    HISTORY_SERIES,
    MAX_FACTS_BYTES,
    ProbedModel,
    ProbeFacts,
    ProbeManifest,
)

log = logging.getLogger(__name__)
MIB = 1024 * 1024
MAX_MODEL_BYTES = 1024 * MIB
MAX_ENTRIES = 1000
MAX_ARCHIVE_MEMBERS = 1000
KERAS_MEMBERS = frozenset(
    ("metadata.json", "config.json", "model.weights.h5", "model.weights.npz", "assets/")
)
MAX_DEPTH = 6
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class Refused(Exception):
    """One artifact the grader will not use; the message is the reason, in words for the report."""


@dataclass(frozen=True)
class ModelFile:
    """A saved model the grader accepted: its grader-owned copy, and what the probe said it was."""

    variable: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Artifacts:
    """What the grader accepted of the kernel's leftovers, and a sentence for each thing it refused."""

    facts: ProbeFacts | None
    models: dict[str, ModelFile]
    refusals: tuple[str, ...] = ()

    @classmethod
    def empty(cls) -> Artifacts:
        return cls(facts=None, models={})


def collect(
    folder: Path, probe_folder: str | None, snapshot: Path, manifest: ProbeManifest | None
) -> Artifacts:
    """Read `folder` (the kernel's artifacts, the kernel shut down) into `snapshot` (grader-owned).

    `probe_folder` is the name of the sub-folder the grader made for the probe (None when the probe
    did not run): only facts.json and the models it lists, inside it, are accepted, and only as
    the probe's `manifest` (printed on its own cell's output) describes them.
    """
    refusals: list[str] = []
    opened: list[int] = []
    try:
        found = dict(_walk(folder, refusals, opened))
        return _accept(found, probe_folder, snapshot, refusals, manifest)
    except OSError as exc:
        return Artifacts(facts=None, models={}, refusals=(f"refused the artifacts folder: {exc.strerror}",))
    finally:
        for fd in opened:
            os.close(fd)


def _accept(
    found: dict[str, _Entry],
    probe_folder: str | None,
    snapshot: Path,
    refusals: list[str],
    manifest: ProbeManifest | None,
) -> Artifacts:
    """Keep what the probe's manifest accounts for; refuse the rest."""
    prefix = f"{probe_folder}/" if probe_folder else None
    facts_path = f"{prefix}{FACTS_FILE}" if prefix else None
    facts = None
    if facts_path is not None and facts_path in found:
        try:
            raw = found[facts_path].read(MAX_FACTS_BYTES)
            if manifest is None:
                raise Refused(
                    "the probe's manifest did not arrive on its output, so nothing it wrote is trusted"
                )
            if hashlib.sha256(raw).hexdigest() != manifest.facts_sha256:
                raise Refused(
                    "it was changed after the probe wrote it (its hash is not the one the probe printed)"
                )
            facts = _facts(raw, refusals)
        except Refused as exc:
            refusals.append(f"refused {facts_path}: {exc}")
    models: dict[str, ModelFile] = {}
    listed: set[str] = set()
    if facts is not None and prefix is not None:
        snapshot.mkdir(parents=True, exist_ok=True)
        accepted = []
        for entry in facts.models:
            if entry.file is None:
                accepted.append(entry)
                continue
            relative = prefix + entry.file
            listed.add(relative)
            try:
                if relative not in found:
                    raise Refused("the probe listed it, but it is not there")
                printed = (
                    next((m for m in manifest.models if m.file == entry.file), None) if manifest else None
                )
                if printed is None or (printed.variable, printed.bytes, printed.sha256) != (
                    entry.variable,
                    entry.bytes,
                    entry.sha256,
                ):
                    raise Refused(
                        "not written by the probe (it is not the file the probe's printed manifest names)"
                    )
                models[entry.variable] = _snapshot(found[relative], entry, snapshot)
                accepted.append(entry)
            except Refused as exc:
                refusals.append(f"refused {relative}: {exc}")
                accepted.append(entry.model_copy(update={"file": None, "error": f"refused: {exc}"[:500]}))
        facts = facts.model_copy(update={"models": tuple(accepted)})
    for relative in sorted(set(found) - listed - ({facts_path} if facts_path else set())):
        refusals.append(f"refused {relative}: not written by the probe (it is not in the probe's manifest)")
    for refusal in refusals:
        log.info("%s", refusal)
    return Artifacts(facts=facts, models=models, refusals=tuple(refusals))


@dataclass(frozen=True)
class _Entry:
    """A regular file found under the artifacts folder: opened again, by its folder's descriptor, to read."""

    folder_fd: int
    name: str
    size: int

    def read(self, limit: int) -> bytes:
        with self.open() as fd:
            chunks = []
            total = 0
            while total <= limit:
                block = os.read(fd, min(1 << 20, limit + 1 - total))
                if not block:
                    break
                chunks.append(block)
                total += len(block)
        if total > limit:
            raise Refused(f"larger than the {limit // MIB or 1} MB limit")
        return b"".join(chunks)

    @contextmanager
    def open(self) -> Iterator[int]:
        try:
            fd = os.open(self.name, FILE_FLAGS, dir_fd=self.folder_fd)
        except OSError as exc:
            raise Refused(f"cannot be opened ({exc.strerror})") from None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise Refused(f"not a regular file ({_kind(mode)})")
            yield fd
        finally:
            os.close(fd)


def _walk(folder: Path, refusals: list[str], opened: list[int]) -> Iterator[tuple[str, _Entry]]:
    """Every regular file under `folder` (relative path, entry); everything else refused, nothing followed.

    The folders' descriptors stay open (in `opened`, for the caller to close) so that each file is
    opened again through its own folder's descriptor.
    """
    root = os.open(folder, DIRECTORY_FLAGS)
    opened.append(root)
    pending: list[tuple[int, str, int]] = [(root, "", 0)]
    seen = 0
    while pending:
        fd, prefix, depth = pending.pop()
        for name in sorted(os.listdir(fd)):
            seen += 1
            relative = prefix + name
            if seen > MAX_ENTRIES:
                refusals.append(f"refused everything after {MAX_ENTRIES} entries of the artifacts folder")
                return
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                if depth >= MAX_DEPTH:
                    refusals.append(f"refused {relative}/: folders nested too deep")
                    continue
                try:
                    child = os.open(name, DIRECTORY_FLAGS, dir_fd=fd)
                except OSError as exc:
                    refusals.append(f"refused {relative}/: {exc.strerror}")
                    continue
                opened.append(child)
                pending.append((child, relative + "/", depth + 1))
            elif stat.S_ISREG(info.st_mode):
                yield relative, _Entry(fd, name, info.st_size)
            else:
                refusals.append(f"refused {relative}: not a regular file ({_kind(info.st_mode)})")


def _kind(mode: int) -> str:
    return next((name for test, name in KINDS if test(mode)), "not a file")


def _facts(raw: bytes, refusals: list[str]) -> ProbeFacts:
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise Refused(f"not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise Refused("not a JSON object")
    data = text.clean_json(data)
    _bound(data, refusals)
    try:
        facts = ProbeFacts.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Refused(f"does not validate ({where}: {first['msg']})"[:300]) from None
    for field, values in (
        ("variable", [m.variable for m in facts.models]),
        ("file", [m.file for m in facts.models if m.file]),
    ):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise Refused(f"it names the model {field} `{twice[0]}` twice")
    return facts


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"it names `{twice[0][:100]}` twice")
    return dict(pairs)


def _bound(data: dict[str, Any], refusals: list[str]) -> None:
    """Cut what may legitimately be long (training histories) to the bounds, and a forged device to 'unknown'."""
    device = data.get("device")
    if isinstance(device, str) and not _matches(DEVICE, device):
        data["device"] = "CPU"
        refusals.append("refused the device name the kernel reported (not a plain device name); shown as CPU")
    models = data.get("models")
    for model in models if isinstance(models, list) else []:
        if not isinstance(model, dict) or not isinstance(model.get("history"), dict):
            continue
        history = model["history"]
        if len(history) > HISTORY_SERIES or any(
            len(str(k)) > HISTORY_KEY_CHARS or not isinstance(v, list) or len(v) > HISTORY_POINTS
            for k, v in history.items()
        ):
            name = str(model.get("variable", "?"))[:100]
            refusals.append(
                f"cut the training history of `{name}` to {HISTORY_SERIES} series of {HISTORY_POINTS:,} points"
            )
            model["history"] = {
                str(k)[:HISTORY_KEY_CHARS]: v[:HISTORY_POINTS] if isinstance(v, list) else v
                for k, v in list(history.items())[:HISTORY_SERIES]
            }


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _snapshot(found: _Entry, entry: ProbedModel, snapshot: Path) -> ModelFile:
    """Copy one model file into the grader's snapshot, checking it against the probe's manifest."""
    if entry.sha256 is None or entry.bytes is None:
        raise Refused("not written by the probe (the probe's manifest gives no size and hash for it)")
    if found.size > MAX_MODEL_BYTES:
        raise Refused(f"larger than the {MAX_MODEL_BYTES // MIB} MB limit")
    target = snapshot / f"{entry.variable}.keras"
    digest = hashlib.sha256()
    size = 0
    with found.open() as fd, open(target, "wb") as out:
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            size += len(block)
            if size > MAX_MODEL_BYTES:
                raise Refused(f"larger than the {MAX_MODEL_BYTES // MIB} MB limit")
            digest.update(block)
            out.write(block)
    if size != entry.bytes or digest.hexdigest() != entry.sha256:
        target.unlink(missing_ok=True)
        raise Refused("not written by the probe (its size or hash differs from the probe's manifest)")
    try:
        _check_archive(target)
    except Refused:
        target.unlink(missing_ok=True)
        raise
    return ModelFile(variable=entry.variable, path=target, sha256=entry.sha256, size=size)


def _check_archive(path: Path) -> None:
    """A `.keras` file is a zip of what Keras writes: config, metadata, weights (and assets); refuse the rest.

    Read from the zip's central directory only, before anything is unpacked: a crafted archive
    can hold other members, paths that climb out of a folder, or a few megabytes that unpack to
    gigabytes.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Refused(f"not a Keras archive ({str(exc)[:100]})") from None
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise Refused(f"not a Keras archive the probe could have written ({len(members)} members)")
    for member in members:
        name = member.filename
        if name not in KERAS_MEMBERS and not (name.startswith("assets/") and ".." not in name.split("/")):
            raise Refused(f"not a Keras archive the probe could have written (it holds {name[:100]!r})")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_MODEL_BYTES:
        raise Refused(f"it unpacks to {unpacked // MIB:,} MB, over the {MAX_MODEL_BYTES // MIB} MB limit")
