"""A course file (`course.yaml`): `grade batch week3/` with no options, the command line still winning.

Through the real CLI and real YAML: a course file found in a parent of the batch's folder, its
paths read relative to itself (the command runs from elsewhere), a typed option over the file's,
and a typo reported at its line and column with the key it was meant to be.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.conftest import REPO
from tests.test_feedback_release import RUBRIC

ROSTER = (
    "submission,id,name,email\nweek3/alice,s1,Alice A,alice@example.org\nweek3/bob,s2,Bob B,bob@example.org\n"
)
TIMES = "student,submitted_at\nweek3/alice,2026-11-30T10:00:00+01:00\nweek3/bob,2026-12-03T10:00:00+01:00\n"
COURSE = """\
roster: roster.csv
timezone: Europe/Berlin
due: 2026-12-01T23:59
late_penalty: 10%/day
submissions_times: times.csv
rubrics: rubrics
rubric_for:
  "week3/*": tiny
limits:
  cell_timeout: 120
jobs: 1
"""


def grade(*args: str | Path, cwd: Path = REPO) -> tuple[int, str, str]:
    runner = CliRunner(env={"COLUMNS": "200"})
    with contextlib.chdir(cwd):
        done = runner.invoke(main, [str(a) for a in args], prog_name="grade")
    return done.exit_code, done.stdout, done.stderr


def write_course(root: Path, course: str = COURSE) -> Path:
    (root / "rubrics").mkdir(parents=True)
    (root / "rubrics" / "tiny.yaml").write_text(RUBRIC, encoding="utf-8")
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (root / "times.csv").write_text(TIMES, encoding="utf-8")
    (root / "course.yaml").write_text(course, encoding="utf-8")
    week = root / "submissions" / "week3"
    week.mkdir(parents=True)
    (week / "alice.py").write_text("a = 1\nb = 5\nc = 6\n", encoding="utf-8")
    (week / "bob.ipynb").write_text('{"cells": [', encoding="utf-8")
    return root / "submissions"


def rows(out: Path, name: str = "gradebook.csv") -> list[dict[str, str]]:
    with (out / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_course_file_alone_grades_as_the_same_options_do(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_course(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    from_file = tmp_path / "from-file"
    code, _, err = grade("batch", batch, "--out", from_file, cwd=elsewhere)
    assert code == 0, err
    assert f"options from {root / 'course.yaml'}" in err
    (root / "course.yaml").unlink()
    typed = tmp_path / "typed"
    code, _, err = grade(
        "batch", batch, "--out", typed, "--roster", root / "roster.csv", "--timezone", "Europe/Berlin",
        "--due", "2026-12-01T23:59", "--late-penalty", "10%/day", "--submissions-times", root / "times.csv",
        "--rubrics", root / "rubrics", "--rubric-for", "week3/*=tiny", "--cell-timeout", "120", "-j", "1",
    )  # fmt: skip
    assert code == 0, err
    assert rows(from_file) == rows(typed)
    assert rows(from_file, "canvas.csv") == rows(typed, "canvas.csv")
    alice = next(row for row in rows(from_file) if row["student"] == "week3__alice")
    assert alice["id"] == "s1" and alice["due"].startswith("2026-12-01"), "roster and due"
    one, other = (json.loads((out / "week3__alice.json").read_text()) for out in (from_file, typed))
    assert one["checks"] == other["checks"]
    pages = sorted(p.name for p in (from_file / "feedback").iterdir())
    assert pages == sorted(p.name for p in (typed / "feedback").iterdir()) and len(pages) == 2


def test_an_option_typed_wins_over_the_course_file(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_course(root, COURSE.replace('"week3/*": tiny', '"week3/*": tinny'))
    code, _, err = grade("batch", batch, "--out", tmp_path / "a")
    assert code == 3 and "no rubric 'tinny'" in err, err
    code, _, err = grade(
        "batch", batch / "week3" / "*.ipynb", "--out", tmp_path / "b", "--rubric-for", "*=tiny"
    )
    assert code == 0, err
    assert rows(tmp_path / "b")[0]["status"] == "error", "the course's roster and rubrics still apply"
    assert "id" in rows(tmp_path / "b")[0], "the course's roster adds its columns"
    assert [p.name for p in (tmp_path / "b" / "feedback").iterdir()] == ["bob.html"]


def test_a_typo_in_the_course_file_exits_3_at_its_line_and_column(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_course(
        root, COURSE.replace("late_penalty:", "late_penalt:").replace("cell_timeout", "cell_timout")
    )
    code, _, err = grade("batch", batch, "--out", tmp_path / "out")
    assert code == 3, err
    where = root / "course.yaml"
    said = " ".join(err.split())
    assert f"{where}:4:1: late_penalt: unknown key 'late_penalt'; did you mean 'late_penalty'?" in said
    assert (
        f"{where}:10:3: limits.cell_timout: unknown key 'cell_timout'; did you mean 'cell_timeout'?" in said
    )
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_bad_value_in_the_course_file_names_its_key(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_course(root, COURSE.replace("Europe/Berlin", "Mars/Olympus").replace("jobs: 1", "jobs: 0"))
    code, _, err = grade("batch", batch, "--out", tmp_path / "out")
    assert code == 3, err
    said = " ".join(err.split())
    assert f"{root / 'course.yaml'}:2:1: timezone: 'Mars/Olympus' is not a time zone" in said
    assert f"{root / 'course.yaml'}:11:1: jobs: Input should be greater than or equal to 1" in said


def test_course_given_with_course_and_missing(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_course(root)
    code, _, err = grade("batch", batch, "--course", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert code == 3 and "course file not found" in err
