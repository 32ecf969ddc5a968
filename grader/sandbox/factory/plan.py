"""A sandboxed kernel's description, turned into the plan the template carries out by hand.

A forked kernel must be sandboxed exactly as a launched one. So the factory takes no layout of its
own: it reads the very description (`grader.sandbox.command.SandboxSpec`) whose command line
`grader.sandbox.kernels` would run, and takes each step from the same values that command line is
built from: the environment, the memory cgroup, the rlimits, bwrap's namespaces and file-system
operations (`grader.sandbox.bwrap.operations`, in order), setpriv's uid, the seccomp program
bubblewrap is handed (`grader.sandbox.seccomp.program`, the same bytes), the kernel's argv.

What the template cannot reproduce (no bubblewrap, no uid of its own, a kernel that is not this
interpreter's ipykernel, an rlimit tool or setpriv that is not installed) is a `PlanError`, and
the kernel is launched instead. The provisioner also refuses a command line that is not the one
the description gives (`grader.sandbox.factory.forkable`), so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

from grader.sandbox import bwrap, enforce, seccomp
from grader.sandbox.command import SandboxSpec
from grader.sandbox.factory.template import CLONE

SETPRIV_FLAGS = {"--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"}


class PlanError(ValueError):
    """The description asks for something the factory cannot reproduce; launch the kernel instead."""


def plan_for(spec: SandboxSpec) -> dict[str, Any]:
    """The plan (plain JSON) for the template: environment, cgroup, rlimits, namespaces, mounts, uid, seccomp, argv.

    `spec` has its connection file filled in (`SandboxSpec.with_connection_file`).
    """
    layout = spec.layout
    if layout is None:
        raise PlanError("the kernel is not sandboxed with bubblewrap")
    if layout.uid is None or layout.uid == 0 or enforce.system_tool("setpriv") is None:
        raise PlanError("the kernel does not run as a uid of its own (the grader is not root)")
    if set(enforce.drop_privileges_argv(layout.uid)[1:-1]) != {
        f"--reuid={layout.uid}",
        f"--regid={layout.uid}",
        *SETPRIV_FLAGS,
    }:
        raise PlanError(
            "setpriv does more than the template knows how to do: switch uid, drop every privilege"
        )
    unshare = [option.removeprefix("--unshare-").removesuffix("-try") for option in bwrap.ROOT_UNSHARE]
    if not set(unshare) <= set(CLONE) or "pid" not in unshare:
        raise PlanError(
            "the factory forks kernels only into namespaces it knows, a PID namespace of their own among them"
        )
    argv = list(spec.program)
    if argv[:3] != [sys.executable, "-m", "ipykernel_launcher"] or "-f" not in argv:
        raise PlanError("the kernel is not this interpreter's ipykernel: the template could not be it")
    env = dict(spec.env)
    if spec.cgroup_procs is not None:
        env = _through_shell(env)
    home = bwrap.home(layout)
    env["HOME"] = home  # bwrap's --setenv
    env["PWD"] = home  # bwrap sets it, after --chdir
    return {
        "env": env,
        "cgroup_procs": str(spec.cgroup_procs) if spec.cgroup_procs is not None else None,
        "rlimits": _rlimits(spec),
        "unshare": unshare,
        "unshare_try": [
            option.removeprefix("--unshare-").removesuffix("-try")
            for option in bwrap.ROOT_UNSHARE
            if option.endswith("-try")
        ],
        "new_session": True,
        "ops": [operation.step() for operation in bwrap.operations(layout)],
        "chdir": home,
        "drop": {"uid": layout.uid, "gid": layout.uid},
        "seccomp": seccomp.program().hex() if spec.syscall_filter else None,
        "argv": argv,
    }


def _rlimits(spec: SandboxSpec) -> dict[str, int]:
    """The rlimits prlimit would set (none where prlimit is not installed: the launched kernel gets none either)."""
    if enforce.system_tool("prlimit") is None or spec.file_mb is None:
        return {}
    found = {"fsize": spec.file_mb * enforce.MIB}
    if spec.processes is not None:
        found = {"nproc": spec.processes, **found}
    return found


def _through_shell(env: dict[str, str]) -> dict[str, str]:
    """The environment as the cgroup-joining shell passes it on: its order, and PWD (which bwrap then sets).

    A shell exports its variables in an order of its own (dash: its hash table's), which is the
    order a launched kernel finds in /proc/self/environ and os.environ.
    """
    order = _shell_order(tuple(env))
    return {name: env.get(name, "") for name in order}


@functools.cache
def _shell_order(names: tuple[str, ...]) -> tuple[str, ...]:
    shell = enforce.join_cgroup_argv(Path("/"))[0]
    tool = enforce.clean_env_argv({})[0]
    try:
        done = subprocess.run(
            [shell, "-c", 'exec "$@"', "sh", tool, "-0"],
            env=dict.fromkeys(names, "x"),
            capture_output=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PlanError(f"cannot tell how the shell passes the environment on: {exc}") from None
    exported = [entry.split(b"=", 1)[0].decode() for entry in done.stdout.split(b"\0") if entry]
    return tuple(name for name in exported if name in names or name == "PWD")
