"""What a notebook asks of its environment: `!pip install`, KERAS_BACKEND, a model cell that failed.

Fast: the kernel set-up's installer settings, with the real pip in a subprocess; the notes, read
from cell sources and outcomes as the run records them. Slow: the sample notebook
submissions/environment/backend-and-pip.ipynb graded for real (a sandboxed kernel, no network).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from grader.grading import shell_hints
from grader.inside.kernel import setup
from grader.result import CellOutcome
from tests.conftest import GradeRunner

SAMPLE = "submissions/environment/backend-and-pip.ipynb"


def cell(number: int, source: str, status: str = "ok", **error: str) -> CellOutcome:
    return CellOutcome(number=number, source=source, status=status, **error)  # type: ignore[arg-type]


@pytest.fixture
def restored_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.usefixtures("restored_environment")
def test_the_kernel_set_up_makes_pip_fail_at_once_instead_of_retrying() -> None:
    """`!pip` inherits the kernel's environment: with the set-up's settings it gives up without a retry."""
    for name in [n for n in os.environ if n.startswith(("PIP_", "UV_"))]:
        del os.environ[name]
    setup.install({"seed": 0})
    assert {name: os.environ[name] for name in setup.OFFLINE_INSTALLERS} == setup.OFFLINE_INSTALLERS
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "no-such-package-for-grading"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PIP_FIND_LINKS": ""},
    )
    assert done.returncode != 0
    assert "No matching distribution found for no-such-package-for-grading" in done.stderr
    assert "Retrying" not in done.stderr + done.stdout
    assert time.monotonic() - began < 30


@pytest.mark.parametrize(
    ("source", "installs"),
    [
        ("!pip install requests", True),
        ("%pip install -q requests==2.31", True),
        ("import sys\n!{sys.executable} -m pip install requests", True),
        ("%%bash\ncd /tmp\npip install requests", True),
        ("!conda install -y requests", True),
        ("!apt-get install -y graphviz", True),
        ("# !pip install requests (already installed)", False),
        ('print("pip install requests")', False),
        ("!pip list", False),
    ],
)
def test_a_cell_that_installs_packages_gets_a_note(source: str, installs: bool) -> None:
    notes = shell_hints.installs([cell(1, "x = 1"), cell(2, source)])
    assert bool(notes) is installs
    if installs:
        assert notes[0].startswith("cell 2 installs packages (`")
        assert "packages cannot be installed during grading" in notes[0]


@pytest.mark.parametrize(
    ("source", "backend"),
    [
        ('import os\nos.environ["KERAS_BACKEND"] = "jax"', "jax"),
        ("import os\nos.environ['KERAS_BACKEND']='torch'", "torch"),
        ('from os import environ\nenviron["KERAS_BACKEND"] = "jax"', "jax"),
        ('os.environ.setdefault("KERAS_BACKEND", "jax")', "jax"),
        ('os.putenv("KERAS_BACKEND", "torch")', "torch"),
        ('os.environ.update(KERAS_BACKEND="jax")', "jax"),
        ("%env KERAS_BACKEND=jax", "jax"),
        ("%set_env KERAS_BACKEND jax", "jax"),
        ('os.environ["KERAS_BACKEND"] = "tensorflow"', None),
        ('print(os.environ["KERAS_BACKEND"])', None),
    ],
)
def test_a_backend_other_than_tensorflow_is_reported_not_silently_ignored(
    source: str, backend: str | None
) -> None:
    notes = shell_hints.keras_backend([cell(3, source)], keras_imported_first=True)
    if backend is None:
        assert notes == ()
        return
    (note,) = notes
    assert note.startswith(
        f"cell 3 sets KERAS_BACKEND to `{backend}`, but the grader ran the notebook on TensorFlow"
    )
    assert "imports it before the notebook's first cell" in note


def test_the_note_says_a_backend_is_missing_only_when_it_is() -> None:
    """Checked on this machine, not assumed: the reason names the backend only if it cannot be imported."""
    import importlib.util

    (note,) = shell_hints.keras_backend([cell(1, "%env KERAS_BACKEND=jax")], keras_imported_first=False)
    missing = importlib.util.find_spec("jax") is None
    assert ("`jax` is not installed on the grading machine" in note) is missing


MODEL_CELL = "model = keras.Sequential([keras.layers.Conv2D(16, 3, padding='nope')])\nmodel.summary()"


@pytest.mark.parametrize(
    ("failed", "noted"),
    [
        (cell(3, MODEL_CELL, "error", error_name="ValueError", traceback="Cell In[3], line 1\n..."), True),
        (cell(3, "model = (\n", "error", error_name="SyntaxError", traceback="Cell In[3], line 1"), True),
        # the assignment ran (line 1), the cell failed after it (line 2): the model graded is this cell's
        (cell(3, MODEL_CELL, "error", error_name="ValueError", traceback="Cell In[3], line 2\n..."), False),
        # binds `model` only inside a function: the cell's top level rebinds nothing
        (cell(3, "def f():\n    model = 1\nraise ValueError", "error", error_name="ValueError"), False),
        (cell(3, "print(model)\nraise ValueError", "error", error_name="ValueError"), False),
    ],
)
def test_a_failed_model_cell_says_an_earlier_model_was_graded(failed: CellOutcome, noted: bool) -> None:
    cells = [cell(1, "import keras"), cell(2, "model = keras.Sequential()"), failed]
    notes = shell_hints.replaced_model(cells, "model", "model")
    assert bool(notes) is noted
    if noted:
        assert notes == (
            "cell 3, which assigns `model`, failed; the model graded is the one `model` was bound to before it",
        )
    assert shell_hints.replaced_model(cells, "model", "other") == ()


@pytest.mark.slow
def test_the_sample_is_graded_on_tensorflow_offline_and_says_so(grade: GradeRunner) -> None:
    graded = grade(SAMPLE)
    assert graded.returncode == 0, graded.stderr
    result = graded.result
    assert result["score"] == 5
    pip_cell = result["run"]["cells"][1]
    assert "No matching distribution found for einops" in pip_cell["output"]
    assert "Retrying" not in pip_cell["output"]
    notes = result["notes"]
    assert any(n.startswith("cell 2 installs packages (`!pip install einops`)") for n in notes)
    assert any(n.startswith("cell 1 sets KERAS_BACKEND to `jax`") for n in notes)
    assert any(n.startswith("cell 3 sets KERAS_BACKEND to `torch`") for n in notes)
    assert (
        "cell 5, which assigns `model`, failed; the model graded is the one `model` was bound to before it"
        in notes
    )
    assert "\x1b" not in str(result)
    assert "packages cannot be installed during grading" in graded.html
