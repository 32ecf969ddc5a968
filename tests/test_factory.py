"""The warm kernel factory (grader.sandbox.factory): forked kernels work, are isolated, and behave as launched ones.

Every kernel here is real: a template that imported TensorFlow and Keras forks it into a
bubblewrap-equivalent sandbox, jupyter_client drives it through the factory's provisioner, and
the cells run real TensorFlow. Where a test compares, the other side is a kernel launched by
`grader.sandbox.kernels.launch` with the same recipe, folder and uid.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

from grader.grading import probe
from grader.rubric import limits
from grader.sandbox import bwrap, command, enforce, factory, kernels
from grader.sandbox.factory import Factory, FactoryError, PlanError, plan_for

from .conftest import REPO

pytestmark = pytest.mark.slow

PROCESSES = 96
DISK_MB = 64
RECIPE = kernels.KernelRecipe(
    sandboxed=True,
    own_uid=True,
    limits=limits.Limits(processes=PROCESSES, disk_mb=DISK_MB, memory_mb=3072),
    import_keras=True,
)
LOOPBACK_PORT = 47631


@pytest.fixture(scope="module", autouse=True)
def template() -> Iterator[Factory]:
    """This process's template, ready (it imports TensorFlow once for the whole module)."""
    problem = factory.factory_problem()
    if problem is not None:
        pytest.skip(f"the factory cannot run here: {problem}")
    shared = factory.process_factory()
    shared.wait_ready()
    yield shared
    factory.close_shared()


# ---- helpers -----------------------------------------------------------------------------------


@contextlib.contextmanager
def slot(number: int) -> Iterator[None]:
    """The next kernel `kernels.launch` starts takes uid slot `number` (0 or 1) of this process."""
    saved = kernels._state.launched
    kernels._state.launched = number
    try:
        yield
    finally:
        kernels._state.launched = saved


async def start(folder: Path, number: int, fork: bool, recipe: kernels.KernelRecipe = RECIPE) -> Any:
    with slot(number):
        kernel = await (factory.fork_kernel(recipe, folder) if fork else kernels.launch(recipe, folder))
    assert kernel.uid == enforce.kernel_uid(number)
    return kernel


@contextlib.asynccontextmanager
async def forked(folder: Path, number: int = 0, recipe: kernels.KernelRecipe = RECIPE) -> AsyncIterator[Any]:
    kernel = await start(folder, number, fork=True, recipe=recipe)
    try:
        await kernels.wait_until_ready(kernel, 120)
        yield kernel
    finally:
        await kernels.shut_down(kernel)
        remove_cgroup(kernel)


def remove_cgroup(kernel: Any) -> None:
    """`shut_down` gives up on a cgroup after a second; one that held a fork bomb may need longer to empty."""
    cgroup = kernel.cgroup
    deadline = time.monotonic() + 20
    while cgroup is not None and cgroup.folder.exists() and time.monotonic() < deadline:
        cgroup.remove()


async def execute(kernel: Any, code: str, timeout: float = 120) -> tuple[str, str | None]:
    """Run `code`; its printed output and the error's name and value (None when it raised nothing)."""
    client = kernel.client
    msg_id = client.execute(code, store_history=False)
    output: list[str] = []
    error = None
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
            error = f"{content['ename']}: {content['evalue']}"
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(output), error


async def output_of(kernel: Any, code: str, timeout: float = 120) -> str:
    """What `code` printed; AssertionError with the kernel's error if it raised one."""
    output, error = await execute(kernel, code, timeout)
    assert error is None, f"{error}\n{output}"
    return output


def halves(text: str) -> tuple[str, str]:
    raw = text.encode()
    return raw[:8].hex(), raw[8:].hex()


def gone(uid: int, timeout: float = 10) -> bool:
    """Whether every process of `uid` is gone (or a zombie) within `timeout`."""
    deadline = time.monotonic() + timeout
    while any(alive(p.pid) for p in uid_processes(uid)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run(coroutine: Any) -> Any:
    return kernels.run_on_loop(coroutine)


def tree_of(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def uid_processes(uid: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]


# ---- the template ------------------------------------------------------------------------------


def test_the_template_imported_tensorflow_but_started_no_runtime(template: Factory) -> None:
    state = template.wait_ready()
    assert state["tensorflow_context"] is False, "no TensorFlow op ran, so no eager context exists"
    assert state["zmq_context"] is False
    assert state["shared_writable"] == [], (
        "no memory a kernel could write for the template or a sibling to see"
    )
    # The main thread and OpenBLAS's idle servers (NumPy's, SciPy's and the copy OpenCV bundles, which
    # Keras imports when it is installed), which each OpenBLAS stops around fork.
    assert state["threads"] <= 4, state
    assert len(state["fds"]) <= 5, f"nothing but stdio, the control socket and listdir's own: {state['fds']}"
    task_names = {
        (Path(f"/proc/{template.pid}/task") / t / "comm").read_text().strip()
        for t in os.listdir(f"/proc/{template.pid}/task")
    }
    assert task_names == {"python"}
    assert psutil.Process(template.pid).uids().real == 0


def test_tensorflow_thread_pools_are_created_in_the_kernel_not_the_template(
    template: Factory, tmp_path: Path
) -> None:
    before = len(os.listdir(f"/proc/{template.pid}/task"))

    async def body() -> str:
        async with forked(tmp_path / "k") as kernel:
            output, error = await execute(
                kernel,
                "import os, tensorflow as tf\n"
                "from tensorflow.python.eager import context\n"
                "print('context', context.context()._context_handle is not None)\n"
                "first = len(os.listdir('/proc/self/task'))\n"
                "tf.constant([[1.0, 2.0]]) @ tf.constant([[3.0], [4.0]])\n"
                "print('threads', first, len(os.listdir('/proc/self/task')))\n"
                "print('context', context.context()._context_handle is not None)\n",
            )
            assert error is None, error
            return output

    output = run(body())
    lines = output.splitlines()
    assert lines[0] == "context False", "the kernel starts without TensorFlow's runtime"
    _, first, after = lines[1].split()
    assert int(after) > int(first), "the first op made TensorFlow's inter/intra-op pools, in the kernel"
    assert lines[2] == "context True"
    # OpenBLAS stops its servers before each fork and starts them only when next used: the template
    # is down to its main thread after its first fork.
    assert len(os.listdir(f"/proc/{template.pid}/task")) <= min(before, 3), "the template made no thread"


# ---- it works ----------------------------------------------------------------------------------


def test_a_forked_kernel_builds_fits_and_saves_a_keras_model(tmp_path: Path) -> None:
    import keras
    import numpy as np

    async def body() -> tuple[str, str | None]:
        async with forked(tmp_path / "k") as kernel:
            return await execute(
                kernel,
                "import keras, numpy as np, os\n"
                "keras.utils.set_random_seed(3)\n"
                "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation='relu'),\n"
                "    keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(3, activation='softmax')])\n"
                "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
                "x = np.random.rand(128, 8, 8, 1).astype('float32'); y = (x.mean(axis=(1, 2, 3)) * 3).astype(int) % 3\n"
                "history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)\n"
                "print('loss', history.history['loss'][0], history.history['loss'][-1])\n"
                "model.save(os.path.join(os.environ['ARTIFACTS'], 'model.keras'))\n"
                "print('prediction', model.predict(x[:2], verbose=0).shape)\n".replace(
                    "os.environ['ARTIFACTS']", repr(str(tmp_path / "k" / "artifacts"))
                ),
            )

    output, error = run(body())
    assert error is None, error
    first, last = (float(v) for v in output.split("loss ", 1)[1].split()[:2])
    assert last < first, "training ran and learned"
    assert "prediction (2, 3)" in output
    saved = keras.saving.load_model(tmp_path / "k" / "artifacts" / "model.keras", safe_mode=True)
    assert saved.count_params() == 4 * 9 + 4 + 36 * 3 + 3
    assert saved.predict(np.zeros((1, 8, 8, 1)), verbose=0).shape == (1, 3)


def test_siblings_get_fresh_random_state(tmp_path: Path) -> None:
    code = "import random, numpy, tensorflow as tf\nprint(random.random(), numpy.random.rand(), float(tf.random.uniform(())))"

    async def body() -> list[str]:
        async with forked(tmp_path / "a", 0) as first, forked(tmp_path / "b", 1) as second:
            return [(await execute(k, code))[0] for k in (first, second)]

    one, two = (line.split() for line in run(body()))
    for a, b, source in zip(one, two, ("random", "numpy", "tensorflow"), strict=True):
        assert a != b, f"{source}: two kernels forked from one template drew the same unseeded numbers"


# ---- isolation ---------------------------------------------------------------------------------


LOOK = """
import json, os, resource, socket
fields = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
print(json.dumps({
    'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),
    'caps': {k: fields[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')},
    'no_new_privs': fields['NoNewPrivs'].strip(),
    'nproc': resource.getrlimit(resource.RLIMIT_NPROC), 'fsize': resource.getrlimit(resource.RLIMIT_FSIZE),
    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), 'pid': os.getpid(),
    'interfaces': [name for _, name in socket.if_nameindex()],
    'environ': dict(v.split('=', 1) for v in open('/proc/self/environ').read().split(chr(0)) if v),
}))
"""


def test_a_forked_kernel_sees_only_itself_runs_as_its_own_uid_without_capabilities(
    template: Factory, tmp_path: Path
) -> None:
    async def body() -> tuple[dict[str, Any], dict[str, Any], int, str]:
        async with forked(tmp_path / "a", 0) as first, forked(tmp_path / "b", 1) as second:
            seen = [json.loads(await output_of(k, LOOK)) for k in (first, second)]
            first_pid = first.manager.provisioner.process.kernel_pid()
            targets = (1, first_pid, template.pid, os.getpid())
            probe_kill = await output_of(
                second,
                f"import os\nfor pid in {targets}:\n"
                "    try:\n        os.kill(pid, 0); print(pid, 'reachable')\n"
                "    except OSError as exc:\n        print(pid, type(exc).__name__)\n",
            )
            cgroup_procs = [int(p) for p in (first.cgroup.folder / "cgroup.procs").read_text().split()]
            tree = [p.pid for p in tree_of(first.pid)]
            assert set(tree) <= set(cgroup_procs), "the whole tree is in the kernel's memory cgroup"
            return seen[0], seen[1], first.uid, probe_kill

    first, second, uid, probe_kill = run(body())
    # Its own init is root, the sibling, template and grader are outside its PID namespace.
    assert [line.split()[1] for line in probe_kill.splitlines()] == [
        "PermissionError",
        "ProcessLookupError",
        "ProcessLookupError",
        "ProcessLookupError",
    ], probe_kill
    zero = "0000000000000000"
    for seen, slot in ((first, 0), (second, 1)):
        assert seen["uid"] == seen["gid"] == enforce.kernel_uid(slot)
        assert seen["groups"] == []
        assert seen["caps"] == dict.fromkeys(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), zero)
        assert seen["no_new_privs"] == "1"
        assert seen["nproc"] == [PROCESSES, PROCESSES]
        assert seen["fsize"] == [DISK_MB * limits.MIB] * 2
        assert seen["pid"] == 2 and seen["pids"] == [1, 2], "its own PID namespace: an init and itself"
        assert seen["interfaces"] == ["lo"]
    assert first["uid"] != second["uid"]
    work = tmp_path / "a" / "work"
    assert first["environ"] == {**kernels.kernel_env(work), "PWD": str(work)}, "bwrap's PWD, nothing else"
    assert uid == first["uid"] and gone(uid), "nothing of the first kernel outlives it"


def test_a_forked_kernel_cannot_write_outside_its_folders(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    targets = [
        "/",
        "/usr",
        "/etc",
        "/opt",
        str(Path(sys.prefix)),
        str(Path(sys.base_prefix)),
        str(REPO),
        str(REPO / "grader" / "factory"),
        str(folder),
        str(tmp_path),
        "/proc/sys/kernel",
        "/tmp",
        "/dev/shm",
        str(folder / "work"),
        str(folder / "artifacts"),
        str(folder / "ipc"),
    ]
    code = (
        "import os, json\nresults = {}\n"
        f"for target in {targets!r}:\n"
        "    try:\n"
        "        path = os.path.join(target, 'escape.txt')\n"
        "        with open(path, 'w') as f: f.write('x')\n"
        "        os.remove(path); results[target] = 'written'\n"
        "    except OSError as exc:\n"
        "        results[target] = type(exc).__name__\n"
        "print(json.dumps(results))"
    )

    async def body() -> dict[str, str]:
        async with forked(folder) as kernel:
            return dict(json.loads((await execute(kernel, code))[0]))

    before = set(os.listdir("/tmp"))
    results = run(body())
    written = {t for t, r in results.items() if r == "written"}
    assert written == {
        "/tmp",
        "/dev/shm",
        str(folder / "work"),
        str(folder / "artifacts"),
        str(folder / "ipc"),
    }, results
    assert not any("escape" in name for name in set(os.listdir("/tmp")) - before)
    assert not (REPO / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_a_forked_kernel_has_no_network_not_even_the_graders_loopback(tmp_path: Path) -> None:
    accepted: list[bytes] = []
    with socket.create_server(("127.0.0.1", LOOPBACK_PORT), reuse_port=True) as server:
        server.settimeout(0.2)
        stop = threading.Event()

        def listen() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    connection, _ = server.accept()
                    accepted.append(connection.recv(100))
                    connection.close()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()

        async def body() -> str:
            async with forked(tmp_path / "k") as kernel:
                return await output_of(
                    kernel,
                    f"import socket\nfor address in (('127.0.0.1', {LOOPBACK_PORT}), ('1.1.1.1', 53)):\n"
                    "    try:\n        socket.create_connection(address, timeout=3).send(b'hi'); print('connected')\n"
                    "    except OSError as exc:\n        print(type(exc).__name__)\n",
                )

        try:
            output = run(body())
        finally:
            stop.set()
            listener.join(timeout=5)
    assert accepted == []
    assert output.splitlines() == ["ConnectionRefusedError", "OSError"], output


def test_a_forked_kernel_cannot_read_the_template_or_earlier_orders(
    template: Factory, tmp_path: Path
) -> None:
    """The template's memory is out of reach, and the copy the kernel has holds nothing of another kernel.

    The template never parses an order (the order bytes land in one buffer it zeroes after each
    fork), so the first kernel's folder name must be nowhere in the second kernel's memory; the
    second's own folder name, which its own order carried, is there (the scan works).
    """
    earlier = tmp_path / "earlier-kernel-7c1f0e93a5"
    later = tmp_path / "later-kernel-d24b86e1f0"
    # The needle is never whole in the scanning kernel's memory (it would find itself): its two
    # halves are looked for one after the other. The earlier kernel's is counted first, before a
    # region copy holding the later one's could be freed and left lying around.
    scan = (
        "def count(head_hex, tail_hex):\n"
        "    head, tail = bytes.fromhex(head_hex), bytes.fromhex(tail_hex)\n"
        "    found = 0\n"
        "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', buffering=0) as mem:\n"
        "        for line in maps:\n"
        "            parts = line.split()\n"
        "            name = parts[5] if len(parts) > 5 else ''\n"
        "            if 'r' not in parts[1] or name in ('[vvar]', '[vsyscall]', '[vvar_vclock]'):\n"
        "                continue\n"
        "            if name and not name.startswith('['):\n"
        "                continue  # files: libraries and data, not what the process received\n"
        "            start, end = (int(x, 16) for x in parts[0].split('-'))\n"
        "            try:\n"
        "                mem.seek(start); data = mem.read(end - start)\n"
        "            except OSError:\n"
        "                continue\n"
        "            at = data.find(head)\n"
        "            while at >= 0:\n"
        "                found += data.startswith(tail, at + len(head))\n"
        "                at = data.find(head, at + 1)\n"
        "            del data\n"
        "    return found\n"
        "print(count({!r}, {!r}), count({!r}, {!r}))\n"
    ).format(*halves(earlier.name), *halves(later.name))
    template_mem = f"/proc/{template.pid}/mem"

    async def body() -> tuple[str, str]:
        async with forked(earlier, 0):
            pass
        async with forked(later, 1) as kernel:
            counts, error = await execute(kernel, scan, timeout=300)
            assert error is None, error
            opened, _ = await execute(
                kernel,
                f"try:\n    open({template_mem!r}, 'rb').read(1); print('read')\nexcept OSError as exc:\n    print(type(exc).__name__)",
            )
            return counts, opened

    counts, opened = run(body())
    earlier_hits, later_hits = (int(c) for c in counts.split())
    assert later_hits > 0, "the scan finds the kernel's own folder name (so it would find the other's)"
    assert earlier_hits == 0, "another kernel's order is in this kernel's memory"
    assert opened.strip() == "FileNotFoundError", (
        "the template's pid does not exist in the kernel's namespace"
    )


# ---- robustness --------------------------------------------------------------------------------


def test_a_crash_or_a_fork_bomb_hurts_neither_the_template_nor_the_next_kernel(
    template: Factory, tmp_path: Path
) -> None:
    bomb = (
        "import os, time\nchildren = 0\n"
        "for _ in range(1000):\n"
        "    try:\n        pid = os.fork()\n"
        "    except OSError as exc:\n        print('stopped', exc.errno); break\n"
        "    if pid == 0:\n        time.sleep(600); os._exit(0)\n"
        "    children += 1\n"
        "print('children', children)\n"
    )
    uid = enforce.kernel_uid(0)
    assert uid is not None
    threads = len(os.listdir(f"/proc/{template.pid}/task"))

    async def body() -> tuple[str, int | None, str]:
        async with forked(tmp_path / "crash") as crashing:
            client_process = crashing.manager.provisioner.process
            crashing.client.execute("import ctypes; ctypes.string_at(0)")
            for _ in range(100):
                if not await crashing.manager.is_alive():
                    break
                await asyncio.sleep(0.1)
            crashed = client_process.returncode
        async with forked(tmp_path / "bomb") as bombing:
            bombed, _ = await execute(bombing, bomb)
            assert len(uid_processes(uid)) >= 10
        assert gone(uid), "the bomb's processes died with their kernel's namespace"
        async with forked(tmp_path / "next") as following:
            after, error = await execute(
                following,
                "import keras, subprocess\n"
                "print(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).count_params(),\n"
                "      subprocess.run(['true']).returncode == 0)",
            )
            assert error is None, error
        return bombed, crashed, after

    bombed, crashed, after = run(body())
    assert crashed == 128 + signal.SIGSEGV, "the kernel died of its segfault, and the monitor said so"
    assert "stopped 11" in bombed, "EAGAIN at RLIMIT_NPROC"
    assert 0 < int(bombed.split("children ")[1]) < PROCESSES
    assert after.split() == ["8", "True"], (
        "the next kernel, same uid, same template, works (and may start processes)"
    )
    assert template.alive and len(os.listdir(f"/proc/{template.pid}/task")) <= threads


def test_a_memory_bomb_is_stopped_by_the_kernels_own_memory_cgroup(template: Factory, tmp_path: Path) -> None:
    """The kernel's allocations are charged to its cgroup; the pages it shares with the template are not."""
    recipe = RECIPE.model_copy(update={"limits": RECIPE.limits.model_copy(update={"memory_mb": 700})})

    async def body() -> tuple[str, int, int | None]:
        async with forked(tmp_path / "k", recipe=recipe) as kernel:
            assert kernel.cgroup is not None
            output = await output_of(
                kernel, "import numpy\nsmall = numpy.ones(300 * 2**20 // 8)\nprint('300 MB fine')"
            )
            kernel.client.execute("big = numpy.ones(800 * 2**20 // 8)\nprint('800 MB fine')")
            for _ in range(300):
                if not await kernel.manager.is_alive():
                    break
                await asyncio.sleep(0.1)
            return output, kernel.cgroup.oom_kills(), kernel.manager.provisioner.process.returncode

    output, kills, code = run(body())
    assert output == "300 MB fine\n"
    assert kills >= 1 and code == 128 + signal.SIGKILL, "the cgroup's OOM killer stopped the kernel at 700 MB"
    assert template.alive


async def interrupted(kernel: Any, interrupt: Any) -> str | None:
    """Start an endless cell, call `interrupt`, and return the error the cell ended with."""
    msg_id = kernel.client.execute("import time\nwhile True: time.sleep(0.01)")
    await asyncio.sleep(1.0)
    await interrupt()
    error = None
    while True:
        message = await kernel.client.get_iopub_msg(timeout=30)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "error":
            error = message["content"]["ename"]
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return error


def test_interrupt_and_shutdown_work_as_for_a_launched_kernel(tmp_path: Path) -> None:
    """interrupt_mode "message" (what the grader uses), a SIGINT through the provisioner, then shutdown."""

    async def body() -> tuple[list[str | None], str, list[int]]:
        kernel = await factory.fork_kernel(RECIPE, tmp_path / "k")
        try:
            await kernels.wait_until_ready(kernel, 120)
            errors = [
                await interrupted(kernel, kernel.manager.interrupt_kernel),
                await interrupted(kernel, lambda: kernel.manager.signal_kernel(signal.SIGINT)),
            ]
            output = await output_of(kernel, "print('still here')")
            tree = [p.pid for p in tree_of(kernel.pid)]
        finally:
            await kernels.shut_down(kernel)
            remove_cgroup(kernel)
        return errors, output, tree

    errors, output, tree = run(body())
    assert errors == ["KeyboardInterrupt", "KeyboardInterrupt"] and output == "still here\n"
    assert len(tree) == 3, "monitor, init and kernel"
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in tree), "shutdown took the whole tree"


def test_kernels_die_with_their_template_and_the_template_with_its_grader(tmp_path: Path) -> None:
    script = (
        "import json, sys, time\nfrom grader.sandbox.factory import Factory\n"
        "f = Factory.start(preload=False)\nf.wait_ready()\nprint(f.pid, flush=True)\ntime.sleep(600)\n"
    )
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert grader.stdout is not None
        template_pid = int(grader.stdout.readline())
        assert psutil.pid_exists(template_pid)
        grader.kill()
        grader.wait()
        deadline = time.monotonic() + 10
        while psutil.pid_exists(template_pid) and psutil.Process(template_pid).status() != "zombie":
            assert time.monotonic() < deadline, "the template outlived the grader that started it"
            time.sleep(0.05)
    finally:
        grader.kill()
        grader.wait()
        for folder in Path(tempfile.gettempdir()).glob(f"{factory.FACTORY_PREFIX}{grader.pid}-*"):
            shutil.rmtree(folder, ignore_errors=True)  # its grader was killed before it could

    spare = Factory.start(preload=False)
    uid = enforce.uid_of(os.getpid(), factory.TRIAL_SLOT)
    work = tmp_path / "work"
    work.mkdir()
    enforce.hand_over((work,), uid)
    spec = command.SandboxSpec(
        program=(sys.executable, "-m", "ipykernel_launcher", "-f", "x"),
        env=kernels.kernel_env(work),
        layout=bwrap.SandboxLayout(workdir=work, uid=uid, tmp_mb=8),
    )
    try:
        forked_probe = spare.fork_probe({"plan": {**plan_for(spec), "probe": True}}, timeout=30)
        assert forked_probe.report["uid"] == uid and forked_probe.process.poll() is None
        os.kill(spare.pid, signal.SIGKILL)
        assert forked_probe.process.wait(10) != 0, "the forked process died with its template"
        assert gone(uid), "and so did its namespace"
    finally:
        spare.close()


# ---- where the factory refuses -----------------------------------------------------------------


def test_a_kernel_whose_environment_differs_from_the_templates_is_launched_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorFlow read TF_ENABLE_ONEDNN_OPTS when the template imported it: a kernel told otherwise is launched."""
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    with pytest.raises(
        FactoryError, match="environment differs from the template's in TF_ENABLE_ONEDNN_OPTS"
    ):
        run(factory.fork_kernel(RECIPE, tmp_path / "k"))
    assert not any(
        alive(p.pid)
        for p in uid_processes(enforce.kernel_uid(0) or 0) + uid_processes(enforce.kernel_uid(1) or 0)
    )


@pytest.mark.parametrize(
    ("unshare", "reason"),
    [
        (["--map-user=1000", "--map-group=1000"], "the grader is not root"),
        (["--map-root-user"], "the grader runs in a user namespace"),
    ],
)
def test_without_real_root_the_factory_refuses(unshare: list[str], reason: str) -> None:
    done = subprocess.run(
        [
            "unshare",
            "--user",
            *unshare,
            sys.executable,
            "-c",
            "from grader.sandbox.factory import factory_problem; print(factory_problem())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(reason), done.stdout


def test_a_command_line_the_factory_cannot_reproduce_is_refused_not_approximated(tmp_path: Path) -> None:
    work = tmp_path / "work"
    layout = bwrap.SandboxLayout(workdir=work, uid=enforce.kernel_uid(0), tmp_mb=8)
    good = command.SandboxSpec(
        program=(sys.executable, "-m", "ipykernel_launcher", "-f", command.CONNECTION_FILE),
        env=kernels.kernel_env(work),
        layout=layout,
    )
    cmd = good.with_connection_file("c.json").argv()
    assert factory.forkable(good) is None
    assert factory.forkable(good, cmd, "c.json") is None
    described = {
        "not sandboxed": good.model_copy(update={"layout": None}),
        "no uid of its own": good.model_copy(update={"layout": layout.model_copy(update={"uid": None})}),
        "another kernel": good.model_copy(update={"program": ("/usr/bin/python3", *good.program[1:])}),
    }
    for what, spec in described.items():
        assert factory.forkable(spec) is not None, what
        with pytest.raises(PlanError):
            plan_for(spec.with_connection_file("c.json"))
    # A command line that says anything its description does not is launched, never forked.
    at = cmd.index(next(w for w in cmd if w.endswith("bwrap")))
    variants = {
        "an unknown bwrap option": [*cmd[: at + 1], "--seccomp", "9", *cmd[at + 1 :]],
        "no clean environment": cmd[cmd.index("-i") + 1 :],
        "no uid of its own": [w for w in cmd if "setpriv" not in w and not w.startswith("--re")],
        "another kernel": [*cmd[:-5], "/usr/bin/python3", *cmd[-4:]],
        "no PID namespace": [w for w in cmd if w != "--unshare-pid"],
    }
    for what, argv in variants.items():
        assert factory.forkable(good, argv, "c.json") is not None, what
    assert factory.forkable(None, cmd, "c.json") is not None, "a kernelspec without a description"
    bare = Factory.start(preload=False)
    try:
        with pytest.raises(FactoryError):
            bare.fork({"plan": {}}, [0])
    finally:
        bare.close()


# ---- the same notebook, forked or launched -----------------------------------------------------

NOTEBOOK = [
    # What the process is and sees.
    """
import json, os, resource, socket, sys
def mounts():
    rows = []
    for line in open('/proc/self/mountinfo'):
        left, right = line.split(' - ')
        fields, rest = left.split(), right.split()
        rows.append([fields[4], fields[3], fields[5], rest[0], rest[2] if rest[0] in ('tmpfs', 'devpts') else ''])
    return rows
def tree(top):  # less SQLite's journal, there only while IPython's history thread writes
    return sorted(os.path.relpath(os.path.join(d, n), top) for d, ds, fs in os.walk(top) for n in ds + fs
                  if not n.endswith('-journal'))
status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
umask = os.umask(0o22); os.umask(umask)
print(json.dumps({
    'ids': [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    'status': {k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp')},
    'ns': [os.getpid(), os.getppid(), os.getpgid(0), os.getsid(0), sorted(p for p in os.listdir('/proc') if p.isdigit())],
    'cwd': os.getcwd(), 'home': tree(os.path.expanduser('~')), 'umask': umask,
    'environ': dict(os.environ),
    'proc': [open('/proc/self/cmdline', 'rb').read().decode(), open('/proc/self/environ', 'rb').read().decode()],
    'python': [sys.argv, sys.orig_argv, sys.path, str(sys.flags), sys.executable, sys.getrecursionlimit()],
    'rlimits': {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith('RLIMIT_')},
    'net': [socket.if_nameindex(), socket.gethostname()],
    'mounts': mounts(),
    'stdio': [os.path.basename(os.readlink(f'/proc/self/fd/{n}')).split(':')[0] for n in (0, 1, 2)],
}, indent=1, sort_keys=True))
""",
    # Keras, TensorFlow and Matplotlib as the student's code finds them (no op has run yet).
    """
import tempfile, keras, tensorflow as tf, matplotlib, IPython
from keras.src.backend import config as keras_config
from tensorflow.python.util import _pywrap_util_port
print(json.dumps({
    'keras': [keras.__version__, keras_config.keras_home(), keras.config.backend(), keras.config.floatx(),
              keras.config.image_data_format(), keras.config.epsilon()],
    'tensorflow': [tf.__version__, tf.config.threading.get_inter_op_parallelism_threads(),
                   tf.config.threading.get_intra_op_parallelism_threads(), _pywrap_util_port.IsMklEnabled(),
                   tf.executing_eagerly()],
    'matplotlib': [matplotlib.get_configdir(), matplotlib.get_cachedir(), matplotlib.get_backend()],
    'ipython': [get_ipython().ipython_dir, get_ipython().profile_dir.location, IPython.paths.get_ipython_cache_dir()],
    'tempdir': tempfile.gettempdir(),
}, indent=1, sort_keys=True))
""",
    # Seeded numbers, a model's initial weights and its training: the same to the last bit.
    """
import random, numpy as np
keras.utils.set_random_seed(1234)
numbers = {'random': random.random(), 'numpy': np.random.rand(3).tolist(),
           'tensorflow': tf.random.uniform((3,)).numpy().tolist(), 'keras': keras.random.uniform((3,)).numpy().tolist()}
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation='relu'), keras.layers.Flatten(),
                          keras.layers.Dropout(0.3), keras.layers.Dense(3, activation='softmax')])
numbers['initial'] = [w.tolist() for w in model.get_weights()]
model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])
x = np.random.rand(96, 8, 8, 1).astype('float32'); y = np.random.randint(0, 3, 96)
numbers['history'] = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
numbers['devices'] = [d.name for d in tf.config.list_physical_devices()]
answer = 42
print(json.dumps(numbers, sort_keys=True))
model.summary()
""",
    # A hidden file, a file too large, a fork: limits behave alike.
    """
import subprocess
try:
    open(HIDDEN).read(); hidden = 'read'
except OSError as exc:
    hidden = type(exc).__name__
try:
    with open('big.bin', 'wb') as f:
        f.write(b'0' * (DISK + 1))
    big = 'written'
except OSError as exc:
    big = exc.errno
os.remove('big.bin')
print(hidden, big, subprocess.run(['id', '-u'], capture_output=True, text=True).stdout.strip())
""",
]


def run_notebook(kernel: Any, hidden: Path) -> tuple[list[str], dict[str, Any]]:
    """Run NOTEBOOK, then the grader's probe, as `grader.grading.run` does (nbclient on the kernel's manager and client)."""
    sources = [
        s.replace("HIDDEN", repr(str(hidden))).replace("DISK", str(DISK_MB * limits.MIB)) for s in NOTEBOOK
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(
        notebook, km=kernel.manager, allow_errors=True, timeout=180, shutdown_kernel="immediate"
    )
    client.kc = kernel.client
    name = kernels.probe_folder(kernel)
    probe_source = probe.probe_source(str(kernel.artifacts / name), ("model", "answer"), None)
    notebook.cells.append(nbformat.v4.new_code_cell(probe_source))

    async def body() -> None:
        async with client.async_setup_kernel(cleanup_kc=False):
            for index, cell in enumerate(notebook.cells):
                await client.async_execute_cell(cell, index)

    run(body())
    outputs = []
    for cell in notebook.cells:
        texts = [
            o.get("text", "") if o.output_type == "stream" else json.dumps(o.get("ename"))
            for o in cell.outputs
        ]
        # The probe's manifest holds the hashes of the .keras file (which records when it was saved)
        # and of facts.json: the same lengths in both kernels, different digits.
        outputs.append(re.sub(r'"[0-9a-f]{64}"', '"<sha256>"', "".join(texts)))
    facts = json.loads((kernel.artifacts / name / "facts.json").read_text())
    for model in facts["models"]:
        model.pop("sha256", None)  # the .keras file records when it was saved
        model.pop("bytes", None)
    return outputs, facts


def test_the_same_notebook_gives_the_same_output_forked_or_launched(tmp_path: Path) -> None:
    """Same recipe, folder and uid; everything the notebook prints and the probe records must be equal."""
    folder = tmp_path / "kernel"
    hidden = Path(sys.prefix) / "bin" / "activate"
    recipe = RECIPE.model_copy(update={"hidden_files": (hidden,)})
    results = []
    for fork in (False, True):
        kernel = run(start(folder, 0, fork, recipe))
        try:
            run(kernels.wait_until_ready(kernel, 180))
            results.append(run_notebook(kernel, hidden))
        finally:
            run(kernels.shut_down(kernel))
            remove_cgroup(kernel)
            kernels.remove(kernel)
    (launched_out, launched_facts), (forked_out, forked_facts) = results
    for index, (a, b) in enumerate(zip(launched_out, forked_out, strict=True)):
        diff = "\n".join(
            difflib.unified_diff(a.splitlines(), b.splitlines(), "launched", "forked", lineterm="")
        )
        assert a == b, f"cell {index + 1} differs:\n{diff}"
    assert launched_facts == forked_facts
    assert launched_out[3].split() == ["PermissionError", "27", str(enforce.kernel_uid(0))]
