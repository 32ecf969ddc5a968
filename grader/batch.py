"""Grading a whole class: find the submissions, skip what is already graded, grade the rest in parallel.

A submission is graded at most once per (its bytes, its rubric and the files the rubric reads, the
grader's version, the limits): these are hashed into a key kept beside the result in
`<out>/.keys/<stem>.key`, written only after the result itself, so an interrupted batch loses
nothing already graded and a re-run skips it. Reading the submission and finding its rubric happen here, in the parent, because they are
cheap and their errors (broken JSON, an unknown exercise) become that student's row at once;
only the kernel and the model measurement go to the executor (`grader.executors`).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from grader import __version__, datasets, sandbox
from grader.errors import ExitCode, GradingError, SandboxUnavailable
from grader.executors import Executor, Task, TaskOutcome
from grader.grade import Overrides, resolve_rubric
from grader.gradebook import BatchEntry, Failure, write_class_outputs
from grader.late import LatePolicy, Penalty, modification_times
from grader.prelude import submitted_files
from grader.report import plain, write_reports
from grader.result import GradeResult
from grader.roster import Roster
from grader.rubric import LoadedRubric, load_rubric
from grader.submission import load_submission

SUFFIXES = (".ipynb", ".py")
INTERRUPTED = 130
RESERVED_STEMS = ("index", "gradebook", "junit", "gradescope")
WINDOWS_DEVICES = frozenset(
    ("con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10)))
)
DISAMBIGUATOR = "~"
UNSAFE_IN_NAMES = frozenset('/\\:*?"<>|' + DISAMBIGUATOR)
MAX_READABLE_BYTES = 100
SHORT_HASH = 8
MAX_ERROR_CHARS = 500
SKIPPED_FOLDERS = (".ipynb_checkpoints", "__pycache__", ".git", ".keys")


class BatchSettings(BaseModel):
    """Everything about a batch that is the same for every submission in it."""

    model_config = ConfigDict(frozen=True)

    rubric_path: Path | None
    rubrics_dir: Path
    overrides: Overrides
    out_dir: Path
    force: bool = False
    gpus: tuple[str, ...] = ()
    spare_kernels: bool | None = None
    roster: Roster | None = None
    starter_code: tuple[str, ...] = ()
    due: datetime | None = None
    late_penalty: Penalty | None = None


@dataclass(frozen=True)
class Found:
    """One submission file and the unique stem its reports are named after."""

    stem: str
    path: Path


@dataclass(frozen=True)
class BatchSummary:
    graded: int
    unchanged: int
    failed: int
    grader_failures: int
    entries: tuple[BatchEntry, ...]
    workers: dict[str, tuple[float, float]]
    kernel_waits: tuple[tuple[bool, float], ...] = ()


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
            if p.is_file()
            and not any(
                part in SKIPPED_FOLDERS or part.startswith(".") for part in p.relative_to(base).parts[:-1]
            )
            and out not in p.resolve().parents
        }
    )
    return _unique_stems(files, base)


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
    return [Found(stem=stems[path], path=path) for path in files]


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


def rubric_fingerprint(loaded: LoadedRubric) -> bytes:
    """The rubric's bytes and those of every file it reads, so that changing any of them regrades.

    That is the files it hands out (`files:`) and its held-out data (an `.npz` beside it, or the
    scikit-learn or Keras file a source names).
    """
    base = loaded.path.parent
    inputs = [base / name for name in loaded.rubric.files] + [
        datasets.source_file(check.accuracy.data, base) for check in loaded.rubric.checks if check.accuracy
    ]
    digest = hashlib.sha256(loaded.path.read_bytes())
    for path in inputs:
        digest.update(b"\0" + str(path).encode() + b"\0")
        if path is not None and path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.digest()


def result_key(
    submission: bytes, rubric: bytes, overrides: Overrides, attachments: tuple[tuple[str, bytes], ...] = ()
) -> str:
    """sha256 over the submission's bytes and the files beside it, the rubric's fingerprint, the grader's version and the limits."""
    digest = hashlib.sha256()
    for part in (
        hashlib.sha256(submission).hexdigest(),
        *(f"{name}:{hashlib.sha256(content).hexdigest()}" for name, content in attachments),
        hashlib.sha256(rubric).hexdigest(),
        __version__,
        overrides.model_dump_json(),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


class ResultStore:
    """The out folder: results, their keys, and the rows of students who could not be graded."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.keys = out_dir / ".keys"
        self.keys.mkdir(parents=True, exist_ok=True)

    def is_current(self, stem: str, key: str) -> bool:
        key_file = self.keys / f"{stem}.key"
        result = self.out_dir / f"{stem}.json"
        if not (key_file.is_file() and result.is_file()):
            return False
        try:
            if key_file.read_text(encoding="utf-8").strip() != key:
                return False
            GradeResult.from_file(result)
        except (ValueError, OSError):
            return False
        return True

    def save_result(self, stem: str, key: str, result_json: str) -> None:
        """Reports first, the key last: a key on disk always means a complete result beside it."""
        write_reports(GradeResult.model_validate_json(result_json), self.out_dir, stem)
        _atomic_write(self.keys / f"{stem}.key", key + "\n")
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


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def plan(found: Iterable[Found], settings: BatchSettings) -> list[Task | Failure]:
    """A task per submission that needs grading, or that student's failure row if it cannot be read."""
    fixed_rubric = load_rubric(settings.rubric_path) if settings.rubric_path is not None else None
    fingerprints: dict[Path, bytes] = {}
    planned: list[Task | Failure] = []
    for item in found:
        try:
            submission = load_submission(item.path)
            loaded = fixed_rubric or resolve_rubric(submission, None, settings.rubrics_dir)
            payload = item.path.read_bytes()
            attachments = tuple(
                (path.name, path.read_bytes()) for path in submitted_files(item.path, loaded.rubric)
            )
            if loaded.path not in fingerprints:
                fingerprints[loaded.path] = rubric_fingerprint(loaded)
        except GradingError as exc:
            failure = Failure.from_error(item.stem, item.path.name, exc)
            planned.append(
                failure.model_copy(
                    update={"message": failure.message.replace(str(item.path), item.path.name)}
                )
            )
            continue
        except OSError as exc:
            planned.append(
                Failure(
                    stem=item.stem,
                    submission=item.path.name,
                    kind="submission",
                    message=f"{item.path}: cannot read ({exc.strerror})",
                    exit_code=4,
                )
            )
            continue
        planned.append(
            Task(
                stem=item.stem,
                name=item.path.name,
                payload=payload,
                attachments=attachments,
                rubric_path=str(loaded.path.resolve()),
                rubric_label=str(loaded.path),
                overrides=settings.overrides,
                key=result_key(payload, fingerprints[loaded.path], settings.overrides, attachments),
                gpus=bool(settings.gpus),
            )
        )
    return planned


def run_batch(
    found: list[Found], settings: BatchSettings, executor: Executor, console: Console
) -> BatchSummary:
    """Grade what changed, keep what did not, and write the class outputs from the JSON on disk."""
    planned = plan(found, settings)
    store = ResultStore(settings.out_dir)
    failures: dict[str, Failure] = {}
    graded: set[str] = set()
    workers: dict[str, tuple[float, float]] = {}
    kernel_waits: list[tuple[bool, float]] = []
    to_grade: list[Task] = []
    unchanged: list[str] = []
    for item in planned:
        if isinstance(item, Failure):
            _fail(item, store, failures, console)
        elif not settings.force and store.is_current(item.stem, item.key):
            unchanged.append(item.stem)
        else:
            to_grade.append(item)
    if unchanged:
        console.print(
            f"{len(unchanged)} unchanged since the last run (use --force to regrade)", highlight=False
        )
    with Progress(
        TextColumn("[bold]grading[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
        console=console,
        transient=False,
        disable=not to_grade,
    ) as progress:
        bar = progress.add_task("", total=len(to_grade))
        for outcome in executor.run(to_grade):
            _record(outcome, store, failures, graded, progress.console)
            if outcome.worker:
                workers[outcome.worker] = (outcome.worker_peak_mb, outcome.kernel_peak_mb)
            if outcome.kernel_wait_s is not None:
                kernel_waits.append((outcome.kernel_prestarted, outcome.kernel_wait_s))
            progress.update(bar, advance=1, description=outcome.stem)
    entries = _class_entries(store, failures)
    outputs = write_class_outputs(
        settings.out_dir,
        entries,
        roster=settings.roster,
        late=LatePolicy(due=settings.due, penalty=settings.late_penalty),
        submitted_at=modification_times((item.stem, item.path) for item in found),
        starter_code=settings.starter_code,
    )
    for notice in outputs.notices:
        _say(console, plain(notice))
    return BatchSummary(
        graded=len(graded),
        unchanged=len(unchanged),
        failed=len(failures),
        grader_failures=sum(1 for f in failures.values() if f.kind == "grader"),
        entries=entries,
        workers=workers,
        kernel_waits=tuple(kernel_waits),
    )


def _record(
    outcome: TaskOutcome, store: ResultStore, failures: dict[str, Failure], graded: set[str], console: Console
) -> None:
    """Save one student's outcome and say so; never raises.

    Whatever goes wrong here (writing or rendering the report, reading the result back, printing a
    line that quotes what the kernel reported) becomes that student's error row: one student must
    not stop the rest of the class from being graded, nor the gradebook from being written.
    """
    if outcome.failure is not None:
        _fail(outcome.failure, store, failures, console)
        return
    try:
        if outcome.result_json is None:
            raise ValueError("the worker sent back neither a result nor a failure")
        result = GradeResult.model_validate_json(outcome.result_json)
        store.save_result(outcome.stem, outcome.key, outcome.result_json)
        console.print(
            Text.assemble(
                ("✔", "green"),
                " ",
                plain(outcome.stem),
                f": {result.score:g}/{result.max_score:g} ({result.run.duration_s:.1f} s on ",
                plain(result.run.device),
                ")",
            ),
            highlight=False,
        )
    except Exception as exc:
        failure = Failure(
            stem=outcome.stem,
            submission=outcome.submission,
            kind="grader",
            message=f"the grader could not record this submission's result ({type(exc).__name__}: "
            f"{str(exc)[:MAX_ERROR_CHARS]}); this is a bug in the grader, not in the submission",
            hint="re-run the batch; if it fails again, report it with the submission and the rubric",
            exit_code=int(ExitCode.GRADER_FAILURE),
        )
        _fail(failure, store, failures, console)
        return
    graded.add(outcome.stem)


def _fail(failure: Failure, store: ResultStore, failures: dict[str, Failure], console: Console) -> None:
    """A student's error row: saved, kept for the class outputs even if saving fails, and said."""
    failures[failure.stem] = failure
    try:
        store.save_failure(failure.stem, failure)
    except OSError as exc:
        _say(console, plain(f"  (the error row of {failure.stem} could not be saved: {exc})", "magenta"))
    _say(console, Text.assemble(("!", "magenta"), " ", plain(failure.stem), ": ", plain(failure.message)))


def _class_entries(store: ResultStore, failures: dict[str, Failure]) -> tuple[BatchEntry, ...]:
    """Every student in the out folder; this run's failures are their rows, even where saving one failed."""
    found = {entry.stem: entry for entry in store.entries()}
    found.update({stem: BatchEntry(stem, failure.submission, failure) for stem, failure in failures.items()})
    return tuple(found[stem] for stem in sorted(found))


def _say(console: Console, text: Text) -> None:
    """A line about the batch; a terminal that cannot show it gets it ASCII-escaped, or not at all.

    The rows are on disk and in the gradebook whatever the terminal does, so printing never stops a batch.
    """
    try:
        console.print(text, highlight=False, soft_wrap=True)
    except Exception:
        escaped = text.plain.encode("ascii", "backslashreplace").decode("ascii")
        with contextlib.suppress(Exception):
            console.print(Text(escaped), highlight=False, soft_wrap=True)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI job cancelled, `kill`) stops a batch the way Ctrl-C does."""
    raise KeyboardInterrupt


def parse_gpus(value: str | None, *, detect: bool = True) -> tuple[str, ...]:
    """`--gpus all` (every GPU nvidia-smi lists) or `--gpus 0,1`; raises a usage error otherwise.

    Without `detect` (a Ray cluster, whose GPUs are on other machines) `all` stays `("all",)`:
    Ray, not this machine, knows which GPUs there are.
    """
    if value is None:
        return ()
    if value.strip() == "all" and not detect:
        return ("all",)
    if value.strip() == "all":
        found = _visible_gpus()
        if not found:
            raise click.BadParameter("no GPU found (nvidia-smi lists none)", param_hint="--gpus")
        return found
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    if not ids or not all(part.isdigit() for part in ids):
        raise click.BadParameter(f"{value!r}: expected `all` or GPU numbers like 0,1", param_hint="--gpus")
    return ids


def _visible_gpus() -> tuple[str, ...]:
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return ()
    try:
        listing = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU "))


def batch_command(
    target: str,
    settings: BatchSettings,
    *,
    jobs: int | None,
    executor_name: str,
    address: str | None,
) -> int:
    """`grade batch`: the whole class, then one summary line; returns the exit code."""
    from grader.executors import LocalExecutor, RayExecutor

    stderr = Console(stderr=True, highlight=False)
    if settings.overrides.sandbox == "require":
        problem = sandbox.bwrap_problem()
        if problem:
            raise SandboxUnavailable(
                f"cannot sandbox the kernels: {problem}", hint="install bubblewrap, or drop --require-sandbox"
            )
    found = discover(target, settings.out_dir)
    if not found:
        raise click.UsageError(f"no submissions (.ipynb or .py) found in {target}")
    workers = jobs or os.cpu_count() or 1
    executor: Executor = (
        RayExecutor(address, workers, settings.gpus)
        if executor_name == "ray"
        else LocalExecutor(
            workers,
            settings.gpus,
            spare_kernels=spare_kernels_by_default(workers, settings.gpus)
            if settings.spare_kernels is None
            else settings.spare_kernels,
        )
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_batch(found, settings, executor, stderr)
    except KeyboardInterrupt:
        kept = len(list((settings.out_dir / ".keys").glob("*.key")))
        _say(
            stderr,
            plain(f"interrupted: {kept} results are kept in {settings.out_dir}; run again to grade the rest"),
        )
        return INTERRUPTED
    _say(
        Console(highlight=False),
        plain(
            f"{len(found)} submissions: {summary.graded} graded, {summary.unchanged} unchanged, "
            f"{summary.failed} could not be graded · class summary: {settings.out_dir / 'index.html'}"
        ),
    )
    if summary.workers:
        stderr.print(
            f"peak memory per worker: {max(w for w, _ in summary.workers.values()):.0f} MB grader side, "
            f"{max(k for _, k in summary.workers.values()):.0f} MB largest kernel ({len(summary.workers)} workers)"
        )
    if summary.kernel_waits:
        stderr.print(kernel_wait_line(summary.kernel_waits))
    return int(ExitCode.GRADER_FAILURE) if summary.grader_failures else int(ExitCode.GRADED)


def spare_kernels_by_default(workers: int, gpus: tuple[str, ...]) -> bool:
    """Spare kernels pay where they find idle CPU to boot on: beside GPU workers, or when -j leaves a core free.

    Measured on 2 cores with notebooks that train (docs/performance.md): `-j 1` took 0.73x as long
    with spares, but `-j 2` took 1.07-1.11x as long, the spares' start-up competing with the
    training kernels (lowering their priority did not help).
    """
    return bool(gpus) or workers < (os.cpu_count() or 1)


def kernel_wait_line(waits: tuple[tuple[bool, float], ...]) -> str:
    """How long workers waited for their kernels to answer, split by started-ahead or launched on demand."""

    def mean(values: list[float]) -> str:
        return f"{sum(values) / len(values):.2f} s" if values else "-"

    ahead = [wait for prestarted, wait in waits if prestarted]
    on_demand = [wait for prestarted, wait in waits if not prestarted]
    return (
        f"kernels: {len(ahead)} of {len(waits)} started ahead of need; mean wait for a kernel to answer "
        f"{mean(ahead)} when started ahead, {mean(on_demand)} when launched on demand"
    )
