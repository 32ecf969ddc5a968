"""The report's pictures cannot break the report, whatever the kernel recorded and the model predicts.

Training history comes from the student's kernel: its keys are drawn as legend entries (a `$` made
matplotlib parse them as mathtext, and raise), and there can be thousands of them (a report took
twenty minutes). A model with 2,000 output units made a confusion matrix 84,000 pixels wide.
Each picture is drawn bounded, as plain text, under a time limit, and a picture that cannot be
drawn is a sentence in the page instead of an exception.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from grader.render import plots
from grader.render.report import draw_within, render_html
from grader.result import CheckResult, ClassScore, Metrics
from tests.conftest import GradeRunner, hand_built_result, write_notebook

DRAW_SECONDS = 20.0
MAX_PIXELS = 1_000


def png_size(uri: str | None) -> tuple[int, int]:
    assert uri is not None and uri.startswith("data:image/png;base64,")
    header = base64.b64decode(uri.removeprefix("data:image/png;base64,")[:64])
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def timed(draw: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    picture = draw(*args)
    return time.perf_counter() - started, picture


def test_a_history_key_that_is_broken_mathtext_is_drawn_as_text() -> None:
    uri = plots.training_curves_uri({"loss": [1.0, 0.5], "$\\notacommand{$": [0.1, 0.2], "a$b$c": [0.3, 0.4]})
    assert png_size(uri)[0] > 0


def test_thousands_of_long_history_series_are_drawn_bounded_and_quickly() -> None:
    curve: list[float | None] = [1 - epoch / 5_000 for epoch in range(5_000)]
    history = {f"metric_{number:04d}" + "x" * 500: curve for number in range(3_000)}
    seconds, uri = timed(plots.training_curves_uri, history)
    assert seconds < DRAW_SECONDS
    width, height = png_size(uri)
    assert width <= 5.2 * 100 and height <= 400


def test_history_values_no_axis_can_hold_and_control_characters_are_drawn_around() -> None:
    uri = plots.training_curves_uri(
        {"loss\x1b[2J\n": [1e308, -1e308, None, 0.5, float("inf")], "accuracy": [0.1, 0.2, 0.3, 0.4, 0.5]}
    )
    assert png_size(uri)[0] > 0


def test_a_2000_class_matrix_from_an_old_result_is_drawn_at_a_bounded_size() -> None:
    classes = 2_000
    confusion = [[0] * classes for _ in range(classes)]
    for label in range(10):
        confusion[label][classes - 1] = 36
    seconds, uri = timed(plots.confusion_matrix_uri, confusion)
    assert seconds < DRAW_SECONDS
    assert max(png_size(uri)) <= MAX_PIXELS


def test_a_1000_class_matrix_with_predictions_outside_gets_one_other_column() -> None:
    classes = 1_000
    confusion = [[5 if row == column else 0 for column in range(classes)] for row in range(classes)]
    other = [1] * classes
    seconds, with_other = timed(plots.confusion_matrix_uri, confusion, other)
    without_other = plots.confusion_matrix_uri(confusion)
    assert seconds < DRAW_SECONDS
    assert max(png_size(with_other)) <= MAX_PIXELS
    assert with_other != without_other
    assert plots.confusion_matrix_uri(confusion, [0] * classes) == without_other


def test_a_drawing_that_raises_or_overruns_becomes_a_sentence() -> None:
    def broken() -> str:
        raise ValueError("$\\notacommand{$ <script>")

    failed = draw_within("training curves", broken)
    assert failed.uri is None and failed.problem is not None
    assert "training curves could not be drawn (ValueError: $\\notacommand{$ <script>)" in failed.problem

    started = time.perf_counter()
    overran = draw_within("confusion matrix", lambda: time.sleep(1.0) or "never", timeout_s=0.1)
    assert time.perf_counter() - started < 0.9
    assert overran.uri is None and "could not be drawn within 0.1 s" in (overran.problem or "")


def accuracy_result(
    confusion: list[list[Any]], other: list[int] | None, history: dict[str, list[float | None]] | None
) -> dict[str, Any]:
    """A graded result with one accuracy check, as the JSON on disk holds it."""
    samples = sum(sum(row) for row in confusion if all(isinstance(v, int) for v in row)) + sum(other or [])
    metrics = Metrics(
        accuracy=0.5,
        samples=samples,
        correct=0,
        data="digits-test.npz",
        input_shape=(8, 8, 1),
        per_class=tuple(ClassScore(label=i, count=1, correct=0, accuracy=0.0) for i in range(len(confusion))),
        confusion=((0,),),
        history=history,
        device="CPU",
        duration_s=0.1,
    )
    check = CheckResult(
        id="accuracy", kind="accuracy", status="fail", points=0, max_points=4, message="m", metrics=metrics
    )
    result = hand_built_result(check, exercise="digits-cnn", title="t", rubric="r.yaml")
    page = json.loads(result.to_json())
    page["checks"][0]["metrics"]["confusion"] = confusion
    if other is None:
        page["checks"][0]["metrics"].pop("other", None)
    else:
        page["checks"][0]["metrics"]["other"] = other
    return page


def test_the_page_says_how_many_predictions_fell_outside_the_classes() -> None:
    confusion = [[3 if row == column else 0 for column in range(10)] for row in range(10)]
    page = render_html(accuracy_result(confusion, [0, 2, 0, 0, 0, 0, 0, 0, 5, 0], None))
    assert "7 of the 37 predictions fell outside the classes 0–9" in page
    assert page.count('<img alt="confusion matrix') == 1
    assert "fell outside" not in render_html(accuracy_result(confusion, None, None))


def test_a_picture_that_cannot_be_drawn_is_a_note_and_the_page_goes_on() -> None:
    page = render_html(accuracy_result([["<script>"]], None, {"$\\notacommand{$": [1.0, 2.0]}))
    assert "The confusion matrix could not be drawn (" in page
    assert "<script>" not in page
    assert '<img alt="training loss and accuracy per epoch"' in page
    assert "</html>" in page


@pytest.mark.slow
def test_a_notebook_with_hostile_history_and_2000_outputs_gets_its_full_report(
    grade: GradeRunner, tmp_path: Path
) -> None:
    notebook = write_notebook(
        tmp_path / "hostile-history.ipynb",
        "import keras, numpy as np\n"
        "from keras import layers\n"
        "data = np.load('digits-train.npz')\n"
        "x, y = (data['x'] / 16.0)[..., None].astype('float32'), data['y']\n"
        "model = keras.Sequential(\n"
        "    [keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(2000, activation='softmax')]\n"
        ")\n"
        "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "model.fit(x, y, epochs=1, verbose=0)\n"
        "bias = np.zeros(2000, dtype='float32'); bias[-1] = 1e3\n"
        "model.layers[-1].set_weights([model.layers[-1].get_weights()[0], bias])\n"
        "model.history.history['$\\\\notacommand{$'] = [0.5]\n"
        "for number in range(3000):\n"
        "    model.history.history[f'metric_{number}'] = [number / 3000]\n",
        exercise="digits-cnn",
    )
    started = time.perf_counter()
    done = grade(notebook)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert time.perf_counter() - started < 300
    page = done.html
    samples = done.check("accuracy")["metrics"]["samples"]
    assert f"{samples:,} of the {samples:,} predictions fell outside the classes 0–9" in page
    assert '<img alt="confusion matrix of the held-out predictions"' in page
    assert "could not be drawn" not in page
