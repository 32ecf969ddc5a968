"""`%grade` in a running notebook: a real kernel (this venv's, which can import the grader) driven by nbclient.

The notebook builds its model, loads the extension and runs `%grade` three times: with the
student rubric found by exercise id in `student/`, with the instructor's rubric, and with no
argument (the exercise in the notebook's metadata: nbclient names no notebook, so the magic finds
the one notebook in the kernel's folder). Every display must
show the visible checks' results and no hidden check's expected value, and the magic must leave
no name behind in the student's namespace.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError
from nbclient import NotebookClient

from grader.authoring.publish import publish, write_published
from grader.errors import RubricError
from grader.magic import notebook_path, parse_line, resolve
from grader.rubric.model import load_rubric

SECRET = "987654"

INSTRUCTOR = f"""\
exercise: conv-dims
title: Dimensionality of a convolutional layer
model: {{variable: model, input_shape: [200, 200, 1]}}
checks:
  - id: conv-layer
    points: 3
    reveal: true
    layers:
      - {{type: Conv2D, filters: 16, kernel_size: 2, strides: 2, padding: valid, activation: relu,
         output_shape: [100, 100, 16], params: 80}}
  - id: params-answer
    points: 1
    variable: {{name: conv_params, equals: 80}}
  - id: secret-size
    points: 1
    visibility: hidden
    description: {SECRET} parameters
    total_params: {SECRET}
"""

CELLS = (
    "from keras.layers import Conv2D\nfrom keras.models import Sequential\n"
    "model = Sequential([Conv2D(16, 2, strides=2, padding='valid', activation='relu', input_shape=(200, 200, 1))])\n"
    "conv_params = 80",
    "before = set(globals())",
    "%load_ext grader",
    "%grade conv-dims",
    "%grade --rubric instructor/conv-dims.yaml",
    "%grade",
    "print(sorted(n for n in set(globals()) - before - {'before'} if not n.startswith('_')))",
)


def displayed(cell: nbformat.NotebookNode) -> str:
    html = [o["data"]["text/html"] for o in cell.outputs if o.output_type == "display_data"]
    assert len(html) == 1, cell.outputs
    return str(html[0])


@pytest.mark.slow
def test_grade_magic_displays_the_visible_checks_of_the_live_kernel(tmp_path: Path) -> None:
    instructor = tmp_path / "instructor" / "conv-dims.yaml"
    instructor.parent.mkdir()
    instructor.write_text(INSTRUCTOR, encoding="utf-8")
    student = tmp_path / "student" / "conv-dims.yaml"
    write_published(publish(load_rubric(instructor), student), student)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["grader"] = {"exercise": "conv-dims"}
    nbformat.write(notebook, tmp_path / "hw.ipynb")
    environment = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}

    NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute(env=environment)

    with_student_rubric, with_instructor_rubric, from_metadata = (
        displayed(notebook.cells[i]) for i in (3, 4, 5)
    )
    for shown in (with_student_rubric, with_instructor_rubric, from_metadata):
        assert "conv-layer" in shown and "the expected layer matches" in shown
        assert "secret-size" in shown and "hidden until grading" in shown
        assert "self-check: not sandboxed, not a grade" in shown
    assert "`conv_params` is defined (self-check" in with_student_rubric
    assert "`conv_params` = 80, as expected" in with_instructor_rubric
    assert "`conv_params` is defined (self-check" in from_metadata, (
        "no argument: the notebook's student rubric"
    )
    everything = json.dumps([cell.outputs for cell in notebook.cells])
    assert SECRET not in everything and "987,654" not in everything
    assert notebook.cells[6].outputs[0]["text"].strip() == "[]", "the magic binds no name in the notebook"


def test_the_magic_says_which_exercise_it_needs_and_refuses_unknown_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="unknown argument"):
        parse_line("conv-dims --fast")
    with pytest.raises(RubricError, match="which exercise"):
        resolve(parse_line(""), None)
    with pytest.raises(RubricError, match="no rubric for exercise 'conv-dims'"):
        resolve(parse_line("conv-dims"), None)
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "conv-dims.yaml").write_text(INSTRUCTOR, encoding="utf-8")
    assert resolve(parse_line("conv-dims"), None).path == Path("rubrics/conv-dims.yaml").resolve()


def test_the_notebook_is_found_as_vs_code_jupyter_and_nbclient_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VS Code names the notebook in `__vsc_ipynb_file__`; nbclient names nothing, so the folder's notebook is it."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    hw = tmp_path / "hw.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    notebook.metadata["grader"] = {"exercise": "conv-dims"}
    nbformat.write(notebook, hw)
    assert notebook_path({"__vsc_ipynb_file__": str(hw)}, tmp_path / "elsewhere") == hw
    assert notebook_path({}, tmp_path) == hw
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "scratch.ipynb")
    assert notebook_path({}, tmp_path) == hw, "of several notebooks, the one naming an exercise"
    nbformat.write(notebook, tmp_path / "copy.ipynb")
    assert notebook_path({}, tmp_path) is None
    with pytest.raises(RubricError) as unsure:
        resolve(parse_line(""), None)
    assert "did not say which notebook" in unsure.value.message
    assert unsure.value.hint is not None and "%grade EXERCISE" in unsure.value.hint
