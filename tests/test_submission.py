"""Reading submissions: notebooks and scripts become numbered code cells with their exercise id."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.grading.submission import load_submission

from .conftest import REPO, write_notebook


def test_notebook_code_cells_and_exercise_id() -> None:
    submission = load_submission(REPO / "submissions" / "alice.ipynb")
    assert submission.kind == "notebook"
    assert submission.exercise == "cifar10-cnn"
    assert [c.number for c in submission.cells] == [1, 2, 3]
    assert "Conv2D(filters=16" in submission.cells[1].source


def test_script_splits_at_cell_markers_and_keeps_line_numbers(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("# grader: exercise=pool-dims\nimport os\n# %%\nx = 1\n\n#%% second\ny = 2\n")
    submission = load_submission(script)
    assert submission.exercise == "pool-dims"
    assert [c.first_line for c in submission.cells] == [1, 3, 6]
    assert submission.cells[2].source.endswith("y = 2\n")


def test_script_without_markers_is_one_cell(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text("a = 1\nb = 2\n")
    submission = load_submission(script)
    assert len(submission.cells) == 1 and submission.exercise is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.ipynb", b"", "the file is empty"),
        ("broken.ipynb", b'{"cells": [', "broken JSON"),
        ("binary.ipynb", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        ("old.ipynb", b'{"nbformat": 3, "worksheets": [], "metadata": {}}', "notebook format 3"),
        ("notes.txt", b"hello", "cannot grade a .txt file"),
    ],
)
def test_unreadable_files_raise_submission_errors(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=message):
        load_submission(path)


def test_other_language_kernel_is_rejected(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "r.ipynb", "x <- 1")
    path.write_text(path.read_text().replace('"language": "python"', '"language": "R"'))
    with pytest.raises(SubmissionError, match="kernel is 'R'"):
        load_submission(path)


def test_notebook_without_code_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="no code to run"):
        load_submission(write_notebook(tmp_path / "empty-cells.ipynb", "", "   "))
