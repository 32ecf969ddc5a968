"""What a student's kernel says reaches the grader's terminal as text, never as Rich markup or escapes.

Rich reads `[...]` in a printed string as markup: `[/x]` closes no tag and raises, so a student
whose exception, answer or reported device was markup used to crash `grade` (a traceback, exit 1)
and stop `grade batch` (the rest of the class ungraded, no gradebook). These tests print what a
hostile notebook leaves behind through the real summary, the real `grade` and `grade batch`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from grader.render.report import plain, print_summary
from grader.result import CellOutcome, CheckResult, GradeResult, RunFacts
from tests.conftest import GradeRunner, hand_built_result, run_grade

MARKUP = "[/x] [bold]100 [link=file:///etc/passwd]click[/link] :smile:"
ESCAPES = "\x1b[2J\x1b[31m\r\u202egnp.py\ud800"
ESCAPES_AS_SHOWN = ("\\x1b[2J", "\\x1b[31m", "\\r", "\\u202e", "\\ud800")


def printed(render: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=400, highlight=False, color_system=None).print(render)
    return buffer.getvalue()


def hostile_result() -> GradeResult:
    """A result whose every student-controlled string is markup followed by terminal escapes."""
    text = MARKUP + ESCAPES
    return hand_built_result(
        CheckResult(id="height-answer", kind="variable", status="fail", points=0, max_points=1, message=text),
        submission=f"{MARKUP}.ipynb",
        score=4,
        max_score=5,
        run=RunFacts(
            duration_s=1.5,
            device=text,
            sandboxed=True,
            failing_cells=(2,),
            cells=(
                CellOutcome(number=1, source="x = 1", status="ok"),
                CellOutcome(
                    number=2, source="raise", status="error", error_name="RuntimeError", error_value=text
                ),
            ),
            notes=(text,),
        ),
    )


def test_plain_text_shows_markup_and_control_characters_as_written() -> None:
    shown = printed(plain(MARKUP + ESCAPES))
    assert MARKUP in shown
    assert "\x1b" not in shown and "\r" not in shown and "\u202e" not in shown
    for escape in ESCAPES_AS_SHOWN:
        assert escape in shown


def test_the_summary_prints_every_student_string_as_written() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, highlight=False, color_system=None)
    print_summary(hostile_result(), (Path(f"reports/{MARKUP}.html"),), console)
    shown = buffer.getvalue()
    assert shown.count(MARKUP) == 5, shown  # submission, check, cell, note, device
    assert f"report: reports/{MARKUP.replace('///', '/')}.html" in shown
    assert "\x1b" not in shown and "\u202e" not in shown
    for escape in ESCAPES_AS_SHOWN:
        assert escape in shown


def test_an_unreadable_file_whose_path_is_markup_is_reported_with_its_exit_code(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "["
    folder.mkdir()
    (folder / "x].ipynb").write_text('{"cells": [', encoding="utf-8")

    done = grade_cli(folder / "x].ipynb")

    assert done.returncode == 4, done.stderr
    assert "[/x].ipynb" in done.stderr and "broken JSON" in done.stderr
    assert "Traceback" not in done.stderr


HOSTILE_SCRIPT = r"""# grader: exercise=conv-dims
# %%
import json

from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = "[/x] [bold]100"
print("[/x] [link=file:///etc/passwd]click[/link] \x1b[2J")
_real_dump = json.dump


def _forged_dump(obj, handle, *args, **kwargs):
    if isinstance(obj, dict) and "device" in obj:
        obj["device"] = "[/bold] GPU \x1b[2J"
    return _real_dump(obj, handle, *args, **kwargs)


json.dump = _forged_dump
# %%
raise RuntimeError("[/x] \x1b[31m")
"""
GOOD_SCRIPT = """# grader: exercise=conv-dims
# %%
from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100
"""


@pytest.mark.slow
def test_grade_prints_what_a_hostile_notebook_raises_and_reports_as_written(
    grade: GradeRunner, tmp_path: Path
) -> None:
    script = tmp_path / "markup.py"
    script.write_text(HOSTILE_SCRIPT, encoding="utf-8")

    done = grade(script)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # Escape codes are taken out of error texts where they are kept (23.6); the markup stays as written.
    assert "RuntimeError: [/x]" in done.stdout
    assert all("[31m" not in (cell["error_value"] or "") for cell in done.result["run"]["cells"])
    assert "'[/x] [bold]100'" in done.stdout
    assert plain(done.result["run"]["device"]).plain in done.stdout
    assert "\x1b" not in done.stdout


@pytest.mark.slow
def test_a_batch_goes_on_past_hostile_text_and_a_report_that_cannot_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD_SCRIPT, encoding="utf-8")
    (folder / "markup.py").write_text(HOSTILE_SCRIPT, encoding="utf-8")
    (folder / "victim.py").write_text(GOOD_SCRIPT, encoding="utf-8")
    out = tmp_path / "reports"
    (out / "victim.html").mkdir(parents=True)
    (out / "victim.html" / "keep").write_text("a folder where the report should go", encoding="utf-8")

    done = run_grade("batch", folder, "-j", "2", "--out", out, out_dir=out, timeout=400)

    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.returncode == 5, "a report the grader could not write is a grader failure"
    assert "3 submissions: 2 graded, 0 rescored, 0 unchanged, 1 could not be graded" in done.stdout
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"good", "markup", "victim"}
    assert rows["victim"]["status"] == "error"
    failure = json.loads((out / "victim.error.json").read_text(encoding="utf-8"))
    assert failure["kind"] == "grader" and "victim.html" in failure["message"]
    assert json.loads((out / "markup.json").read_text(encoding="utf-8"))["score"] == 4
    assert "\x1b" not in done.stderr
