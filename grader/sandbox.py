"""The sandbox a student's kernel runs in: bubblewrap, no network, one writable folder.

The kernel sees the system and the Python installation read-only, a private `/tmp`, its own
working directory (a copy of the submission) and the folder the probe writes to. The rubric,
hidden data, other submissions and the reports folder are simply not mounted, so they do not
exist inside. The kernel has no network namespace of its own, so the grader talks to it over
Unix sockets (jupyter_client's `ipc` transport) in a folder mounted into the sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict

SYSTEM_DIRS = ("/usr", "/etc", "/opt")
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class SandboxLayout(BaseModel):
    """The folders one kernel may write to; everything else it sees is read-only or absent."""

    model_config = ConfigDict(frozen=True)

    workdir: Path
    artifacts: Path
    ipc: Path
    hidden_files: tuple[Path, ...] = ()


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


def bwrap_command(layout: SandboxLayout, kernel_argv: list[str]) -> list[str]:
    """The bwrap argv that runs `kernel_argv` inside the sandbox described by `layout`."""
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID"]
    for system_dir in SYSTEM_DIRS:
        if Path(system_dir).is_dir():
            argv += ["--ro-bind", system_dir, system_dir]
    for name in MERGED_USR_LINKS:
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    for root in python_roots():
        argv += ["--ro-bind", str(root), str(root)]
    for hidden in layout.hidden_files:
        argv += ["--ro-bind", "/dev/null", str(hidden)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for device in sorted(Path("/dev").glob("nvidia*")):
        argv += ["--dev-bind", str(device), str(device)]
    for writable in (layout.workdir, layout.artifacts, layout.ipc):
        argv += ["--bind", str(writable), str(writable)]
    argv += ["--chdir", str(layout.workdir), "--setenv", "HOME", str(layout.workdir)]
    return argv + kernel_argv
