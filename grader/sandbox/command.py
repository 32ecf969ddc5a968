"""One description of a sandboxed process, and the one command line built from it.

Every untrusted process the grader starts (a student's kernel, the inspector, the factory's trial
fork) is described by a `SandboxSpec`: its whole environment, the memory cgroup it joins, its
rlimits, its bubblewrap layout (mounts, uid, `/tmp` size) and its program. `SandboxSpec.argv`
turns that into the command line, in the order the defences need:

    env -i K=V ...                          the whole environment (bwrap's first process keeps it)
    sh -c 'echo $$ > "$0" && exec "$@"' P   join the memory cgroup before anything is allocated
    prlimit --nproc=N --fsize=B --          RLIMIT_NPROC (per uid), RLIMIT_FSIZE
    python -I -S -c LAUNCH HEX              the seccomp program, on a descriptor (`grader.sandbox.seccomp`)
    bwrap --seccomp FD ... setpriv ... --   namespaces, the new root, the uid (`grader.sandbox.bwrap`)
    PROGRAM ...

The warm kernel factory reads the same description (`grader.sandbox.factory.plan`), never the
command line, so a launched kernel and a forked one cannot be sandboxed differently by accident.

The environment has one builder, `sandbox_env`, and one list of what passes through from the
grader's environment, `PASSED_THROUGH`, each with the reason it passes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.sandbox import bwrap, enforce, seccomp

CONNECTION_FILE = "{connection_file}"

PASSED_THROUGH: dict[str, str] = {
    "CUDA_VISIBLE_DEVICES": "the GPUs this worker was given: workers sharing a machine divide its GPUs",
    "TF_FORCE_GPU_ALLOW_GROWTH": "whether TensorFlow claims a whole GPU at once: workers sharing one need it off",
    "OMP_NUM_THREADS": "thread counts change float results and divide a machine's cores among workers",
    "TF_NUM_INTRAOP_THREADS": "as OMP_NUM_THREADS, for TensorFlow's own pool inside one operation",
    "TF_NUM_INTEROP_THREADS": "as OMP_NUM_THREADS, for TensorFlow's pool across operations",
    "TF_ENABLE_ONEDNN_OPTS": "oneDNN changes float results: off unless the instructor's machine turned it on",
}
"""What passes from the grader's environment into a sandbox, and why: the device assignment and
the numeric settings, so that an instructor can reproduce a run on the machine that graded it.
Nothing else of the grader's (tokens, paths, proxies) reaches a sandboxed process."""

Purpose = Literal["kernel", "inspector"]


def sandbox_env(home: Path, purpose: Purpose) -> dict[str, str]:
    """A sandboxed process's whole environment: fixed values, then `PASSED_THROUGH` from the grader's.

    The two purposes differ only where they must: a kernel draws figures inline (MPLBACKEND) and
    shows TensorFlow's warnings to the student (TF_CPP_MIN_LOG_LEVEL 2); the inspector draws
    nothing, and keeps its log to errors (3).
    """
    env = {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if purpose == "kernel":
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["KERAS_BACKEND"] = "tensorflow"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2" if purpose == "kernel" else "3"
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    for name in PASSED_THROUGH:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class SandboxSpec(BaseModel):
    """Everything a sandboxed process is started with; `argv` is its command line, `plan` (the factory's) its fork.

    `layout` None runs the program without bubblewrap (a kernel the rubric does not sandbox, an
    inspector on a host without bwrap), still from the clean environment, in the cgroup, under
    the rlimits. `processes` None sets no RLIMIT_NPROC: it counts every process of a uid, so
    without a uid of its own it would count the grader's. `program` may hold `{connection_file}`,
    which jupyter_client fills in (`with_connection_file`). `syscall_filter`: bubblewrap applies the
    seccomp program (`grader.sandbox.seccomp`), on by default wherever this host can apply it.
    """

    model_config = ConfigDict(frozen=True)

    program: tuple[str, ...]
    env: dict[str, str]
    layout: bwrap.SandboxLayout | None = None
    cgroup_procs: Path | None = None
    processes: int | None = None
    file_mb: int | None = None
    syscall_filter: bool = Field(default_factory=lambda: seccomp.problem() is None)

    def argv(self) -> list[str]:
        """The command line: clean environment, cgroup, rlimits, bubblewrap and uid, the program."""
        argv = enforce.clean_env_argv(self.env)
        if self.cgroup_procs is not None:
            argv += enforce.join_cgroup_argv(self.cgroup_procs)
        if self.processes is not None and self.file_mb is not None:
            argv += enforce.rlimit_argv(self.processes, self.file_mb)
        elif self.file_mb is not None:
            argv += enforce.fsize_argv(self.file_mb)
        program = list(self.program)
        if self.layout is None:
            return argv + program
        sandbox = bwrap.bwrap_command(self.layout, program)
        return argv + (seccomp.launch_argv(sandbox) if self.syscall_filter else sandbox)

    def with_connection_file(self, connection_file: str) -> SandboxSpec:
        """This description with jupyter_client's `{connection_file}` filled in, as the launched command has it."""
        program = tuple(word.replace(CONNECTION_FILE, connection_file) for word in self.program)
        return self.model_copy(update={"program": program})
