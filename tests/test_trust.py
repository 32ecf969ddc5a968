"""Facts read from the kernel are plain data; the grader, not the notebook, decides what they are worth."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import GradeRunner, run_grade, write_notebook

pytestmark = pytest.mark.slow

# A notebook that monkeypatches count_params/summary or prints a fake summary is graded in
# tests/test_hostile.py (submissions/hostile/monkeypatch-keras.py).


def test_variables_are_read_from_the_kernel_but_scored_by_the_grader(
    grade: GradeRunner, tmp_path: Path
) -> None:
    notebook = write_notebook(
        tmp_path / "answers.ipynb",
        "from keras.models import Sequential\nfrom keras.layers import Conv2D\n"
        "model = Sequential([Conv2D(16, 2, strides=2, activation='relu', input_shape=(200, 200, 1))])",
        "import numpy as np\nconv_params = np.int64(80)\nconv_height = '100'",
        exercise="conv-dims",
    )
    graded = grade(notebook)
    assert graded.check("params-answer")["status"] == "pass", "a NumPy integer is a plain number"
    height = graded.check("height-answer")
    assert height["status"] == "fail" and "'100', expected 100" in height["message"]
    assert graded.check("conv-layer")["status"] == "pass"


@pytest.mark.slow
def test_a_rubric_variable_named_like_a_json_literal_is_read(tmp_path: Path) -> None:
    """The old probe cell turned `null_params` into `None_params` (a JSON-to-Python text replace)."""
    rubric = tmp_path / "answers.yaml"
    rubric.write_text(
        "exercise: answers\ntitle: Answers\nchecks:\n"
        "  - {id: a, points: 1, variable: {name: null_params, equals: 80}}\n"
        "  - {id: b, points: 1, variable: {name: true_false, equals: true}}\n"
    )
    notebook = write_notebook(tmp_path / "answers.ipynb", "null_params = 80\ntrue_false = True")
    graded = run_grade(notebook, "--rubric", rubric, out_dir=tmp_path / "reports")
    assert graded.returncode == 0, graded.stderr
    assert [c["status"] for c in graded.result["checks"]] == ["pass", "pass"]
