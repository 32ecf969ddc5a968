"""The `grade` command's contract: which rubric, outputs, exit codes and messages.

The contract is tested in process (`grade_cli`, click's CliRunner); the installed entry point, as
a real process with stdout and stderr apart, once; grading that starts a kernel is slow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import ExitCode

from .conftest import REPO, GradeRunner, run_grade, write_notebook


@pytest.mark.slow
def test_rubric_is_found_from_notebook_metadata_and_reports_are_written(grade: GradeRunner) -> None:
    graded = grade("submissions/pool-dims-script.py")
    assert graded.returncode == ExitCode.GRADED
    assert graded.result["exercise"] == "pool-dims"
    assert (graded.out_dir / "pool-dims-script.html").is_file()
    assert "5 / 5" in graded.stdout


def test_submission_without_exercise_lists_the_rubrics(grade_cli: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "anon.ipynb", "x = 1")
    graded = grade_cli(notebook)
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert "names no exercise" in graded.stderr
    assert "cifar10-cnn" in graded.stderr and "Traceback" not in graded.stderr


def test_unknown_exercise_is_a_rubric_error(grade_cli: GradeRunner, tmp_path: Path) -> None:
    graded = grade_cli(write_notebook(tmp_path / "x.ipynb", "x = 1", exercise="nope"))
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert "no rubric for exercise 'nope'" in graded.stderr


def test_bad_rubric_exits_3_with_line_and_key(grade_cli: GradeRunner, tmp_path: Path) -> None:
    rubric = tmp_path / "bad.yaml"
    rubric.write_text("exercise: x\ntitle: t\nchecks:\n  - id: a\n    points: 1\n    totl_params: 3\n")
    graded = grade_cli("submissions/alice.ipynb", "--rubric", rubric)
    assert graded.returncode == ExitCode.BAD_RUBRIC
    assert f"{rubric}:6:5: checks[0].totl_params: unknown key" in graded.stderr
    assert "Traceback" not in graded.stderr


def test_unreadable_submission_exits_4(grade_cli: GradeRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    graded = grade_cli(broken)
    assert graded.returncode == ExitCode.BAD_SUBMISSION
    assert "broken JSON" in graded.stderr and "Traceback" not in graded.stderr
    assert not (graded.out_dir / "broken.json").exists()


def test_missing_file_exits_4(grade_cli: GradeRunner) -> None:
    graded = grade_cli("submissions/nobody.ipynb")
    assert graded.returncode == ExitCode.BAD_SUBMISSION
    assert "no such file" in graded.stderr


@pytest.mark.slow
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


def test_bad_fail_under_is_a_usage_error(grade_cli: GradeRunner) -> None:
    graded = grade_cli("submissions/alice.ipynb", "--fail-under", "lots")
    assert graded.returncode == ExitCode.USAGE
    assert "--fail-under" in graded.stderr


def test_help_lists_exit_codes(grade_cli: GradeRunner) -> None:
    graded = grade_cli("--help")
    assert graded.returncode == 0
    text = " ".join(graded.stdout.split())
    assert "3 bad rubric" in text and "SUBMISSION" in text


def test_grade_help_lists_the_options_for_grading_one_submission(grade_cli: GradeRunner) -> None:
    shown = grade_cli("--help")
    assert shown.returncode == 0
    section = shown.stdout.split("Options for grading one submission", 1)[1]
    for option in ("--cell-timeout", "--memory-mb", "--grader-timeout", "--fail-under", "--rubric"):
        assert option in section, option


def test_a_mistyped_command_suggests_the_command_not_a_missing_file(grade_cli: GradeRunner) -> None:
    typo = grade_cli("bacth", "submissions/")
    assert typo.returncode == ExitCode.USAGE
    assert "no such command 'bacth'; did you mean 'batch'?" in typo.stderr
    assert "no such file" not in typo.stderr


def test_usage_errors_name_grade_never_the_hidden_command(grade_cli: GradeRunner) -> None:
    for args in (
        ("--bogus",),
        ("submissions/alice.ipynb", "extra", "arguments"),
        ("--timeout", "-3", "x.ipynb"),
    ):
        done = grade_cli(*args)
        assert done.returncode == ExitCode.USAGE, args
        assert "Try 'grade --help'" in done.stderr and "submission --help" not in done.stderr, done.stderr


def test_batch_help_documents_every_exit_code_and_the_default_workers(grade_cli: GradeRunner) -> None:
    shown = grade_cli("batch", "--help")
    text = " ".join(shown.stdout.split())
    assert "130 interrupted" in text and "6 sandbox required" in text
    assert "default: the CPUs, as far as memory allows" in text


@pytest.mark.slow
def test_debug_logs_and_keeps_the_kernels_folder(grade: GradeRunner) -> None:
    graded = grade("submissions/pool-dims-script.py", "--debug")
    assert graded.returncode == ExitCode.GRADED, graded.stderr
    assert "grader.sandbox.kernels DEBUG launching a kernel" in graded.stderr
    kept = next(n for n in graded.result["run"]["notes"] if n.startswith("the kernel's folder was kept"))
    folder = Path(kept.rsplit(": ", 1)[1])
    try:
        assert (folder / "kernel.log").is_file() and (folder / "work" / "pool-dims-script.py").is_file()
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_without_debug_the_grader_is_silent_and_keeps_nothing(grade_cli: GradeRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    done = grade_cli(broken)
    assert done.returncode == ExitCode.BAD_SUBMISSION
    assert "DEBUG" not in done.stderr and "INFO" not in done.stderr


def test_the_installed_entry_point_exits_with_the_code_and_keeps_stdout_for_results(tmp_path: Path) -> None:
    """The real `grade` process: its exit code, the error on stderr alone, nothing written."""
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    done = run_grade(broken, out_dir=tmp_path / "reports", timeout=120)
    assert done.returncode == ExitCode.BAD_SUBMISSION
    assert done.stdout == "" and "broken JSON" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()
