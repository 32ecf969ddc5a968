"""Broken submissions (submissions/broken/) and broken rubrics, through the `grade` command (in process).

Each gives one clear message naming the file and what is wrong, the documented exit code (4 for
an unreadable submission, 3 for a bad rubric), no report, and never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import REPO, GradeRunner

BROKEN = REPO / "submissions" / "broken"
BAD_SUBMISSION = 4
BAD_RUBRIC = 3


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        (
            "invalid-json.ipynb",
            "invalid-json.ipynb:14:3: not a valid notebook: broken JSON",
            "restore it from a checkpoint",
        ),
        (
            "nbformat-v3.ipynb",
            "notebook format 3 is not supported (need 4)",
            "jupyter nbconvert --to notebook",
        ),
        ("empty.ipynb", "the file is empty", "saved before submitting"),
        ("binary.ipynb", "this is a binary file, not a notebook or a script", None),
        ("no-code-cells.ipynb", "the notebook has no code to run", "the right file"),
        (
            "r-kernel.ipynb",
            "the notebook's kernel is 'R'; this exercise needs Python",
            "Change kernel > Python 3",
        ),
        (
            "syntax-error.py",
            "syntax-error.py:8:6: the script does not compile: '(' was never closed",
            "py_compile",
        ),
    ],
)
def test_broken_submission_is_a_clear_error_with_exit_4(
    grade_cli: GradeRunner, tmp_path: Path, name: str, message: str, hint: str | None
) -> None:
    graded = grade_cli(BROKEN / name)
    assert graded.returncode == BAD_SUBMISSION, graded.stderr
    stderr = " ".join(graded.stderr.split())
    assert stderr.startswith("error: ")
    assert message in stderr
    if hint is not None:
        assert "hint: " in stderr and hint in stderr
    assert "Traceback" not in graded.stderr and "internal error" not in graded.stderr
    assert not (tmp_path / "reports").exists(), "nothing is graded, so no report is written"


def test_every_broken_sample_is_covered() -> None:
    covered = {
        "invalid-json.ipynb",
        "nbformat-v3.ipynb",
        "empty.ipynb",
        "binary.ipynb",
        "no-code-cells.ipynb",
        "r-kernel.ipynb",
        "syntax-error.py",
    }
    assert {p.name for p in BROKEN.iterdir()} == covered


def test_syntax_error_line_shows_the_source(grade_cli: GradeRunner) -> None:
    graded = grade_cli(BROKEN / "syntax-error.py")
    assert 'print("height:", 100' in graded.stderr


def test_script_with_ipython_magics_still_compiles(grade_cli: GradeRunner, tmp_path: Path) -> None:
    script = tmp_path / "magics.py"
    script.write_text("# grader: exercise=conv-dims\n%matplotlib inline\n!echo hi\n# %%\nconv_params = (\n")
    graded = grade_cli(script)
    assert graded.returncode == BAD_SUBMISSION
    assert "magics.py:5:" in graded.stderr, "the magics pass; the unclosed parenthesis on line 5 does not"


def test_not_utf8_script_is_exit_4(grade_cli: GradeRunner, tmp_path: Path) -> None:
    script = tmp_path / "latin1.py"
    script.write_bytes("# grader: exercise=conv-dims\nname = 'Müller'\n".encode("latin-1"))
    graded = grade_cli(script)
    assert graded.returncode == BAD_SUBMISSION
    assert "not UTF-8 text" in graded.stderr and "Traceback" not in graded.stderr


@pytest.mark.parametrize(
    ("rubric", "message"),
    [
        (
            "exercise: conv-dims\ntitle: t\nchecks:\n  - {id: a, points: 1, total_params: 80, colour: red}\n",
            ":4:",
        ),
        ("exercise: conv-dims\ntitle: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
        ("exercise: conv-dims\ntitle: t\nchecks: []\n", "checks"),
        ("", "the rubric is empty"),
    ],
)
def test_rubric_that_does_not_validate_is_exit_3(
    grade_cli: GradeRunner, tmp_path: Path, rubric: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(rubric)
    graded = grade_cli(REPO / "submissions" / "pool-dims-script.py", "--rubric", path)
    assert graded.returncode == BAD_RUBRIC, graded.stderr
    assert str(path) in graded.stderr and message in graded.stderr
    assert "Traceback" not in graded.stderr
