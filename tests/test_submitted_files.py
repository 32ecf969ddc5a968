"""Files that travel with a submission are read the way the submission is: never through a link.

`submitted_files` picks a checkpoint by lstat; the batch then reads it to send it to a worker. A
plain `read_bytes()` there followed a link swapped in after the lstat (to the held-out data, to
another student's weights), so the read itself must refuse links, special files and huge files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.grading import prelude
from grader.grading.prelude import read_submitted_file


def test_a_regular_checkpoint_is_read_whole(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.weights.h5"
    checkpoint.write_bytes(b"\x89HDF" + bytes(range(256)))
    assert read_submitted_file(checkpoint) == b"\x89HDF" + bytes(range(256))


def test_a_link_swapped_in_after_the_lstat_is_refused_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "held-out.npz"
    secret.write_bytes(b"the held-out labels")
    checkpoint = tmp_path / "student" / "model.weights.h5"
    checkpoint.parent.mkdir()
    checkpoint.symlink_to(secret)
    with pytest.raises(SubmissionError, match="symbolic link"):
        read_submitted_file(checkpoint)


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "model.weights.h5"
    os.mkfifo(fifo)
    with pytest.raises(SubmissionError, match="not a regular file"):
        read_submitted_file(fifo)


def test_a_file_over_the_limit_is_refused_with_what_to_hand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prelude, "MAX_SUBMITTED_FILE_BYTES", 1000)
    checkpoint = tmp_path / "model.weights.h5"
    checkpoint.write_bytes(b"x" * 1001)
    with pytest.raises(SubmissionError, match="limit") as raised:
        read_submitted_file(checkpoint)
    assert raised.value.hint is not None and "save_weights" in raised.value.hint
    checkpoint.write_bytes(b"x" * 1000)
    assert len(read_submitted_file(checkpoint)) == 1000
