"""Hostile submissions (submissions/hostile/), each graded through the real `grade` command.

For each: the grade completes with a message that says what happened, in which cell and under
which limit; no check passes that should not; and nothing outside the kernel's working folder
changed. Limits are set small on the command line so that each test takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from grader.sandbox import enforce
from grader.sandbox.bwrap import bwrap_problem

from .conftest import GRADE, REPO, Graded

HOSTILE = REPO / "submissions" / "hostile"
LOOPBACK_PORT = 47613
GUARDED = (REPO / "rubrics", REPO / "exercises", HOSTILE)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class HostileRun:
    graded: Graded
    grader_pid: int

    @property
    def result(self) -> dict[str, Any]:
        return self.graded.result

    def cell(self, number: int) -> dict[str, Any]:
        return next(c for c in self.result["run"]["cells"] if c["number"] == number)

    def status(self, check_id: str) -> str:
        return str(self.graded.check(check_id)["status"])


def fingerprint(folders: tuple[Path, ...]) -> dict[str, str]:
    """Path -> content hash of every file under `folders` (what a hostile kernel might change)."""
    prints = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                prints[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prints


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Any]:
    if bwrap_problem() is not None:
        pytest.skip(f"no sandbox here: {bwrap_problem()}")
    """Grade a hostile submission; afterwards check that the files around it are as they were."""
    before: dict[str, str] = {}
    outside: set[str] = set()

    def run(submission: Path | str, *flags: str) -> HostileRun:
        before.update(fingerprint((*GUARDED, tmp_path)))
        outside.update(os.listdir("/tmp"))
        path = submission if isinstance(submission, Path) else HOSTILE / submission
        out_dir = tmp_path / "reports"
        command = [str(GRADE), str(path), "--out", str(out_dir), *flags]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"COLUMNS": "200"},
        )
        stdout, stderr = process.communicate(timeout=180)
        graded = Graded(process.returncode, stdout, stderr, out_dir, path.stem)
        assert graded.returncode == 0, graded.stderr
        assert "Traceback" not in graded.stderr and "internal error" not in graded.stderr
        return HostileRun(graded, process.pid)

    yield run
    after = fingerprint((*GUARDED, tmp_path))
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert {p for p in changed if not p.startswith(str(tmp_path / "reports"))} == set()
    assert {name for name in set(os.listdir("/tmp")) - outside if "fake" in name or "victim" in name} == set()


def leftover_kernel_processes(run: HostileRun) -> list[psutil.Process]:
    """Processes still running as the kernel's uid (the grader runs it under its own when root)."""
    uid = enforce.uid_of(run.grader_pid, 0)
    return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]


def test_infinite_loop_is_interrupted_and_later_cells_still_run(hostile: Any) -> None:
    run = hostile("infinite-loop.py", "--cell-timeout", "3")
    loop = run.cell(3)
    assert loop["status"] == "timeout"
    assert "Stopped after 3 s (the per-cell time limit)" in loop["hint"]
    assert run.cell(4)["status"] == "ok"
    assert run.cell(4)["output"] == "the cell after the loop ran\n", "nbclient's poll of cell 3 ate it"
    assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"
    assert run.status("conv-layer") != "pass"


def test_loop_that_ignores_interrupts_ends_the_run_not_the_grader(hostile: Any) -> None:
    run = hostile("unstoppable-loop.py", "--cell-timeout", "3")
    loop = run.cell(3)
    assert loop["status"] == "timeout"
    assert "did not respond after the interrupt; later cells did not run" in loop["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert all(c["status"] != "pass" for c in run.result["checks"])
    assert leftover_kernel_processes(run) == []


def test_memory_bomb_stops_the_kernel_at_the_limit(hostile: Any) -> None:
    run = hostile("memory-bomb.py", "--memory-mb", "1000")
    bomb = run.cell(3)
    assert bomb["status"] == "memory"
    assert "more than 1000 MB of memory" in bomb["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert "ran out of memory in cell 3" in run.graded.check("params-answer")["message"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_fork_bomb_is_contained_and_reported_as_the_process_limit(hostile: Any) -> None:
    run = hostile("fork-bomb.py", "--processes", "64", "--cell-timeout", "20")
    bomb = run.cell(3)
    assert bomb["status"] == "died"
    assert "reaching the limit of 64" in bomb["hint"] and "os.fork" in bomb["hint"]
    assert all(c["status"] != "pass" for c in run.result["checks"])
    assert leftover_kernel_processes(run) == []


def test_output_flood_is_truncated_with_a_note(hostile: Any) -> None:
    run = hostile("output-flood.py", "--output-kb", "16")
    for number in (2, 3):
        cell = run.cell(number)
        assert cell["output_truncated"] is True
        assert cell["output"].endswith("[output truncated: over 16 KB]")
        assert len(cell["output"]) < 16 * 1024 + 100
    assert run.cell(2)["output"].startswith("spam 000000"), "the start of the output is kept"
    assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"
    assert len(run.graded.html) < 200_000


def test_network_is_unreachable_even_on_the_graders_loopback(hostile: Any) -> None:
    accepted: list[bytes] = []
    with socket.create_server(("127.0.0.1", LOOPBACK_PORT), reuse_port=True) as server:
        server.settimeout(0.5)
        stop = threading.Event()

        def listen() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                accepted.append(connection.recv(100))
                connection.close()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        try:
            run = hostile("network.py")
        finally:
            stop.set()
            listener.join(timeout=5)
    assert accepted == [], "the kernel reached a server on the grader's loopback"
    output = run.cell(2)["output"]
    assert "'loopback': 'ConnectionRefusedError" in output or "'loopback': 'OSError" in output
    assert "'internet': 'URLError" in output
    assert "'interfaces': ['lo']" in output


def test_rubric_hidden_data_reports_and_other_submissions_are_invisible(hostile: Any) -> None:
    run = hostile("read-secrets.py")
    output = run.cell(2)["output"]
    found = output.split("FOUND ", 1)[1].split("\n", 1)[0]
    for secret in ("rubrics", "reports", "submissions", "exercises", "pytest-of"):
        assert secret not in found, f"the kernel saw {secret}: {found[:500]}"
    assert "WORK ['.venv']" in output, "only the Python environment of the repository is mounted"
    assert f"DENIED {REPO}/rubrics/conv-dims.yaml FileNotFoundError" in output
    assert "READ" not in output and "checks:" not in output


def test_fake_results_cannot_be_written_outside_the_working_folder(hostile: Any, tmp_path: Path) -> None:
    run = hostile("fake-result.py")
    output = run.cell(2)["output"]
    written = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("WROTE")]
    assert written and all(path.startswith("/tmp/") for path in written), (
        "only its folder and the private /tmp"
    )
    for denied in (
        "../fake-result.json",
        f"{REPO}/reports/fake-result.json",
        f"{REPO}/fake-result.json",
    ):
        assert f"DENIED {denied}" in output
    for path in (
        REPO / "reports" / "fake-result.json",
        REPO / "fake-result.json",
        Path("/tmp/fake-result.json"),
    ):
        assert not path.exists()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "fake-result.html",
        "fake-result.json",
    ]
    assert run.result["score"] == 1 and run.result["max_score"] == 5
    assert run.status("height-answer") == "fail"


def test_monkeypatched_keras_cannot_pass_a_wrong_model(hostile: Any) -> None:
    run = hostile("monkeypatch-keras.py")
    assert "Total params: 80" in run.cell(3)["output"], "the lie was told in the kernel"
    assert run.status("conv-layer") == "fail"
    model = run.result["model"]
    assert model["total_params"] == 16 * 3 * 3 + 16
    assert model["layers"][-1]["output_shape"] == [200, 200, 16]
    assert run.result["score"] <= 2


def test_kernel_that_kills_itself_is_reported_and_cannot_kill_the_sandbox(hostile: Any) -> None:
    run = hostile("kill-own-kernel.py")
    assert run.cell(2)["output"].count("DENIED") == 2, (
        "pid 1 and the parent belong to the sandbox, not the kernel"
    )
    died = run.cell(3)
    assert died["status"] == "died"
    assert "The kernel died while running this cell" in died["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert "the kernel died in cell 3" in run.graded.check("params-answer")["message"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_deleting_everything_visible_touches_nothing_outside(hostile: Any, tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    submission = Path(shutil.copy(HOSTILE / "delete-files.py", folder))
    rubric = Path(shutil.copy(REPO / "rubrics" / "conv-dims.yaml", tmp_path / "grader-victim-rubric.yaml"))
    victims = [
        rubric,
        folder / "grader-victim-next-to-submission.txt",
        Path("/tmp") / f"grader-victim-{uuid.uuid4().hex}.txt",
    ]
    for victim in victims[1:]:
        victim.write_text("still here")
    try:
        run = hostile(submission, "--rubric", str(rubric))
        assert all(victim.exists() for victim in victims)
        assert "DELETED []" in run.cell(2)["output"]
        assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"
    finally:
        victims[-1].unlink(missing_ok=True)


def test_disk_filler_meets_the_file_size_and_folder_limits(hostile: Any) -> None:
    run = hostile("disk-filler.py", "--disk-mb", "20")
    output = run.cell(2)["output"]
    assert "STOPPED huge.bin File too large" in output
    assert "STOPPED /tmp/huge.bin" in output
    filler = run.cell(3)
    assert filler["status"] == "died"
    assert "over the 20 MB disk limit" in filler["hint"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_kernel_runs_unprivileged_under_the_limits(hostile: Any) -> None:
    run = hostile("privileges.py", "--processes", "100", "--disk-mb", "30")
    output = run.cell(2)["output"]
    if os.geteuid() == 0:
        uid = enforce.uid_of(run.grader_pid, 0)  # the first kernel a grader process launches
        assert f"UID {uid} {uid}" in output
    assert "CapEff:\t0000000000000000" in output or "CapEff: 0000000000000000" in output
    assert f"NPROC 100 FSIZE {30 * 1024 * 1024}" in output
    assert output.count("DENIED") == 3 and "ALLOWED" not in output
    assert run.status("params-answer") == "pass"


def test_grading_without_bubblewrap_warns_and_marks_the_report(tmp_path: Path) -> None:
    done, out_dir = run_without_bwrap(tmp_path, "submissions/pool-dims-script.py")
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "not sandboxed" in done.stderr and "bwrap" in done.stderr
    result = json.loads((out_dir / "pool-dims-script.json").read_text())
    assert result["run"]["sandboxed"] is False
    assert any(note.startswith("not sandboxed") for note in result["run"]["notes"])
    assert result["score"] == result["max_score"]
    assert "not sandboxed" in (out_dir / "pool-dims-script.html").read_text()


def test_require_sandbox_without_bubblewrap_is_exit_6(tmp_path: Path) -> None:
    done, out_dir = run_without_bwrap(tmp_path, "submissions/pool-dims-script.py", "--require-sandbox")
    assert done.returncode == 6
    assert "cannot sandbox the kernel: bubblewrap (bwrap) is not installed" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out_dir.exists()


def run_without_bwrap(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `grade` with a PATH that holds only the environment's python and grade: no bwrap on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "grade"):
        (bin_dir / tool).symlink_to(GRADE.parent / tool)
    env = {**os.environ, "PATH": str(bin_dir), "COLUMNS": "200"}
    assert shutil.which("bwrap", path=env["PATH"]) is None
    out_dir = tmp_path / "reports"
    command = [str(bin_dir / "grade"), *args, "--out", str(out_dir)]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    return done, out_dir


def test_a_key_one_student_leaves_is_found_by_no_later_student_of_the_worker(tmp_path: Path) -> None:
    """leak-keyring.py, three times on one worker (spare kernels on): no key is left, none is found.

    Before, kernels alternated two uids and keyrings were allowed: the third student read the
    first one's user key. Now add_key is denied (seccomp) and each kernel has a uid of its own.
    """
    if bwrap_problem() is not None:
        pytest.skip(f"no sandbox here: {bwrap_problem()}")
    students = ("a-first", "b-second", "c-third")
    folder = tmp_path / "class"
    folder.mkdir()
    for name in students:
        shutil.copy(HOSTILE / "leak-keyring.py", folder / f"{name}.py")
    out_dir = tmp_path / "reports"
    done = subprocess.run(
        [str(GRADE), "batch", str(folder), "--out", str(out_dir), "-j", "1", "--spare-kernels"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=os.environ | {"COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    for name in students:
        result = json.loads((out_dir / f"{name}.json").read_text())
        output = next(c for c in result["run"]["cells"] if "FOUND" in c["output"])["output"].splitlines()
        assert "NOT FOUND user" in output and "NOT FOUND session" in output, (name, output)
        assert "NOT IN /proc/keys" in output, (name, output)
        if enforce.kernel_uid() is not None and not any(
            "no seccomp filter" in n for n in result["run"]["notes"]
        ):
            assert "REFUSED EPERM user" in output and "REFUSED EPERM session" in output, (name, output)
