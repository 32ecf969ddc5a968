"""Student feedback of a batch (`feedback/<stem>.html`) and its release (`grade release OUT`).

A real batch of a rubric whose checks are visible, hidden and after_due, through the real CLI and
a real kernel: the feedback pages must never hold a hidden or after_due check's expected value
before release, and must hold the after_due one (never the hidden one) after it.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.conftest import REPO

RUBRIC = """\
exercise: tiny
title: Tiny
checks:
  - id: shown
    points: 1
    variable: {name: a, equals: 1}
  - id: secret
    points: 1
    visibility: hidden
    variable: {name: b, equals: 424242}
  - id: later
    points: 1
    visibility: after_due
    variable: {name: c, equals: 717171}
"""
HIDDEN = ("424242", "424,242")
AFTER_DUE = ("717171", "717,171")


def grade(*args: str | Path) -> tuple[int, str, str]:
    """`grade ARGS...` in this process, from the repository root: exit code, stdout, stderr."""
    runner = CliRunner(env={"COLUMNS": "200"})
    with contextlib.chdir(REPO):
        done = runner.invoke(main, [str(a) for a in args], prog_name="grade")
    return done.exit_code, done.stdout, done.stderr


def holds(path: Path, values: tuple[str, ...]) -> bool:
    text = path.read_text(encoding="utf-8")
    return any(value in text for value in values)


def write_class(root: Path) -> tuple[Path, Path]:
    rubric = root / "tiny.yaml"
    rubric.write_text(RUBRIC, encoding="utf-8")
    folder = root / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("a = 1\nb = 5\nc = 6\n", encoding="utf-8")
    (folder / "evil<b>x.ipynb").write_text('{"cells": [', encoding="utf-8")  # not JSON: an error row
    return folder, rubric


@pytest.mark.slow
def test_feedback_withholds_until_release_then_shows_only_after_due(tmp_path: Path) -> None:
    folder, rubric = write_class(tmp_path)
    out = tmp_path / "out"
    code, _, err = grade("batch", folder, "--rubric", rubric, "--out", out, "-j", "1", "--due", "2099-01-01")
    assert code == 0, err
    page = out / "feedback" / "alice.html"
    assert holds(out / "alice.html", HIDDEN) and holds(out / "alice.html", AFTER_DUE), "the full view has all"
    assert not holds(page, HIDDEN) and not holds(page, AFTER_DUE)
    assert "shown after the due date" in page.read_text(encoding="utf-8")
    pages = sorted(p.name for p in (out / "feedback").iterdir())
    assert len(pages) == 2 and "alice.html" in pages, pages
    evil = next(p for p in (out / "feedback").iterdir() if p.name != "alice.html")
    assert "<b>x" not in evil.read_text(encoding="utf-8") and "not graded" in evil.read_text(encoding="utf-8")

    code, _, err = grade("release", out)
    assert code == 2 and "not released" in err and "2099-01-01" in err and "--now" in err
    assert not holds(page, AFTER_DUE), "a refused release changes nothing"

    code, stdout, err = grade("release", out, "--now")
    assert code == 0, err
    assert f"hand back {out / 'feedback'}/ (2 file(s), one per student)" in stdout
    assert holds(page, AFTER_DUE) and not holds(page, HIDDEN)

    again, _, err = grade("batch", folder, "--rubric", rubric, "--out", out, "--due", "2099-01-01")
    assert again == 0, err
    assert holds(page, AFTER_DUE) and not holds(page, HIDDEN), "a regrade keeps the release"
    assert json.loads((out / "alice.json").read_text())["checks"][2]["visibility"] == "after_due"


@pytest.mark.slow
def test_release_after_the_due_date_needs_no_now(tmp_path: Path) -> None:
    folder, rubric = write_class(tmp_path)
    out = tmp_path / "out"
    code, _, err = grade(
        "batch",
        folder,
        "--rubric",
        rubric,
        "--out",
        out,
        "--due",
        "2020-01-01T12:00",
        "--timezone",
        "Europe/Berlin",
    )
    assert code == 0, err
    page = out / "feedback" / "alice.html"
    assert not holds(page, AFTER_DUE), "past the due date, still withheld until released"
    code, _, err = grade("release", out)
    assert code == 0, err
    assert holds(page, AFTER_DUE) and not holds(page, HIDDEN)


def test_release_without_a_batch_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = grade("release", tmp_path)
    assert code == 2 and "no batch feedback to release" in err and "Traceback" not in err
