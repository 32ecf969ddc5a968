"""`grade rubric publish`: the student rubric holds no hidden check, no held-out data, no unrevealed answer.

And a self-check with it (or with `--self-check`/`--student-view`) says it is not a grade and shows
hidden checks only as "hidden until grading".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.authoring.publish import publish, write_published
from grader.errors import RubricError
from grader.rubric.model import load_rubric
from tests.conftest import REPO, GradeRunner

SECRET = 987654
REVEALED = 4242

INSTRUCTOR = f"""\
exercise: conv-dims
title: Dimensionality of a convolutional layer
description: The answer is {SECRET}.
model: {{variable: model, input_shape: [200, 200, 1]}}
limits: {{timeout: 300, cell_timeout: 120}}
late: {{due: 2026-12-01T23:59, penalty: 10%/day}}
solution: ../solution.ipynb
files: [data/train.npz]
checks:
  - id: conv-layer
    points: 3
    description: The layer the lesson describes.
    layers:
      - {{type: Conv2D, filters: 16, kernel_size: 2, strides: 2, padding: valid, activation: relu,
         output_shape: [100, 100, 16], params: 80}}
  - id: params-answer
    points: 1
    variable: {{name: conv_params, equals: 80}}
  - id: revealed-answer
    points: 1
    reveal: true
    description: Revealed to students.
    variable: {{name: conv_height, equals: {REVEALED}}}
  - id: secret-size
    points: 1
    visibility: hidden
    description: {SECRET} parameters
    total_params: {SECRET}
  - id: output
    points: 1
    output_shape: [100, 100, 16]
  - id: accuracy
    points: 2
    accuracy:
      data: {{npz: data/held-out.npz}}
      tiers: [{{min: 0.9, points: 2}}]
examples:
  - {{path: ../alice.ipynb, score: 8}}
"""


def instructor_rubric(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    np.savez(folder / "data" / "train.npz", x=np.zeros((2, 4)), y=np.zeros(2))
    np.savez(folder / "data" / "held-out.npz", x=np.zeros((2, 4)), y=np.zeros(2))
    path = folder / "conv-dims.yaml"
    path.write_text(INSTRUCTOR, encoding="utf-8")
    return path


def test_the_student_rubric_keeps_revealed_answers_and_nothing_else(tmp_path: Path) -> None:
    source = instructor_rubric(tmp_path / "course")
    out = tmp_path / "student" / "conv-dims.yaml"
    published = publish(load_rubric(source), out)
    text = published.text
    assert str(SECRET) not in text and "987,654" not in text
    assert "held-out.npz" not in text and "solution" not in text and "examples" not in text
    assert f"equals: {REVEALED}" in text and "Revealed to students." in text
    assert (
        "equals: 80" not in text and "params: 80" not in text and "The layer the lesson describes" not in text
    )
    rubric = published.rubric
    assert rubric.student is not None and rubric.student.source == "conv-dims.yaml"
    assert [c.id for c in rubric.checks] == ["conv-layer", "params-answer", "revealed-answer"]
    assert rubric.checks[0].layers is not None and rubric.checks[0].layers[0].attributes() == {
        "type": "Conv2D"
    }
    assert [(w.id, w.reason, w.points) for w in rubric.student.withheld] == [
        ("secret-size", "hidden", None),
        ("output", "answer", 1),
        ("accuracy", "data", 2),
    ]
    assert rubric.student.without_answers == ["conv-layer", "params-answer"]
    assert rubric.late is not None and rubric.late.penalty is not None
    assert published.copies == [(source.parent / "data" / "train.npz", "data/train.npz")]

    write_published(published, out)
    assert (out.parent / "data" / "train.npz").is_file()
    assert not (out.parent / "data" / "held-out.npz").exists()
    assert load_rubric(out).rubric == rubric


def test_a_student_rubric_is_not_published_again_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    source = instructor_rubric(tmp_path / "course")
    out = tmp_path / "student" / "conv-dims.yaml"
    write_published(publish(load_rubric(source), out), out)
    with pytest.raises(RubricError, match="already a student rubric"):
        publish(load_rubric(out), tmp_path / "again.yaml")
    hidden = tmp_path / "hidden.yaml"
    hidden.write_text(
        "exercise: x\ntitle: t\nchecks:\n  - {id: a, points: 1, visibility: hidden, total_params: 5}\n"
        "  - {id: b, points: 1, output_shape: [3]}\n",
        encoding="utf-8",
    )
    with pytest.raises(RubricError, match="nothing a student can check"):
        publish(load_rubric(hidden), tmp_path / "h.yaml")


def test_grade_rubric_publish_writes_the_student_rubric_and_its_handed_out_files(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    out = tmp_path / "student" / "digits-cnn.yaml"
    done = grade_cli("rubric", "publish", "rubrics/digits-cnn.yaml", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "withheld, needing the held-out data (accuracy)" in done.stderr
    assert (out.parent / "data" / "digits-train.npz").is_file()
    assert not (out.parent / "data" / "digits-test.npz").exists()
    assert "digits-test" not in out.read_text() and "student:" in out.read_text()
    again = grade_cli("rubric", "publish", "rubrics/digits-cnn.yaml", "--out", out)
    assert again.returncode == 2 and "--force" in again.stderr


SOLUTION = """# %%
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100
"""


@pytest.mark.slow
def test_a_self_check_with_the_student_rubric_runs_unsandboxed_and_says_it_is_not_a_grade(
    grade: GradeRunner, tmp_path: Path
) -> None:
    source = instructor_rubric(tmp_path / "course")
    student = tmp_path / "student" / "conv-dims.yaml"
    write_published(publish(load_rubric(source), student), student)
    script = tmp_path / "mine.py"
    script.write_text(SOLUTION, encoding="utf-8")

    checked = grade(script, "--rubric", student, "--no-sandbox")

    assert checked.returncode == 0, checked.stderr
    assert "self-check: not sandboxed, not a grade" in checked.stdout
    assert "self-check: not sandboxed, not a grade" in checked.html
    assert checked.result["self_check"] is True and checked.result["run"]["sandboxed"] is False
    statuses = {c["id"]: (c["status"], c["visibility"]) for c in checked.result["checks"]}
    # Published without its answers (the settings), the layer check is only partly checked: no points.
    assert statuses["conv-layer"] == ("skipped", "visible") and statuses["secret-size"] == (
        "skipped",
        "hidden",
    )
    conv = next(c for c in checked.result["checks"] if c["id"] == "conv-layer")
    assert conv["message"].startswith("partly checked") and conv["max_points"] == 0
    assert "warning:" not in checked.stderr
    for shown in (checked.stdout, checked.html):
        assert str(SECRET) not in shown and "hidden until grading" in shown

    viewed = grade(script, "--rubric", source, "--student-view")

    assert viewed.returncode == 0, viewed.stderr
    assert "987,654" in json.dumps(viewed.result), "the JSON keeps the hidden check"
    assert viewed.result["self_check"] is False
    for shown in (viewed.stdout, viewed.html):
        assert "987,654" not in shown and str(SECRET) not in shown
        assert "secret-size" in shown and "hidden until grading" in shown


def test_the_readme_publish_command_works_from_the_repository(grade_cli: GradeRunner, tmp_path: Path) -> None:
    out = tmp_path / "student" / "cifar10-cnn.yaml"
    done = grade_cli("rubric", "publish", "rubrics/cifar10-cnn.yaml", "--out", out, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert load_rubric(out).rubric.student is not None
