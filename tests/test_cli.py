"""The `grade` command's contract: which rubric, outputs, exit codes and messages."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.errors import ExitCode

from .conftest import REPO, GradeRunner, write_notebook


def test_rubric_is_found_from_notebook_metadata_and_reports_are_written(grade: GradeRunner) -> None:
    graded = grade("submissions/pool-dims-script.py")
    assert graded.returncode == ExitCode.GRADED
    assert graded.result["exercise"] == "pool-dims"
    assert (graded.out_dir / "pool-dims-script.html").is_file()
    assert "5 / 5" in graded.stdout


def test_submission_without_exercise_lists_the_rubrics(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "anon.ipynb", "x = 1")
    graded = grade(notebook)
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert "names no exercise" in graded.stderr
    assert "cifar10-cnn" in graded.stderr and "Traceback" not in graded.stderr


def test_unknown_exercise_is_a_rubric_error(grade: GradeRunner, tmp_path: Path) -> None:
    graded = grade(write_notebook(tmp_path / "x.ipynb", "x = 1", exercise="nope"))
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert "no rubric for exercise 'nope'" in graded.stderr


def test_bad_rubric_exits_3_with_line_and_key(grade: GradeRunner, tmp_path: Path) -> None:
    rubric = tmp_path / "bad.yaml"
    rubric.write_text("exercise: x\ntitle: t\nchecks:\n  - id: a\n    points: 1\n    totl_params: 3\n")
    graded = grade("submissions/alice.ipynb", "--rubric", rubric)
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert f"{rubric}:6:5: checks[0].totl_params: unknown key" in graded.stderr
    assert "Traceback" not in graded.stderr


def test_unreadable_submission_exits_4(grade: GradeRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    graded = grade(broken)
    assert graded.returncode == ExitCode.BAD_SUBMISSION
    assert "broken JSON" in graded.stderr and "Traceback" not in graded.stderr
    assert not (graded.out_dir / "broken.json").exists()


def test_missing_file_exits_4(grade: GradeRunner) -> None:
    graded = grade("submissions/nobody.ipynb")
    assert graded.returncode == ExitCode.BAD_SUBMISSION
    assert "no such file" in graded.stderr


def test_fail_under_and_explicit_rubric(grade: GradeRunner, tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.yaml"
    shutil.copy(REPO / "rubrics" / "cifar10-cnn.yaml", rubric)
    graded = grade("submissions/wrong-kernel-size.ipynb", "--rubric", rubric, "--fail-under", "90%")
    assert graded.returncode == ExitCode.BELOW_FAIL_UNDER
    assert graded.result["rubric"] == str(rubric)
    assert "below --fail-under 90%" in graded.stdout
    assert (graded.out_dir / "wrong-kernel-size.html").is_file(), (
        "a failing self-check still writes the report"
    )


def test_bad_fail_under_is_a_usage_error(grade: GradeRunner) -> None:
    graded = grade("submissions/alice.ipynb", "--fail-under", "lots")
    assert graded.returncode == ExitCode.USAGE
    assert "--fail-under" in graded.stderr


def test_help_lists_exit_codes(grade: GradeRunner) -> None:
    graded = grade("--help")
    assert graded.returncode == 0
    text = " ".join(graded.stdout.split())
    assert "3 bad rubric" in text and "SUBMISSION" in text
