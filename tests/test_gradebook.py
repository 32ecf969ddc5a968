"""Class outputs, checked directly: results written here as canonical JSON, outputs read back from disk.

No kernel: each test writes the `<stem>.json` files a batch would leave (built from the real
`GradeResult` model) and calls the gradebook writers on them, then reads the CSV, the JUnit XML,
the Gradescope JSON and the class summary the way their consumers would.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from grader.outputs import gradebook
from grader.outputs.gradebook import BatchEntry
from grader.result import CheckResult, Failure, GradeResult, LayerRow, RunFacts

RUN = RunFacts(duration_s=1.5, device="CPU", sandboxed=True, failing_cells=(), cells=())


def layer_row(position: int, status: str, differences: tuple[str, ...] = ()) -> LayerRow:
    expected = {"type": "Conv2D", "kernel_size": [2, 2]}
    actual = {"name": f"conv2d_{position}", "type": "Conv2D", "kernel_size": [3, 3]}
    return LayerRow(
        position=position,
        expected=expected if status != "extra" else None,
        actual=actual if status != "missing" else None,
        status=status,  # type: ignore[arg-type]
        differences=differences,
    )


def result(submission: str, points: float, message: str, rows: tuple[LayerRow, ...] = ()) -> GradeResult:
    check = CheckResult(
        id="architecture",
        kind="layers",
        status="pass" if points == 6 else "fail",
        points=points,
        max_points=6,
        message=message,
        layer_rows=rows,
    )
    return GradeResult(
        submission=submission,
        exercise="cifar10-cnn",
        title="A CNN",
        rubric="rubrics/cifar10-cnn.yaml",
        score=points,
        max_score=6,
        checks=(check,),
        run=RUN,
        grader_version="test",
    )


def write_class(
    out: Path, results: dict[str, GradeResult], failures: dict[str, Failure] | None = None
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for stem, graded in results.items():
        (out / f"{stem}.json").write_text(graded.to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, graded.submission))
    for stem, failure in (failures or {}).items():
        entries.append(BatchEntry(stem, failure.submission, failure))
    gradebook.write_class_outputs(out, entries)


def kernel_size_mistake(student: str, found: int) -> GradeResult:
    """The same mistake (layer 1's kernel size), each student with numbers of their own in the message."""
    difference = (f"kernel_size ({found}, {found}), expected (2, 2)",)
    return result(
        f"{student}.ipynb",
        3,
        f"3 of 4 expected layers match; first difference at layer 1: kernel_size ({found}, {found}), expected (2, 2)",
        (layer_row(1, "mismatch", difference),),
    )


def test_common_mistakes_are_grouped_by_layer_and_attribute_not_by_message(tmp_path: Path) -> None:
    results = {name: kernel_size_mistake(name, size) for name, size in (("ann", 3), ("ben", 5), ("cy", 7))}
    results["dee"] = result("dee.ipynb", 4, "a MaxPooling2D layer is missing", (layer_row(2, "missing"),))
    results["eve"] = result("eve.ipynb", 6, "all 4 expected layers match")
    write_class(tmp_path, results)
    rows = gradebook.load_rows(tmp_path, [BatchEntry(stem, f"{stem}.ipynb") for stem in results])
    common = gradebook.common_failures(rows, gradebook.check_columns(rows))
    assert common[0] == (3, "architecture", "layer 1, kernel_size")
    assert (1, "architecture", "layer 2: missing Conv2D") in common
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "layer 1, kernel_size" in index


def test_shapes_and_counts_that_follow_from_an_earlier_difference_are_not_counted_as_mistakes(
    tmp_path: Path,
) -> None:
    """Valid padding on layer 1 changes every later output shape and the dense layer's count: one mistake."""
    cascade = (
        layer_row(
            1,
            "mismatch",
            ("padding 'valid', expected 'same'", "output_shape (31, 31, 16), expected (32, 32, 16)"),
        ),
        layer_row(2, "mismatch", ("output_shape (15, 15, 16), expected (16, 16, 16)",)),
        layer_row(4, "mismatch", ("params 57,610, expected 40,970", "units 12, expected 10")),
    )
    results = {
        name: result(f"{name}.ipynb", 2, "first difference at layer 1: padding", cascade)
        for name in ("ann", "ben")
    }
    results["cy"] = result(
        "cy.ipynb",
        4,
        "first difference at layer 1",
        (layer_row(1, "mismatch", ("output_shape (64,), expected (8, 8, 1)",)),),
    )
    write_class(tmp_path, results)
    rows = gradebook.load_rows(tmp_path, [BatchEntry(stem, f"{stem}.ipynb") for stem in results])
    common = gradebook.common_failures(rows, gradebook.check_columns(rows))
    assert sorted((n, mistake) for n, _, mistake in common) == [
        (2, "layer 1, padding"),
        (2, "layer 4, units"),
        (3, "layer 1, output_shape"),
    ], "the first differing row's shape counts; later shapes and counts follow from it"


def test_the_gradebook_has_a_row_per_student_and_spreadsheet_formulas_stay_text(tmp_path: Path) -> None:
    failure = Failure(
        stem="=cmd",
        submission="=cmd|' /C calc'!A0.ipynb",
        kind="submission",
        message="broken JSON",
        exit_code=4,
    )
    write_class(tmp_path, {"ann": kernel_size_mistake("ann", 3)}, {"=cmd": failure})
    with (tmp_path / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_student = {row["student"]: row for row in rows}
    assert set(by_student) == {"ann", "'=cmd"}, "a cell a spreadsheet would run as a formula is quoted"
    assert by_student["ann"]["architecture"] == "3.0" and by_student["ann"]["status"] == "graded"
    assert by_student["'=cmd"]["status"] == "error" and by_student["'=cmd"]["error"] == "broken JSON"


def test_junit_counts_and_escapes_control_characters(tmp_path: Path) -> None:
    hostile = result("x.ipynb", 0, "output \x1b[31m\x00 with control characters")
    write_class(tmp_path, {"x": hostile, "ann": result("ann.ipynb", 6, "all 4 expected layers match")})
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    failure = root.find(".//failure")
    assert failure is not None and "\x00" not in (failure.get("message") or "")


def test_gradescope_results_have_one_test_per_check(tmp_path: Path) -> None:
    write_class(tmp_path, {"ann": kernel_size_mistake("ann", 3)})
    results: dict[str, Any] = json.loads((tmp_path / "gradescope" / "ann" / "results.json").read_text())
    assert results["score"] == 3 and results["max_score"] == 6
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        ("architecture", 3, 6, "failed")
    ]


def test_the_histogram_puts_full_marks_in_the_last_bin(tmp_path: Path) -> None:
    results = {"full": result("full.ipynb", 6, "ok"), "none": result("none.ipynb", 0, "no")}
    write_class(tmp_path, results)
    rows = gradebook.load_rows(tmp_path, [BatchEntry(stem, f"{stem}.ipynb") for stem in results])
    histogram = dict(gradebook.score_histogram(rows))
    assert histogram["90–100%"] == 1 and histogram["0–10%"] == 1 and sum(histogram.values()) == 2
