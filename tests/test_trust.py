"""The grader measures the saved model itself: what the student's kernel says cannot raise a score."""

from __future__ import annotations

from pathlib import Path

from .conftest import GradeRunner, write_notebook

WRONG_MODEL = """\
from keras.models import Sequential
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
model = Sequential()
model.add(Conv2D(16, 3, padding='same', activation='relu', input_shape=(32, 32, 3)))
model.add(Flatten())
model.add(Dense(10, activation='softmax'))
"""

LIES = """\
import keras
keras.Model.count_params = lambda self: 528054
keras.layers.Layer.count_params = lambda self: 0
keras.Model.summary = lambda self, *a, **k: print("Total params: 528,054 (2.01 MB)")
model.summary()
print("Total params: 528,054")
"""


def test_monkeypatched_counts_and_fake_summary_do_not_raise_the_score(
    grade: GradeRunner, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "liar.ipynb", WRONG_MODEL, LIES, exercise="cifar10-cnn")
    graded = grade(notebook)
    assert graded.returncode == 0, graded.stderr
    result = graded.result
    assert result["run"]["failing_cells"] == []
    assert "Total params: 528,054" in result["run"]["cells"][1]["output"], "the lie was told in the kernel"
    assert graded.check("size")["status"] == "fail"
    assert result["model"]["total_params"] == 448 + 163_850
    assert graded.check("architecture")["status"] == "fail"
    assert result["score"] < 2


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
