"""Resource limits for a student's kernel: the hard limits the OS enforces, and a watchdog behind them.

What is hard-enforced, and how (each was tried in this project's container, running as root):
- processes: RLIMIT_NPROC, set with util-linux `prlimit` on the kernel's command. It counts
  processes *and threads* per uid, and does not bind root at all, so when the grader is root the
  sandboxed kernel is switched to a uid of its own (`setpriv`, inside bwrap, which then creates
  no user namespace because a uid cannot change inside one). A fork bomb gets EAGAIN at the limit.
- disk: RLIMIT_FSIZE caps any one file at the disk limit (Python sees EFBIG), and the sandbox's
  `/tmp` and `/dev/shm` are tmpfs of that size.
- memory: a hard limit where the host lets the grader make a memory cgroup (cgroup v2 with the
  memory controller delegated, or the cgroup v1 memory hierarchy writable, as in this project's
  CI machines): the kernel joins it before it execs, and the kernel's OOM killer stops it at the
  limit. RLIMIT_AS is no alternative: it breaks TensorFlow's address-space reservations.
- memory (always) and the total written in the working folders: `Watchdog`, on a thread of its
  own so that nothing the grader's event loop does can stall it, polls the kernel's process tree
  and writable folders and kills the whole tree on a breach, recording which limit it was. It
  also backs up the process limit where RLIMIT_NPROC cannot apply (an unsandboxed kernel run by
  root). The report names which enforcement ran (`MemoryEnforcement`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict

from grader.rubric.limits import MIB, Limits
from grader.sandbox import seccomp

KERNEL_UID_BASE = 1_000_000
POLL_S = 0.25
DISK_POLL_EVERY = 4
MAX_FILES = 100_000
SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin"
UIDS_PER_PROCESS = 1000
INSPECTOR_SLOT = 2
TRIAL_SLOT = 3
KERNEL_SLOTS = (0, 1, *range(4, UIDS_PER_PROCESS))
CGROUP_ROOT = Path("/sys/fs/cgroup")


class Breach(BaseModel):
    """A limit the watchdog stopped the kernel for, in words a student can act on."""

    model_config = ConfigDict(frozen=True)

    limit: Literal["memory", "processes", "disk"]
    hint: str


def kernel_uid(slot: int = 0) -> int | None:
    """The uid a sandboxed process runs as when the grader is root, else None (keep the caller's).

    A block of `UIDS_PER_PROCESS` uids per grader process: slot 2 is the inspector that loads the
    saved models, slot 3 the factory's trial fork, and every kernel (spares included) takes the next
    of the others (`kernel_slot`), so no two kernels of a run share a uid. So RLIMIT_NPROC counts
    only one kernel's processes even when several workers grade at once; no student's kernel can
    signal or ptrace anything else; and what the kernel keeps per uid and not per namespace (the
    user keyrings, which outlive every process of the uid) is never the next student's. The
    blocks fit uid_t for every possible pid (pid_max is at most 2**22).
    """
    if os.geteuid() != 0 or system_tool("setpriv") is None:
        return None
    return uid_of(os.getpid(), slot)


def uid_of(pid: int, slot: int) -> int:
    """The uid of slot `slot` of grader process `pid` (see `kernel_uid`)."""
    return KERNEL_UID_BASE + UIDS_PER_PROCESS * pid + slot % UIDS_PER_PROCESS


def kernel_slot(launched: int) -> int:
    """The uid slot of the `launched`-th kernel of this process: 0, 1, 4, 5, ... (a fresh uid each).

    Only after `len(KERNEL_SLOTS)` kernels in one process does a uid come round again; the seccomp
    filter (`grader.sandbox.seccomp`) still denies the keyrings a reused uid would share.
    """
    return KERNEL_SLOTS[launched % len(KERNEL_SLOTS)]


def system_tool(name: str) -> str | None:
    """A util-linux tool, from PATH or the system folders (a trimmed PATH should not lift a limit)."""
    return shutil.which(name) or shutil.which(name, path=SYSTEM_BIN)


def rlimit_argv(processes: int, disk_mb: int) -> list[str]:
    """The `prlimit ... --` prefix that sets the process and file-size limits, or [] without prlimit."""
    prlimit = system_tool("prlimit")
    if prlimit is None:
        return []
    return [prlimit, f"--nproc={processes}", f"--fsize={disk_mb * MIB}", "--"]


def fsize_argv(disk_mb: int) -> list[str]:
    """The `prlimit ... --` prefix that sets only the file-size limit, or [] without prlimit."""
    prlimit = system_tool("prlimit")
    return [prlimit, f"--fsize={disk_mb * MIB}", "--"] if prlimit else []


def clean_env_argv(env: dict[str, str]) -> list[str]:
    """`env -i K=V ...`: the command after it starts from exactly `env`, nothing of the grader's.

    It goes first on the command line, before bubblewrap: bubblewrap's own first process in the
    sandbox keeps the environment it was started with, and a process of the same uid inside can
    read it at /proc/1/environ (a laptop or a CI runner, where the grader is no root, would give
    away its tokens).
    """
    return [
        shutil.which("env", path=SYSTEM_BIN) or "/usr/bin/env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
    ]


def join_cgroup_argv(procs: Path) -> list[str]:
    """`sh -c 'echo $$ > P && exec "$@"' P`: join the cgroup whose cgroup.procs is `procs`, then exec the rest."""
    shell = shutil.which("sh", path=SYSTEM_BIN) or "/bin/sh"
    return [shell, "-c", 'echo $$ > "$0" && exec "$@"', str(procs)]


def drop_privileges_argv(uid: int) -> list[str]:
    """The `setpriv ... --` prefix that turns root (inside bwrap) into `uid` with no capabilities."""
    return [
        system_tool("setpriv") or "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]


def unenforced(limits: Limits, *, sandboxed: bool, own_uid: bool) -> list[str]:
    """The limits and walls that this set-up lacks (only the watchdog, or nothing, stands in), for the report's notes."""
    notes = []
    if system_tool("prlimit") is None:
        notes.append("prlimit is not installed: process and file-size limits are enforced by polling only")
    elif os.geteuid() == 0 and not own_uid:
        where = "an unsandboxed kernel" if not sandboxed else "a kernel that cannot change uid"
        notes.append(
            f"{where} runs as root, which RLIMIT_NPROC does not bind: "
            f"the {limits.processes}-process limit is enforced by polling only"
        )
    if sandboxed and not own_uid and os.geteuid() != 0:
        notes.append(
            "the grader is not root, so kernels run as its own uid (in a user namespace each), "
            "not as a fresh uid per kernel"
        )
    if sandboxed and (problem := seccomp.problem()) is not None:
        notes.append(
            f"no seccomp filter ({problem}): the kernel may use keyrings, bpf, userfaultfd and "
            "perf_event_open, kernel state no namespace isolates"
        )
    return notes


def hand_over(paths: Iterable[Path], uid: int) -> None:
    """Give the kernel's uid the folders it may write (and what is in them)."""
    for top in paths:
        for folder, _, files in os.walk(top):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


# ---- memory cgroups ---------------------------------------------------------------------------

_cgroup_names = itertools.count()


class MemoryCgroup:
    """A memory cgroup of its own for one sandboxed process tree: the kernel enforces its limit.

    Made under the grader's own cgroup, so that a host that confines the grader confines its
    kernels too. The process joins it before it execs (`join_cgroup_argv`), so not one page escapes.
    """

    def __init__(self, folder: Path, version: int, limit_mb: int) -> None:
        self.folder = folder
        self.version = version
        self.limit_mb = limit_mb

    @classmethod
    def create(cls, limit_mb: int, purpose: str = "kernel") -> MemoryCgroup | None:
        """A new cgroup limited to `limit_mb`, or None where this host does not let the grader make one."""
        for version, parent in _cgroup_parents():
            folder = parent / f"grader-{purpose}-{os.getpid()}-{next(_cgroup_names)}"
            try:
                folder.mkdir()
            except OSError:
                continue
            group = cls(folder, version, limit_mb)
            try:
                group._set_limit()
            except OSError:
                group.remove()
                continue
            return group
        return None

    def _set_limit(self) -> None:
        limit = str(self.limit_mb * MIB)
        if self.version == 2:
            (self.folder / "memory.max").write_text(limit)
            with contextlib.suppress(OSError):
                (self.folder / "memory.swap.max").write_text("0")
            return
        (self.folder / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):
            (self.folder / "memory.memsw.limit_in_bytes").write_text(limit)

    @property
    def description(self) -> str:
        kind = "cgroup v2 memory.max" if self.version == 2 else "cgroup v1 memory controller"
        return f"a hard limit of {self.limit_mb} MB ({kind})"

    @property
    def procs(self) -> Path:
        """The file a process writes its pid to, to join this cgroup."""
        return self.folder / "cgroup.procs"

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer stopped in this cgroup."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.folder / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def usage(self) -> int | None:
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        try:
            return int((self.folder / name).read_text().strip())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        """Kill what is left in the cgroup and remove it (tries for a few seconds: the kernel frees it lazily,
        and a fork bomb's last processes take a while to be reaped)."""
        for _ in range(250):
            try:
                pids = [int(p) for p in (self.folder / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                pids = []
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, 9)
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _cgroup_parents() -> list[tuple[int, Path]]:
    """Where this process may make child cgroups with a memory controller: (version, folder), best first."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found: list[tuple[int, Path]] = []
    for line in lines:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if number == "0" and controllers == "":
            unified = (
                CGROUP_ROOT if (CGROUP_ROOT / "cgroup.controllers").is_file() else CGROUP_ROOT / "unified"
            )
            own = unified / path.lstrip("/")
            if "memory" in _read(own / "cgroup.subtree_control").split():
                found.append((2, own))
        elif "memory" in controllers.split(","):
            own = CGROUP_ROOT / "memory" / path.lstrip("/")
            if own.is_dir():
                found.append((1, own))
            elif (CGROUP_ROOT / "memory" / "cgroup.procs").is_file():
                found.append((1, CGROUP_ROOT / "memory"))
    return sorted(found, key=lambda item: -item[0])


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class MemoryEnforcement(BaseModel):
    """How a memory limit was enforced for one process tree, in words for the report."""

    model_config = ConfigDict(frozen=True)

    hard: bool
    description: str

    @classmethod
    def of(cls, cgroup: MemoryCgroup | None, limit_mb: int) -> MemoryEnforcement:
        polled = f"polled {int(1 / POLL_S)} times a second"
        if cgroup is not None:
            return cls(hard=True, description=f"memory: {cgroup.description}, and {polled}")
        return cls(
            hard=False,
            description=f"memory: {limit_mb} MB, {polled} (no writable memory cgroup on this host, so no hard limit)",
        )


# ---- the watchdog -----------------------------------------------------------------------------


class Watchdog:
    """Polls a process tree and its writable folders on a thread of its own; kills the tree on the first breach.

    A thread, not a task on the grader's event loop: a grader step that blocks the loop (reading a
    file, a slow library call) must not stop the limits from being enforced meanwhile.
    """

    def __init__(self, limits: Limits, folders: tuple[Path, ...], cgroup: MemoryCgroup | None = None) -> None:
        self.limits = limits
        self.folders = folders
        self.cgroup = cgroup
        self.breach: Breach | None = None
        self.peak_bytes = 0
        """The largest memory the tree was seen using (sampled every POLL_S; for capacity planning)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._root: psutil.Process | None = None

    def start(self, root_pid: int | None) -> None:
        """Watch the tree under `root_pid` until `stop` (or a breach); no-op without a pid."""
        if root_pid is None or self._thread is not None:
            return
        with contextlib.suppress(psutil.Error):
            self._root = psutil.Process(root_pid)
        self._thread = threading.Thread(
            target=self._watch, args=(root_pid,), name="grader-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._root = None

    def sample(self) -> None:
        """One look at the tree's memory now, for `peak_bytes` (a run can be shorter than a poll)."""
        root = self._root
        if root is None:
            return
        with contextlib.suppress(psutil.Error):
            tree = [root, *root.children(recursive=True)]
            self.peak_bytes = max(self.peak_bytes, sum(_memory(p, shared=len(tree) > 1) for p in tree))

    def oom_killed(self) -> bool:
        """Whether the hard limit (the memory cgroup's OOM killer) stopped a process of the tree."""
        return self.cgroup is not None and self.cgroup.oom_kills() > 0

    def _watch(self, root_pid: int) -> None:
        try:
            root = psutil.Process(root_pid)
        except psutil.Error:
            return
        for tick in itertools.count(1):
            if self._stop.wait(POLL_S) or self.breach is not None:
                return
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            breach = self._check_tree(tree)
            if breach is None and tick % DISK_POLL_EVERY == 0:
                breach = self._check_disk()
            if breach is not None:
                self.breach = breach
                kill_tree(tree)
                return

    def _check_tree(self, tree: list[psutil.Process]) -> Breach | None:
        tasks = sum(_threads(p) for p in tree)
        if tasks >= self.limits.processes:
            return Breach(
                limit="processes",
                hint=(
                    f"The kernel was stopped for starting {len(tree)} processes ({tasks} with their threads), "
                    f"reaching the limit of {self.limits.processes}. Look for os.fork or subprocess in a loop."
                ),
            )
        used = sum(_memory(p, shared=len(tree) > 1) for p in tree)
        self.peak_bytes = max(self.peak_bytes, used)
        if used > self.limits.memory_mb * MIB:
            return Breach(limit="memory", hint=memory_hint(self.limits.memory_mb, used // MIB))
        return None

    def _check_disk(self) -> Breach | None:
        written, files = folder_usage(self.folders)
        if written > self.limits.disk_mb * MIB or files > MAX_FILES:
            return Breach(
                limit="disk",
                hint=(
                    f"The kernel was stopped for writing {written // MIB} MB in {files} files to its working "
                    f"folder, over the {self.limits.disk_mb} MB disk limit."
                ),
            )
        return None


def memory_hint(limit_mb: int, used_mb: int | None = None) -> str:
    used = f" ({used_mb} MB)" if used_mb is not None else ""
    return (
        f"The kernel was stopped for using more than {limit_mb} MB of memory{used}. "
        "Use a smaller batch, smaller arrays or a smaller model."
    )


def output_size(content: dict[str, Any]) -> int:
    """About how many bytes an output message adds to a report, without copying a flood to measure it."""
    if "text" in content:
        return len(str(content["text"]))
    data = content.get("data")
    if isinstance(data, dict):
        return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in data.values())
    return len(json.dumps(content, default=str))


def folder_usage(folders: Iterable[Path]) -> tuple[int, int]:
    """Bytes allocated and files found under `folders`, stopping early past MAX_FILES."""
    total = files = 0
    pending = [str(f) for f in folders]
    while pending and files <= MAX_FILES:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                files += 1
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total, files


def kill_tree(tree: list[psutil.Process]) -> None:
    """SIGKILL every process of the tree, leaves first (the bwrap at the root takes its namespace)."""
    for process in reversed(tree):
        with contextlib.suppress(psutil.Error):
            process.kill()


def _threads(process: psutil.Process) -> int:
    try:
        return int(process.num_threads())
    except psutil.Error:
        return 0


def _memory(process: psutil.Process, *, shared: bool) -> int:
    """Resident memory; proportional (PSS) when several processes may share copy-on-write pages.

    A forked child reports its parent's pages as its own RSS too, so summing RSS over a fork-happy
    tree would call a process bomb a memory bomb. PSS splits shared pages among their users.
    """
    if shared:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{process.pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0
