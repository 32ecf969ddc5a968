"""A submission is read like the kernel's leftovers: as hostile input, never through a link.

A student controls what lands in a submission folder: a symbolic link to another student's file
(graded as the linker's own work, and flagging the victim as a copier), a link to the held-out
data or the rubric, a FIFO that blocks the reader forever, a device. Each is refused by name, and
nothing behind it is read.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from grader.batch.discovery import discover
from grader.errors import SubmissionError
from grader.grading.prelude import submitted_files
from grader.grading.submission import load_submission
from grader.rubric.model import parse_rubric

REPO = Path(__file__).resolve().parent.parent
ALICE = REPO / "submissions" / "alice.ipynb"


def load_within(path: Path, seconds: float = 10.0) -> BaseException | None:
    """What load_submission raised (None if it returned), failing the test if it blocks."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_submission(path)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"load_submission({path.name}) was still blocked after {seconds} s"
    return outcome[0]


def test_a_link_to_another_students_notebook_is_refused_unread(tmp_path: Path) -> None:
    victim = tmp_path / "alice" / "alice.ipynb"
    victim.parent.mkdir()
    victim.write_bytes(ALICE.read_bytes())
    link = tmp_path / "mallory.ipynb"
    link.symlink_to(victim)
    error = load_within(link)
    assert isinstance(error, SubmissionError)
    assert "symbolic link" in str(error)
    assert "alice" not in str(error)


def test_a_dangling_link_is_refused_as_a_link(tmp_path: Path) -> None:
    link = tmp_path / "mallory.py"
    link.symlink_to(tmp_path / "nowhere.py")
    error = load_within(link)
    assert isinstance(error, SubmissionError)
    assert "symbolic link" in str(error)


def test_a_fifo_does_not_block_the_grader(tmp_path: Path) -> None:
    fifo = tmp_path / "mallory.ipynb"
    os.mkfifo(fifo)
    error = load_within(fifo)
    assert isinstance(error, SubmissionError)
    assert "not a regular file" in str(error)


def test_a_device_is_refused_unread(tmp_path: Path) -> None:
    device = tmp_path / "zero.py"
    try:
        os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except OSError:
        pytest.skip("this machine does not let the tests make a device node (not root)")
    error = load_within(device)
    assert isinstance(error, SubmissionError)
    assert "not a regular file" in str(error)


def test_a_regular_file_in_a_linked_folder_is_still_read(tmp_path: Path) -> None:
    """Only the submission itself must be a regular file: an instructor may link a class folder."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "alice.ipynb").write_bytes(ALICE.read_bytes())
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    assert load_within(tmp_path / "linked" / "alice.ipynb") is None


CHECKPOINT_RUBRIC = """
exercise: hand-in
title: A checkpoint handed in
model: {variable: model}
training: {checkpoint: model.weights.h5}
checks:
  - {id: size, points: 1, total_params: 10}
"""


def test_a_checkpoint_that_links_to_the_held_out_data_does_not_travel(tmp_path: Path) -> None:
    held_out = tmp_path / "rubrics" / "data" / "digits-test.npz"
    held_out.parent.mkdir(parents=True)
    held_out.write_bytes(b"the held-out set")
    notebook = tmp_path / "hand-in" / "mallory.ipynb"
    notebook.parent.mkdir()
    notebook.write_bytes(ALICE.read_bytes())
    (notebook.parent / "model.weights.h5").symlink_to(held_out)
    assert submitted_files(notebook, parse_rubric(CHECKPOINT_RUBRIC)) == ()


def test_a_checkpoint_fifo_does_not_travel(tmp_path: Path) -> None:
    notebook = tmp_path / "mallory.ipynb"
    notebook.write_bytes(ALICE.read_bytes())
    os.mkfifo(tmp_path / "model.weights.h5")
    assert submitted_files(notebook, parse_rubric(CHECKPOINT_RUBRIC)) == ()


def test_a_regular_checkpoint_still_travels(tmp_path: Path) -> None:
    notebook = tmp_path / "alice.ipynb"
    notebook.write_bytes(ALICE.read_bytes())
    (tmp_path / "model.weights.h5").write_bytes(b"weights")
    assert submitted_files(notebook, parse_rubric(CHECKPOINT_RUBRIC)) == (tmp_path / "model.weights.h5",)


def test_discovery_names_links_and_special_files_so_their_rows_say_why(tmp_path: Path) -> None:
    """A dangling link or a FIFO in the class folder becomes a row (refused when read), never silence."""
    (tmp_path / "class").mkdir()
    os.mkfifo(tmp_path / "class" / "fifo.ipynb")
    (tmp_path / "class" / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "class" / "alice.ipynb").write_bytes(ALICE.read_bytes())
    found = {f.path.name for f in discover(str(tmp_path / "class"), tmp_path / "out")}
    assert found == {"alice.ipynb", "fifo.ipynb", "dangling.py"}
    for name in ("fifo.ipynb", "dangling.py"):
        error = load_within(tmp_path / "class" / name)
        assert isinstance(error, SubmissionError)


@pytest.mark.parametrize("pattern", ["", "/**/*.ipynb"])
def test_a_linked_folder_is_never_walked_into(tmp_path: Path, pattern: str) -> None:
    """`mallory/` linked to `alice/` would hand alice's notebook in under mallory's name."""
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "alice" / "work.ipynb").write_bytes(ALICE.read_bytes())
    (tmp_path / "class" / "mallory").symlink_to(tmp_path / "class" / "alice", target_is_directory=True)
    found = [f.relative for f in discover(str(tmp_path / "class") + pattern, tmp_path / "out")]
    assert found == [("alice", "work.ipynb")]
