"""Which model is graded: the rubric's variable, or the most similar model the notebook defines."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import GradeRunner, write_notebook

pytestmark = pytest.mark.slow


def test_differently_named_unbuilt_model_is_found_built_and_noted(grade: GradeRunner, tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "renamed.ipynb",
        "from keras.models import Sequential\nfrom keras.layers import Dense, MaxPooling2D\n"
        "helper = Sequential([Dense(3, input_shape=(4,))])\n"
        "pooling = Sequential([MaxPooling2D(pool_size=2, strides=2)])",
        "pool_height, pool_depth = 50, 15",
        exercise="pool-dims",
    )
    graded = grade(notebook)
    assert graded.returncode == 0, graded.stderr
    result = graded.result
    assert result["model"]["variable"] == "pooling", "the model most like the rubric's layers is graded"
    assert result["score"] == result["max_score"]
    notes = " ".join(result["notes"])
    assert "the rubric grades `model`, which the notebook does not define; graded `pooling`" in notes
    assert "`helper`" in notes
    assert "was not built" in notes and "(100, 100, 15)" in notes
    assert "graded `pooling`" in graded.html
