"""A batch's out folder: each student's result, the keys that say what it was graded from, and what ran.

A result is kept with two keys (`.keys/<stem>.key`): the **execution key** hashes everything that
decides what runs in the kernel (the submission and the files beside it, the rubric's model,
limits, compatibility layer, seed, training budget, handed-out files and course data, the
variables the probe reads, the command-line settings, the grader's version); the **scoring key**
everything that decides the grade from what ran (the checks, their points, tiers, expected values
and words, and the held-out data). What ran is kept too (`.artifacts/<stem>/`: the execution's
facts and the accepted model files), so when only the scoring key changes, the student is scored
again from it with no kernel started. The key is written last: a key on disk always means a
complete result beside it, and an interrupted batch loses nothing it finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from grader import __version__
from grader.errors import ExitCode
from grader.grading import course, datasets, unmeasured
from grader.grading.grade import Execution, Overrides
from grader.outputs.gradebook import BatchEntry
from grader.render.report import write_reports
from grader.result import Failure, GradeResult
from grader.rubric.model import LoadedRubric

EXECUTION_FIELDS = ("model", "limits", "compat", "seed", "training", "files", "datasets", "assets", "weights")
"""The rubric's keys that change what runs in the kernel; all others change only the scoring."""
KEYS = ".keys"
ARTIFACTS = ".artifacts"
EXECUTION_FILE = "execution.json"
MAX_ERROR_CHARS = 500


class Keys(BaseModel):
    """What a result was graded from: what ran, and what scored it."""

    model_config = ConfigDict(frozen=True)

    execution: str
    scoring: str


def execution_key(
    submission: bytes, attachments: tuple[tuple[str, bytes], ...], loaded: LoadedRubric, overrides: Overrides
) -> str:
    """sha256 over the submission and the files beside it, the rubric's execution part and its files, the settings."""
    rubric = loaded.rubric.model_dump(mode="json")
    part = {key: rubric[key] for key in EXECUTION_FIELDS} | {"variables": list(loaded.rubric.variables)}
    digest = hashlib.sha256()
    for piece in (
        hashlib.sha256(submission).hexdigest(),
        *(f"{name}:{hashlib.sha256(content).hexdigest()}" for name, content in attachments),
        json.dumps(part, sort_keys=True),
        *_file_prints(_execution_files(loaded)),
        __version__,
        overrides.model_dump_json(),
    ):
        digest.update(piece.encode() + b"\0")
    return digest.hexdigest()


def scoring_key(loaded: LoadedRubric) -> str:
    """sha256 over the rubric's scoring part and the held-out data its accuracy checks read."""
    rubric = loaded.rubric.model_dump(mode="json")
    part = {key: value for key, value in rubric.items() if key not in EXECUTION_FIELDS}
    base = loaded.path.parent
    held_out = [datasets.source_file(c.accuracy.data, base) for c in loaded.rubric.checks if c.accuracy]
    digest = hashlib.sha256()
    for piece in (json.dumps(part, sort_keys=True), *_file_prints(held_out), __version__):
        digest.update(piece.encode() + b"\0")
    return digest.hexdigest()


def _execution_files(loaded: LoadedRubric) -> list[Path | None]:
    base = loaded.path.parent
    rubric = loaded.rubric
    found: list[Path | None] = [base / name for name in rubric.files]
    for name, spec in rubric.datasets.items():
        try:
            found.append((base / spec.npz) if spec.npz else course.cache_source(name))
        except datasets.DatasetError:
            found.append(None)
    found += [base / asset.source for asset in rubric.assets]
    found += [course.keras_models_dir() / name for name in rubric.weights]
    return found


def _file_prints(paths: list[Path | None]) -> list[str]:
    """A file's bytes (hashed); a folder's files by size and time (an image tree can be gigabytes)."""
    prints = []
    for path in paths:
        if path is None or not path.exists():
            prints.append(f"{path}:missing")
        elif path.is_file():
            prints.append(f"{path}:{_hash_file(path)}")
        else:
            listing = sorted(
                f"{p.relative_to(path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                for p in path.rglob("*")
                if p.is_file()
            )
            prints.append(f"{path}:{hashlib.sha256(chr(0).join(listing).encode()).hexdigest()}")
    return prints


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResultStore:
    """The out folder: results, their keys, kept executions, and the rows of students who could not be graded."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.keys = out_dir / KEYS
        self.artifacts = out_dir / ARTIFACTS
        self.keys.mkdir(parents=True, exist_ok=True)

    def stored_keys(self, stem: str) -> Keys | None:
        """The keys of the student's complete result on disk, or None (no result, or an unreadable one).

        A result the grader could not measure (`grader.grading.unmeasured`) is never unchanged: its
        scoring key is withheld, so the next batch scores it again from what ran (the inspector
        may have failed for a passing reason: memory, time) instead of keeping the empty grade.
        """
        key_file = self.keys / f"{stem}.key"
        result = self.out_dir / f"{stem}.json"
        try:
            keys = Keys.model_validate_json(key_file.read_text(encoding="utf-8"))
            stored = GradeResult.from_file(result)
        except (ValueError, OSError):
            return None
        if unmeasured.reason(stored.notes) is not None:
            return keys.model_copy(update={"scoring": ""})
        return keys

    def execution(self, stem: str) -> tuple[Execution, Path] | None:
        """What ran for the student last time, and the folder of its model files; None if it was not kept."""
        folder = self.artifacts / stem
        try:
            execution = Execution.model_validate_json((folder / EXECUTION_FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError, ValidationError):
            return None
        if not all((folder / model.file).is_file() for model in execution.models):
            return None
        return execution, folder

    def save_result(
        self, stem: str, keys: Keys, result_json: str, execution: Execution | None = None, models: Any = ()
    ) -> None:
        """Reports, then what ran, then the key: a key on disk always means a complete result beside it.

        `models` are (file name, bytes) of the execution's model files.
        """
        write_reports(GradeResult.model_validate_json(result_json), self.out_dir, stem)
        if execution is not None:
            folder = self.artifacts / stem
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for name, content in models:
                (folder / Path(name).name).write_bytes(content)
            _atomic_write(folder / EXECUTION_FILE, execution.model_dump_json())
        _atomic_write(self.keys / f"{stem}.key", keys.model_dump_json() + "\n")
        (self.out_dir / f"{stem}.error.json").unlink(missing_ok=True)

    def save_failure(self, stem: str, failure: Failure) -> None:
        """The student's row becomes the failure: an older grade no longer describes their file.

        What cannot be removed (a folder where a report should be, the reason the report failed) is
        left: the error row, written first, is what the class outputs read.
        """
        _atomic_write(self.out_dir / f"{stem}.error.json", failure.model_dump_json(indent=2) + "\n")
        for stale in (
            self.keys / f"{stem}.key",
            self.out_dir / f"{stem}.json",
            self.out_dir / f"{stem}.html",
        ):
            with contextlib.suppress(OSError):
                stale.unlink(missing_ok=True)
        shutil.rmtree(self.artifacts / stem, ignore_errors=True)

    def kept(self) -> int:
        """How many complete results are on disk (an interrupted batch keeps them)."""
        return len(list(self.keys.glob("*.key")))

    def entries(self) -> tuple[BatchEntry, ...]:
        """Every student in the out folder, this run's or an earlier one's: the folder is the class."""
        found: dict[str, BatchEntry] = {}
        for path in sorted(self.out_dir.glob("*.json")):
            try:
                if path.name.endswith(".error.json"):
                    failure = Failure.model_validate_json(path.read_text(encoding="utf-8"))
                    found[failure.stem] = BatchEntry(failure.stem, failure.submission, failure)
                else:
                    found[path.stem] = BatchEntry(path.stem, GradeResult.from_file(path).submission)
            except (ValueError, OSError):
                continue
        return tuple(found[stem] for stem in sorted(found))


def grader_failure(stem: str, submission: str, what: str) -> Failure:
    """The row of a student the grader itself failed on: one wording wherever in a batch it failed.

    `what` says where and why (a worker's exception, a dead worker, Ray, Slurm, recording the
    result): it is the grader's bug, never the student's, and the exit code says so.
    """
    return Failure(
        stem=stem,
        submission=submission,
        kind="grader",
        message=f"the grader itself failed ({what}); this is a bug in the grader, not in the submission",
        hint="re-run the batch; if it fails again, report it with the submission and the rubric",
        exit_code=int(ExitCode.GRADER_FAILURE),
    )


def error_text(exc: BaseException) -> str:
    """An exception as a failure row quotes it: its type and its first `MAX_ERROR_CHARS` characters."""
    return f"{type(exc).__name__}: {str(exc)[:MAX_ERROR_CHARS]}"


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
