"""The sandbox a student's kernel runs in: bubblewrap, no network, one writable folder.

The kernel sees the system and the Python installation read-only, a private `/tmp`, its own
working directory (a copy of the submission) and the folder the probe writes to. The rubric,
hidden data, other submissions and the reports folder are simply not mounted, so they do not
exist inside. The kernel has no network namespace of its own, so the grader talks to it over
Unix sockets (jupyter_client's `ipc` transport) in a folder mounted into the sandbox. When the
grader is root, the kernel runs as an unprivileged uid of its own (see `grader.rubric.limits`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from grader.sandbox import enforce

SYSTEM_DIRS = ("/usr", "/etc", "/opt")
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ROOT_UNSHARE = ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try")
ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


class SandboxLayout(BaseModel):
    """What one sandboxed process sees besides the system: the folders it may write, the few it may read.

    `workdir` is its working directory and HOME (writable); `writable` and `readable` are further
    folders mounted at their own paths; `mounts` are read-only files or folders mounted elsewhere
    (source, destination: the course's data sets and assets); `hidden_files` are masked with an
    empty file.
    """

    model_config = ConfigDict(frozen=True)

    workdir: Path | None = None
    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    mounts: tuple[tuple[Path, Path], ...] = ()
    hidden_files: tuple[Path, ...] = ()
    uid: int | None = None
    tmp_mb: int | None = None


@functools.cache
def bwrap_problem() -> str | None:
    """None when bubblewrap can start a sandbox here, else why it cannot (for the warning)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap"
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap cannot create namespaces here ({reason[-1] if reason else probe.returncode})"
    return None


def python_roots() -> list[Path]:
    """The folders the kernel's Python needs: the environment and the installation it came from."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(r for r in roots if not any(str(r).startswith(s + "/") for s in SYSTEM_DIRS))


OperationKind = Literal["ro-bind", "bind", "dev-bind", "symlink", "proc", "dev", "tmpfs", "dir"]


@dataclass(frozen=True)
class Operation:
    """One of bwrap's file-system operations: what bwrap is told, and what the factory's template does by hand.

    Both come from this one value, so a forked kernel's root is built by the very operations, in
    the very order, that bwrap carries out for a launched one. `paths` are the operation's
    arguments (source and destination; a link's target and name; a mount point); `perms` and
    `size` are bwrap's `--perms` and `--size`, which apply to the operation after them.
    """

    kind: OperationKind
    paths: tuple[str, ...]
    perms: int | None = None
    size: int | None = None

    def words(self) -> list[str]:
        """The bwrap options for this operation."""
        words = [] if self.perms is None else ["--perms", format(self.perms, "04o")]
        words += [] if self.size is None else ["--size", str(self.size)]
        return [*words, f"--{self.kind}", *self.paths]

    def step(self) -> list[Any]:
        """The operation as the template's plan writes it (plain JSON)."""
        if self.kind == "tmpfs":
            return [self.kind, *self.paths, self.perms, self.size]
        if self.kind == "dir":
            return [self.kind, *self.paths, self.perms]
        return [self.kind, *self.paths]


def namespaces(layout: SandboxLayout) -> tuple[str, ...]:
    """bwrap's `--unshare-...` options (and the capabilities setpriv needs, with a uid of its own)."""
    if layout.uid is None:
        return ("--unshare-all",)
    return (*ROOT_UNSHARE, *[a for cap in ROOT_CAPS for a in ("--cap-add", cap)])


def home(layout: SandboxLayout) -> str:
    """The sandboxed process's working directory and HOME."""
    return str(layout.workdir) if layout.workdir is not None else "/tmp"


def operations(layout: SandboxLayout) -> tuple[Operation, ...]:
    """The new root's file-system operations, in the order bwrap carries them out."""
    ops: list[Operation] = []
    for system_dir in SYSTEM_DIRS:
        if Path(system_dir).is_dir():
            ops.append(Operation("ro-bind", (system_dir, system_dir)))
    for name in MERGED_USR_LINKS:
        top = Path("/") / name
        if top.is_symlink():
            ops.append(Operation("symlink", (os.readlink(top), str(top))))
        elif top.is_dir():
            ops.append(Operation("ro-bind", (str(top), str(top))))
    ops += [Operation("proc", ("/proc",)), Operation("dev", ("/dev",))]
    for scratch in ("/tmp", "/dev/shm"):
        size = None if layout.tmp_mb is None else layout.tmp_mb * 1024 * 1024
        ops.append(Operation("tmpfs", (scratch,), perms=0o1777, size=size))
    # After the tmpfs mounts, so that a Python environment under /tmp is not hidden by them.
    for root in python_roots():
        ops += [*_open_parents(root), Operation("ro-bind", (str(root), str(root)))]
    for readable in layout.readable:
        ops += [*_open_parents(readable), Operation("ro-bind", (str(readable), str(readable)))]
    for hidden in layout.hidden_files:
        ops.append(Operation("ro-bind", ("/dev/null", str(hidden))))
    for device in sorted(Path("/dev").glob("nvidia*")):
        ops.append(Operation("dev-bind", (str(device), str(device))))
    writable = (layout.workdir, *layout.writable) if layout.workdir is not None else layout.writable
    for folder in writable:
        ops += [*_open_parents(folder), Operation("bind", (str(folder), str(folder)))]
    # After the writable folders, so that an asset can sit inside the working folder.
    for source, destination in layout.mounts:
        ops += [*_open_parents(destination), Operation("ro-bind", (str(source), str(destination)))]
    return tuple(ops)


def bwrap_command(layout: SandboxLayout, kernel_argv: list[str]) -> list[str]:
    """The bwrap argv that runs `kernel_argv` inside the sandbox described by `layout`.

    With `layout.uid` (the grader is root), bwrap creates no user namespace, keeps only the
    capabilities `setpriv` needs to switch to that uid, and `setpriv` drops them all before the
    kernel starts; folders bwrap creates are 0755 so the unprivileged kernel can reach its own.
    bwrap passes on the environment it was started with: start it from a clean one
    (`grader.sandbox.command.SandboxSpec` does), since its own first process keeps it too.
    """
    argv = [shutil.which("bwrap") or "bwrap", *namespaces(layout), "--die-with-parent", "--new-session"]
    for operation in operations(layout):
        argv += operation.words()
    argv += ["--chdir", home(layout), "--setenv", "HOME", home(layout)]
    if layout.uid is not None:
        argv += enforce.drop_privileges_argv(layout.uid)
    return argv + kernel_argv


def _open_parents(path: Path) -> list[Operation]:
    """`--dir` for each folder above `path` that no mount provides, mode 0755 (bwrap's own is 0700)."""
    ops: list[Operation] = []
    for parent in reversed(path.parents[:-1]):
        if str(parent) in (*SYSTEM_DIRS, "/tmp") or any(str(parent).startswith(d + "/") for d in SYSTEM_DIRS):
            continue
        ops.append(Operation("dir", (str(parent),), perms=0o755))
    return ops
