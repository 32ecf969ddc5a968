"""Whose submission is it: what the student did not choose (the folder, the LMS's id) before their file name.

The attacks come first, as the old matcher took them: `mallory/alice.py` became alice's grade, and
a loose `alice__x.py` was read as being in a folder `alice`. Real roster files, real class outputs.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import Handed, canvas_user_id, match_roster, read_roster
from tests.test_late import graded

ROSTER = "submission,id,name\nalice,s1,Alice\nbob,s2,Bob\nmallory,s3,Mallory\n"


def roster(tmp_path: Path, text: str = ROSTER) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_named_after_another_student_is_credited_to_no_one(tmp_path: Path) -> None:
    match = match_roster(read_roster(roster(tmp_path)), [Handed("mallory__alice", ("mallory", "alice.py"))])
    assert match.by_stem == {}, "neither alice (her name, mallory's file) nor mallory"
    assert (
        "its file name points at Alice (s1) but its folder at Mallory (s3)"
        in match.ambiguous["mallory__alice"]
    )


def test_a_file_named_after_a_student_in_a_folder_that_is_nobodys_is_not_credited(tmp_path: Path) -> None:
    match = match_roster(
        read_roster(roster(tmp_path)), [Handed("stranger__alice", ("stranger", "alice.ipynb"))]
    )
    assert match.by_stem == {} and "no roster student's" in match.ambiguous["stranger__alice"]


def test_a_loose_file_is_not_read_as_a_folder(tmp_path: Path) -> None:
    """`alice__x.py` lying in the batch folder has the stem `alice__x`; the old matcher split it into `alice`."""
    match = match_roster(read_roster(roster(tmp_path)), [Handed("alice__x", ("alice__x.py",))])
    assert match.by_stem == {} and match.unmatched == ("alice__x",)


def test_the_folder_wins_and_a_loose_file_keeps_its_name(tmp_path: Path) -> None:
    match = match_roster(
        read_roster(roster(tmp_path)),
        [
            Handed("alice__hw3", ("alice", "hw3.ipynb")),
            Handed("bob__bob", ("bob", "bob.ipynb")),
            Handed("mallory", ("mallory.ipynb",)),
        ],
    )
    assert {stem: s.submission for stem, s in match.by_stem.items()} == {
        "alice__hw3": "alice",
        "bob__bob": "bob",
        "mallory": "mallory",
    }
    assert match.ambiguous == {}


CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,HW3 (9001)\n"
    "    Points Possible,,,,,5.00\n"
    '"Liddell, Alice",1201,s1,aliddell,CS 101 A,\n'
    '"Stone, Bob",1202,s2,bstone,CS 101 A,\n'
)


def test_canvas_download_names_are_attributed_by_canvas_id_not_the_students_file_name(tmp_path: Path) -> None:
    assert canvas_user_id("liddellalice_1201_55501_hw3.ipynb") == "1201"
    assert canvas_user_id("stonebob_LATE_1202_55502_hw3-1.ipynb") == "1202"
    assert canvas_user_id("hw3.ipynb") is None
    match = match_roster(
        read_roster(roster(tmp_path, CANVAS_ROSTER)),
        [
            Handed("a", ("liddellalice_1201_55501_hw3.ipynb",)),
            Handed("b", ("stonebob_LATE_1202_55502_aliddell.ipynb",)),
        ],
    )
    assert match.by_stem["a"].id == "s1"
    assert "b" not in match.by_stem and "Canvas's id in its name at Stone, Bob (s2)" in match.ambiguous["b"]


def test_several_submissions_of_one_student_are_reported_not_silently_merged(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    entries = []
    for stem, score in (("alice__try1", 2.0), ("alice__try2", 4.0), ("mallory__alice", 5.0), ("bob", 3.0)):
        (out / f"{stem}.json").write_text(graded(f"{stem}.ipynb", score).to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, stem.split("__")[-1] + ".ipynb"))
    outputs = write_class_outputs(
        out,
        entries,
        roster=read_roster(roster(tmp_path)),
        paths={
            "alice__try1": ("alice", "try1.ipynb"),
            "alice__try2": ("alice", "try2.ipynb"),
            "mallory__alice": ("mallory", "alice.ipynb"),
            "bob": ("bob.ipynb",),
        },
    )
    said = "\n".join(outputs.notices)
    assert "1 student(s) have several submissions" in said and "Alice (s1): alice__try1, alice__try2" in said
    assert "1 submission(s) credited to no one" in said and "mallory__alice" in said
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["mallory__alice"]["id"] == "", "the ambiguous file is nobody's in the gradebook"
    assert any(row["status"] == "missing" and row["name"] == "Mallory" for row in rows.values())
    page = (out / "index.html").read_text(encoding="utf-8")
    roster_section = page.split("<h2>Roster</h2>")[1].split("<h2>")[0]
    assert (
        "Students with several submissions" in roster_section and "<code>alice__try2</code>" in roster_section
    )
    assert (
        "Submissions credited to no one" in roster_section and "<code>mallory__alice</code>" in roster_section
    )
