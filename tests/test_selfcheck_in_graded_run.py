"""`%load_ext grader` and `%grade` left in a handed-in notebook are silent no-ops when it is graded.

The grading kernel has no grader (the sandbox does not mount it): `%load_ext grader` failed with
"No module named 'grader'" in every graded run and showed in the report as the student's error,
and the cell's failure stopped nothing but still read as one. A real notebook graded by the real
`grade` command, in a real kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_grade, write_notebook


@pytest.mark.slow
def test_the_self_check_lines_are_no_errors_in_a_graded_run(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "hw.ipynb",
        "%load_ext grader",
        "%grade",
        "from keras.layers import Conv2D\nfrom keras.models import Sequential\n"
        "model = Sequential([Conv2D(16, 2, strides=2, padding='valid', activation='relu',"
        " input_shape=(200, 200, 1))])\nconv_params = 80\nconv_height = 100",
        "%grade conv-dims",
        "get_ipython().run_line_magic('grade', '--rubric anything.yaml')",
        exercise="conv-dims",
    )
    done = run_grade(notebook, "--rubric", REPO / "rubrics" / "conv-dims.yaml", out_dir=tmp_path / "out")
    result = json.loads((tmp_path / "out" / "hw.json").read_text())
    cells = result["run"]["cells"]
    assert [cell["status"] for cell in cells] == ["ok"] * 5, cells
    assert all(not cell["output"].strip() for cell in cells if "grade" in cell["source"]), cells
    assert result["score"] == result["max_score"], done.stdout
