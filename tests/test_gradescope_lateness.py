"""Late work on Gradescope, by Gradescope's clock: `submission_metadata.json`, never the files' times.

The record lies beside the submission folder, where the student cannot write; the rubric's `late:`
gives the penalty (and the due date, else the assignment's as Gradescope records it). The tests
then add up to the final score, as in a batch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grader.outputs.final_score import compute
from grader.outputs.gradebook import Row, gradescope_results
from grader.outputs.gradescope import gradescope_lateness
from grader.result import CheckResult
from grader.rubric.model import parse_rubric
from tests.conftest import hand_built_result

RUBRIC = """
exercise: conv-dims
title: Dimensionality of a convolutional layer
late: {due: "2026-12-01T23:59:00+00:00", penalty: 10%/day}
checks:
  - {id: size, points: 4, total_params: 80}
"""


def metadata(folder: Path, created_at: str, due_date: str = "2026-12-01T23:59:00+00:00") -> Path:
    path = folder / "submission_metadata.json"
    path.write_text(
        json.dumps({"created_at": created_at, "assignment": {"due_date": due_date}}), encoding="utf-8"
    )
    return path


def test_two_days_late_by_gradescopes_clock_costs_two_days_whatever_the_files_say(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    notebook = tmp_path / "submission" / "hw.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    os.utime(notebook, (1_577_836_800, 1_577_836_800))  # the student dated it 2020
    late = gradescope_lateness(parse_rubric(RUBRIC), metadata(tmp_path, "2026-12-03T10:00:00-08:00"))
    assert late is not None and late.days == 2 and late.fraction == 0.2 and late.source == "Gradescope"


def test_the_tests_add_up_to_the_penalised_score(tmp_path: Path) -> None:
    late = gradescope_lateness(parse_rubric(RUBRIC), metadata(tmp_path, "2026-12-02T09:00:00+00:00"))
    check = CheckResult(id="size", kind="total_params", status="pass", points=4, max_points=4, message="80")
    result = json.loads(hand_built_result(check).to_json())
    row = Row("hw", "hw.ipynb", result, None)
    results = gradescope_results(row, compute("hw", result, row.status, lateness=late))
    assert results["score"] == 3.6
    assert sum(test["score"] for test in results["tests"]) == 3.6


def test_the_assignments_due_date_serves_when_the_rubric_gives_only_a_penalty(tmp_path: Path) -> None:
    rubric = parse_rubric(RUBRIC.replace('due: "2026-12-01T23:59:00+00:00", ', ""))
    late = gradescope_lateness(
        rubric, metadata(tmp_path, "2026-12-02T00:30:00+00:00", "2026-12-02T00:00:00+00:00")
    )
    assert late is not None and late.days == 1


def test_no_penalty_no_record_or_a_broken_record_is_no_lateness(tmp_path: Path) -> None:
    plain = parse_rubric(RUBRIC.replace('late: {due: "2026-12-01T23:59:00+00:00", penalty: 10%/day}\n', ""))
    assert gradescope_lateness(plain, metadata(tmp_path, "2026-12-09T00:00:00+00:00")) is None
    assert gradescope_lateness(parse_rubric(RUBRIC), tmp_path / "nowhere.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text('{"created_at": "yesterday"}', encoding="utf-8")
    assert gradescope_lateness(parse_rubric(RUBRIC), broken) is None
