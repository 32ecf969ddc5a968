"""Every CSV the grader writes, attacked with spreadsheet formulas: gradebook, similarity, canvas, moodle.

The attacks are a student-controlled file name (`=HYPERLINK("http://x")`, the report stem and
the submission name) and a roster's names, ids, emails and sections. Each file is read back
with the csv module, as a spreadsheet would split it, and no cell may start with a character
that makes a spreadsheet run it; scores stay numbers, a negative one included.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from grader.outputs import csvfile, gradebook
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import read_roster
from grader.outputs.similarity import SimilarPair
from grader.result import Failure, GradeResult

FORMULA = '=HYPERLINK("evil.example")'  # a file name: no slash
RUNS_AS_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def graded(submission: str, score: float) -> GradeResult:
    return GradeResult.model_validate(
        {
            "submission": submission,
            "exercise": "conv-dims",
            "title": "Dimensionality of a convolutional layer",
            "rubric": "rubrics/conv-dims.yaml",
            "score": score,
            "max_score": 5,
            "checks": [
                {
                    "id": "conv-layer",
                    "kind": "layers",
                    "status": "pass" if score == 5 else "fail",
                    "points": score,
                    "max_points": 5,
                    "message": "-1 layers; =SUM(A1)",
                }
            ],
            "run": {"duration_s": 1.0, "device": "CPU", "sandboxed": True, "failing_cells": [], "cells": []},
            "grader_version": "test",
        }
    )


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def formulas_in(rows: list[list[str]], numbers: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Cells a spreadsheet would run, except the ones given as the numbers the grader wrote."""
    return [cell for row in rows for cell in row if cell.startswith(RUNS_AS_FORMULA) and cell not in numbers]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-1", "'-1"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        (-0.5, "-0.5"),
        (-3, "-3"),
        (4.5, "4.5"),
        (float("nan"), ""),
    ],
)
def test_text_that_runs_is_made_inert_and_numbers_stay_numbers(value: csvfile.Cell, written: str) -> None:
    """A negative score is a number the grader computed, not a formula; text that looks like one is text."""
    assert csvfile.cell(value) == written


def test_every_class_csv_escapes_a_student_file_name_and_the_roster(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "submission,id,name,email,section\n"
        f'"{FORMULA.replace(chr(34), chr(34) * 2)}",-2+3,"=HYPERLINK(""http://x"",""click"")",+1@x.org,@SUM(A1)\n'
        "bob,s002,Bob Stone,bob@uni.edu,B\n"
        "carol,=cmd|' /C calc'!A0,Carol Ray,carol@uni.edu,C\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    entries = []
    for stem, submission, score in ((FORMULA, f"{FORMULA}.ipynb", 4.5), ("bob", "bob.ipynb", -0.5)):
        (out / f"{stem}.json").write_text(graded(submission, score).to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, submission))
    failure = Failure(stem="@x", submission="@x.ipynb", kind="submission", message="-broken", exit_code=4)
    entries.append(BatchEntry("@x", "@x.ipynb", failure))
    outputs = write_class_outputs(out, entries, roster=read_roster(roster))
    gradebook.write_similarity(
        [SimilarPair(FORMULA, "bob", "code-identical", 1.0, "-same code; =1+1")], out / "similarity.csv"
    )
    written = {name: read(outputs.paths[name]) for name in ("gradebook", "canvas", "moodle")}
    written["similarity"] = read(out / "similarity.csv")

    assert {name: formulas_in(rows, {"-0.5"}) for name, rows in written.items()} == {
        name: [] for name in written
    }
    book = {row[0]: row for row in written["gradebook"][1:]}
    assert book[f"'{FORMULA}"][1] == f"'{FORMULA}.ipynb"
    assert book[f"'{FORMULA}"][4:8] == ["'-2+3", '\'=HYPERLINK("http://x","click")', "'+1@x.org", "'@SUM(A1)"]
    assert book["'@x"][-1] == "'-broken"
    assert book["bob"][-3:] == ["-0.5", "5.0", ""], "a negative score stays a number"
    canvas = {row[2]: row for row in written["canvas"][2:]}
    assert canvas["'-2+3"][0] == '\'=HYPERLINK("http://x","click")' and canvas["'-2+3"][-1] == "4.5"
    assert canvas["s002"][-1] == "-0.5"
    moodle = {row[0]: row for row in written["moodle"][1:]}
    assert moodle["'-2+3"][1:] == ["'+1@x.org", '\'=HYPERLINK("http://x","click")', "4.5"]
    assert written["similarity"][1] == [f"'{FORMULA}", "bob", "code-identical", "1.0", "'-same code; =1+1"]


def test_no_module_writes_csv_but_the_shared_writer() -> None:
    """One writer: a new CSV written with the csv module directly would skip the escaping."""
    package = Path(gradebook.__file__).resolve().parent.parent
    writers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if ("csv.writer(" in (text := path.read_text(encoding="utf-8")) or "DictWriter(" in text)
    )
    assert writers == ["outputs/csvfile.py"]
