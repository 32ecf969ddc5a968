"""`grade gradescope build`: a self-contained autograder zip, and its run_autograder grading for real.

The last test unpacks the zip into a temporary tree laid out like Gradescope's `/autograder`
(`source/` the zip, `submission/` the student's notebook, `run_autograder` copied beside them) and
runs the script with `AUTOGRADER_ROOT` pointing there. setup.sh is not run (it installs with apt
and pip): this venv's `grade` stands in for the one it would install.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.errors import RubricError, SubmissionError
from grader.outputs import gradescope
from grader.rubric.model import load_rubric, parse_rubric
from tests.conftest import REPO, GradeRunner, invoke_grade, write_notebook

SECRET = "987654"
VENV_BIN = Path(sys.executable).parent


def build(rubric: Path, out: Path, *options: str) -> zipfile.ZipFile:
    done = invoke_grade("gradescope", "build", rubric, "--out", out, *options, out_dir=out.parent)
    assert done.returncode == 0, done.stderr
    return zipfile.ZipFile(out)


def test_the_zip_holds_both_scripts_the_grader_wheel_and_the_rubric_with_its_data(tmp_path: Path) -> None:
    archive = build(
        REPO / "rubrics" / "digits-cnn.yaml", tmp_path / "autograder.zip", "--output-format", "md"
    )
    names = set(archive.namelist())
    assert {"setup.sh", "run_autograder", "rubric/digits-cnn.yaml", "rubric/data/digits-train.npz"} <= names
    assert "rubric/data/digits-test.npz" in names, "the held-out data travels (students never see the source)"
    wheels = [n for n in names if n.startswith("wheels/grader-") and n.endswith("-py3-none-any.whl")]
    assert len(wheels) == 1
    for script in ("setup.sh", "run_autograder"):
        mode = archive.getinfo(script).external_attr >> 16
        assert mode & stat.S_IXUSR, f"{script} must be executable"
        assert 'ROOT="${AUTOGRADER_ROOT:-/autograder}"' in archive.read(script).decode()
    setup = archive.read("setup.sh").decode()
    assert "apt-get install -y --no-install-recommends bubblewrap" in setup
    assert f'pip" install "$SOURCE/{wheels[0]}[cpu]"' in setup
    run = archive.read("run_autograder").decode()
    assert '--rubric "$SOURCE/rubric/digits-cnn.yaml"' in run and "--output-format md" in run
    rubric = archive.read("rubric/digits-cnn.yaml").decode()
    assert "\nexamples:" not in rubric and "\nsolution:" not in rubric
    assert parse_rubric(rubric).checks == load_rubric(REPO / "rubrics" / "digits-cnn.yaml").rubric.checks


def test_the_wheel_installs_offline_with_the_grade_command_and_its_templates(tmp_path: Path) -> None:
    name, wheel = gradescope.build_wheel()
    (tmp_path / name).write_bytes(wheel)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            target,
            tmp_path / name,
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "grader" / "render" / "templates" / "report.html.j2").is_file()
    assert (target / "grader" / "inside" / "kernel" / "probe.py").is_file()
    assert "grader.cli" in (target / "bin" / "grade").read_text()
    record = next(target.glob("grader-*.dist-info")) / "RECORD"
    assert "grader/render/visibility.py,sha256=" in record.read_text()


def test_rubric_data_from_the_keras_cache_travels_in_the_zip(tmp_path: Path, keras_cache: Path) -> None:
    rubric = tmp_path / "mnist.yaml"
    rubric.write_text(
        "exercise: mnist-mlp\ntitle: t\nmodel: {input_shape: [28, 28]}\nchecks:\n"
        "  - id: accuracy\n    points: 1\n    accuracy:\n      data: {keras: mnist}\n"
        "      tiers: [{min: 0.5, points: 1}]\n",
        encoding="utf-8",
    )
    archive = build(rubric, tmp_path / "autograder.zip")
    assert "keras/datasets/mnist.npz" in archive.namelist()
    assert 'export KERAS_HOME="$SOURCE/keras"' in archive.read("run_autograder").decode()
    weights = tmp_path / "weights.yaml"
    weights.write_text(rubric.read_text() + "weights: [no-such-weights.h5]\n", encoding="utf-8")
    with pytest.raises(RubricError, match=r"no-such-weights\.h5 are not in the grader's Keras cache"):
        gradescope.build(load_rubric(weights), tmp_path / "w.zip")


def test_the_submission_is_the_one_notebook_or_the_one_for_the_exercise(tmp_path: Path) -> None:
    folder = tmp_path / "submission"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    write_notebook(folder / ".ipynb_checkpoints" / "hw-checkpoint.ipynb", "x = 1")
    (folder / "helper.py").write_text("x = 1\n", encoding="utf-8")
    write_notebook(folder / "hw.ipynb", "x = 1")
    assert gradescope.find_submission(folder, "conv-dims") == folder / "hw.ipynb"
    write_notebook(folder / "other.ipynb", "x = 2", exercise="pool-dims")
    with pytest.raises(SubmissionError, match="several submissions"):
        gradescope.find_submission(folder, "conv-dims")
    write_notebook(folder / "hw.ipynb", "x = 1", exercise="conv-dims")
    assert gradescope.find_submission(folder, "conv-dims") == folder / "hw.ipynb"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no notebook"):
        gradescope.find_submission(tmp_path / "empty", "conv-dims")


def test_an_unreadable_submission_still_gets_a_results_json(grade_cli: GradeRunner, tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "hw.ipynb").write_text('{"cells": [<b>', encoding="utf-8")
    results = tmp_path / "results" / "results.json"
    done = grade_cli(
        "gradescope", "run", "--rubric", REPO / "rubrics" / "conv-dims.yaml",
        "--submission", tmp_path / "submission", "--results", results, "--output-format", "html",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads(results.read_text())
    assert written["score"] == 0 and written["tests"] == [] and written["output_format"] == "html"
    assert "broken JSON" in written["output"] and "<b>" not in written["output"]


INSTRUCTOR = f"""\
exercise: conv-dims
title: Dimensionality of a convolutional layer
model: {{variable: model, input_shape: [200, 200, 1]}}
checks:
  - id: conv-layer
    points: 3
    layers:
      - {{type: Conv2D, filters: 16, kernel_size: 2, strides: 2, padding: valid, output_shape: [100, 100, 16]}}
  - id: secret-size
    points: 1
    visibility: hidden
    description: {SECRET} parameters
    total_params: {SECRET}
  - id: later
    points: 1
    visibility: after_due
    variable: {{name: conv_params, equals: 80}}
"""


@pytest.mark.slow
def test_run_autograder_grades_a_submission_in_a_simulated_autograder_tree(tmp_path: Path) -> None:
    rubric = tmp_path / "course" / "conv-dims.yaml"
    rubric.parent.mkdir()
    rubric.write_text(INSTRUCTOR, encoding="utf-8")
    build(rubric, tmp_path / "autograder.zip").extractall(tmp_path / "autograder" / "source")
    root = tmp_path / "autograder"
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "submission").mkdir()
    write_notebook(
        root / "submission" / "hw.ipynb",
        "from keras.layers import Conv2D\nfrom keras.models import Sequential\n"
        "model = Sequential([Conv2D(16, 2, strides=2, activation='relu', input_shape=(200, 200, 1))])\n"
        "conv_params = 80",
    )
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}

    done = subprocess.run(
        ["bash", root / "run_autograder"], env=env, capture_output=True, text=True, timeout=600
    )

    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    # A check is withheld, so no top-level score (it would show the hidden points): Gradescope sums the tests.
    assert "score" not in results
    assert sum(t["score"] for t in tests.values()) == 4
    assert sum(t["max_score"] for t in tests.values()) == 5
    assert {n: (t["status"], t["visibility"]) for n, t in tests.items()} == {
        "conv-layer": ("passed", "visible"),
        "secret-size": ("failed", "after_published"),
        "later": ("passed", "after_due_date"),
    }
    assert results["output_format"] == "html" and results["test_output_format"] == "text"
    assert "conv-layer" in results["output"] and "hidden until grading" in results["output"]
    assert SECRET not in results["output"] and "987,654" not in results["output"]
    assert SECRET not in json.dumps(tests["conv-layer"])


def test_links_fifos_and_devices_in_the_submission_folder_are_never_followed_or_read(tmp_path: Path) -> None:
    """Attack: the student's folder holds a link to the autograder's rubric (hidden bounds in it) named
    like a notebook, a FIFO and a linked folder; only the real notebook is graded, and when nothing
    else is left the refusal says why without a byte of the rubric."""
    source = tmp_path / "source"
    source.mkdir()
    secret = source / "rubric.yaml"
    secret.write_text("checks: [{id: hidden-size, total_params: 987654}]\n", encoding="utf-8")
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "answers.ipynb").symlink_to(secret)
    (folder / "linked").symlink_to(source, target_is_directory=True)
    os.mkfifo(folder / "pipe.ipynb")
    with pytest.raises(SubmissionError) as refused:
        gradescope.find_submission(folder, "conv-dims")
    assert "answers.ipynb is a link" in refused.value.message
    assert "pipe.ipynb is not a regular file" in refused.value.message
    assert "987654" not in refused.value.message
    write_notebook(folder / "hw.ipynb", "x = 1")
    assert gradescope.find_submission(folder, "conv-dims") == folder / "hw.ipynb"
