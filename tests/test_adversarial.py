"""The adversarial corpus (issue #11, item 10): attacks on what the grader trusts, through the real CLI.

Each sample under submissions/hostile/ (prefixes fp-, leak-, hang-, esc-, crash-, batch-, and the
names/ folder) attacks the grader, not the sandbox: what the kernel leaves behind in the artifacts
folder, the model file's computation graph, the numbers the report prints, the terminal, the
batch. Each false-pass attack has an honest twin in submissions/hostile/twins/ (the same visible
network, no trick) and may not score more than it. Most samples are graded in one `grade batch`,
each under its rubric's limits (a sample that needs a limit of its own gets a rubric of its own,
`--rubric-for`); those whose command's output, exit code or environment is the point get a `grade`
of their own (two at a time).

What the grader before the hardening (ca38eb9) did with each sample, observed by running it:

| sample | class | old grader (ca38eb9) |
| --- | --- | --- |
| fp-dup-json-dump | false pass: `model` named twice | 13/13, twin 9/13: layers measured the untrained entry, accuracy evaluated the other |
| fp-dup-hook | false pass: `model` named twice | 13/13, twin 9/13: the same, the entry added by a post_run_cell hook |
| fp-planted-hook | false pass: file not written by the probe | 8/8, twin 4/8: `model` pointed at models/planted.keras, a trained CNN |
| fp-planted-thread | false pass: file not written by the probe | 8/8, twin 4/8: a thread overwrote the probe's file after the probe |
| fp-raw-ops-linear | false pass: raw keras.ops | 7/8, twin 4/8: a ridge classifier in matmul/add ops, invisible to layers |
| fp-raw-ops-mlp | false pass: raw keras.ops | 13/13, twin 9/13: the exact rubric network plus a nearest-neighbour table |
| fp-public-digits-embedded | false pass: public digits table | 8/8 (accuracy 1.000), twin 4/8: the left-out public digits, in the source |
| fp-public-digits-train-file | false pass: public digits table | 8/8 (accuracy 0.986), twin 4/8: the handed-out file as a lookup table |
| fp-public-digits-layers | false pass: public digits table | 8/8 (accuracy 1.000), twin 4/8: the table in the rubric's own layers, 33,420 weights |
| fp-nested-add | false pass: nested model | 9.5/13, twin 9/13: a trained network nested as one opaque row |
| fp-nested-lookup | false pass: nested model | 7.56/8, twin 4/8: raw-op lookup table inside a nested model |
| leak-confusion-pixel | leak: class indices | confusion 27x27: per true digit, the histogram of pixel (3, 3) |
| leak-confusion-ink | leak: class indices | confusion 43x43: per true digit, the histogram of two pixels' sum |
| leak-nan-pixel | leak: NaN index | "NaN ... for 24 of 360 held-out images (the first is image 9)" |
| leak-nan-ink | leak: NaN index | "NaN ... for 4 of 360 held-out images (the first is image 62)" |
| leak-environ-pid1 | leak: environment | as uid 1000: GRADER_CANARY (the whole grader environment) in the report |
| leak-environ-scan | leak: environment | as uid 1000: GRADER_CANARY in the report, from /proc/1/environ |
| hang-fifo-model | hang: FIFO | the grader blocked opening the model file; killed at 150 s |
| hang-fifo-facts | hang: FIFO | facts.json ignored silently (not a regular file): every check "could not be inspected" |
| hang-symlink-fifo | hang: symlink to FIFO | the grader followed the link and blocked; killed at 150 s |
| hang-symlink-device | hang: symlink to device | links followed; /dev/zero "could not be loaded", facts ignored |
| hang-sparse-model | hang: huge sparse file | a 1.5 GiB model file accepted and loaded: 5/5 |
| hang-probe-stall | hang: probe never returns | the grader waited the fixed 180 s probe limit whatever --timeout said |
| hang-slow-scan | hang: slow static scan | the Keras 2 scan of 78 KB of source ran for minutes; killed at 150 s |
| hang-slow-scan-lines | hang: slow static scan | the same with 3,500 generated lines; killed at 150 s |
| esc-facts-symlink-rubric | escape: symlink to grader file | the grader read the rubric as facts.json; every model check "could not be inspected" |
| esc-model-symlink-environ | escape: symlink to /proc/self/environ | the grader opened its own environment as the model ("could not be loaded") |
| esc-keras-zip-traversal | escape: crafted archive | Keras 3.15 refused the config and skipped ../ members: no effect; no refusal either |
| esc-keras-zip-amplify | escape: crafted archive | the grader's loader extracted 2.5 GB into the grader's /tmp from a 2.5 MB file |
| esc-memory-thread | escape: memory after the cells | killed in the probe; the report blamed the probe and never named the limit |
| esc-memory-hook | escape: memory in the probe | the same, from a pre_run_cell hook |
| crash-markup-error | crash: Rich markup | exit 1 with a traceback (MarkupError, raised again by the error handler) |
| crash-markup-answer | crash: Rich markup | exit 1 with a traceback (the check message in the summary table) |
| crash-history-mathtext | crash: mathtext | exit 5, internal error (ParseFatalException): no HTML |
| crash-history-keys | crash: 20,000 history keys | minutes drawing 20,000 curves and legend entries; killed at 150 s |
| crash-huge-output | crash: 2000-unit output | exit 5, internal error (figure too large); a 60 MB JSON, no HTML; in a batch, MemoryError |
| crash-huge-output-random | crash: 2000-unit output | exit 5, internal error; a 59 MB JSON, no HTML |
| batch-device-markup | batch breaker | `grade`: exit 1, traceback; `grade batch`: exit 1 at its progress line, no gradebook.csv |
| batch-leftover-history | batch breaker | the student's row became a grader failure; `grade batch` exit 5 |
| names/ | name collision | 7 reports for 9 files: week1/alice.py and week1__alice.py, bob.py and bob_py.py shared one each |

Each test asserts the contract the grader must meet; every one of them fails on ca38eb9.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pytest

from grader.sandbox.bwrap import bwrap_problem
from tests.conftest import GRADE, REPO

HOSTILE = REPO / "submissions" / "hostile"
TWINS = HOSTILE / "twins"
NAMES = HOSTILE / "names"
EXTRA_RUBRIC = Path(__file__).parent / "adversarial" / "digits-mlp-accuracy.yaml"
TIME_LIMIT_S = 120
KILL_AFTER_S = 150
SCAN_LIMIT_S = 30
BATCH_LIMIT_S = 1500
MAX_RESULT_BYTES = 2 * 1024 * 1024
CLASSES = 10
MODEL_CHECKS = ("architecture", "size", "output", "accuracy", "conv-layer")
UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}"),
]

FALSE_PASSES = (
    "fp-dup-json-dump",
    "fp-dup-hook",
    "fp-planted-hook",
    "fp-planted-thread",
    "fp-raw-ops-linear",
    "fp-raw-ops-mlp",
    "fp-public-digits-embedded",
    "fp-public-digits-train-file",
    "fp-public-digits-layers",
    "fp-nested-add",
    "fp-nested-lookup",
)
MOVED = (
    "crash-history-keys",
    "hang-fifo-model",
    "hang-fifo-facts",
    "hang-symlink-fifo",
    "hang-symlink-device",
    "hang-sparse-model",
    "hang-probe-stall",
    "hang-slow-scan",
    "hang-slow-scan-lines",
    "esc-memory-thread",
    "esc-memory-hook",
)
"""Samples that once had a `grade` of their own: what they attack is the grading of one student
(its time bound: `graded_in_time`), not the command, so the batch grades them."""
IN_BATCH = (
    *FALSE_PASSES,
    *(f"twins/{name}-twin" for name in FALSE_PASSES),
    "leak-confusion-pixel",
    "leak-confusion-ink",
    "leak-nan-pixel",
    "leak-nan-ink",
    "crash-history-mathtext",
    "crash-huge-output",
    "crash-huge-output-random",
    "esc-facts-symlink-rubric",
    "esc-model-symlink-environ",
    "esc-keras-zip-traversal",
    "esc-keras-zip-amplify",
    *MOVED,
)
BATCH_LIMITS = {"timeout": 240, "cell_timeout": 90}
"""The limits the batch grades under, set in every rubric of its copy of the rubrics (limits on the
command line would override the per-sample rubrics' own)."""
OWN_LIMITS: dict[str, dict[str, int]] = {
    "hang-sparse-model": {"disk_mb": 2048},
    "hang-probe-stall": {"timeout": 60, "cell_timeout": 30},
    "esc-memory-thread": {"memory_mb": 1000},
    "esc-memory-hook": {"memory_mb": 1000},
}
"""Samples graded in the batch by a copy of their rubric with these limits on top of BATCH_LIMITS:
the sparse file needs room to be written, the stalled probe meets the probe's 30 s floor
(`min(cell_timeout, timeout)`), the memory attacks a 1000 MB limit the report must name."""


# ---------------------------------------------------------------------------------------------
# Running the CLI


@dataclass(frozen=True)
class Run:
    """One `grade` or `grade batch` process: its exit code (None when killed), output, wall time."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    out_dir: Path

    def report(self, stem: str) -> dict[str, Any]:
        path = self.out_dir / f"{stem}.json"
        assert path.is_file(), (
            f"no {path.name} (exit {self.returncode}, {self.seconds:.0f} s; "
            f"{sorted(p.name for p in self.out_dir.glob('*.json')) if self.out_dir.is_dir() else 'no out dir'})"
            f"\n{self.stderr[-3000:]}"
        )
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def html(self, stem: str) -> str:
        path = self.out_dir / f"{stem}.html"
        assert path.is_file(), f"no {path.name}\n{self.stderr[-3000:]}"
        return path.read_text(encoding="utf-8")

    def assert_clean(self) -> None:
        """Exit 0 within the time bound, and no sign of the grader failing on stderr."""
        assert self.returncode is not None, f"killed after {self.seconds:.0f} s\n{self.stderr[-3000:]}"
        assert self.returncode == 0, f"exit {self.returncode}\n{self.stderr[-3000:]}"
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert "internal error" not in self.stderr, self.stderr[-3000:]


def run_cli(
    *args: str | Path,
    out_dir: Path,
    limit: float,
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Run:
    """Run `grade ARGS` from the repository root; past `limit` seconds its whole process group is killed."""
    command = [*prefix, str(GRADE), *map(str, args)]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=limit)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the kernels die with it (bwrap --die-with-parent)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stdout, stderr = "", "(no output: a process outside the group kept the pipes open)"
        code = None
    return Run(code, stdout, stderr, time.monotonic() - started, out_dir)


@pytest.fixture(scope="module")
def rubrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course's rubrics, plus digits-mlp-accuracy (layers and accuracy in one rubric) beside them."""
    folder = tmp_path_factory.mktemp("rubrics") / "rubrics"
    shutil.copytree(REPO / "rubrics", folder)
    shutil.copy(EXTRA_RUBRIC, folder)
    return folder


def sample(name: str) -> Path:
    return HOSTILE / f"{name}.py"


def stem_of(name: str) -> str:
    return PurePath(name).name


# ---------------------------------------------------------------------------------------------
# One batch for most samples


def write_with_limits(
    source: Path, target: Path, limits: dict[str, int], exercise: str | None = None
) -> None:
    """The rubric at `source`, `limits` set in its `limits:` as the command line's options would set
    them (its other limits kept), and its exercise id replaced by `exercise`, at `target`."""
    from ruamel.yaml import YAML

    yaml = YAML()
    rubric = yaml.load(source.read_text(encoding="utf-8"))
    rubric["limits"] = {**(rubric.get("limits") or {}), **limits}
    if exercise is not None:
        rubric["exercise"] = exercise
        rubric["title"] = f"{rubric['title']} ({exercise})"
    with target.open("w", encoding="utf-8") as handle:
        yaml.dump(rubric, handle)


def batch_rubrics(rubrics_dir: Path, root: Path) -> tuple[Path, list[str]]:
    """The rubrics under BATCH_LIMITS, a copy of its rubric per OWN_LIMITS sample, and the
    `--rubric-for` options that route each such sample to its copy."""
    folder = root / "rubrics"
    shutil.copytree(rubrics_dir, folder)
    for path in folder.glob("*.yaml"):
        write_with_limits(path, path, BATCH_LIMITS)
    routes = []
    for name, limits in OWN_LIMITS.items():
        exercise = re.search(r"^# grader: exercise=(\S+)$", sample(name).read_text(encoding="utf-8"), re.M)
        assert exercise is not None, name
        write_with_limits(folder / f"{exercise[1]}.yaml", folder / f"adv-{name}.yaml", limits, f"adv-{name}")
        routes += ["--rubric-for", f"{name}.py=adv-{name}"]
    return folder, routes


@pytest.fixture(scope="module")
def batch(rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The samples that need no run of their own, graded as one class (stems: the file names)."""
    root = tmp_path_factory.mktemp("batch")
    (root / "class").mkdir()
    for name in IN_BATCH:
        shutil.copy(sample(name), root / "class" / f"{stem_of(name)}.py")
    rubrics, routes = batch_rubrics(rubrics_dir, root)
    return run_cli(
        "batch", root / "class", "--rubrics", rubrics, "--out", root / "out", "-j", "2", *routes,
        out_dir=root / "out", limit=BATCH_LIMIT_S,
    )  # fmt: skip


def graded(batch: Run, name: str) -> dict[str, Any]:
    """The sample's result from the batch; a grader failure (an error row) fails the test."""
    stem = stem_of(name)
    error = batch.out_dir / f"{stem}.error.json"
    assert not error.exists(), error.read_text(encoding="utf-8")
    return batch.report(stem)


def graded_in_time(batch: Run, name: str) -> dict[str, Any]:
    """The sample's result, graded under its own rubric's limits and within TIME_LIMIT_S: the sum
    of its stages, from asking for a kernel to writing the report (what a `grade` of its own did
    within that bound, less the process's start)."""
    result = graded(batch, name)
    exercise = f"adv-{name}" if name in OWN_LIMITS else None
    assert exercise is None or result["exercise"] == exercise, (result["exercise"], exercise)
    stages = result["run"]["stages"]
    seconds = sum(
        value
        for key, value in stages.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and not key.endswith("_mb")
    )
    assert seconds < TIME_LIMIT_S, f"{name} took {seconds:.0f} s: {stages}"
    return result


def check(result: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in result["checks"] if c["id"] == check_id)


def all_notes(result: dict[str, Any]) -> list[str]:
    return [*result.get("notes", ()), *result["run"].get("notes", ())]


def assert_refused(result: dict[str, Any], *reason: str) -> None:
    """A note says `refused` and gives the reason; no check that needs the model passes."""
    notes = all_notes(result)
    assert any("refused" in note and all(word in note for word in reason) for note in notes), notes
    for entry in result["checks"]:
        if entry["id"] in MODEL_CHECKS:
            assert entry["status"] != "pass", entry


@pytest.mark.parametrize("attack", FALSE_PASSES)
def test_no_attack_scores_more_than_its_honest_twin(batch: Run, attack: str) -> None:
    twin = graded(batch, f"twins/{attack}-twin")
    cheat = graded(batch, attack)
    assert cheat["score"] <= twin["score"], (
        f"{attack}: {cheat['score']} > twin {twin['score']}",
        [(c["id"], c["status"], c["message"][:200]) for c in cheat["checks"]],
    )


@pytest.mark.parametrize("attack", ["fp-dup-json-dump", "fp-dup-hook"])
def test_facts_naming_a_model_twice_are_refused_and_one_model_is_graded(batch: Run, attack: str) -> None:
    """Three defences stand in the way, and whichever stops the attack first must say so: the probe
    serialises with `json.dumps` (a patched `json.dump` never sees the facts), the printed manifest
    gives away facts.json rewritten afterwards, and facts naming `model` twice are refused
    (tests/test_artifacts.py crafts that file directly)."""
    result = graded(batch, attack)
    notes = [note for note in all_notes(result) if "refused" in note]
    if notes:
        assert any("twice" in note or "changed after the probe wrote it" in note for note in notes), notes
    else:
        assert check(result, "architecture")["status"] == "pass", "the probe saved the visible `model`"
    layers, accuracy = check(result, "architecture"), check(result, "accuracy")
    reached = bool(accuracy.get("metrics")) and any(t["reached"] for t in accuracy["metrics"]["tiers"])
    assert not (layers["status"] == "pass" and reached), "the untrained layers and a trained model's accuracy"


@pytest.mark.parametrize("attack", ["fp-planted-hook", "fp-planted-thread"])
def test_a_model_file_the_probe_did_not_write_is_refused(batch: Run, attack: str) -> None:
    """Both samples also rewrite any size/SHA-256 manifest in facts.json: only one kept out of the
    student's reach (e.g. sent in the probe cell's own output) can tell their file from the probe's."""
    assert_refused(graded(batch, attack), "not written by the probe")


@pytest.mark.parametrize(
    "attack",
    ["fp-raw-ops-linear", "fp-raw-ops-mlp", "fp-public-digits-embedded", "fp-public-digits-train-file"],
)
def test_raw_operations_fail_the_layer_check_and_are_not_evaluated(batch: Run, attack: str) -> None:
    result = graded(batch, attack)
    layers = check(result, "architecture")
    assert layers["status"] == "fail", layers
    assert "operation" in layers["message"] and "Matmul" in layers["message"], layers["message"]
    extra_ops = [
        row
        for row in layers["layer_rows"]
        if row["status"] == "extra" and (row["actual"] or {}).get("kind") == "op"
    ]
    assert extra_ops, layers["layer_rows"]
    accuracy = check(result, "accuracy")
    assert accuracy["status"] == "error" and "not evaluated" in accuracy["message"], accuracy


def test_raw_operations_inside_a_nested_model_are_found(batch: Run) -> None:
    result = graded(batch, "fp-nested-lookup")
    layers = check(result, "architecture")
    assert layers["status"] == "fail", layers
    assert "Matmul" in json.dumps(layers), layers["message"]
    assert any((row["actual"] or {}).get("kind") in ("op", "model") for row in layers["layer_rows"])
    accuracy = check(result, "accuracy")
    assert accuracy["status"] == "error" and "not evaluated" in accuracy["message"], accuracy


def test_a_nested_model_is_a_row_of_the_layer_table(batch: Run) -> None:
    layers = check(graded(batch, "fp-nested-add"), "architecture")
    assert layers["status"] == "fail", layers
    nested = [row for row in layers["layer_rows"] if (row["actual"] or {}).get("kind") == "model"]
    assert nested and all(row["status"] == "extra" for row in nested), layers["layer_rows"]


def assert_bounded_metrics(metrics: dict[str, Any]) -> None:
    """One row and column per class of the held-out labels; predictions outside them only counted."""
    confusion = metrics["confusion"]
    assert len(confusion) == CLASSES and all(len(row) == CLASSES for row in confusion), [
        len(r) for r in confusion
    ]
    assert all(0 <= entry["label"] < CLASSES for entry in metrics["per_class"]), metrics["per_class"]
    assert len(metrics["other"]) == CLASSES
    assert sum(map(sum, confusion)) + sum(metrics["other"]) == metrics["samples"]


@pytest.mark.parametrize("attack", ["leak-confusion-pixel", "leak-confusion-ink"])
def test_predicted_class_indices_cannot_read_held_out_data_back(batch: Run, attack: str) -> None:
    metrics = check(graded(batch, attack), "accuracy")["metrics"]
    assert metrics is not None
    assert_bounded_metrics(metrics)
    assert sum(metrics["other"]) == metrics["samples"], "every prediction was a class index past 9"


@pytest.mark.parametrize("attack", ["leak-nan-pixel", "leak-nan-ink"])
def test_nan_scores_do_not_name_a_held_out_image(batch: Run, attack: str) -> None:
    result = graded(batch, attack)
    accuracy = check(result, "accuracy")
    assert accuracy["status"] != "pass" and "NaN" in accuracy["message"], accuracy
    for said in (*(c["message"] for c in result["checks"]), *all_notes(result)):
        assert not re.search(r"\bimages? (number |no\.? |#)?\d+\b|the first is", said), said


def test_a_history_key_that_is_broken_mathtext_is_shown_as_text(batch: Run) -> None:
    """Shown as text: on the page, or kept in the result and drawn (as text) in the curves' legend."""
    key = r"$\notacommand{$"
    result = graded(batch, "crash-history-mathtext")
    page = batch.html("crash-history-mathtext")
    assert page.lower().startswith("<!doctype html>")
    metrics = check(result, "accuracy")["metrics"]
    assert metrics is not None
    drawn = key in (metrics.get("history") or {}) and 'alt="training' in page
    assert drawn or key in page or "could not be drawn" in page


@pytest.mark.parametrize("attack", ["crash-huge-output", "crash-huge-output-random"])
def test_a_2000_unit_output_layer_keeps_the_report_small(batch: Run, attack: str) -> None:
    stem = stem_of(attack)
    result = graded(batch, attack)
    assert (batch.out_dir / f"{stem}.json").stat().st_size < MAX_RESULT_BYTES
    assert batch.html(stem).lower().startswith("<!doctype html>")
    metrics = check(result, "accuracy")["metrics"]
    if metrics is not None:
        assert_bounded_metrics(metrics)


@pytest.mark.parametrize("attack", ["esc-facts-symlink-rubric", "esc-model-symlink-environ"])
def test_artifacts_that_are_symbolic_links_are_refused(batch: Run, attack: str) -> None:
    result = graded(batch, attack)
    assert_refused(result, "symbolic link")
    assert "PATH=" not in json.dumps(result) + batch.html(stem_of(attack))


@pytest.mark.parametrize("attack", ["esc-keras-zip-traversal", "esc-keras-zip-amplify"])
def test_a_crafted_keras_archive_is_refused(batch: Run, attack: str) -> None:
    """Rewritten after the probe with its manifest, so no in-band manifest tells it from the probe's:
    what gives it away is the archive itself (members Keras never writes: `../` paths, ten 250 MiB
    `assets/padding-*`), which the grader can check before anything unpacks it."""
    result = graded(batch, attack)
    assert_refused(result)
    assert not list(Path("/tmp").glob("grader-victim-*"))


def test_the_batch_itself_stays_clean(batch: Run) -> None:
    batch.assert_clean()
    with (batch.out_dir / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        students = [row["student"] for row in csv.DictReader(handle)]
    assert sorted(students) == sorted(stem_of(name) for name in IN_BATCH)


# ---------------------------------------------------------------------------------------------
# Samples graded on their own: time, exit code, environment


@dataclass(frozen=True)
class Job:
    sample: str
    args: tuple[str, ...] = ()
    unprivileged: bool = False


SINGLES: dict[str, Job] = {
    "crash-markup-error": Job("crash-markup-error"),
    "crash-markup-answer": Job("crash-markup-answer"),
    "batch-device-markup": Job("batch-device-markup"),
    "leak-environ-pid1": Job("leak-environ-pid1", unprivileged=True),
    "leak-environ-scan": Job("leak-environ-scan", unprivileged=True),
}


def unprivileged_problem() -> str | None:
    """Why the grader cannot be run as uid 1000 in a user namespace here, or None."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    try:
        done = subprocess.run(
            [*UNPRIVILEGED, "id", "-u"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.stdout.strip() == "1000" else f"unshare: {done.stderr.strip()[:200]}"


class Singles:
    """The single runs the selected tests need, two at a time, started as soon as the module starts."""

    def __init__(self, wanted: list[str], folder: Path, rubrics_dir: Path) -> None:
        self.folder = folder
        self.rubrics_dir = rubrics_dir
        self.canary = f"grader-canary-{uuid.uuid4().hex}"
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures: dict[str, Future[Run]] = {name: self.pool.submit(self._grade, name) for name in wanted}

    def _grade(self, name: str) -> Run:
        job = SINGLES[name]
        out_dir = self.folder / name
        unprivileged = job.unprivileged
        return run_cli(
            sample(job.sample),
            "--rubrics",
            self.rubrics_dir,
            "--out",
            out_dir,
            *job.args,
            out_dir=out_dir,
            limit=KILL_AFTER_S,
            prefix=UNPRIVILEGED if unprivileged else (),
            env={"GRADER_CANARY": self.canary} if unprivileged else None,
        )

    def __getitem__(self, name: str) -> Run:
        if name not in self.futures:
            self.futures[name] = self.pool.submit(self._grade, name)
        return self.futures[name].result()


@pytest.fixture(scope="module")
def singles(
    request: pytest.FixtureRequest, rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Singles]:
    wanted = [
        str(item.callspec.params["single"])
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and hasattr(item, "callspec")
        and "single" in item.callspec.params
    ]
    runs = Singles(list(dict.fromkeys(wanted)), tmp_path_factory.mktemp("singles"), rubrics_dir)
    yield runs
    runs.pool.shutdown(wait=True, cancel_futures=True)


def finished(singles: Singles, name: str) -> Run:
    run = singles[name]
    run.assert_clean()
    assert run.seconds < TIME_LIMIT_S, f"{name} took {run.seconds:.0f} s"
    return run


@pytest.mark.parametrize("single", ["crash-markup-error", "crash-markup-answer", "batch-device-markup"])
def test_rich_markup_from_the_kernel_is_printed_as_text(singles: Singles, single: str) -> None:
    run = finished(singles, single)
    run.report(single)
    assert run.html(single).lower().startswith("<!doctype html>")
    if single != "batch-device-markup":
        assert "[/x]" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("hang-fifo-model", "FIFO"),
        ("hang-fifo-facts", "FIFO"),
        ("hang-symlink-fifo", "symbolic link"),
        ("hang-symlink-device", "symbolic link"),
        ("hang-sparse-model", "larger than"),
    ],
)
def test_artifacts_that_could_hang_the_grader_are_refused_at_once(
    batch: Run, attack: str, reason: str
) -> None:
    assert_refused(graded_in_time(batch, attack), reason)


def test_a_probe_that_never_returns_is_bounded_by_the_notebooks_own_limits(batch: Run) -> None:
    result = graded_in_time(batch, "hang-probe-stall")
    assert any("probe" in note for note in all_notes(result)), all_notes(result)


@pytest.mark.parametrize("attack", ["hang-slow-scan", "hang-slow-scan-lines"])
def test_a_long_source_is_scanned_in_time(batch: Run, attack: str) -> None:
    """The scan runs after the kernel, outside the stages `graded_in_time` adds up: it is timed here
    too, on the same file, as the grader runs it."""
    result = graded_in_time(batch, attack)
    assert result["score"] == result["max_score"], [(c["id"], c["status"]) for c in result["checks"]]
    from grader.grading import migration
    from grader.grading.submission import load_submission

    cells = load_submission(sample(attack)).cells
    began = time.monotonic()
    migration.scan(cells)
    assert time.monotonic() - began < SCAN_LIMIT_S


def test_thousands_of_history_keys_keep_the_report_small(batch: Run) -> None:
    graded_in_time(batch, "crash-history-keys")
    assert (batch.out_dir / "crash-history-keys.json").stat().st_size < MAX_RESULT_BYTES
    assert batch.html("crash-history-keys").lower().startswith("<!doctype html>")


@pytest.mark.parametrize("attack", ["esc-memory-thread", "esc-memory-hook"])
def test_memory_used_in_the_graders_probe_is_stopped_and_named(batch: Run, attack: str) -> None:
    result = graded_in_time(batch, attack)
    said = [*all_notes(result), *(cell.get("hint") or "" for cell in result["run"]["cells"])]
    assert any("1000 MB" in text for text in said), said
    assert all(c["status"] != "pass" for c in result["checks"] if c["id"] == "conv-layer")


@pytest.mark.skipif(unprivileged_problem() is not None, reason=f"{unprivileged_problem()}")
@pytest.mark.parametrize("single", ["leak-environ-pid1", "leak-environ-scan"])
def test_the_graders_environment_is_not_readable_from_the_sandbox(singles: Singles, single: str) -> None:
    run = finished(singles, single)
    result = run.report(single)
    output = "".join(cell["output"] for cell in result["run"]["cells"])
    assert ("PID1" if single.endswith("pid1") else "LEAKED") in output, "the sample did not run"
    assert singles.canary not in json.dumps(result) + run.html(single)


# ---------------------------------------------------------------------------------------------
# Batch breakers: each among honest students


BREAKERS = ("batch-device-markup", "batch-leftover-history")
HONEST = {
    "pool-dims-script": REPO / "submissions" / "pool-dims-script.py",
    "fp-planted-hook-twin": TWINS / "fp-planted-hook-twin.py",
}


@pytest.fixture(scope="module")
def breakers(rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("breakers")
    (root / "class").mkdir()
    for name in BREAKERS:
        shutil.copy(sample(name), root / "class")
    for stem, path in HONEST.items():
        shutil.copy(path, root / "class" / f"{stem}.py")
    return run_cli(
        "batch",
        root / "class",
        "--rubrics",
        rubrics_dir,
        "--out",
        root / "out",
        "-j",
        "2",
        "--cell-timeout",
        "90",
        out_dir=root / "out",
        limit=BATCH_LIMIT_S,
    )


def test_a_class_with_batch_breakers_is_graded_to_the_end(breakers: Run) -> None:
    breakers.assert_clean()
    with (breakers.out_dir / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted([*BREAKERS, *HONEST]), rows
    for stem in (*BREAKERS, *HONEST):
        assert breakers.html(stem).lower().startswith("<!doctype html>")
    assert breakers.report("pool-dims-script")["score"] == 5
    assert rows["fp-planted-hook-twin"]["status"] == "graded"


# ---------------------------------------------------------------------------------------------
# Names that collide


def write_names_class(folder: Path) -> list[str]:
    """names/ as committed, plus the copies whose names only case or Unicode normalisation tells apart."""
    shutil.copytree(NAMES, folder)
    shutil.copy(folder / "carol.py", folder / "Carol.py")
    for form in ("NFC", "NFD"):
        shutil.copy(folder / "jose.py", folder / unicodedata.normalize(form, "josé.py"))
    (folder / "jose.py").unlink()
    return [path.name for path in folder.rglob("*") if path.suffix in (".py", ".ipynb")]


@pytest.fixture(scope="module")
def names(rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, list[str]]:
    root = tmp_path_factory.mktemp("names")
    files = write_names_class(root / "class")
    run = run_cli(
        "batch",
        root / "class",
        "--rubrics",
        rubrics_dir,
        "--out",
        root / "out",
        "-j",
        "2",
        out_dir=root / "out",
        limit=BATCH_LIMIT_S,
    )
    return run, files


def folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def test_every_submission_gets_its_own_report_and_row(names: tuple[Run, list[str]]) -> None:
    run, files = names
    run.assert_clean()
    reports = [
        path
        for path in run.out_dir.glob("*.json")
        if not path.name.endswith(".error.json")
        and "submission" in json.loads(path.read_text(encoding="utf-8"))
    ]
    assert len(reports) == len(files) == 9, sorted(p.name for p in reports)
    stems = [path.stem for path in reports]
    assert len({folded(stem) for stem in stems}) == len(stems), (
        f"stems equal but for case or normalisation: {stems}"
    )
    for stem in stems:
        assert (run.out_dir / f"{stem}.html").is_file()
    submitted = Counter(
        unicodedata.normalize("NFC", PurePath(run.report(s)["submission"]).name) for s in stems
    )
    assert submitted == Counter(unicodedata.normalize("NFC", name) for name in files)
    with (run.out_dir / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        students = [row["student"] for row in csv.DictReader(handle)]
    assert len(students) == len(files) and len({folded(s) for s in students}) == len(files), students
