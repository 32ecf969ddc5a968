"""The launch command line of a sandboxed kernel, read as a plan the template carries out by hand.

A forked kernel must be sandboxed exactly as a launched one. So the factory takes no layout of its
own: it reads the very command line `grader.sandbox.kernels` would run (the kernelspec argv, formatted
with the connection file), which `grader.rubric.limits` and `grader.sandbox.bwrap` build:

    env -i K=V ...                          the whole environment
    sh -c 'echo $$ > "$0" && exec "$@"' P   join the memory cgroup whose cgroup.procs is P
    prlimit --nproc=N --fsize=B --          RLIMIT_NPROC, RLIMIT_FSIZE
    bwrap --unshare-... --ro-bind ... --     namespaces and the new root, in order
    setpriv --reuid=U --regid=U ... --      the kernel's uid, no capabilities, no_new_privs
    python -m ipykernel_launcher -f CONNECTION_FILE ...

Every word must be understood: anything else (a bwrap option this reader does not know, a kernel
that is not this interpreter's ipykernel, no uid of its own) is a `PlanError`, and the kernel
is launched instead. A change to the sandbox's command line is thus either followed by the
factory or refused by it, never silently dropped.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.sandbox import enforce

ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SWITCHES = {
    "--unshare-ipc": "ipc",
    "--unshare-pid": "pid",
    "--unshare-net": "net",
    "--unshare-uts": "uts",
    "--unshare-cgroup": "cgroup",
    "--unshare-cgroup-try": "cgroup",
}
BINDS = {"--ro-bind": "ro-bind", "--bind": "bind", "--dev-bind": "dev-bind"}
SETPRIV_FLAGS = {"--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"}


class PlanError(ValueError):
    """The command line asks for something the factory cannot reproduce; launch the kernel instead."""


def plan_of(argv: Sequence[str]) -> dict[str, Any]:
    """The plan (plain JSON) for the template: environment, cgroup, rlimits, namespaces, mounts, uid, kernel argv."""
    words = _Words(list(argv))
    env = _environment(words)
    procs = _cgroup(words)
    if procs is not None:
        env = _through_shell(env)
    plan: dict[str, Any] = {
        "env": env,
        "cgroup_procs": procs,
        "rlimits": _rlimits(words),
    }
    plan.update(_bwrap(words, env))
    plan["drop"] = _setpriv(words)
    plan["argv"] = _kernel(words)
    return plan


class _Words:
    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.at = 0

    def peek(self, count: int = 1) -> list[str]:
        return self.words[self.at : self.at + count]

    def take(self, what: str) -> str:
        if self.at >= len(self.words):
            raise PlanError(f"the command line ends where {what} was expected")
        word = self.words[self.at]
        self.at += 1
        return word

    def rest(self) -> list[str]:
        return self.words[self.at :]


def _environment(words: _Words) -> dict[str, str]:
    if words.peek(2) != [*enforce.clean_env_argv({})[:1], "-i"]:
        raise PlanError("the kernel's command does not start from a clean environment (env -i)")
    words.at += 2
    env: dict[str, str] = {}
    while words.peek() and ENV_WORD.match(words.peek()[0]):
        name, _, value = words.take("an environment variable").partition("=")
        env[name] = value
    return env


def _cgroup(words: _Words) -> str | None:
    join = enforce.MemoryCgroup(Path("/"), 1, 0).join_argv()[:3]
    if words.peek(3) != join:
        return None
    words.at += 3
    procs = words.take("the cgroup's cgroup.procs")
    if Path(procs).name != "cgroup.procs":
        raise PlanError(f"unexpected cgroup file {procs}")
    return procs


def _through_shell(env: dict[str, str]) -> dict[str, str]:
    """The environment as the cgroup-joining shell passes it on: its order, and PWD (which bwrap then sets).

    A shell exports its variables in an order of its own (dash: its hash table's), which is the
    order a launched kernel finds in /proc/self/environ and os.environ.
    """
    order = _shell_order(tuple(env))
    return {name: env.get(name, "") for name in order}


@functools.cache
def _shell_order(names: tuple[str, ...]) -> tuple[str, ...]:
    shell = enforce.MemoryCgroup(Path("/"), 1, 0).join_argv()[0]
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


def _rlimits(words: _Words) -> dict[str, int]:
    prlimit = enforce.system_tool("prlimit")
    if prlimit is None or words.peek() != [prlimit]:
        return {}
    words.at += 1
    found: dict[str, int] = {}
    while (word := words.take("prlimit's --")) != "--":
        name, _, value = word.removeprefix("--").partition("=")
        if name not in ("nproc", "fsize") or not value.isdigit():
            raise PlanError(f"prlimit option {word} is not supported by the factory")
        found[name] = int(value)
    return found


def _bwrap(words: _Words, env: dict[str, str]) -> dict[str, Any]:
    """bwrap's options, in order: the same operations bwrap itself would carry out, in the same order."""
    bwrap = shutil.which("bwrap") or "bwrap"
    if words.peek() != [bwrap]:
        raise PlanError("the kernel is not sandboxed with bubblewrap")
    words.at += 1
    unshare: list[str] = []
    tried: list[str] = []
    ops: list[list[Any]] = []
    chdir: str | None = None
    new_session = die_with_parent = False
    perms: int | None = None
    size: int | None = None
    while words.peek() and words.peek()[0].startswith("--"):
        option = words.take("a bwrap option")
        if option in SWITCHES:
            unshare.append(SWITCHES[option])
            if option.endswith("-try"):
                tried.append(SWITCHES[option])
        elif option == "--cap-add":
            words.take("a capability")  # bwrap keeps them for setpriv only, which drops them all
        elif option == "--die-with-parent":
            die_with_parent = True
        elif option == "--new-session":
            new_session = True
        elif option == "--perms":
            perms = int(words.take("a mode"), 8)
        elif option == "--size":
            size = int(words.take("a size"))
        elif option in BINDS:
            ops.append([BINDS[option], words.take("a source"), words.take("a destination")])
        elif option == "--symlink":
            ops.append(["symlink", words.take("a target"), words.take("a link")])
        elif option in ("--proc", "--dev"):
            ops.append([option[2:], words.take("a mount point")])
        elif option == "--tmpfs":
            ops.append(["tmpfs", words.take("a mount point"), perms, size])
            perms = size = None
        elif option == "--dir":
            ops.append(["dir", words.take("a folder"), perms])
            perms = None
        elif option == "--chdir":
            chdir = words.take("a folder")
        elif option == "--setenv":
            name = words.take("a variable")
            env[name] = words.take("a value")
        else:
            raise PlanError(f"bwrap option {option} is not supported by the factory")
    if "pid" not in unshare or not die_with_parent:
        raise PlanError(
            "the factory forks kernels only into a PID namespace of their own that dies with its parent"
        )
    if chdir is None:
        raise PlanError("the sandbox names no working directory")
    env["PWD"] = chdir  # bwrap sets it, after --chdir
    return {
        "unshare": unshare,
        "unshare_try": tried,
        "new_session": new_session,
        "ops": ops,
        "chdir": chdir,
    }


def _setpriv(words: _Words) -> dict[str, int]:
    setpriv = enforce.system_tool("setpriv")
    if setpriv is None or words.peek() != [setpriv]:
        raise PlanError("the kernel does not run as a uid of its own (the grader is not root)")
    words.at += 1
    ids: dict[str, int] = {}
    flags: set[str] = set()
    while (word := words.take("setpriv's --")) != "--":
        name, _, value = word.partition("=")
        if name in ("--reuid", "--regid") and value.isdigit():
            ids["uid" if name == "--reuid" else "gid"] = int(value)
        elif word in SETPRIV_FLAGS:
            flags.add(word)
        else:
            raise PlanError(f"setpriv option {word} is not supported by the factory")
    if set(ids) != {"uid", "gid"} or flags != SETPRIV_FLAGS or ids["uid"] == 0:
        raise PlanError("setpriv must switch to a uid of its own and drop every privilege")
    return ids


def _kernel(words: _Words) -> list[str]:
    argv = words.rest()
    if argv[:3] != [sys.executable, "-m", "ipykernel_launcher"] or "-f" not in argv:
        raise PlanError("the kernel is not this interpreter's ipykernel: the template could not be it")
    return argv
