"""The threat model (docs/security.md), one sample per attack, graded through the real `grade batch`.

Issue 20's classes of attack by a determined student, with the grader running as root the way CI
does: (1) computation the graph walk never visits, (2) links in the submission folder, (3)
attribution by a file's name, (4) hidden checks read by inference, (5) a channel between
students, (6) spreadsheet formulas in names, (7) similarity evaded by aliases, (8) late work
judged from modification times. Each sample under submissions/hostile/ says in its first comment
lines what the old grader did and what is expected now; each false-pass attack has an honest twin
in submissions/hostile/twins/ and may not outscore it.

Two batches: one class holding every new sample with a roster, a due date and the links the
attacks need (made here at run time: symbolic links are awkward to commit), and one class holding
the whole hostile corpus, which must finish with exit 0 and a gradebook row per submission. In it,
the samples that run until a limit stops them (loops, a stalled probe, bombs) are graded by rubrics
whose limits stop them within seconds (`LIMITED`), and their rows say they were stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from grader.render.visibility import for_student
from grader.sandbox.bwrap import bwrap_problem
from tests.conftest import REPO
from tests.test_adversarial import HOSTILE, TWINS, Run, run_cli, write_with_limits

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}"),
]

EXTRA_RUBRIC = Path(__file__).parent / "adversarial" / "digits-mlp-accuracy.yaml"
GATED_RUBRIC = """\
# tests/test_threat_model.py only: a visible check that requires a hidden one.
exercise: gated
title: A visible check gated by a hidden one (threat-model tests)
checks:
  - id: answer
    points: 2
    variable: {name: answer, equals: 4}
  - id: secret
    points: 2
    visibility: hidden
    variable: {name: secret, equals: 7}
  - id: gated
    points: 3
    requires: [secret]
    variable: {name: answer, equals: 4}
"""
MLP_TITLE = "A multilayer perceptron for handwritten digits"
MODEL_CHECKS = ("architecture", "size", "output", "accuracy")

FALSE_PASSES = ("fp-shared-dense", "fp-wrapper-model", "fp-regularizer-model")
FORMULA_NAMES = ("=1+1", "@SUM(A1)")
SIMILAR = ("sim-original", "sim-alias-copy", "sim-from-import-copy")
CHANNELS = ("chan-keyring-a-write", "chan-keyring-b-read", "chan-shared-a-write", "chan-shared-b-read")
SECRETS = ("channel-secret-41d7c2", "channel-secret-9e03aa")
LATE = {"late-mtime-2020": 2020, "late-mtime-future": 2099}
GATES = ("leak-hidden-gate-pass", "leak-hidden-gate-fail")
FLAT = (
    *FALSE_PASSES,
    *FORMULA_NAMES,
    *SIMILAR,
    *CHANNELS,
    *LATE,
    *GATES,
)
ATTRIBUTION = {
    "alice__work": "alice/work.py",
    "mallory__alice": "mallory/alice.py",
    "nobody__alice": "nobody/alice.py",
}
DUE = "2026-12-01T23:59+00:00"
ROSTER = (
    "submission,id,name,email,section,submitted_at\n"
    "alice,s001,Alice Liddell,alice@uni.edu,A,\n"
    "mallory,s002,Mallory Stone,mallory@uni.edu,A,\n"
    '=1+1,s003,"=HYPERLINK(""http://x"",""click"")",+1@x.org,@SUM(A1),\n'
    "@SUM(A1),s004,@SUM(A1),-2+3@x.org,=1+1,\n"
    "late-mtime-2020,s005,Late Twenty,l20@uni.edu,B,2026-12-02T10:00:00+00:00\n"
    "late-mtime-future,s006,Late Future,lfu@uni.edu,B,2026-11-30T10:00:00+00:00\n"
    "bob,s007,Bob Ray,bob@uni.edu,B,\n"
)


@pytest.fixture(scope="module")
def rubrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course's rubrics plus the test rubrics: digits-mlp-accuracy, gated, digits-mlp-checkpoint."""
    folder = tmp_path_factory.mktemp("rubrics") / "rubrics"
    shutil.copytree(REPO / "rubrics", folder)
    shutil.copy(EXTRA_RUBRIC, folder)
    (folder / "gated.yaml").write_text(GATED_RUBRIC, encoding="utf-8")
    mlp = (folder / "digits-mlp.yaml").read_text(encoding="utf-8")
    checkpoint = (
        mlp.replace("exercise: digits-mlp", "exercise: digits-mlp-checkpoint")
        .replace(f"title: {MLP_TITLE}", "title: An MLP with its checkpoint (threat-model tests)")
        .replace("limits:", "training: {checkpoint: model.weights.h5}\nlimits:", 1)
    )
    (folder / "digits-mlp-checkpoint.yaml").write_text(checkpoint, encoding="utf-8")
    return folder


def held_out(rubrics_dir: Path) -> Path:
    return rubrics_dir / "data" / "digits-test.npz"


def build_class(root: Path, rubrics_dir: Path) -> Path:
    """Every new sample, laid out as the attacks need, links made here."""
    folder = root / "class"
    folder.mkdir()
    for name in FLAT:
        shutil.copy(HOSTILE / f"{name}.py", folder / f"{name}.py")
    for name in FALSE_PASSES:
        shutil.copy(TWINS / f"{name}-twin.py", folder / f"{name}-twin.py")
    for relative in ATTRIBUTION.values():
        (folder / relative).parent.mkdir(exist_ok=True)
        shutil.copy(HOSTILE / "attribution" / relative, folder / relative)
    for name, year in LATE.items():
        stamp = datetime(year, 1, 1, tzinfo=UTC).timestamp()
        os.utime(folder / f"{name}.py", (stamp, stamp))
    # (2) links: a submission that is a link to another student's file, one to the rubric, and a
    # checkpoint that is a link to the held-out data (graded with a rubric that names a checkpoint).
    shutil.copy(TWINS / "fp-shared-dense-twin.py", folder / "bob.py")
    (folder / "mallory-link.py").symlink_to(folder / "bob.py")
    (folder / "mallory-rubric.py").symlink_to(rubrics_dir / "digits-mlp.yaml")
    hand_in = folder / "hand-in"
    hand_in.mkdir()
    source = (HOSTILE / "link-checkpoint.py").read_text(encoding="utf-8")
    (hand_in / "link-checkpoint.py").write_text(
        source.replace("exercise=digits-mlp\n", "exercise=digits-mlp-checkpoint\n", 1), encoding="utf-8"
    )
    (hand_in / "model.weights.h5").symlink_to(held_out(rubrics_dir))
    return folder


STEMS = (
    *FLAT,
    *(f"{name}-twin" for name in FALSE_PASSES),
    *ATTRIBUTION,
    "bob",
    "mallory-link",
    "mallory-rubric",
    "hand-in__link-checkpoint",
)


@pytest.fixture(scope="module")
def graded_class(rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("threats")
    folder = build_class(root, rubrics_dir)
    roster = root / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    return run_cli(
        "batch", folder, "--rubrics", rubrics_dir, "--out", root / "out", "-j", "2",
        "--roster", roster, "--due", DUE, "--late-penalty", "10%/day",
        "--cell-timeout", "90", "--timeout", "240",
        out_dir=root / "out", limit=1500,
    )  # fmt: skip


def report(run: Run, stem: str) -> dict[str, Any]:
    error = run.out_dir / f"{stem}.error.json"
    assert not error.exists(), error.read_text(encoding="utf-8")
    return run.report(stem)


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in result["checks"]}


def check(result: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in result["checks"] if c["id"] == check_id)


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def gradebook(run: Run) -> dict[str, dict[str, str]]:
    with (run.out_dir / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def everything_said(run: Run, stem: str) -> str:
    """The student's report as JSON and HTML, and any error row, as one text."""
    parts = [run.out_dir / f"{stem}{suffix}" for suffix in (".json", ".html", ".error.json")]
    return "".join(p.read_text(encoding="utf-8") for p in parts if p.is_file())


def test_the_class_finishes_with_a_row_per_submission(graded_class: Run) -> None:
    graded_class.assert_clean()
    book = gradebook(graded_class)
    shown = {stem if not stem.startswith(("=", "@")) else f"'{stem}" for stem in STEMS}
    assert shown <= set(book), sorted(shown - set(book))


# --- (1) false pass through what the graph walk never visits ----------------------------------------


@pytest.mark.parametrize("attack", FALSE_PASSES)
def test_no_false_pass_scores_more_than_its_honest_twin(graded_class: Run, attack: str) -> None:
    twin = report(graded_class, f"{attack}-twin")
    cheat = report(graded_class, attack)
    assert cheat["score"] <= twin["score"], (cheat["score"], twin["score"], statuses(cheat))
    assert check(cheat, "architecture")["status"] != "pass", check(cheat, "architecture")


def test_one_layer_called_five_times_is_five_rows(graded_class: Run) -> None:
    cheat, twin = report(graded_class, "fp-shared-dense"), report(graded_class, "fp-shared-dense-twin")
    assert statuses(twin) == {"architecture": "pass", "size": "pass", "output": "pass"}
    layers = check(cheat, "architecture")
    names = [(row["actual"] or {}).get("name") for row in layers["layer_rows"]]
    assert [f"shared (call {n})" for n in range(2, 6)] == [n for n in names if n and "(call" in n], names
    assert cheat["score"] < twin["score"]


def test_a_model_inside_a_wrapper_is_listed_and_not_evaluated(graded_class: Run) -> None:
    cheat = report(graded_class, "fp-wrapper-model")
    layers = check(cheat, "architecture")
    assert layers["status"] == "fail" and "Matmul" in layers["message"], layers["message"]
    kinds = {(row["actual"] or {}).get("kind") for row in layers["layer_rows"] if row["status"] == "extra"}
    assert {"model", "op"} <= kinds, layers["layer_rows"]
    accuracy = check(cheat, "accuracy")
    assert accuracy["status"] == "error" and "not evaluated" in accuracy["message"], accuracy


def test_a_model_in_a_regularizer_is_refused_naming_layer_and_setting(graded_class: Run) -> None:
    cheat, twin = (
        report(graded_class, "fp-regularizer-model"),
        report(graded_class, "fp-regularizer-model-twin"),
    )
    assert statuses(twin) == {"architecture": "pass", "size": "pass", "output": "pass"}
    assert all(status != "pass" for status in statuses(cheat).values()), statuses(cheat)
    said = json.dumps(cheat)
    assert "`hidden1`" in said and "`kernel_regularizer`" in said, check(cheat, "architecture")["message"]


# --- (2) links in the submission folder ------------------------------------------------------------


@pytest.mark.parametrize("link", ["mallory-link", "mallory-rubric"])
def test_a_submission_that_is_a_link_is_refused_and_still_has_a_row(graded_class: Run, link: str) -> None:
    row = gradebook(graded_class)[link]
    assert row["status"] != "graded" or float(row["total"] or 0) == 0, row
    said = everything_said(graded_class, link)
    assert "symbolic link" in said, said[:2000]
    assert "exercise: digits-mlp" not in said and "Every layer, its settings" not in said, (
        "the rubric was read"
    )
    assert report(graded_class, "bob")["score"] == 9, "the victim is graded as usual"


def test_a_checkpoint_linked_to_the_held_out_data_does_not_travel(
    graded_class: Run, rubrics_dir: Path
) -> None:
    result = report(graded_class, "hand-in__link-checkpoint")
    output = "".join(cell["output"] for cell in result["run"]["cells"])
    assert "NO CHECKPOINT" in output, output[-2000:]
    assert result["kernel_setup"]["checkpoint_submitted"] is False
    digest = hashlib.sha256(held_out(rubrics_dir).read_bytes()).hexdigest()
    assert digest not in everything_said(graded_class, "hand-in__link-checkpoint")


# --- (3) attribution -------------------------------------------------------------------------------


def canvas_grades(run: Run) -> dict[str, str]:
    """SIS id → the MLP exercise's grade in canvas.csv."""
    table = rows(run.out_dir / "canvas.csv")
    header = table[0]
    column = header.index(MLP_TITLE)
    sis = header.index("SIS User ID")
    return {row[sis]: row[column] for row in table[1:] if row[sis] and "Points Possible" not in row[0]}


def test_a_file_named_after_another_student_is_credited_to_no_one(graded_class: Run) -> None:
    own = report(graded_class, "alice__work")["score"]
    for stem in ("mallory__alice", "nobody__alice"):
        assert report(graded_class, stem)["score"] > own, "the attack must be worth stealing"
        assert gradebook(graded_class)[stem]["id"] not in ("s001", "'s001"), stem
    alice = canvas_grades(graded_class)["s001"]
    assert float(alice) == pytest.approx(own), (alice, own)
    assert float(canvas_grades(graded_class).get("s002") or 0) < 9, "mallory gets no credit for alice's name"


# --- (4) hidden checks by inference ----------------------------------------------------------------


def test_a_hidden_outcome_is_not_readable_from_the_student_view(graded_class: Run) -> None:
    passing, failing = (report(graded_class, stem) for stem in GATES)
    assert passing["score"] != failing["score"], "the instructor's record tells them apart"
    views = []
    for result in (passing, failing):
        view = for_student(result)
        views.append(
            (view.get("score"), view.get("max_score"), [
                {k: v for k, v in c.items() if k not in ("duration_s",)} for c in view["checks"]
            ])
        )  # fmt: skip
    assert views[0] == views[1]


# --- (5) a channel between students ----------------------------------------------------------------


def test_nothing_one_kernel_leaves_reaches_another(graded_class: Run) -> None:
    for reader in ("chan-keyring-b-read", "chan-shared-b-read"):
        result = report(graded_class, reader)
        output = "".join(cell["output"] for cell in result["run"]["cells"])
        assert "NOTHING" in output, output[-2000:]
        said = everything_said(graded_class, reader)
        assert not [secret for secret in SECRETS if secret in said], output[-2000:]


# --- (6) spreadsheet formulas in names -------------------------------------------------------------


def test_no_class_csv_cell_starts_a_formula(graded_class: Run) -> None:
    written = {
        name: rows(graded_class.out_dir / name)
        for name in ("gradebook.csv", "canvas.csv", "moodle.csv", "similarity.csv")
    }
    running = {
        name: [cell for row in table for cell in row if cell.startswith(("=", "+", "@", "\t", "\r"))
               or (cell.startswith("-") and not _number(cell))]
        for name, table in written.items()
    }  # fmt: skip
    assert running == {name: [] for name in written}
    book = gradebook(graded_class)
    for stem in FORMULA_NAMES:
        assert book[f"'{stem}"]["total"] == "9.0" or float(book[f"'{stem}"]["total"]) == 9, book[f"'{stem}"]
    canvas = canvas_grades(graded_class)
    assert float(canvas["s003"]) == 9 and float(canvas["s004"]) == 9


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- (7) similarity evaded by aliases --------------------------------------------------------------


def test_copies_disguised_by_import_aliases_are_flagged(graded_class: Run) -> None:
    table = rows(graded_class.out_dir / "similarity.csv")
    header, body = table[0], table[1:]
    a, b, kind = header.index("student_a"), header.index("student_b"), header.index("kind")
    flagged = {(frozenset((row[a], row[b])), row[kind]) for row in body}
    for copy in ("sim-alias-copy", "sim-from-import-copy"):
        assert (frozenset((copy, "sim-original")), "code-identical") in flagged, flagged
    for stem in SIMILAR:
        assert report(graded_class, stem)["score"] == 9, stem


# --- (8) late work from modification times ---------------------------------------------------------


def test_a_files_modification_time_decides_nothing(graded_class: Run) -> None:
    book = gradebook(graded_class)
    early, future = book["late-mtime-2020"], book["late-mtime-future"]
    assert early["late_days"] == "1" and float(early["penalised_total"]) == pytest.approx(9 * 0.9), early
    assert future["late_days"] == "0" and float(future["penalised_total"]) == 9, future
    assert "roster" in early["submitted_from"] and "roster" in future["submitted_from"], early


# --- the whole hostile corpus in one batch ---------------------------------------------------------


CORPUS_LIMIT_S = 2400
CORPUS_LIMITS = {"timeout": 120, "cell_timeout": 60}
"""The limits the class is graded under: each rubric's own, in the corpus's copy of the rubrics."""
LOOP = {"timeout": 60, "cell_timeout": 5}
MEMORY = {**CORPUS_LIMITS, "memory_mb": 1000}
LIMITED: dict[str, dict[str, int]] = {
    "infinite-loop": LOOP,
    "unstoppable-loop": LOOP,
    "hang-probe-stall": {"timeout": 60, "cell_timeout": 30},
    "memory-bomb": MEMORY,
    "esc-memory-hook": MEMORY,
    "esc-memory-thread": MEMORY,
    "fork-bomb": {**CORPUS_LIMITS, "cell_timeout": 20, "processes": 64},
}
"""Samples that run until a limit stops them, each graded by a conv-dims rubric of its own whose
limits stop it sooner (`--rubric-for`): a loop meets a 5 s cell limit (test_hostile.py uses 3 s), the
stalled probe the probe's 30 s floor, the bombs the limits test_hostile.py and test_adversarial.py
grade them with. The class's other limits are CORPUS_LIMITS."""
STOPPED = {"infinite-loop": "timeout", "unstoppable-loop": "timeout", "memory-bomb": "memory"}


def corpus_rubrics(rubrics_dir: Path, root: Path) -> Path:
    """The threat-model rubrics, each under CORPUS_LIMITS, and a conv-dims rubric per LIMITED sample."""
    folder = root / "rubrics"
    shutil.copytree(rubrics_dir, folder)
    for path in folder.glob("*.yaml"):
        write_with_limits(path, path, CORPUS_LIMITS)
    for sample, limits in LIMITED.items():
        write_with_limits(
            rubrics_dir / "conv-dims.yaml", folder / f"corpus-{sample}.yaml", limits, f"corpus-{sample}"
        )
    return folder


@pytest.fixture(scope="module")
def corpus(rubrics_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, list[str]]:
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "class"
    folder.mkdir()
    samples = [*sorted(HOSTILE.glob("*.py")), *sorted(TWINS.glob("*.py"))]
    for path in samples:
        shutil.copy(path, folder / path.name)
    assert set(LIMITED) <= {path.stem for path in samples}
    routes = [arg for sample in LIMITED for arg in ("--rubric-for", f"{sample}.py=corpus-{sample}")]
    run = run_cli(
        "batch", folder, "--rubrics", corpus_rubrics(rubrics_dir, root), "--out", root / "out", "-j", "2",
        *routes, out_dir=root / "out", limit=CORPUS_LIMIT_S,
    )  # fmt: skip
    return run, [path.stem for path in samples]


def test_the_whole_hostile_corpus_is_one_batch_with_a_row_per_student(corpus: tuple[Run, list[str]]) -> None:
    run, stems = corpus
    assert run.returncode == 0, f"exit {run.returncode} after {run.seconds:.0f} s\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    students = [row["student"] for row in rows_of(run.out_dir / "gradebook.csv")]
    expected = sorted(f"'{s}" if s.startswith(("=", "@")) else s for s in stems)
    assert sorted(students) == expected, (
        sorted(set(expected) - set(students)),
        sorted(set(students) - set(expected)),
    )
    book = {row["student"]: row for row in rows_of(run.out_dir / "gradebook.csv")}
    for sample in LIMITED:
        assert book[sample]["exercise"] == f"corpus-{sample}", book[sample]
    for sample, stopped in STOPPED.items():
        assert book[sample]["stopped"] == stopped, book[sample]


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
