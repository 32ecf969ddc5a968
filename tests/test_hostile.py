"""Hostile submissions (submissions/hostile/), graded together by one real `grade batch`.

For each: the grade completes with a message that says what happened, in which cell and under
which limit; no check passes that should not; and nothing outside the kernels' working folders
changed. Each sample is graded by a conv-dims rubric of its own (`--rubric-for`) whose limits are
small, so that each takes seconds (limits on the command line would apply to every student).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
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
BATCH_LIMIT_S = 900
LIMITS: dict[str, dict[str, int]] = {
    "infinite-loop": {"cell_timeout": 3},
    "unstoppable-loop": {"cell_timeout": 3},
    "memory-bomb": {"memory_mb": 1000},
    "fork-bomb": {"processes": 64, "cell_timeout": 20},
    "output-flood": {"output_kb": 16},
    "network": {},
    "read-secrets": {},
    "fake-result": {},
    "monkeypatch-keras": {},
    "kill-own-kernel": {},
    "delete-files": {},
    "disk-filler": {"disk_mb": 20},
    "privileges": {"processes": 100, "disk_mb": 30},
}
"""Each sample's limits, set in its own copy of conv-dims (exercise `hostile-NAME`) over that
rubric's own; delete-files's copy is the victim rubric outside the rubrics folder."""

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class HostileRun:
    graded: Graded
    kernel_uids: frozenset[int]
    """Every uid the batch's grader processes give their kernels (`enforce.uid_of`)."""

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


def write_with_limits(source: Path, target: Path, limits: dict[str, int], exercise: str) -> None:
    """The rubric at `source`, `limits` set in its `limits:` as the command line's options would set
    them (its other limits kept), and its exercise id replaced by `exercise`, at `target`."""
    from ruamel.yaml import YAML

    yaml = YAML()
    rubric = yaml.load(source.read_text(encoding="utf-8"))
    rubric["limits"] = {**(rubric.get("limits") or {}), **limits}
    rubric["exercise"] = exercise
    rubric["title"] = f"{rubric['title']} ({exercise})"
    with target.open("w", encoding="utf-8") as handle:
        yaml.dump(rubric, handle)


@dataclass
class Batch:
    """The one batch: its process, the pids of its grader processes, what changed around it."""

    root: Path
    returncode: int | None
    stdout: str
    stderr: str
    pids: set[int]
    changed: set[str]
    new_in_tmp: set[str]
    victims: list[Path]
    accepted: list[bytes]

    @property
    def out_dir(self) -> Path:
        return self.root / "reports"

    def kernel_uids(self) -> frozenset[int]:
        return frozenset(
            enforce.uid_of(pid, slot) for pid in self.pids for slot in range(enforce.UIDS_PER_PROCESS)
        )


def listen(server: socket.socket, stop: threading.Event, accepted: list[bytes]) -> None:
    """Accept on the grader's loopback until `stop`, keeping what each connection sent."""
    while not stop.is_set():
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        accepted.append(connection.recv(100))
        connection.close()


def watch(pid: int, pids: set[int], stop: threading.Event) -> None:
    """Collect the batch process and its descendants (the workers that launch the kernels)."""
    while not stop.is_set():
        try:
            pids.update(child.pid for child in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    """Every sample of LIMITS in one class, graded two at a time; nothing may change around it."""
    if bwrap_problem() is not None:
        pytest.skip(f"no sandbox here: {bwrap_problem()}")
    root = tmp_path_factory.mktemp("hostile")
    folder, rubrics = root / "submissions", root / "rubrics"
    folder.mkdir()
    shutil.copytree(REPO / "rubrics", rubrics)
    routes = []
    for name, limits in LIMITS.items():
        shutil.copy(HOSTILE / f"{name}.py", folder)
        rubric = (
            root / "grader-victim-rubric.yaml" if name == "delete-files" else rubrics / f"hostile-{name}.yaml"
        )
        write_with_limits(REPO / "rubrics" / "conv-dims.yaml", rubric, limits, f"hostile-{name}")
        routes += ["--rubric-for", f"{name}.py={rubric if name == 'delete-files' else rubric.stem}"]
    victims = [
        root / "grader-victim-rubric.yaml",
        folder / "grader-victim-next-to-submission.txt",
        Path("/tmp") / f"grader-victim-{uuid.uuid4().hex}.txt",
    ]
    for victim in victims[1:]:
        victim.write_text("still here")
    before = fingerprint((*GUARDED, root))
    outside = set(os.listdir("/tmp"))
    accepted: list[bytes] = []
    pids: set[int] = set()
    stop = threading.Event()
    command = [str(GRADE), "batch", str(folder), "--rubrics", str(rubrics), "--out", str(root / "reports")]
    try:
        with socket.create_server(("127.0.0.1", LOOPBACK_PORT), reuse_port=True) as server:
            server.settimeout(0.5)
            listener = threading.Thread(target=listen, args=(server, stop, accepted), daemon=True)
            listener.start()
            process = subprocess.Popen(
                [*command, "-j", "2", *routes],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ | {"COLUMNS": "200"},
                start_new_session=True,
            )
            pids.add(process.pid)
            watcher = threading.Thread(target=watch, args=(process.pid, pids, stop), daemon=True)
            watcher.start()
            try:
                stdout, stderr = process.communicate(timeout=BATCH_LIMIT_S)
                code: int | None = process.returncode
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate(timeout=30)
                code = None
            stop.set()
            listener.join(timeout=5)
            watcher.join(timeout=5)
        after = fingerprint((*GUARDED, root))
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        yield Batch(
            root=root,
            returncode=code,
            stdout=stdout,
            stderr=stderr,
            pids=pids,
            changed={p for p in changed if not p.startswith(str(root / "reports"))},
            new_in_tmp={n for n in set(os.listdir("/tmp")) - outside if "fake" in n or "victim" in n},
            victims=victims,
            accepted=accepted,
        )
    finally:
        stop.set()
        victims[-1].unlink(missing_ok=True)


@pytest.fixture
def hostile(batch: Batch) -> Any:
    """A sample's result from the batch, after checking that the batch finished cleanly, graded it
    under its own rubric, and that nothing outside the kernels' folders changed."""

    def graded(name: str) -> HostileRun:
        assert batch.returncode == 0, f"exit {batch.returncode}\n{batch.stderr[-3000:]}"
        assert "Traceback" not in batch.stderr and "internal error" not in batch.stderr, batch.stderr[-3000:]
        assert batch.changed == set()
        assert batch.new_in_tmp == set()
        error = batch.out_dir / f"{name}.error.json"
        assert not error.exists(), error.read_text(encoding="utf-8")
        run = HostileRun(
            Graded(batch.returncode, batch.stdout, batch.stderr, batch.out_dir, name), batch.kernel_uids()
        )
        assert run.result["exercise"] == f"hostile-{name}", run.result["exercise"]
        return run

    return graded


def leftover_kernel_processes(run: HostileRun) -> list[psutil.Process]:
    """Processes still running as a kernel's uid of the batch (the grader runs each under its own when root)."""
    return [
        p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in run.kernel_uids
    ]


def test_infinite_loop_is_interrupted_and_later_cells_still_run(hostile: Any) -> None:
    run = hostile("infinite-loop")
    loop = run.cell(3)
    assert loop["status"] == "timeout"
    assert "Stopped after 3 s (the per-cell time limit)" in loop["hint"]
    assert run.cell(4)["status"] == "ok"
    assert run.cell(4)["output"] == "the cell after the loop ran\n", "nbclient's poll of cell 3 ate it"
    assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"
    assert run.status("conv-layer") != "pass"


def test_loop_that_ignores_interrupts_ends_the_run_not_the_grader(hostile: Any) -> None:
    run = hostile("unstoppable-loop")
    loop = run.cell(3)
    assert loop["status"] == "timeout"
    assert "did not respond after the interrupt; later cells did not run" in loop["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert all(c["status"] != "pass" for c in run.result["checks"])
    assert leftover_kernel_processes(run) == []


def test_memory_bomb_stops_the_kernel_at_the_limit(hostile: Any) -> None:
    run = hostile("memory-bomb")
    bomb = run.cell(3)
    assert bomb["status"] == "memory"
    assert "more than 1000 MB of memory" in bomb["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert "ran out of memory in cell 3" in run.graded.check("params-answer")["message"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_fork_bomb_is_contained_and_reported_as_the_process_limit(hostile: Any) -> None:
    run = hostile("fork-bomb")
    bomb = run.cell(3)
    assert bomb["status"] == "died"
    assert "reaching the limit of 64" in bomb["hint"] and "os.fork" in bomb["hint"]
    assert all(c["status"] != "pass" for c in run.result["checks"])
    assert leftover_kernel_processes(run) == []


def test_output_flood_is_truncated_with_a_note(hostile: Any) -> None:
    run = hostile("output-flood")
    for number in (2, 3):
        cell = run.cell(number)
        assert cell["output_truncated"] is True
        assert cell["output"].endswith("[output truncated: over 16 KB]")
        assert len(cell["output"]) < 16 * 1024 + 100
    assert run.cell(2)["output"].startswith("spam 000000"), "the start of the output is kept"
    assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"
    assert len(run.graded.html) < 200_000


def test_network_is_unreachable_even_on_the_graders_loopback(hostile: Any, batch: Batch) -> None:
    """The server listened on the grader's loopback for the whole batch."""
    run = hostile("network")
    assert batch.accepted == [], "the kernel reached a server on the grader's loopback"
    output = run.cell(2)["output"]
    assert "'loopback': 'ConnectionRefusedError" in output or "'loopback': 'OSError" in output
    assert "'internet': 'URLError" in output
    assert "'interfaces': ['lo']" in output


def test_rubric_hidden_data_reports_and_other_submissions_are_invisible(hostile: Any) -> None:
    run = hostile("read-secrets")
    output = run.cell(2)["output"]
    found = output.split("FOUND ", 1)[1].split("\n", 1)[0]
    for secret in ("rubrics", "reports", "submissions", "exercises", "pytest-of"):
        assert secret not in found, f"the kernel saw {secret}: {found[:500]}"
    assert "WORK ['.venv']" in output, "only the Python environment of the repository is mounted"
    assert f"DENIED {REPO}/rubrics/conv-dims.yaml FileNotFoundError" in output
    assert "READ" not in output and "checks:" not in output


def test_fake_results_cannot_be_written_outside_the_working_folder(hostile: Any, batch: Batch) -> None:
    run = hostile("fake-result")
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
    assert sorted(p.name for p in batch.out_dir.iterdir() if "fake" in p.name) == [
        "fake-result.html",
        "fake-result.json",
    ]
    assert run.result["score"] == 1 and run.result["max_score"] == 5
    assert run.status("height-answer") == "fail"


def test_monkeypatched_keras_cannot_pass_a_wrong_model(hostile: Any) -> None:
    run = hostile("monkeypatch-keras")
    assert "Total params: 80" in run.cell(3)["output"], "the lie was told in the kernel"
    assert run.status("conv-layer") == "fail"
    model = run.result["model"]
    assert model["total_params"] == 16 * 3 * 3 + 16
    assert model["layers"][-1]["output_shape"] == [200, 200, 16]
    assert run.result["score"] <= 2


def test_kernel_that_kills_itself_is_reported_and_cannot_kill_the_sandbox(hostile: Any) -> None:
    run = hostile("kill-own-kernel")
    assert run.cell(2)["output"].count("DENIED") == 2, (
        "pid 1 and the parent belong to the sandbox, not the kernel"
    )
    died = run.cell(3)
    assert died["status"] == "died"
    assert "The kernel died while running this cell" in died["hint"]
    assert run.cell(4)["status"] == "skipped"
    assert "the kernel died in cell 3" in run.graded.check("params-answer")["message"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_deleting_everything_visible_touches_nothing_outside(hostile: Any, batch: Batch) -> None:
    """Victims next to the submission, as its rubric (graded by it: `--rubric-for FILE`) and in /tmp."""
    run = hostile("delete-files")
    assert all(victim.exists() for victim in batch.victims)
    assert "DELETED []" in run.cell(2)["output"]
    assert run.status("params-answer") == "pass" and run.status("height-answer") == "pass"


def test_disk_filler_meets_the_file_size_and_folder_limits(hostile: Any) -> None:
    run = hostile("disk-filler")
    output = run.cell(2)["output"]
    assert "STOPPED huge.bin File too large" in output
    assert "STOPPED /tmp/huge.bin" in output
    filler = run.cell(3)
    assert filler["status"] == "died"
    assert "over the 20 MB disk limit" in filler["hint"]
    assert all(c["status"] != "pass" for c in run.result["checks"])


def test_kernel_runs_unprivileged_under_the_limits(hostile: Any) -> None:
    run = hostile("privileges")
    output = run.cell(2)["output"]
    if os.geteuid() == 0:
        ids = re.search(r"^UID (\d+) (\d+)$", output, re.M)
        assert ids is not None, output
        uid = int(ids[1])
        assert int(ids[2]) == uid and uid in run.kernel_uids, uid
        assert (uid - enforce.uid_of(0, 0)) % enforce.UIDS_PER_PROCESS in enforce.KERNEL_SLOTS, uid
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
