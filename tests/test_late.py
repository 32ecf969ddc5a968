"""Late work judged from times the student does not control, in the course's time zone.

Each attack is written first, as the old code handled it: a file dated 2020 was on time, a `git
clone` made a whole class late, and the grading machine's `TZ` moved the deadline. Then the class
rules: recorded `submitted_at` times (roster or `--submissions-times`), extensions, excused
students, and the warning that comes with `--late-from mtime`. Real files, real git, real CSV.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.batch.discovery import discover
from grader.batch.engine import BatchSettings, submission_times
from grader.grading.grade import Overrides
from grader.outputs.gradebook import BatchEntry, SubmissionTimes, write_class_outputs
from grader.outputs.roster import RosterError, read_roster, read_submission_times
from grader.rubric.late import (
    Extension,
    LatePolicy,
    assess,
    last_commit_time,
    parse_due,
    parse_extension,
    parse_instant,
    parse_penalty,
    parse_zone,
)
from grader.rubric.model import parse_rubric
from tests.conftest import REPO
from tests.test_roster import graded

DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
RUBRIC = (REPO / "rubrics" / "conv-dims.yaml").read_text(encoding="utf-8")


def write_results(out: Path, stems: dict[str, float]) -> list[BatchEntry]:
    out.mkdir(parents=True, exist_ok=True)
    for stem, score in stems.items():
        (out / f"{stem}.json").write_text(graded(f"{stem}.ipynb", score).to_json(), encoding="utf-8")
    return [BatchEntry(stem, f"{stem}.ipynb") for stem in stems]


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def settings(out: Path, **late: object) -> BatchSettings:
    return BatchSettings(
        rubric_path=None, rubrics_dir=REPO / "rubrics", overrides=Overrides(), out_dir=out, **late
    )


@pytest.fixture
def los_angeles() -> Iterator[None]:
    """The grading machine's zone set to Los Angeles (8 hours behind UTC in December)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


# --- attacks ----------------------------------------------------------------------------------------


def test_a_file_dated_2020_is_not_on_time(tmp_path: Path) -> None:
    """Old code: the file's modification time (2020, set by the student) was the submission time."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("conv_params = 80\n", encoding="utf-8")
    os.utime(folder / "alice.py", (datetime(2020, 1, 1, tzinfo=UTC).timestamp(),) * 2)
    roster = tmp_path / "roster.csv"
    roster.write_text("submission,submitted_at\nalice,2026-12-02T10:00:00+00:00\n", encoding="utf-8")
    out = tmp_path / "reports"
    found = discover(str(folder), out)
    times = submission_times(found, settings(out, due=DUE))
    assert times.observed == {}, "by default no file time is read at all"
    entries = write_results(out, {"alice": 5})
    write_class_outputs(
        out,
        entries,
        roster=read_roster(roster),
        late=LatePolicy(due=DUE, penalty=parse_penalty("10%/day")),
        times=times,
        paths={item.stem: item.relative for item in found},
    )
    alice = gradebook(out)["alice"]
    assert (alice["late_days"], alice["penalised_total"]) == ("1", "4.5")
    assert alice["submitted_from"] == "submitted_at (roster.csv:2)"


def git(folder: Path, *args: str, when: str | None = None) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "s",
        "GIT_AUTHOR_EMAIL": "s@example.org",
        "GIT_COMMITTER_NAME": "s",
        "GIT_COMMITTER_EMAIL": "s@example.org",
        **({"GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when} if when else {}),
    }
    subprocess.run(["git", *args], cwd=folder, env=environment, check=True, capture_output=True)


def test_a_git_clone_does_not_make_the_class_late(tmp_path: Path) -> None:
    """Old code: a clone writes every file now, so every student was days late; the commit says when."""
    root = tmp_path / "class"
    for student, committed in (("alice", "2026-12-01T20:00:00+00:00"), ("bob", "2026-12-02T03:00:00+00:00")):
        checkout = root / student
        checkout.mkdir(parents=True)
        git(checkout, "init", "-q")
        (checkout / "hw3.py").write_text("conv_params = 80\n", encoding="utf-8")
        git(checkout, "add", "hw3.py")
        git(checkout, "commit", "-q", "-m", "hand in", when=committed)
    out = tmp_path / "reports"
    found = discover(str(root), out)
    assert all(os.stat(item.path).st_mtime > DUE.timestamp() for item in found), "cloned after the due date"
    entries = write_results(out, {"alice__hw3": 5, "bob__hw3": 5})
    policy = LatePolicy(due=DUE, penalty=parse_penalty("10%/day"))
    write_class_outputs(
        out, entries, late=policy, times=submission_times(found, settings(out, late_from="git"))
    )
    rows = gradebook(out)
    assert (rows["alice__hw3"]["late_days"], rows["bob__hw3"]["late_days"]) == ("0", "1")
    assert rows["alice__hw3"]["submitted_from"] == "git commit"
    assert rows["alice__hw3"]["submitted"] == "2026-12-01T20:00:00+00:00"


def test_git_reads_only_the_submissions_own_checkout(tmp_path: Path) -> None:
    """A folder that is no checkout is not dated by an enclosing repository (the course's own)."""
    git(tmp_path, "init", "-q")
    (tmp_path / "x").write_text("x", encoding="utf-8")
    git(tmp_path, "add", "x")
    git(tmp_path, "commit", "-q", "-m", "course", when="2026-11-01T00:00:00+00:00")
    plain = tmp_path / "class" / "carol"
    plain.mkdir(parents=True)
    (plain / "hw3.py").write_text("conv_params = 80\n", encoding="utf-8")
    found = discover(str(tmp_path / "class"), tmp_path / "reports")
    assert submission_times(found, settings(tmp_path / "reports", late_from="git")).observed == {}
    assert last_commit_time(plain) is None


def test_the_machines_time_zone_does_not_move_the_deadline(los_angeles: None) -> None:
    """Old code: `--due 2026-12-01T23:59` meant 23:59 wherever the grader ran (here 07:59 UTC next day)."""
    assert parse_due("2026-12-01T23:59") == DUE
    assert parse_due("2026-12-01") == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    berlin = parse_zone("Europe/Berlin")
    assert parse_due("2026-12-01T23:59", berlin) == datetime(2026, 12, 1, 22, 59, tzinfo=UTC)
    assert parse_due("2026-12-01T23:59+01:00", berlin).utcoffset() == timedelta(hours=1)
    submitted = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 19:00 the day before in Los Angeles
    lateness = assess(LatePolicy(due=parse_due("2026-12-01T23:59")), submitted)
    assert lateness is not None and lateness.days == 1


def test_a_rubrics_due_date_without_offset_is_read_in_the_course_zone(los_angeles: None) -> None:
    late = parse_rubric(RUBRIC + "late: {due: '2026-12-01T23:59', penalty: 10%/day}\n").late
    assert late is not None and late.due is not None and late.due.tzinfo is None
    policy = LatePolicy(due=late.due).in_zone(parse_zone("UTC"))
    assert policy.due == DUE
    assert LatePolicy(due=late.due).in_zone(parse_zone("Europe/Berlin")).due == DUE - timedelta(hours=1)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_time_zone_says_what_is_accepted(zone: str) -> None:
    with pytest.raises(ValueError, match="IANA name"):
        parse_zone(zone)


# --- recorded times, extensions, excused ------------------------------------------------------------


def test_a_recorded_time_must_carry_its_offset() -> None:
    assert parse_instant("2026-12-01T23:41:07Z") == datetime(2026, 12, 1, 23, 41, 7, tzinfo=UTC)
    assert parse_instant("2026-12-01T23:41:07+01:00").utcoffset() == timedelta(hours=1)
    for bare in ("2026-12-01T23:41:07", "2026-12-01", "yesterday"):
        with pytest.raises(ValueError, match=r"offset|not a time"):
            parse_instant(bare)


def test_extensions_are_durations_or_new_due_dates() -> None:
    assert parse_extension("2d") == Extension(by=timedelta(days=2))
    assert parse_extension("1d12h") == Extension(by=timedelta(days=1, hours=12))
    assert parse_extension("90m") == Extension(by=timedelta(minutes=90))
    until = parse_extension("2026-12-05T12:00+00:00")
    assert until.apply(DUE) == datetime(2026, 12, 5, 12, tzinfo=UTC)
    for bad in ("2 weeks", "2026-12-05T12:00", "-1d"):
        with pytest.raises(ValueError, match="not an extension"):
            parse_extension(bad)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("alice,2026-12-02T10:00,,", "submitted_at: '2026-12-02T10:00' has no UTC offset"),
        ("alice,,3 days,", "extension: '3 days' is not an extension"),
        ("alice,,2026-12-09T10:00,", "extension: '2026-12-09T10:00' is not an extension"),
        ("alice,,,maybe", "excused: 'maybe' is neither yes nor no"),
    ],
)
def test_a_bad_late_column_in_the_roster_names_the_file_and_line(tmp_path: Path, row: str, says: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(f"submission,submitted_at,extension,excused\nbob,,,\n{row}\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert caught.value.message.startswith(f"{path}:3: "), caught.value.message
    assert says in caught.value.message and caught.value.hint


def test_a_class_with_an_extension_an_excused_student_and_submitted_at(tmp_path: Path) -> None:
    roster_path = tmp_path / "roster.csv"
    roster_path.write_text(
        "submission,id,name,submitted_at,extension,excused\n"
        "alice,s1,Alice,2026-12-01T23:00:00+00:00,,\n"
        "bob,s2,Bob,2026-12-03T10:00:00+00:00,2d,\n"
        "carol,s3,Carol,2026-12-05T10:00:00+00:00,,yes\n"
        "dan,s4,Dan,2026-12-03T10:00:00+00:00,,\n"
        "erin,s5,Erin,2026-12-03T10:00:00+01:00,2026-12-03T12:00+00:00,\n"
        "frank,s6,Frank,,,\n",
        encoding="utf-8",
    )
    times_path = tmp_path / "times.csv"
    times_path.write_text("student,submitted_at\nalice,2026-12-02T01:00:00Z\n", encoding="utf-8")
    out = tmp_path / "reports"
    entries = write_results(out, {name: 5 for name in ("alice", "bob", "carol", "dan", "erin", "frank")})
    outputs = write_class_outputs(
        out,
        entries,
        roster=read_roster(roster_path),
        late=LatePolicy(due=DUE, penalty=parse_penalty("10%/day")),
        times=SubmissionTimes(
            zone=parse_zone("Europe/Berlin"),
            observed_from="none",
            recorded=read_submission_times(times_path),
            recorded_from="times.csv",
        ),
    )
    rows = gradebook(out)
    # --submissions-times wins over the roster's column: alice came in 1 h 1 min late.
    assert (rows["alice"]["late_days"], rows["alice"]["penalised_total"]) == ("1", "4.5")
    assert rows["alice"]["submitted_from"] == "submitted_at (times.csv)"
    assert rows["alice"]["submitted"] == "2026-12-02T02:00:00+01:00", "shown in the course's zone"
    assert (rows["bob"]["late_days"], rows["bob"]["penalised_total"]) == ("0", "5.0")
    assert rows["bob"]["due"] == "2026-12-04T00:59:00+01:00"
    assert (rows["carol"]["late_days"], rows["carol"]["penalty"], rows["carol"]["penalised_total"]) == (
        "excused",
        "0%",
        "5.0",
    )
    assert (rows["dan"]["late_days"], rows["dan"]["penalty"], rows["dan"]["penalised_total"]) == (
        "2",
        "20%",
        "4.0",
    )
    assert (rows["erin"]["late_days"], rows["erin"]["penalised_total"]) == ("0", "5.0")
    assert (rows["frank"]["late_days"], rows["frank"]["penalised_total"]) == ("", "5.0")
    canvas = (out / "canvas.csv").read_text(encoding="utf-8")
    assert "\nDan,,s4,,,4\n" in canvas and "\nAlice,,s1,,,4.5\n" in canvas and "\nCarol,,s3,,,5\n" in canvas
    said = "\n".join(outputs.notices)
    assert "late: due dates and times in Europe/Berlin (--timezone)" in said
    assert "1 submission(s) have no known submission time" in said and "frank" in said
    assert "modification" not in said
    page = (out / "index.html").read_text(encoding="utf-8")
    late_section = page.split("<h2>Late submissions</h2>")[1].split("<h2>")[0]
    assert "Europe/Berlin" in late_section and "excused" in late_section and "extension +2d" in late_section
    assert "<code>frank</code>" in late_section


def test_modification_times_only_when_asked_and_then_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("x = 1\n", encoding="utf-8")
    os.utime(folder / "alice.py", ((DUE + timedelta(hours=2)).timestamp(),) * 2)
    out = tmp_path / "reports"
    found = discover(str(folder), out)
    times = submission_times(found, settings(out, late_from="mtime"))
    entries = write_results(out, {"alice": 5})
    outputs = write_class_outputs(out, entries, late=LatePolicy(due=DUE), times=times)
    assert gradebook(out)["alice"]["late_days"] == "1"
    assert any("modification times (--late-from mtime)" in notice for notice in outputs.notices)
    assert "Warning:</strong> late: submission times are the files" in (out / "index.html").read_text()


def test_times_kept_by_an_old_run_are_not_read_without_late_from_mtime(tmp_path: Path) -> None:
    """An earlier version kept modification times in .keys/submitted-at.json; recorded mode ignores them."""
    entries = write_results(tmp_path, {"alice": 5})
    write_class_outputs(tmp_path, entries, late=LatePolicy(due=DUE), submitted_at={"alice": 0.0})
    assert gradebook(tmp_path)["alice"]["late_days"] == "0"
    write_class_outputs(
        tmp_path, entries, late=LatePolicy(due=DUE), times=SubmissionTimes(observed_from="none")
    )
    assert gradebook(tmp_path)["alice"]["late_days"] == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name,when\nalice,2026-12-01T10:00Z\n", ":1: the header needs a student"),
        ("student,submitted_at\nalice,2026-12-01 10:00\n", ":2: submitted_at: '2026-12-01 10:00' has no UTC"),
        ("student,submitted_at\n,2026-12-01T10:00Z\n", ":2: no student"),
    ],
)
def test_a_bad_submissions_times_file_names_the_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError, match=re.escape(says)):
        read_submission_times(path)


def test_a_time_zone_with_an_offset_reads_the_same_instant() -> None:
    assert parse_instant("2026-12-01T23:59:00-08:00") == datetime(
        2026, 12, 1, 23, 59, tzinfo=timezone(-timedelta(hours=8))
    )
