"""Grading a whole class: find the submissions, skip what is already graded, grade the rest in parallel.

A submission is graded at most once per (its bytes, its rubric and the files the rubric reads, the
grader's version, the limits): these are hashed into a key kept beside the result in
`<out>/.keys/<stem>.key`, written only after the result itself, so an interrupted batch loses
nothing already graded and a re-run skips it. Reading the submission and finding its rubric happen here, in the parent, because they are
cheap and their errors (broken JSON, an unknown exercise) become that student's row at once;
only the kernel and the model measurement go to the executor (`grader.executors`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader import __version__, datasets, sandbox
from grader.errors import ExitCode, GradingError, SandboxUnavailable
from grader.executors import Executor, Task, TaskOutcome
from grader.grade import Overrides, resolve_rubric
from grader.gradebook import BatchEntry, Failure, write_class_outputs
from grader.report import write_reports
from grader.result import GradeResult
from grader.rubric import LoadedRubric, load_rubric
from grader.submission import load_submission

SUFFIXES = (".ipynb", ".py")
INTERRUPTED = 130
RESERVED_STEMS = ("index", "gradebook", "junit", "gradescope")
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


def _unique_stems(files: list[Path], base: Path) -> list[Found]:
    """`alice` for `alice.ipynb`; `week1__alice` for a file in a sub-folder; `alice_py` on a clash.

    A stem that would overwrite a class output (`index.ipynb` -> index.html) or read as an error
    row (`x.error.ipynb`) gets a trailing underscore.
    """

    def stem_of(path: Path) -> str:
        relative = path.relative_to(base) if path.is_relative_to(base) else Path(path.name)
        stem = "__".join((*relative.parts[:-1], relative.stem))
        return f"{stem}_" if stem in RESERVED_STEMS or stem.endswith(".error") else stem

    stems = [stem_of(p) for p in files]
    clashes = {s for s in stems if stems.count(s) > 1}
    return [
        Found(stem=f"{s}_{p.suffix.lstrip('.')}" if s in clashes else s, path=p)
        for s, p in zip(stems, files, strict=True)
    ]


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


def result_key(submission: bytes, rubric: bytes, overrides: Overrides) -> str:
    """sha256 over the submission's bytes, the rubric's fingerprint, the grader's version and the limits."""
    digest = hashlib.sha256()
    for part in (
        hashlib.sha256(submission).hexdigest(),
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
        if key_file.read_text(encoding="utf-8").strip() != key:
            return False
        try:
            GradeResult.from_file(result)
        except ValueError:
            return False
        return True

    def save_result(self, stem: str, key: str, result_json: str) -> None:
        """Reports first, the key last: a key on disk always means a complete result beside it."""
        write_reports(GradeResult.model_validate_json(result_json), self.out_dir, stem)
        _atomic_write(self.keys / f"{stem}.key", key + "\n")
        (self.out_dir / f"{stem}.error.json").unlink(missing_ok=True)

    def save_failure(self, stem: str, failure: Failure) -> None:
        """The student's row becomes the failure: an older grade no longer describes their file."""
        (self.keys / f"{stem}.key").unlink(missing_ok=True)
        _atomic_write(self.out_dir / f"{stem}.error.json", failure.model_dump_json(indent=2) + "\n")
        for stale in (f"{stem}.json", f"{stem}.html"):
            (self.out_dir / stale).unlink(missing_ok=True)

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
            except ValueError:
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
                rubric_path=str(loaded.path.resolve()),
                rubric_label=str(loaded.path),
                overrides=settings.overrides,
                key=result_key(payload, fingerprints[loaded.path], settings.overrides),
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
            failures[item.stem] = item
            store.save_failure(item.stem, item)
        elif not settings.force and store.is_current(item.stem, item.key):
            unchanged.append(item.stem)
        else:
            to_grade.append(item)
    for item in planned:
        if isinstance(item, Failure):
            console.print(f"[magenta]![/magenta] {item.stem}: {item.message}", highlight=False)
    if unchanged:
        console.print(
            f"{len(unchanged)} unchanged since the last run (use --force to regrade)", highlight=False
        )
    with Progress(
        TextColumn("[bold]grading[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
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
    entries = store.entries()
    write_class_outputs(settings.out_dir, entries)
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
    failure = outcome.failure
    if failure is None and outcome.result_json is not None:
        try:
            store.save_result(outcome.stem, outcome.key, outcome.result_json)
        except Exception as exc:
            failure = Failure(
                stem=outcome.stem,
                submission=outcome.submission,
                kind="grader",
                message=f"the grader could not write the report ({type(exc).__name__}: {exc}); a grader bug",
                exit_code=int(ExitCode.GRADER_FAILURE),
            )
    if failure is not None:
        failures[outcome.stem] = failure
        store.save_failure(outcome.stem, failure)
        console.print(f"[magenta]![/magenta] {outcome.stem}: {failure.message}", highlight=False)
        return
    graded.add(outcome.stem)
    result = json.loads(outcome.result_json or "{}")
    console.print(
        f"[green]✔[/green] {outcome.stem}: {result['score']:g}/{result['max_score']:g}"
        f" ({result['run']['duration_s']:.1f} s on {result['run']['device']})",
        highlight=False,
    )


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
        stderr.print(
            f"interrupted: {kept} results are kept in {settings.out_dir}; run again to grade the rest"
        )
        return INTERRUPTED
    Console(highlight=False).print(
        f"{len(found)} submissions: {summary.graded} graded, {summary.unchanged} unchanged, "
        f"{summary.failed} could not be graded · class summary: {settings.out_dir / 'index.html'}",
        soft_wrap=True,
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
