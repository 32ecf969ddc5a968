"""Resource limits for a student's kernel: the hard limits the OS enforces, and a watchdog behind them.

What is hard-enforced, and how (each was tried in this project's container, running as root):
- processes: RLIMIT_NPROC, set with util-linux `prlimit` on the kernel's command. It counts
  processes *and threads* per uid, and does not bind root at all, so when the grader is root the
  sandboxed kernel is switched to a uid of its own (`setpriv`, inside bwrap, which then creates
  no user namespace because a uid cannot change inside one). A fork bomb gets EAGAIN at the limit.
- disk: RLIMIT_FSIZE caps any one file at the disk limit (Python sees EFBIG), and the sandbox's
  `/tmp` and `/dev/shm` are tmpfs of that size.
- memory and the total written in the working folders: no hard limit works everywhere (cgroups
  are read-only in most containers, RLIMIT_AS breaks TensorFlow's address-space reservations), so
  `Watchdog` polls the kernel's process tree and writable folders and kills the whole tree on a
  breach, recording which limit it was. It also backs up the process limit where RLIMIT_NPROC
  cannot apply (an unsandboxed kernel run by root).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import psutil
from jupyter_client.manager import AsyncKernelManager
from pydantic import BaseModel, ConfigDict

MIB = 1024 * 1024
KERNEL_UID_BASE = 1_000_000
POLL_S = 0.25
DISK_POLL_EVERY = 4
MAX_FILES = 100_000
SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin"


class KernelLimits(BaseModel):
    """The limits one kernel runs under (from the rubric, overridden on the command line)."""

    model_config = ConfigDict(frozen=True)

    memory_mb: int
    processes: int
    disk_mb: int


class Breach(BaseModel):
    """A limit the watchdog stopped the kernel for, in words a student can act on."""

    model_config = ConfigDict(frozen=True)

    limit: Literal["memory", "processes", "disk"]
    hint: str


def kernel_uid(slot: int = 0) -> int | None:
    """The uid a sandboxed kernel runs as when the grader is root, else None (keep the caller's).

    Two uids per grader process (`slot` 0 or 1: the running kernel and the spare launched ahead
    of need), so RLIMIT_NPROC counts only one kernel's processes even when several workers grade
    at once, each with a spare.
    """
    if os.geteuid() != 0 or system_tool("setpriv") is None:
        return None
    return KERNEL_UID_BASE + 2 * os.getpid() + slot % 2


def system_tool(name: str) -> str | None:
    """A util-linux tool, from PATH or the system folders (a trimmed PATH should not lift a limit)."""
    return shutil.which(name) or shutil.which(name, path=SYSTEM_BIN)


def rlimit_argv(processes: int, disk_mb: int) -> list[str]:
    """The `prlimit ... --` prefix that sets the process and file-size limits, or [] without prlimit."""
    prlimit = system_tool("prlimit")
    if prlimit is None:
        return []
    return [prlimit, f"--nproc={processes}", f"--fsize={disk_mb * MIB}", "--"]


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


def unenforced(limits: KernelLimits, *, sandboxed: bool, own_uid: bool) -> list[str]:
    """The limits that only the watchdog stands behind in this set-up, for the report's notes."""
    notes = []
    if system_tool("prlimit") is None:
        notes.append("prlimit is not installed: process and file-size limits are enforced by polling only")
    elif os.geteuid() == 0 and not own_uid:
        where = "an unsandboxed kernel" if not sandboxed else "a kernel that cannot change uid"
        notes.append(
            f"{where} runs as root, which RLIMIT_NPROC does not bind: "
            f"the {limits.processes}-process limit is enforced by polling only"
        )
    return notes


def hand_over(paths: Iterable[Path], uid: int) -> None:
    """Give the kernel's uid the folders it may write (and what is in them)."""
    for top in paths:
        for folder, _, files in os.walk(top):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


class UidKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file (written 0600 by jupyter_client) the kernel's uid can read."""

    kernel_uid: int | None = None

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self.kernel_uid is not None:
            os.chown(self.connection_file, self.kernel_uid, self.kernel_uid)


class Watchdog:
    """Polls the kernel's process tree and writable folders; kills the tree on the first breach."""

    def __init__(self, limits: KernelLimits, folders: tuple[Path, ...]) -> None:
        self.limits = limits
        self.folders = folders
        self.breach: Breach | None = None

    async def watch(self, kernel: Callable[[], psutil.Process | None]) -> None:
        tick = 0
        while self.breach is None:
            await asyncio.sleep(POLL_S)
            tick += 1
            root = kernel()
            if root is None:
                continue
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            breach = self._check_tree(tree)
            if breach is None and tick % DISK_POLL_EVERY == 0:
                breach = await asyncio.to_thread(self._check_disk)
            if breach is not None:
                self.breach = breach
                kill_tree(tree)

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
        if used > self.limits.memory_mb * MIB:
            return Breach(
                limit="memory",
                hint=(
                    f"The kernel was stopped for using more than {self.limits.memory_mb} MB of memory "
                    f"({used // MIB} MB). Use a smaller batch, smaller arrays or a smaller model."
                ),
            )
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
