"""A grade the grader could not measure is `unmeasured` in every class output, never a silent 0.

Fast: a class written as `grade batch` leaves it (canonical JSON on disk), one student's model
unmeasured, read back the way each consumer reads it. Slow: `grade.score_execution` on a model file the
real inspector cannot load, which is where the mark comes from.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from grader.batch.engine import Graded
from grader.batch.store import Keys, ResultStore
from grader.cli.batch_view import BatchView
from grader.grading import grade, unmeasured
from grader.grading.probe import ProbeFacts
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import read_roster
from grader.result import CellOutcome, GradeResult, KernelSetup, RunFacts
from grader.rubric.model import load_rubric
from grader.text import plain
from tests.conftest import REPO

REASON = "`model`: the inspector ran out of memory (limit 2048 MB) while loading the model"
TITLE = "Dimensionality of a convolutional layer"


def result(submission: str, score: float, *, measured: bool = True) -> GradeResult:
    status = "pass" if measured else "error"
    message = "ok" if measured else REASON
    return GradeResult.model_validate(
        {
            "submission": submission,
            "exercise": "conv-dims",
            "title": TITLE,
            "rubric": "rubrics/conv-dims.yaml",
            "score": score,
            "max_score": 5,
            "checks": [
                {
                    "id": "conv-layer",
                    "kind": "layers",
                    "status": status,
                    "points": score,
                    "max_points": 5,
                    "message": message,
                },
            ],
            "run": {"duration_s": 1.0, "device": "CPU", "sandboxed": True, "failing_cells": [], "cells": []},
            "notes": [] if measured else [unmeasured.note(REASON)],
            "grader_version": "test",
        }
    )


@pytest.fixture
def out(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "submission,id,name,email,section\nann,s1,Ann,ann@uni.edu,A\nbob,s2,Bob,bob@uni.edu,A\n",
        encoding="utf-8",
    )
    folder = tmp_path / "out"
    folder.mkdir()
    entries = []
    for stem, graded in (("ann", result("ann.ipynb", 5)), ("bob", result("bob.ipynb", 0, measured=False))):
        (folder / f"{stem}.json").write_text(graded.to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, graded.submission))
    outputs = write_class_outputs(folder, entries, roster=read_roster(roster))
    return folder, outputs.notices


def test_the_gradebook_says_unmeasured_with_no_total_and_why(out: tuple[Path, tuple[str, ...]]) -> None:
    folder, _ = out
    with (folder / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert (rows["ann"]["status"], rows["ann"]["total"]) == ("graded", "5.0")
    bob = rows["bob"]
    assert (bob["status"], bob["total"], bob["conv-layer"], bob["max_score"]) == ("unmeasured", "", "", "5.0")
    assert bob["error"] == f"not measured: {REASON}"


def test_lms_exports_leave_the_grade_empty(out: tuple[Path, tuple[str, ...]]) -> None:
    folder, _ = out
    with (folder / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        canvas = list(csv.reader(handle))
    assert [row[2] for row in canvas[2:]] == ["s1"], "no row for bob: an empty grade, not a 0"
    with (folder / "moodle.csv").open(newline="", encoding="utf-8") as handle:
        moodle = list(csv.reader(handle))
    assert moodle[1:] == [["s1", "ann@uni.edu", "Ann", "5"]]


def test_junit_and_gradescope_report_it_as_unmeasured_with_no_score(
    out: tuple[Path, tuple[str, ...]],
) -> None:
    folder, _ = out
    suite = next(s for s in ET.parse(folder / "junit.xml").getroot() if s.get("name") == "bob")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (properties["status"], properties["score"]) == ("unmeasured", "")
    error = next(e for e in suite.iter("error") if e.get("type") == "unmeasured")
    assert REASON in (error.get("message") or "")
    results = json.loads((folder / "gradescope" / "bob" / "results.json").read_text())
    assert "score" not in results and results["tests"] == []
    assert results["extra_data"] == {"status": "unmeasured", "reason": REASON}
    assert "the grader's failure, not your submission's" in results["output"]


def test_the_class_summary_lists_it_and_does_not_count_it_as_graded(
    out: tuple[Path, tuple[str, ...]],
) -> None:
    folder, notices = out
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "2 submissions · 1 graded · 1 not measured (no grade) · 0 could not be graded" in page
    listed = page.split("<h2>Not measured: no grade</h2>")[1].split("<h2>")[0]
    assert "bob" in listed and "ran out of memory" in listed and "ann" not in listed
    assert "mean 100.0%" in page, "the class mean leaves the unmeasured student out"
    (line,) = [n for n in notices if n.startswith("unmeasured:")]
    assert "could not measure 1 submission(s)" in line and "bob" in line


def test_terminal_codes_are_taken_out_of_kept_errors() -> None:
    bold = (
        "The \x1b[1mpadding\x1b[0m argument must be one of {'same', 'valid'}. \x1b]0;title\x07Received: nope"
    )
    assert plain(bold) == "The padding argument must be one of {'same', 'valid'}. Received: nope"
    facts = RunFacts(
        duration_s=1,
        device="CPU",
        sandboxed=True,
        failing_cells=(1,),
        cells=(
            CellOutcome(
                number=1,
                source="x",
                status="error",
                error_name="\x1b[31mValueError\x1b[0m",
                error_value=bold,
                traceback=f"ValueError: {bold}",
            ),
        ),
    )
    (kept,) = grade.plain_errors(facts).cells
    assert "\x1b" not in f"{kept.error_name}{kept.error_value}{kept.traceback}"
    assert kept.error_name == "ValueError"


@pytest.mark.slow
def test_a_model_the_inspector_cannot_load_is_unmeasured_not_zero(tmp_path: Path) -> None:
    """The real inspector, handed a file that is no Keras archive: the grade is marked, its reason kept."""
    loaded = load_rubric(REPO / "rubrics" / "conv-dims.yaml")
    payload = b"PK\x03\x04 not really a zip"
    (tmp_path / "model.keras").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    facts = ProbeFacts.model_validate(
        {
            "models": [
                {
                    "variable": "model",
                    "class": "Sequential",
                    "built": True,
                    "file": "models/model.keras",
                    "bytes": len(payload),
                    "sha256": digest,
                }
            ]
        }
    )
    execution = grade.Execution(
        submission="bob.ipynb",
        run=RunFacts(duration_s=1, device="CPU", sandboxed=False, failing_cells=(), cells=()),
        probe=facts,
        models=(grade.StoredModel(variable="model", file="model.keras", sha256=digest, size=len(payload)),),
        kernel_setup=KernelSetup(seed=0),
    )
    graded = grade.score_execution(
        execution, loaded, tmp_path, grade.Overrides(sandbox="off"), sandboxed_inspector=False
    )
    why = unmeasured.reason(graded.notes)
    assert why is not None and why.startswith("`model`: ")
    assert "\x1b" not in why
    assert all(check.status == "error" for check in graded.checks if check.id == "conv-layer")


def test_an_unmeasured_result_is_never_kept_as_unchanged(tmp_path: Path) -> None:
    """The next batch scores it again from what ran, rather than keep the grader's failure."""
    store = ResultStore(tmp_path)
    keys = Keys(execution="e" * 64, scoring="s" * 64)
    store.save_result("ann", keys, result("ann.ipynb", 5).to_json())
    store.save_result("bob", keys, result("bob.ipynb", 0, measured=False).to_json())
    assert store.stored_keys("ann") == keys
    bob = store.stored_keys("bob")
    assert bob is not None and bob.execution == keys.execution and bob != keys


def test_pass_rates_and_common_problems_leave_the_unmeasured_out(out: tuple[Path, tuple[str, ...]]) -> None:
    folder, _ = out
    page = (folder / "index.html").read_text(encoding="utf-8")
    rates = page.split("<h2>Pass rate per check</h2>")[1].split("<h2>")[0]
    assert "1 / 1" in rates
    assert "Every check passed for every student." in page


def test_the_batch_progress_says_not_measured_rather_than_a_score() -> None:
    written = io.StringIO()
    view = BatchView(Console(file=written, width=200, force_terminal=False))
    view(Graded("ann", result("ann.ipynb", 5)))
    view(Graded("bob", result("bob.ipynb", 0, measured=False)))
    lines = written.getvalue().splitlines()
    assert lines[0].startswith("✔ ann: 5/5")
    assert lines[1] == f"? bob: not measured, no grade: {REASON}"
