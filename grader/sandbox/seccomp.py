"""The system calls a sandboxed process may not make: one classic-BPF seccomp program, for both launch paths.

Namespaces give each kernel its own mounts, PIDs, network, IPC objects and hostname, but some
kernel state is global: a key added to a keyring (`add_key`, `request_key`, `keyctl`) lives in a
register keyed by uid, or in a session keyring the kernel inherited from the grader, and the next
student's kernel can read it. No notebook needs a keyring, BPF programs, userfaultfd, kexec or
hardware performance counters, so the sandbox denies them: the call fails with EPERM (an error a
library handles, never a crash). A uid of its own per kernel (`grader.sandbox.enforce`) is the
second wall: a key left despite this is not even the next kernel's uid.

The program, written here instead of with libseccomp (nothing to install):

    load the architecture    a foreign one (i386 calls from an x86-64 process, AArch32 ones
                             from an AArch64 process) has other numbers: every call is denied
    load the call's number   on x86-64, the x32 ABI's numbers (bit 30 set) are all denied
    compare with each denied number: EPERM
    otherwise: allow

A launched kernel gets it from bubblewrap (`--seccomp FD`, see `launch_argv`), a forked one from
the factory's template (`prctl(PR_SET_SECCOMP, ...)` after `PR_SET_NO_NEW_PRIVS`), from the same
bytes (`program`). Where the host cannot apply it (`problem`), the report says so.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import struct
import subprocess
import sys

DENIED: dict[str, str] = {
    "add_key": "keys outlive the kernel in a register per uid, or in a session keyring shared with the grader",
    "request_key": "as add_key: finds (or has user space make) a key in those shared keyrings",
    "keyctl": "reads, writes, links and searches those keyrings",
    "bpf": "BPF maps and programs are objects of the whole machine",
    "userfaultfd": "stalls the kernel's own page-fault handling; a classic exploit primitive",
    "perf_event_open": "hardware counters of the whole machine: a side channel between processes",
    "kexec_load": "loads a new kernel; never a notebook's business",
    "kexec_file_load": "as kexec_load",
}
"""Each system call a sandboxed process is denied, and why."""

NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "bpf": 321,
        "userfaultfd": 323,
        "perf_event_open": 298,
        "kexec_load": 246,
        "kexec_file_load": 320,
    },
    "aarch64": {
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "bpf": 280,
        "userfaultfd": 282,
        "perf_event_open": 241,
        "kexec_load": 104,
        "kexec_file_load": 294,
    },
}
"""The denied calls' numbers per architecture (platform.machine()), from the kernel's syscall tables."""

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

BPF_LD_W_ABS = 0x00 | 0x00 | 0x20
BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00
BPF_JMP_JGE_K = 0x05 | 0x30 | 0x00
BPF_RET_K = 0x06 | 0x00
SECCOMP_DATA_NR, SECCOMP_DATA_ARCH = 0, 4
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
DENY = SECCOMP_RET_ERRNO | errno.EPERM
INSTRUCTION = struct.Struct("=HBBI")

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2

LAUNCH = (
    "import os, sys\n"
    "read, write = os.pipe()\n"
    "os.write(write, bytes.fromhex(sys.argv[1]))\n"
    "os.close(write)\n"
    "os.set_inheritable(read, True)\n"
    "os.execv(sys.argv[2], [sys.argv[2], '--seccomp', str(read), *sys.argv[3:]])\n"
)
"""Hands bubblewrap the program on a descriptor: a pipe holding it, opened here, so it can never be a
descriptor the sandboxed program was given (the inspector's socket), and no file has to exist."""


def program(machine: str | None = None) -> bytes:
    """The compiled filter for `machine` (this one by default): the bytes of a `struct sock_filter` array.

    KeyError on an architecture whose numbers this module does not know (`problem` says so first).
    """
    machine = machine or platform.machine()
    numbers = sorted(NUMBERS[machine][name] for name in DENIED)
    tests: list[tuple[int, int]] = []
    if machine == "x86_64":
        tests.append((BPF_JMP_JGE_K, X32_SYSCALL_BIT))
    tests += [(BPF_JMP_JEQ_K, number) for number in numbers]
    # 0 load arch, 1 arch?, 2 load nr, 3.. tests, then allow, then deny.
    allow = 3 + len(tests)
    deny = allow + 1
    code = [
        (BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH),
        (BPF_JMP_JEQ_K, 0, deny - 2, AUDIT_ARCH[machine]),
        (BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR),
    ]
    for index, (operation, value) in enumerate(tests, start=3):
        code.append((operation, deny - index - 1, 0, value))
    code += [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, DENY)]
    return b"".join(INSTRUCTION.pack(*instruction) for instruction in code)


def launch_argv(bwrap_argv: list[str]) -> list[str]:
    """`bwrap_argv` with the filter: a small Python that passes bwrap the program as `--seccomp FD`.

    The interpreter behind the environment's link (`-I -S`: the standard library alone, no site),
    so that the sandboxed program's own interpreter is still the first `sys.executable` of the line.
    """
    return [os.path.realpath(sys.executable), "-I", "-S", "-c", LAUNCH, program().hex(), *bwrap_argv]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def apply(code: bytes) -> None:
    """Apply `code` to this process for good (no_new_privs first, as an unprivileged process must). OSError if refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // INSTRUCTION.size, ctypes.cast(buffer, ctypes.c_void_p))
    zero = ctypes.c_ulong(0)
    steps = (
        (PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero),
        (PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.c_void_p(ctypes.addressof(fprog))),
    )
    for option, arg, pointer in steps:
        if libc.prctl(ctypes.c_int(option), arg, pointer, zero, zero) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl {option}: {errno.errorcode.get(err, err)}")


def _self_test() -> None:
    """Apply the program, then check that add_key is denied and getpid is not; exit 0 if so."""
    apply(program())
    libc = ctypes.CDLL(None, use_errno=True)
    denied = libc.syscall(ctypes.c_long(NUMBERS[platform.machine()]["add_key"]), b"user", b"x", b"x", 1, -4)
    refused = ctypes.get_errno()
    sys.exit(0 if denied == -1 and refused == errno.EPERM and libc.getpid() > 0 else 3)


@functools.cache
def problem() -> str | None:
    """None when this host applies the filter, else why not (then the report notes the calls are allowed)."""
    if platform.system() != "Linux":
        return "seccomp is a Linux facility"
    if platform.machine() not in NUMBERS:
        return f"the grader knows no system call numbers for {platform.machine()}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import grader.sandbox.seccomp as s; s._self_test()"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the seccomp self-test could not run: {exc}"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        return f"this kernel does not apply seccomp filters ({reason[-1] if reason else done.returncode})"
    return None
