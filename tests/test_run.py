"""Execution: failing, slow and fatal cells are reported per cell and never stop the grade."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import GradeRunner, write_notebook

pytestmark = pytest.mark.slow

ANSWER_RUBRIC = """\
exercise: answers
title: Answers only
checks:
  - id: answer
    points: 1
    variable: {name: answer, equals: 42}
"""

MODEL = (
    "from keras.models import Sequential\nfrom keras.layers import MaxPooling2D\n"
    "model = Sequential([MaxPooling2D(2, strides=2, input_shape=(100, 100, 15))])"
)


def answers_rubric(tmp_path: Path) -> Path:
    rubric = tmp_path / "answers.yaml"
    rubric.write_text(ANSWER_RUBRIC)
    return rubric


def test_slow_cell_times_out_and_later_cells_still_run(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "slow.ipynb", "x = 1", "import time\nwhile True:\n    time.sleep(0.1)", "answer = 42"
    )
    graded = grade(notebook, "--rubric", answers_rubric(tmp_path), "--cell-timeout", "4")
    assert graded.returncode == 0, graded.stderr
    cells = graded.result["run"]["cells"]
    assert [c["status"] for c in cells] == ["ok", "timeout", "ok"]
    assert "Stopped after 4 s (the per-cell time limit)" in cells[1]["hint"]
    assert graded.result["score"] == graded.result["max_score"]


def test_total_time_limit_skips_the_rest(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "total.ipynb", "x = 1", "import time\ntime.sleep(60)", "answer = 42")
    graded = grade(notebook, "--rubric", answers_rubric(tmp_path), "--timeout", "6", "--cell-timeout", "60")
    statuses = [c["status"] for c in graded.result["run"]["cells"]]
    assert statuses[1] == "timeout" and statuses[2] == "skipped"
    assert "the notebook's total time" in graded.result["run"]["cells"][1]["hint"]


def test_kernel_that_exits_is_reported_and_nothing_is_inspected(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "exit.ipynb", MODEL, "import os\nos._exit(3)", "pool_height = 50", exercise="pool-dims"
    )
    graded = grade(notebook)
    assert graded.returncode == 0, graded.stderr
    cells = graded.result["run"]["cells"]
    assert [c["status"] for c in cells] == ["ok", "died", "skipped"]
    assert graded.result["score"] == 0
    assert all(c["status"] == "error" for c in graded.result["checks"])
    assert "the kernel died in cell 2" in graded.check("pool-layer")["message"]
