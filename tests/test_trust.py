"""Facts read from the kernel are plain data; the grader, not the notebook, decides what they are worth."""

from __future__ import annotations

from pathlib import Path

from .conftest import GradeRunner, write_notebook

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
