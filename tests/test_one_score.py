"""One score everywhere: every class output carries each student's same final score.

A generated class (scores, late submissions under a per-day penalty, an extension, an override, manual
points, an unmeasured result and an unreadable submission) is written by the real class outputs
from real result JSON on disk, and every file is parsed back: gradebook.csv, junit.xml, canvas.csv,
moodle.csv, Gradescope's results.json, final-scores.json and the student's HTML report. Each must
say the final score an independent reckoning gives, and a withheld check keeps the top-level
Gradescope score away (tests/test_hidden_inference.py's rule) while its tests still add up to it.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from grader.grading import unmeasured
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import read_roster
from grader.render.report import write_reports
from grader.result import Failure, GradeResult
from grader.rubric.late import LatePolicy, parse_penalty

DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
TITLE = "Dimensionality of a convolutional layer"


def result(submission: str, conv: float, size: float, *, hidden: bool = False, note: str = "") -> GradeResult:
    """A real `GradeResult` of the conv-dims exercise: conv-layer out of 3 and size out of 2."""
    checks = [
        {"id": "conv-layer", "kind": "layers", "status": "pass" if conv == 3 else "fail", "points": conv,
         "max_points": 3, "message": "layers"},
        {"id": "size", "kind": "params", "status": "pass" if size == 2 else "fail", "points": size,
         "max_points": 2, "message": "params", "visibility": "hidden" if hidden else "visible"},
    ]  # fmt: skip
    return GradeResult.model_validate(
        {
            "submission": submission,
            "exercise": "conv-dims",
            "title": TITLE,
            "rubric": "rubrics/conv-dims.yaml",
            "score": round(conv + size, 4),
            "max_score": 5,
            "checks": checks,
            "notes": [unmeasured.note(note)] if note else [],
            "run": {"duration_s": 1.0, "device": "CPU", "sandboxed": True, "failing_cells": [], "cells": []},
            "grader_version": "test",
        }
    )


@dataclass(frozen=True)
class Student:
    stem: str
    conv: float
    size: float
    days_late: int
    extension: bool = False
    kind: str = "graded"  # graded, unmeasured, error


def cents(top: int) -> st.SearchStrategy[float]:
    return st.integers(0, top * 100).map(lambda n: n / 100)


students = st.tuples(cents(3), cents(2), st.integers(0, 12), st.booleans())


@st.composite
def classes(draw: st.DrawFn) -> dict[str, Any]:
    """Five graded students (one with an extension) plus an unmeasured and an error row; one override, manual points."""
    drawn = [draw(students) for _ in range(5)]
    class_ = [
        Student(f"s{i}", conv, size, late, extension=(i == 1 and ext))
        for i, (conv, size, late, ext) in enumerate(drawn)
    ]
    class_ += [Student("s5", 1, 1, 0, kind="unmeasured"), Student("s6", 0, 0, 0, kind="error")]
    return {
        "students": class_,
        "override": (draw(st.sampled_from(["s0", "s2", "s3"])), draw(cents(3))),
        "manual": {stem: draw(cents(4)) for stem in ("s0", "s1", "s4")},
        "hidden": draw(st.booleans()),
        "penalty": draw(st.sampled_from(["10%/day", "20%", "15%/day"])),
    }


def expected(student: Student, drawn: dict[str, Any]) -> float | None:
    """The final score reckoned independently of the grader: checks (override applied) + manual, less lateness."""
    if student.kind != "graded":
        return None
    conv = student.conv
    stem, points = drawn["override"]
    if student.stem == stem:
        conv = points
    adjusted = conv + student.size + drawn["manual"].get(student.stem, 0.0)
    days = max(0, student.days_late - (2 if student.extension else 0))
    fraction = parse_penalty(drawn["penalty"]).fraction(days)
    kept = Decimal(str(round(adjusted, 4))) * (1 - Decimal(str(fraction)))
    return float(kept.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def write_class(out: Path, drawn: dict[str, Any]) -> None:
    """The class on disk as a batch leaves it, a roster with recorded times, an overrides file; the class outputs."""
    roster = ["submission,id,name,email,submitted_at,extension"]
    entries = []
    for student in drawn["students"]:
        when = DUE + timedelta(days=student.days_late) - timedelta(minutes=1 if not student.days_late else 0)
        when = when if student.days_late else DUE - timedelta(hours=1)
        extension = "2d" if student.extension else ""
        roster.append(
            f"{student.stem},id-{student.stem},Student {student.stem},{student.stem}@uni.edu,"
            f"{when.isoformat()},{extension}"
        )
        if student.kind == "error":
            failure = Failure(
                stem=student.stem, submission=f"{student.stem}.ipynb", kind="submission",
                message="not JSON", exit_code=4,
            )  # fmt: skip
            entries.append(BatchEntry(student.stem, f"{student.stem}.ipynb", failure))
            continue
        note = "the inspector died" if student.kind == "unmeasured" else ""
        graded = result(
            f"{student.stem}.ipynb", student.conv, student.size, hidden=drawn["hidden"], note=note
        )
        write_reports(graded, out, student.stem)
        entries.append(BatchEntry(student.stem, f"{student.stem}.ipynb"))
    (out / "roster.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    stem, points = drawn["override"]
    lines = [
        "student,check,points,max_points,comment,by,at",
        f"{stem},conv-layer,{points},,regrade,ta,2026-12-03",
    ]
    lines += [f"id-{s},manual:essay,{p},4,written answer,prof," for s, p in drawn["manual"].items()]
    (out / "overrides.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_class_outputs(
        out,
        entries,
        roster=read_roster(out / "roster.csv"),
        late=LatePolicy(due=DUE, penalty=parse_penalty(drawn["penalty"])),
    )


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def read_back(out: Path, stems: list[str]) -> dict[str, dict[str, float | None]]:
    """Every output's final score per student, parsed from the files."""
    found: dict[str, dict[str, float | None]] = {stem: {} for stem in stems}
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found[row["student"]]["gradebook final"] = number(row["final"])
            found[row["student"]]["gradebook penalised_total"] = number(row["penalised_total"])
    for suite in ET.parse(out / "junit.xml").getroot().iter("testsuite"):
        score = next((p.get("value") for p in suite.iter("property") if p.get("name") == "score"), "")
        found[suite.get("name", "")]["junit"] = number((score or "").split("/")[0])
    scores = json.loads((out / "final-scores.json").read_text(encoding="utf-8"))
    with (out / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        canvas = {row["SIS User ID"]: row[TITLE] for row in csv.DictReader(handle)}
    with (out / "moodle.csv").open(newline="", encoding="utf-8") as handle:
        moodle = {row["ID number"]: row[TITLE] for row in csv.DictReader(handle)}
    for stem in stems:
        found[stem]["final-scores.json"] = scores[stem]["final"]
        found[stem]["canvas"] = number(canvas.get(f"id-{stem}", ""))
        found[stem]["moodle"] = number(moodle.get(f"id-{stem}", ""))
        results = json.loads((out / "gradescope" / stem / "results.json").read_text(encoding="utf-8"))
        if results.get("tests"):
            found[stem]["gradescope tests"] = round(sum(t["score"] for t in results["tests"]), 2)
            if "score" in results:
                found[stem]["gradescope score"] = results["score"]
        elif results.get("extra_data", {}).get("status") == unmeasured.STATUS:
            found[stem]["gradescope"] = results.get("score")
        report = out / f"{stem}.html"
        if report.is_file():
            match = re.search(r'data-final="([^"]*)"', report.read_text(encoding="utf-8"))
            assert match is not None, f"{stem}.html has no final-score block"
            found[stem]["report"] = number(match.group(1))
    return found


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # each example writes a class: no slow shrinking
)
@given(drawn=classes())
def test_every_output_carries_the_same_final_score(drawn: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        write_class(out, drawn)
        stems = [s.stem for s in drawn["students"]]
        found = read_back(out, stems)
        for student in drawn["students"]:
            want = expected(student, drawn)
            said = found[student.stem]
            for output, value in said.items():
                assert value == pytest.approx(want, abs=1e-9) if want is not None else value is None, (
                    student,
                    output,
                    said,
                    want,
                )
            if student.kind == "graded":
                assert ("gradescope score" in said) != drawn["hidden"], (
                    "a withheld check keeps the score away"
                )
                assert {"gradebook final", "junit", "canvas", "moodle", "report", "gradescope tests"} <= set(
                    said
                )
            machine = (
                json.loads((out / f"{student.stem}.json").read_text(encoding="utf-8"))
                if student.kind != "error"
                else None
            )
            if machine is not None:
                assert machine["score"] == round(student.conv + student.size, 4), (
                    "the machine's result is kept"
                )


def test_the_late_report_and_canvas_agree_on_the_issue_example(tmp_path: Path) -> None:
    """The issue's case: 3.67/9 handed in a day late under 10%/day; the report said 3.67, Canvas 3.3."""
    graded = result("alice.ipynb", 3, 0.67)
    write_reports(graded, tmp_path, "alice")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        f"submission,id,name,submitted_at\nalice,s1,Alice,{(DUE + timedelta(hours=3)).isoformat()}\n",
        encoding="utf-8",
    )
    write_class_outputs(
        tmp_path,
        [BatchEntry("alice", "alice.ipynb")],
        roster=read_roster(roster),
        late=LatePolicy(due=DUE, penalty=parse_penalty("10%/day")),
    )
    page = (tmp_path / "alice.html").read_text(encoding="utf-8")
    assert 'data-final="3.3"' in page and "1 day late" in page and "Final score" in page
    with (tmp_path / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle))[1][TITLE] == "3.3"
    results = json.loads((tmp_path / "gradescope" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 3.3 and results["tests"][-1]["name"] == "late penalty"
    assert json.loads((tmp_path / "alice.json").read_text(encoding="utf-8"))["score"] == 3.67
