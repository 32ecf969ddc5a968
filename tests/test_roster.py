"""Rosters, late submissions and LMS exports: reading real CSV files, matching, the late rule, the class
outputs written from real JSON results (fast), and one real `grade batch --roster --due` (slow).

canvas.csv is read back the way Canvas's own importer reads it (instructure/canvas-lms,
app/models/gradebook_importer.rb: header, `Points Possible` row, student lookup by ID, SIS User ID,
SIS Login ID, then name), so a column Canvas would not find fails here.
"""

from __future__ import annotations

import csv
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from grader.errors import RubricError
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.roster import Handed, Roster, RosterError, match_roster, read_roster
from grader.result import Failure, GradeResult
from grader.rubric.late import LatePolicy, Penalty, assess, days_late, parse_due, parse_penalty
from grader.rubric.model import parse_rubric
from tests.conftest import REPO, GradeRunner, run_grade, write_notebook

ROSTER = "submission,id,name,email,section\nalice,s001,Alice Liddell,alice@uni.edu,A\nbob,s002,Bob Stone,bob@uni.edu,B\n"


def roster_file(tmp_path: Path, text: str, name: str = "roster.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- reading --------------------------------------------------------------------------------------


def test_the_documented_columns_are_read(tmp_path: Path) -> None:
    roster = read_roster(roster_file(tmp_path, ROSTER))
    assert [(s.submission, s.id, s.name, s.email, s.section, s.line) for s in roster.students] == [
        ("alice", "s001", "Alice Liddell", "alice@uni.edu", "A", 2),
        ("bob", "s002", "Bob Stone", "bob@uni.edu", "B", 3),
    ]


def test_common_header_spellings_a_bom_semicolons_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    text = (
        "\ufeffStudent ID;First Name;Last Name;E-mail Address;Section Name;Folder;Notes\r\n"
        "\r\n"
        "s001;Alice;Liddell;alice@uni.edu;A;alice;likes cats\r\n"
        "s002;Bob;Stone;bob@uni.edu;B;bob;\r\n"
    )
    roster = read_roster(roster_file(tmp_path, text))
    assert [(s.submission, s.id, s.name, s.email, s.section, s.line) for s in roster.students] == [
        ("alice", "s001", "Alice Liddell", "alice@uni.edu", "A", 3),
        ("bob", "s002", "Bob Stone", "bob@uni.edu", "B", 4),
    ]


def test_a_preferred_spelling_wins_over_a_looser_one(tmp_path: Path) -> None:
    text = "username,submission,student_id,sis_user_id\nalice_gh,alice,s001,x9\n"
    (student,) = read_roster(roster_file(tmp_path, text)).students
    assert (student.submission, student.id) == ("alice", "s001")


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("id,name\ns001,Alice\n", ":1:", "no submission column (the header has 'id', 'name')"),
        ("submission,name\nalice,Alice\n,Bob Stone\n", ":3:", "no submission for Bob Stone"),
        ("submission,name\nalice,Alice\nbob,Bob,Stone\n", ":3:", "3 values but the header names 2 columns"),
        ("submission,id\nalice,s1\nbob,s2\nALICE.ipynb,s3\n", ":4:", "'ALICE.ipynb' is already on line 2"),
        ("submission,id\nalice,s1\nbob,s1\n", ":3:", "id 's1' is already on line 2"),
        ('submission,name\nalice,"Alice\nbob,Bob\n', ":", "not valid CSV"),
        ("submission,name\n", "", "has a header but no students"),
        ("   \n", "", "the roster is empty"),
    ],
)
def test_a_bad_roster_names_the_file_the_line_and_the_problem(
    tmp_path: Path, text: str, where: str, says: str
) -> None:
    path = roster_file(tmp_path, text)
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert caught.value.message.startswith(f"{path}{where}"), caught.value.message
    assert says in caught.value.message
    assert caught.value.hint
    assert caught.value.exit_code == 2


def test_a_roster_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    path = roster_file(tmp_path, "submission,name\nalice,Zoë\n", encoding="latin-1")
    with pytest.raises(RosterError, match=r":2: the roster is not UTF-8") as caught:
        read_roster(path)
    assert "CSV UTF-8" in caught.value.hint


def test_a_bad_roster_stops_grade_batch_before_grading_with_exit_code_2(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "alice.ipynb", "conv_params = 80", exercise="conv-dims")
    bad = roster_file(tmp_path, "submission,name\nalice,Alice\n,Bob\n")
    out = tmp_path / "reports"
    done = grade_cli("batch", folder, "--roster", bad, "--out", out)
    assert done.returncode == 2, done.stderr
    assert f"{bad}:3: no submission for Bob" in done.stderr
    assert not (out / "alice.json").exists()
    missing = grade_cli("batch", folder, "--roster", tmp_path / "nope.csv", "--out", out)
    assert missing.returncode == 2 and "roster file not found" in missing.stderr
    late = grade_cli("batch", folder, "--late-penalty", "10%/week", "--out", out)
    assert late.returncode == 2 and "--late-penalty" in late.stderr and "'10%/day'" in late.stderr
    assert "Traceback" not in done.stderr + missing.stderr + late.stderr


# --- matching -------------------------------------------------------------------------------------


def test_submissions_match_by_stem_file_name_or_folder_and_the_rest_is_reported(tmp_path: Path) -> None:
    text = "submission,name\nalice,Alice\nBob.ipynb,Bob\nweek1/carol,Carol\ndan,Dan\nerin,Erin\nfrank,Frank\n"
    roster = read_roster(roster_file(tmp_path, text))
    match = match_roster(
        roster,
        [
            Handed.from_stem(stem, name)
            for stem, name in [
                ("alice", "alice.ipynb"),
                ("bob", "bob.ipynb"),
                ("week1__carol", "carol.ipynb"),
                ("dan__hw3", "hw3.ipynb"),
                ("erin_py", "erin.py"),
                ("mallory", "mallory.ipynb"),
            ]
        ],
    )
    assert {stem: s.name for stem, s in match.by_stem.items()} == {
        "alice": "Alice",
        "bob": "Bob",
        "week1__carol": "Carol",
        "dan__hw3": "Dan",
        "erin_py": "Erin",
    }
    assert match.unmatched == ("mallory",)
    assert [s.name for s in match.missing] == ["Frank"]
    assert match.submissions_of(roster.students[0]) == ("alice",)


# --- late -----------------------------------------------------------------------------------------


def test_days_late_count_started_days_and_the_penalty_is_capped() -> None:
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    assert days_late(due, due) == 0
    assert days_late(due + timedelta(minutes=1), due) == 1
    assert days_late(due + timedelta(days=1), due) == 1
    assert days_late(due + timedelta(days=1, seconds=1), due) == 2
    per_day, flat = parse_penalty("10%/day"), parse_penalty("20 %")
    assert (per_day.fraction(0), per_day.fraction(3), per_day.fraction(14)) == (0.0, 0.3, 1.0)
    assert (flat.fraction(0), flat.fraction(1), flat.fraction(9)) == (0.0, 0.2, 0.2)
    assert parse_penalty("12.5% per day") == Penalty(percent=12.5, per_day=True)
    lateness = assess(LatePolicy(due=due, penalty=per_day), due + timedelta(hours=30))
    assert lateness is not None and (lateness.days, lateness.penalised(8.0)) == (2, 6.4)
    assert lateness.describe() == "2 days late, −20% (10%/day)"
    assert assess(LatePolicy(penalty=per_day), due) is None  # no due date, nothing is late


@pytest.mark.parametrize(
    ("text", "says"),
    [("10%/week", "write '10%/day'"), ("ten percent", "write '10%/day'"), ("-5%", "write '10%/day'"),
     ("150%", "use at most 100%")],
)  # fmt: skip
def test_a_penalty_rule_that_is_not_one_says_what_is(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_penalty(text)


def test_due_dates_are_local_unless_they_carry_an_offset() -> None:
    local = parse_due("2026-12-01T23:59")
    assert local.utcoffset() == datetime(2026, 12, 1, 23, 59).astimezone().utcoffset()
    assert (local.hour, local.minute) == (23, 59)
    assert parse_due("2026-12-01T23:59+01:00").utcoffset() == timedelta(hours=1)
    assert parse_due("2026-12-01T22:59Z") == parse_due("2026-12-01T23:59+01:00")
    assert (parse_due("2026-12-01").hour, parse_due("2026-12-01").minute) == (23, 59)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_due("next friday")


def test_the_command_line_wins_over_the_rubric_field_by_field() -> None:
    rubric = LatePolicy(due=parse_due("2026-12-01T23:59"), penalty=parse_penalty("10%/day"))
    cli = LatePolicy(penalty=parse_penalty("50%"))
    assert cli.over(rubric) == LatePolicy(due=rubric.due, penalty=Penalty(percent=50, per_day=False))
    assert LatePolicy().over(rubric) == rubric


RUBRIC = (REPO / "rubrics" / "conv-dims.yaml").read_text(encoding="utf-8")


def test_a_rubric_declares_its_late_policy_strictly() -> None:
    late = parse_rubric(RUBRIC + "late: {due: 2026-12-01T23:59+01:00, penalty: 10%/day}\n").late
    assert late is not None and late.penalty == Penalty(percent=10, per_day=True)
    assert late.due == datetime(2026, 12, 1, 23, 59, tzinfo=timezone(timedelta(hours=1)))
    line = RUBRIC.count("\n") + 1
    with pytest.raises(RubricError) as bad:
        parse_rubric(
            RUBRIC + "late: {due: 2026-12-01T23:59, penalty: 10%/week, grace: 1h}\n", source="r.yaml"
        )
    message = bad.value.message
    assert f"r.yaml:{line}:" in message
    assert "late.penalty: '10%/week' is not a penalty rule; write '10%/day'" in message
    assert "late.grace: unknown key 'grace'; allowed: due, penalty" in message
    with pytest.raises(RubricError, match=r"late: give `due`"):
        parse_rubric(RUBRIC + "late: {}\n")


# --- class outputs --------------------------------------------------------------------------------


def graded(submission: str, score: float, *, exercise: str = "conv-dims") -> GradeResult:
    return GradeResult.model_validate(
        {
            "submission": submission,
            "exercise": exercise,
            "title": "Dimensionality of a convolutional layer",
            "rubric": "rubrics/conv-dims.yaml",
            "score": score,
            "max_score": 5,
            "checks": [
                {
                    "id": "conv-layer",
                    "kind": "layers",
                    "status": "pass",
                    "points": score,
                    "max_points": 5,
                    "message": "ok",
                }
            ],
            "run": {"duration_s": 1.0, "device": "CPU", "sandboxed": True, "failing_cells": [], "cells": []},
            "grader_version": "test",
        }
    )


def canvas_import(path: Path) -> dict[str, Any]:
    """What Canvas's gradebook importer makes of a CSV (gradebook_importer.rb, reduced to the format)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], "Canvas: invalid header row"
    student_columns, sis_user, sis_login = 3, None, None
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        sis_login, student_columns = 2, 4
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        sis_user, sis_login, student_columns = 2, 3, 5
    assert "Section" in header[student_columns - 1], "Canvas: invalid header row"
    reserved = r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|Override"
    assignments = [
        (index, re.sub(r"\s+\((\d+)\)$", "", title))
        for index, title in enumerate(header)
        if index >= student_columns and not re.search(reserved, title)
    ]
    points: dict[str, str] = {}
    students: dict[str, dict[str, str]] = {}
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            points = {title: row[index] for index, title in assignments}
            continue
        key = (
            f"id:{row[1]}"
            if row[1]
            else f"sis:{row[sis_user]}"
            if sis_user is not None and row[sis_user]
            else f"login:{row[sis_login]}"
            if sis_login is not None and row[sis_login]
            else f"name:{row[0]}"
        )
        students[key] = {title: row[index] for index, title in assignments}
    return {"assignments": [title for _, title in assignments], "points": points, "students": students}


def write_results(out: Path, results: dict[str, GradeResult]) -> list[BatchEntry]:
    for stem, result in results.items():
        (out / f"{stem}.json").write_text(result.to_json(), encoding="utf-8")
    return [BatchEntry(stem, result.submission) for stem, result in results.items()]


def test_roster_late_and_lms_exports_are_written_beside_the_gradebook(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    roster = read_roster(
        roster_file(
            tmp_path,
            ROSTER + "carol,s003,Carol Ray,carol@uni.edu,A\ndan,s004,Dan Li,,B\nerin,,Erin Moss,,B\n",
        )
    )
    entries = write_results(
        out,
        {
            "alice": graded("alice.ipynb", 5),
            "bob": graded("bob.ipynb", 4.5),
            "mallory": graded("mallory.ipynb", 5),
        },
    )
    failure = Failure(
        stem="dan", submission="dan.ipynb", kind="submission", message="dan.ipynb:1: broken JSON", exit_code=4
    )
    entries.append(BatchEntry("dan", "dan.ipynb", failure))
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    times = {"alice": due.timestamp() - 60, "bob": (due + timedelta(days=1, hours=2)).timestamp()}
    outputs = write_class_outputs(
        out,
        entries,
        roster=roster,
        late=LatePolicy(due=due, penalty=parse_penalty("10%/day")),
        submitted_at=times,
    )

    with (out / "gradebook.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, {row["student"]: row for row in reader}
    assert header == [
        "student", "submission", "exercise", "status", "id", "name", "email", "section", "conv-layer",
        "total", "max_score", "submitted", "submitted_from", "due", "late_days", "penalty",
        "penalised_total", "error",
    ]  # fmt: skip
    assert (rows["alice"]["id"], rows["alice"]["late_days"], rows["alice"]["penalised_total"]) == (
        "s001",
        "0",
        "5.0",
    )
    assert (rows["bob"]["total"], rows["bob"]["late_days"], rows["bob"]["penalty"]) == ("4.5", "2", "20%")
    assert rows["bob"]["penalised_total"] == "3.6"
    assert (rows["mallory"]["status"], rows["mallory"]["id"]) == ("graded", "")
    assert (rows["dan"]["status"], rows["dan"]["name"], rows["dan"]["total"]) == ("error", "Dan Li", "")
    assert rows["bob"]["submitted_from"] == "file modification time"
    for missing in ("carol", "erin"):
        assert (rows[missing]["status"], rows[missing]["total"], rows[missing]["submission"]) == (
            "missing",
            "",
            "",
        )
    assert rows["carol"]["email"] == "carol@uni.edu"

    canvas = canvas_import(out / "canvas.csv")
    assert canvas["assignments"] == ["Dimensionality of a convolutional layer"]
    assert canvas["points"] == {"Dimensionality of a convolutional layer": "5"}
    assert canvas["students"] == {
        "sis:s001": {"Dimensionality of a convolutional layer": "5"},
        "sis:s002": {"Dimensionality of a convolutional layer": "3.6"},
    }  # dan's upload could not be read: no grade, never a silent 0
    with (out / "canvas.csv").open(newline="") as handle:
        raw = list(csv.reader(handle))
    assert raw[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert raw[1][0] == "Points Possible" and raw[2][:5] == [
        "Alice Liddell",
        "",
        "s001",
        "alice@uni.edu",
        "A",
    ]

    with (out / "moodle.csv").open(newline="") as handle:
        moodle = list(csv.reader(handle))
    assert moodle == [
        ["ID number", "Email address", "Name", "Dimensionality of a convolutional layer"],
        ["s001", "alice@uni.edu", "Alice Liddell", "5"],
        ["s002", "bob@uni.edu", "Bob Stone", "3.6"],
    ]

    page = (out / "index.html").read_text()
    roster_section = page.split("<h2>Roster</h2>")[1].split("<h2>")[0]
    assert "<code>mallory</code>" in roster_section
    assert "Carol Ray" in roster_section and "Erin Moss" in roster_section and "Alice" not in roster_section
    late_section = page.split("<h2>Late submissions</h2>")[1].split("<h2>")[0]
    assert "bob" in late_section and "4.5 → 3.6" in late_section and "alice" not in late_section
    (roster_line,) = [n for n in outputs.notices if n.startswith("roster ")]
    assert "3 of 5 students have a submission" in roster_line
    assert "1 submission(s) match no student: mallory" in roster_line
    assert "2 student(s) have none: Carol Ray (s003), Erin Moss" in roster_line
    assert any(n.startswith("late: 1 submission(s)") and "bob (2 days late" in n for n in outputs.notices)
    assert any("could not be graded" in n and "left empty" in n and "dan" in n for n in outputs.notices)
    assert "No grade exported" in roster_section and "dan.ipynb:1: broken JSON" in roster_section


def test_submission_times_are_kept_for_students_graded_by_an_earlier_run(tmp_path: Path) -> None:
    entries = write_results(tmp_path, {"alice": graded("alice.ipynb", 5), "bob": graded("bob.ipynb", 5)})
    due = datetime(2026, 12, 1, tzinfo=UTC)
    late = LatePolicy(due=due)
    write_class_outputs(tmp_path, entries, late=late, submitted_at={"alice": due.timestamp() + 7200})
    write_class_outputs(tmp_path, entries, late=late, submitted_at={"bob": due.timestamp() - 1})
    with (tmp_path / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert (rows["alice"]["late_days"], rows["bob"]["late_days"]) == ("1", "0")


def test_without_roster_or_due_date_the_gradebook_keeps_its_columns(tmp_path: Path) -> None:
    entries = write_results(tmp_path, {"alice": graded("alice.ipynb", 5)})
    outputs = write_class_outputs(tmp_path, entries, submitted_at={"alice": 0.0})
    header = (tmp_path / "gradebook.csv").read_text().splitlines()[0]
    assert header == "student,submission,exercise,status,conv-layer,total,max_score,error"
    assert not (tmp_path / "canvas.csv").exists() and not (tmp_path / "moodle.csv").exists()
    assert outputs.notices == ()


def test_the_exports_take_a_students_best_submission(tmp_path: Path) -> None:
    roster = Roster(path=tmp_path / "r.csv", students=read_roster(roster_file(tmp_path, ROSTER)).students)
    entries = write_results(
        tmp_path,
        {
            "alice__try1": graded("try1.ipynb", 2),
            "alice__try2": graded("try2.ipynb", 4),
            "bob": graded("bob.ipynb", 1),
        },
    )
    write_class_outputs(tmp_path, entries, roster=roster)
    canvas = canvas_import(tmp_path / "canvas.csv")
    assert canvas["students"]["sis:s001"] == {"Dimensionality of a convolutional layer": "4"}


# --- end to end -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_grade_batch_with_a_roster_and_a_due_date(tmp_path: Path) -> None:
    """The real CLI on a machine in Los Angeles: the due date is read in the course's zone (UTC), times
    come from the roster's submitted_at, never from the files (alice's is dated 2020), with bob's
    extension honoured; mallory's file is in no student's folder and named after alice: nobody's."""
    folder = tmp_path / "class"
    (folder / "stranger").mkdir(parents=True)
    answer = "conv_params = 16 * 2 * 2 * 1 + 16\nconv_height = 100"
    for stem in ("alice", "bob"):
        write_notebook(folder / f"{stem}.ipynb", answer, exercise="conv-dims")
    write_notebook(folder / "stranger" / "alice.ipynb", answer, exercise="conv-dims")
    os.utime(folder / "alice.ipynb", (datetime(2020, 1, 1, tzinfo=UTC).timestamp(),) * 2)
    roster = roster_file(
        tmp_path,
        "submission,id,name,email,section,submitted_at,extension\n"
        "alice,s001,Alice Liddell,alice@uni.edu,A,2026-12-02T03:00:00-08:00,\n"
        "bob,s002,Bob Stone,bob@uni.edu,B,2026-12-03T10:00:00Z,2d\n"
        "carol,s003,Carol Ray,carol@uni.edu,A,,\n",
    )
    out = tmp_path / "reports"
    done = run_grade(
        "batch", folder, "--roster", roster, "--due", "2026-12-01T23:59", "--late-penalty", "10%/day",
        "--out", out, out_dir=out, timeout=400, env={"TZ": "America/Los_Angeles"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 submissions: 3 graded" in done.stdout
    said = " ".join(done.stderr.split())
    assert "roster roster.csv: 2 of 3 students have a submission" in said
    assert (
        "credited to no one" in said and "stranger__alice" in said and "have none: Carol Ray (s003)" in said
    )
    assert "late: due dates and times in UTC (--timezone)" in said
    assert "late: 1 submission(s) after the due date: alice (1 day late, −10% (10%/day))" in said

    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["carol"]["status"] == "missing" and rows["stranger__alice"]["id"] == ""
    raw = float(rows["alice"]["total"])
    assert raw > 0 and (rows["alice"]["late_days"], rows["alice"]["penalty"]) == ("1", "10%")
    assert rows["alice"]["submitted"] == "2026-12-02T11:00:00+00:00"
    assert float(rows["alice"]["penalised_total"]) == pytest.approx(raw * 0.9, abs=0.005)
    assert (rows["bob"]["late_days"], rows["bob"]["due"]) == ("0", "2026-12-03T23:59:00+00:00")

    canvas = canvas_import(out / "canvas.csv")
    title = "Dimensionality of a convolutional layer"
    assert set(canvas["students"]) == {"sis:s001", "sis:s002"}
    assert float(canvas["students"]["sis:s001"][title]) == pytest.approx(raw * 0.9)
    page = (out / "index.html").read_text()
    assert "Submissions credited to no one" in page and "Carol Ray" in page
