"""No channel between students: what one kernel leaves, the next kernel of the same worker cannot find.

Namespaces isolate mounts, PIDs, the network and IPC objects; keyrings they do not (a key lives in
a register per uid, and a user keyring outlives every process of its uid). So each kernel gets a
uid of its own, never reused within a worker (`enforce.kernel_slot`), and a seccomp filter
(`grader.sandbox.seccomp`) denies the keyring calls, on both launch paths. Every kernel here is
real: launched by bubblewrap and forked by the factory's template, alternating, in this one
process, as a batch worker would start them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest

from grader.rubric import limits
from grader.sandbox import bwrap, command, enforce, factory, kernels, seccomp
from grader.sandbox.factory import plan_for

pytestmark = pytest.mark.slow

RECIPE = kernels.KernelRecipe(
    sandboxed=True,
    own_uid=True,
    limits=limits.Limits(processes=96, disk_mb=64, memory_mb=3072),
    import_keras=True,
)

SYSCALLS = seccomp.NUMBERS.get(platform.machine(), {})

LEAVE = f"""
import ctypes, ctypes.util, errno, os, _posixshmem
libc = ctypes.CDLL(None, use_errno=True)
def call(number, *args):
    result = libc.syscall(ctypes.c_long(number), *args)
    return result, errno.errorcode.get(ctypes.get_errno(), '') if result == -1 else ''
for ring in (-4, -3):  # the user keyring, the session keyring
    print('add_key', ring, *call({SYSCALLS.get("add_key", -1)}, b'user', b'grader-leak', b'secret', 6, ring))
print('keyctl', *call({SYSCALLS.get("keyctl", -1)}, 0, -4, 0))
print('request_key', *call({SYSCALLS.get("request_key", -1)}, b'user', b'grader-leak', None, 0))
print('shmget', libc.shmget(0x5EED, 4096, 0o1666) >= 0)
print('msgget', libc.msgget(0x5EED, 0o1666) >= 0)
os.close(_posixshmem.shm_open('/grader-leak-shm', os.O_CREAT | os.O_RDWR, 0o666))
rt = ctypes.CDLL(ctypes.util.find_library('rt') or None, use_errno=True)
rt.mq_open.restype = ctypes.c_int
print('mq_open', rt.mq_open(b'/grader-leak-mq', os.O_CREAT | os.O_RDWR, 0o666, None) >= 0)
for place in ('/tmp/grader-leak', '/dev/shm/grader-leak'):
    open(place, 'w').write('secret')
with open('/proc/self/status') as status:
    print(*[line.split()[1] for line in status if line.startswith('Seccomp:')], 'seccomp')
print('uid', os.getuid())
"""

SEEK = f"""
import ctypes, ctypes.util, errno, os, _posixshmem
libc = ctypes.CDLL(None, use_errno=True)
found = []
for ring in (-4, -3):
    if libc.syscall(ctypes.c_long({SYSCALLS.get("keyctl", -1)}), 10, ring, b'user', b'grader-leak', 0) > 0:
        found.append(f'key in {{ring}}')
if 'grader-leak' in open('/proc/keys').read():
    found.append('key in /proc/keys')
if libc.shmget(0x5EED, 0, 0) >= 0 or open('/proc/sysvipc/shm').read().count('\\n') > 1:
    found.append('SysV shm')
if libc.msgget(0x5EED, 0) >= 0 or open('/proc/sysvipc/msg').read().count('\\n') > 1:
    found.append('SysV msg')
try:
    os.close(_posixshmem.shm_open('/grader-leak-shm', os.O_RDONLY, 0))
    found.append('POSIX shm')
except OSError:
    pass
rt = ctypes.CDLL(ctypes.util.find_library('rt') or None, use_errno=True)
if rt.mq_open(b'/grader-leak-mq', os.O_RDONLY, 0, None) >= 0:
    found.append('POSIX mqueue')
for place in ('/tmp/grader-leak', '/dev/shm/grader-leak'):
    if os.path.exists(place):
        found.append(place)
print('FOUND', found)
"""

FIT = """
import numpy as np, keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation='softmax')])
model.compile('adam', 'sparse_categorical_crossentropy')
history = model.fit(np.ones((16, 4)), np.zeros(16), epochs=2, verbose=0)
print('fitted', len(history.history['loss']))
"""

I386_GETPID = """
import ctypes, mmap, os
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(bytes.fromhex('b814000000cd80c3'))  # mov eax, 20 (i386 getpid); int 0x80; ret
call = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print('i386 getpid', call(), 'pid', os.getpid())
"""


@pytest.fixture(scope="module")
def template() -> Iterator[factory.Factory]:
    problem = bwrap.bwrap_problem() or factory.factory_problem()
    if problem is not None:
        pytest.skip(f"kernels cannot be forked here: {problem}")
    shared = factory.process_factory()
    shared.wait_ready()
    yield shared
    factory.close_shared()


async def execute(kernel: Any, code: str, timeout: float = 180) -> str:
    """What `code` printed; AssertionError with the kernel's error if it raised one."""
    client = kernel.client
    msg_id = client.execute(code, store_history=False)
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            message = await client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except Empty:
            raise TimeoutError(f"no answer within {timeout} s; so far: {''.join(output)[-500:]}") from None
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            output.append(content["text"])
        elif kind == "error":
            raise AssertionError(f"{content['ename']}: {content['evalue']}\n{''.join(output)}")
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(output)


def in_kernel(folder: Path, fork: bool, *cells: str) -> list[str]:
    """Start a kernel (forked, or launched), run `cells` in it, shut it down; what each cell printed."""

    async def body() -> list[str]:
        kernel = await (factory.fork_kernel(RECIPE, folder) if fork else kernels.launch(RECIPE, folder))
        try:
            await kernels.wait_until_ready(kernel, 180)
            return [await execute(kernel, cell) for cell in cells]
        finally:
            await kernels.shut_down(kernel)
            kernels.remove(kernel)

    return kernels.run_on_loop(body())


def test_the_filter_denies_keyrings_with_eperm_and_allows_the_rest() -> None:
    """In a child of this process: the program, applied by prctl, denies exactly the listed calls."""
    if (problem := seccomp.problem()) is not None:
        pytest.skip(problem)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 1
        try:
            seccomp.apply(seccomp.program())
            libc = ctypes.CDLL(None, use_errno=True)
            seen = []
            for name in seccomp.DENIED:
                result = libc.syscall(ctypes.c_long(SYSCALLS[name]), 0, 0, 0, 0, 0)
                seen.append(f"{name}={result}/{errno.errorcode.get(ctypes.get_errno())}")
            seen.append(
                f"getppid={libc.syscall(ctypes.c_long(110 if platform.machine() == 'x86_64' else 173))}"
            )
            if platform.machine() == "x86_64":
                x32 = libc.syscall(ctypes.c_long(seccomp.X32_SYSCALL_BIT | 39))
                seen.append(f"x32-getpid={x32}/{errno.errorcode.get(ctypes.get_errno())}")
            os.write(write, " ".join(seen).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    seen = os.read(read, 4096).decode().split()
    os.close(read)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    for name in seccomp.DENIED:
        assert f"{name}=-1/EPERM" in seen, seen
    assert f"getppid={os.getpid()}" in seen, "an ordinary call is allowed"
    if platform.machine() == "x86_64":
        assert "x32-getpid=-1/EPERM" in seen, "the x32 numbers of the same calls are no way around it"


def test_both_paths_carry_the_same_program(tmp_path: Path) -> None:
    """bwrap is handed the bytes the template applies: one program, from one description."""
    uid = enforce.kernel_uid(0) or 12345
    spec = command.SandboxSpec(
        program=(sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "connection.json")),
        env={},
        layout=bwrap.SandboxLayout(workdir=tmp_path, uid=uid),
        syscall_filter=True,
    )
    argv = spec.argv()
    assert argv[argv.index(seccomp.LAUNCH) + 1] == seccomp.program().hex()
    assert Path(argv[argv.index(seccomp.LAUNCH) + 2]).name == "bwrap"
    if enforce.kernel_uid(0) is not None:
        assert plan_for(spec)["seccomp"] == seccomp.program().hex()
    unfiltered = spec.model_copy(update={"syscall_filter": False})
    assert seccomp.LAUNCH not in unfiltered.argv()


def test_every_kernel_of_a_worker_gets_a_uid_no_other_kernel_or_the_inspector_has() -> None:
    uids = [enforce.uid_of(4_194_304, enforce.kernel_slot(n)) for n in range(len(enforce.KERNEL_SLOTS))]
    assert len(set(uids)) == len(uids)
    others = {enforce.uid_of(4_194_304, s) for s in (enforce.INSPECTOR_SLOT, enforce.TRIAL_SLOT)}
    assert not others & set(uids)
    assert max(uids) < 2**32 - 1, "fits uid_t for the largest pid Linux allows"
    assert enforce.uid_of(7, enforce.kernel_slot(0)) != enforce.uid_of(8, enforce.kernel_slot(0))
    assert max(enforce.uid_of(7, s) for s in range(enforce.UIDS_PER_PROCESS)) < enforce.uid_of(8, 0)


def test_nothing_one_student_leaves_reaches_the_next_kernels_launched_or_forked(
    template: factory.Factory, tmp_path: Path
) -> None:
    """The first kernel leaves a key, SysV and POSIX IPC objects and files; three more kernels look for them.

    Launched, forked, launched, forked: the third is where the kernel before this change (two uids,
    alternating) found the first one's user key.
    """
    if (problem := seccomp.problem()) is not None:
        pytest.skip(problem)
    saved = kernels._state.launched
    kernels._state.launched = 0
    try:
        left, fitted = in_kernel(tmp_path / "first", False, LEAVE, FIT)
        seen = [
            in_kernel(tmp_path / f"next-{n}", fork, SEEK + LEAVE, FIT)
            for n, fork in enumerate((True, False, True))
        ]
    finally:
        kernels._state.launched = saved
    found = [next(line for line in printed.splitlines() if line.startswith("FOUND")) for printed, _ in seen]
    assert found == ["FOUND []"] * 3, found
    for printed in (left, *(next_left for next_left, _ in seen)):
        lines = printed.splitlines()
        assert "add_key -4 -1 EPERM" in lines and "add_key -3 -1 EPERM" in lines, printed
        assert "keyctl -1 EPERM" in lines and "request_key -1 EPERM" in lines, printed
        assert {"shmget True", "msgget True", "mq_open True", "2 seccomp"} <= set(lines), printed
    for _, fit in [(left, fitted), *seen]:
        assert "fitted 2" in fit, "TensorFlow and Keras work under the filter"
    uids = [
        line.removeprefix("uid ")
        for printed in (left, *(s for s, _ in seen))
        for line in printed.splitlines()
        if line.startswith("uid ")
    ]
    if enforce.kernel_uid() is not None:
        assert len(set(uids)) == 4, f"a fresh uid for each kernel: {uids}"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 calls exist only on x86-64")
def test_a_foreign_architecture_is_no_way_around_the_filter(
    template: factory.Factory, tmp_path: Path
) -> None:
    """i386 system calls (int 0x80) have other numbers: the filter denies every one of them."""
    if (problem := seccomp.problem()) is not None:
        pytest.skip(problem)
    for fork in (False, True):
        (printed,) = in_kernel(tmp_path / f"k{fork}", fork, I386_GETPID)
        assert printed.split()[:3] == ["i386", "getpid", str(-errno.EPERM)], printed
