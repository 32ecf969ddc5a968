"""LMS files that import: a Canvas gradebook export as the roster keeps Canvas's columns, and canvas.csv
writes them back where Canvas's importer looks; rows without a grade are empty, never 0, and listed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.grading import unmeasured
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import read_roster
from grader.result import Failure
from tests.test_late import graded
from tests.test_roster import canvas_import

# The header and first rows of a real Canvas gradebook export (Grades > Export > CSV), trimmed.
CANVAS_EXPORT = (
    '"Student","ID","SIS User ID","SIS Login ID","Section","HW3: CNN dimensions (90012)",'
    '"Assignments Current Points","Assignments Final Points","Current Score","Unposted Current Score",'
    '"Final Score","Unposted Final Score"\r\n'
    '"    Points Possible","","","","","5.00","(read only)","(read only)","(read only)","(read only)",'
    '"(read only)","(read only)"\r\n'
    '"Liddell, Alice","48211","S1001","aliddell","CS 101 A","","","","","","",""\r\n'
    '"Stone, Bob","48212","S1002","bstone","CS 101 B","","","","","","",""\r\n'
    '"Ray, Carol","48213","S1003","cray","CS 101 A","","","","","","",""\r\n'
    '"Li, Dan","48214","","dli","CS 101 B","","","","","","",""\r\n'
    '"Student, Test","48299","","8f2e7c","CS 101 A","","","","","","",""\r\n'
)


def test_a_canvas_export_keeps_canvas_id_sis_id_and_login_in_their_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "canvas-export.csv"
    path.write_text(CANVAS_EXPORT, encoding="utf-8")
    roster = read_roster(path)
    assert roster.canvas
    assert [(s.name, s.canvas_id, s.id, s.login, s.section, s.submission) for s in roster.students] == [
        ("Liddell, Alice", "48211", "S1001", "aliddell", "CS 101 A", "aliddell"),
        ("Stone, Bob", "48212", "S1002", "bstone", "CS 101 B", "bstone"),
        ("Ray, Carol", "48213", "S1003", "cray", "CS 101 A", "cray"),
        ("Li, Dan", "48214", "", "dli", "CS 101 B", "dli"),
    ], "Points Possible and Canvas's Test Student are not students"


def test_canvas_csv_writes_canvas_columns_back_and_leaves_ungraded_rows_empty(tmp_path: Path) -> None:
    path = tmp_path / "canvas-export.csv"
    path.write_text(CANVAS_EXPORT, encoding="utf-8")
    out = tmp_path / "reports"
    out.mkdir()
    results = {"alice": graded("liddellalice_48211_7001_hw3.ipynb", 4.5), "bob": graded("hw3.ipynb", 3)}
    unmeasured_result = graded("hw3.ipynb", 0).model_copy(
        update={"notes": (unmeasured.note("the inspector died"),)}
    )
    results["carol"] = unmeasured_result
    paths = {
        "alice": ("liddellalice_48211_7001_hw3.ipynb",),
        "bob": ("bstone", "hw3.ipynb"),
        "carol": ("cray", "hw3.ipynb"),
        "dan": ("dli", "hw3.ipynb"),
    }
    entries = []
    for stem, result in results.items():
        (out / f"{stem}.json").write_text(result.to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, paths[stem][-1]))
    failure = Failure(
        stem="dan", submission="hw3.ipynb", kind="submission", message="hw3.ipynb: not JSON", exit_code=4
    )
    entries.append(BatchEntry("dan", "hw3.ipynb", failure))
    outputs = write_class_outputs(out, entries, roster=read_roster(path), paths=paths)

    with (out / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        raw = list(csv.reader(handle))
    assert raw[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert raw[2] == ["Liddell, Alice", "48211", "S1001", "aliddell", "CS 101 A", "4.5"]
    assert raw[3] == ["Stone, Bob", "48212", "S1002", "bstone", "CS 101 B", "3"]
    assert len(raw) == 4, "carol (not measured) and dan (unreadable) get no grade, not 0"
    canvas = canvas_import(out / "canvas.csv")
    assert set(canvas["students"]) == {"id:48211", "id:48212"}, "Canvas finds them by its own id"

    with (out / "moodle.csv").open(newline="", encoding="utf-8") as handle:
        moodle = list(csv.reader(handle))
    assert moodle[1][:3] == ["S1001", "", "Liddell, Alice"] and len(moodle) == 3

    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert (rows["dan"]["status"], rows["dan"]["total"]) == ("error", "")
    assert (rows["carol"]["status"], rows["carol"]["total"]) == ("unmeasured", "")
    said = "\n".join(outputs.notices)
    assert "could not be graded; their grade is left empty" in said and "dan" in said
    assert "unmeasured" in said and "carol" in said
