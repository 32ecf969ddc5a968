"""Starting a student's kernel: how it is launched, where it lives, and a spare started ahead of need.

A sandboxed kernel (bubblewrap, Python, ipykernel, and Keras with TensorFlow when the submission
uses it) takes seconds to answer after launch. A batch worker grades submission after submission,
so it need not wait those seconds each time: as soon as a submission's kernel answers, the worker
launches the next one (`prepare_spare`), which boots while the student's cells run and the model
is measured. The next submission takes the spare if it needs the same recipe (sandbox, limits,
hidden files, Keras, limits); otherwise the spare is shut down and a fresh kernel launched. The spare runs
as a uid of its own (`enforce.kernel_uid`), in a sandbox of its own: the running student's code can
neither see it nor count against its process limit. A spare has run nothing but that Keras import
(which the prelude would do before the student's first cell anyway); the student's files are
copied into its working folder only when it is taken, so a taken spare is indistinguishable, to
the student's code, from a fresh kernel. Spares are off unless a process asks for them
(`keep_spares`, called by the batch worker pool): a single `grade` grades one submission.

Every kernel of a process lives on one event loop (`run`), because a kernel manager's sockets
belong to the loop they were made on and a spare outlives the grade that launched it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing import util as multiprocessing_util
from pathlib import Path
from queue import Empty
from typing import Any, TypeVar

import psutil
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from pydantic import BaseModel, ConfigDict

from grader.rubric.limits import Limits
from grader.sandbox import bwrap, command, enforce


class UidKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file (written 0600 by jupyter_client) the kernel's uid can read."""

    kernel_uid: int | None = None

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self.kernel_uid is not None:
            os.chown(self.connection_file, self.kernel_uid, self.kernel_uid)


log = logging.getLogger(__name__)
T = TypeVar("T")
SPARE_PREFIX = "grader-spare-"
IMPORT_KERAS = "import keras; del keras"
SANDBOX_METADATA = "grader_sandbox"


class KernelRecipe(BaseModel):
    """Everything a kernel's launch depends on except its folder: two kernels with equal recipes are interchangeable.

    `import_keras`: the kernel imports Keras (and TensorFlow, seconds of CPU) while it starts, and
    binds no name. Only for a submission whose prelude imports Keras before the student's first
    cell anyway (to seed it), so the student's code sees the same thing; a spare then does the
    import while the worker is busy with the previous submission.
    """

    model_config = ConfigDict(frozen=True)

    sandboxed: bool
    own_uid: bool
    limits: Limits = Limits()
    hidden_files: tuple[Path, ...] = ()
    mounts: tuple[tuple[Path, str], ...] = ()
    import_keras: bool = False


@dataclass(frozen=True)
class StartedKernel:
    """A launched kernel, its connected client, the folder it owns and the memory cgroup that confines it.

    The folder holds its working folder, the artifacts folder the probe writes to, the sockets and
    the log. The client's channels are opened at launch, so that by the time a spare is taken
    ZeroMQ has long connected and subscribed, and the first handshake needs no retry.
    """

    recipe: KernelRecipe
    folder: Path
    uid: int | None
    manager: UidKernelManager
    client: AsyncKernelClient
    cgroup: enforce.MemoryCgroup | None = None

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    @property
    def ipc(self) -> Path:
        return self.folder / "ipc"

    @property
    def log(self) -> Path:
        return self.folder / "kernel.log"

    @property
    def pid(self) -> int | None:
        """The pid of the launched command (bubblewrap, when sandboxed): the root of the kernel's tree."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        return int(pid) if pid is not None else None


@dataclass(frozen=True)
class KernelStart:
    """How the last run got its kernel: a spare or a fresh one, forked or launched, and how long it waited."""

    prestarted: bool
    wait_s: float
    forked: bool = False
    fallback: str | None = None


class _Spares:
    """This process's event loop, its spare kernel (at most one) and how the last run started."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.enabled = False
        self.spare: StartedKernel | None = None
        self.last_start: KernelStart | None = None
        self.launched = 0
        self.more_work: Callable[[], bool] = lambda: True
        self.fork: Callable[[command.SandboxSpec], dict[str, Any] | None] | None = None


_state = _Spares()


def run_on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on this process's kernel loop.

    Tasks it leaves behind (nbclient's output polls after a timeout) are cancelled, and the signal
    handlers nbclient installs are removed, so that between runs the process behaves as if the
    loop did not exist.
    """
    if _state.loop is None or _state.loop.is_closed():
        _state.loop = asyncio.new_event_loop()
    loop = _state.loop
    try:
        return loop.run_until_complete(coroutine)
    finally:
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)


def keep_spares(more_work: Callable[[], bool] = lambda: True) -> None:
    """From now on, launch the next kernel as soon as the current one answers (a batch worker's set-up).

    `more_work` tells whether another submission may still come this way; when it says no, no
    spare is launched (it would boot for nothing).
    """
    _state.more_work = more_work
    if not _state.enabled:
        _state.enabled = True
        remove_abandoned_spares()
        # Both: a multiprocessing worker leaves through os._exit, which skips atexit but runs
        # Finalize; any other process leaves through the interpreter's normal exit.
        multiprocessing_util.Finalize(None, _discard_spare_at_exit, exitpriority=10)
        atexit.register(_discard_spare_at_exit)


def remove_abandoned_spares() -> None:
    """Remove the folders of spares whose worker was killed (Ctrl-C stops workers at once) before it could.

    A spare's folder is named after its worker's pid; the kernel itself died with the worker.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{SPARE_PREFIX}*-*"):
        owner = folder.name.removeprefix(SPARE_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def take_last_start() -> KernelStart | None:
    """How the most recent run got its kernel (None if no run got one since the last call)."""
    start, _state.last_start = _state.last_start, None
    return start


def record_start(kernel: StartedKernel, prestarted: bool, wait_s: float) -> None:
    provisioner = getattr(kernel.manager, "provisioner", None)
    _state.last_start = KernelStart(
        prestarted=prestarted,
        wait_s=round(wait_s, 3),
        forked=bool(getattr(provisioner, "forked", False)),
        fallback=getattr(provisioner, "fallback", None) if _state.fork is not None else None,
    )


def fork_with(metadata_for: Callable[[command.SandboxSpec], dict[str, Any] | None]) -> None:
    """From now on, ask `metadata_for` whether a sandboxed kernel (as its description gives it) can be forked.

    It returns the kernelspec metadata that starts the kernel through the warm factory, or None to
    launch it as usual. The factory installs itself here (`grader.sandbox.factory.enable`), so this
    module never imports the factory that is built on top of it.
    """
    _state.fork = metadata_for


async def acquire(recipe: KernelRecipe, folder: Path) -> tuple[StartedKernel, bool]:
    """A launched kernel for `recipe`: the spare when it fits and is alive, else a fresh one in `folder`.

    Returns the kernel and whether it was the spare.
    """
    spare, _state.spare = _state.spare, None
    if spare is not None:
        if spare.recipe == recipe and await spare.manager.is_alive():
            return spare, True
        await discard(spare)
    return await launch(recipe, folder), False


async def prepare_spare(recipe: KernelRecipe) -> str | None:
    """Launch the next kernel now, if this process keeps spares and may need one.

    A failed launch is not kept: the next submission launches its own kernel. Returns why it
    failed, for the report's notes (the grade itself is not affected), or None.
    """
    if not _state.enabled or _state.spare is not None or not _state.more_work():
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"{SPARE_PREFIX}{os.getpid()}-"))
    try:
        _state.spare = await launch(recipe, folder)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return (
            f"the next kernel could not be started ahead of need ({type(exc).__name__}: {str(exc)[:200]}); "
            "the next submission will start its own"
        )
    return None


async def launch(recipe: KernelRecipe, folder: Path) -> StartedKernel:
    """Create the kernel's folders, give them to its uid, and start it (without waiting for it to answer)."""
    uid = enforce.kernel_uid(enforce.kernel_slot(_state.launched)) if recipe.own_uid else None
    _state.launched += 1
    workdir, artifacts, ipc = folder / "work", folder / "artifacts", folder / "ipc"
    layout = bwrap.SandboxLayout(
        workdir=workdir,
        writable=(artifacts, ipc),
        mounts=tuple((source, workdir / target) for source, target in recipe.mounts),
        hidden_files=recipe.hidden_files,
        uid=uid,
        tmp_mb=recipe.limits.disk_mb,
    )
    for path in (workdir, artifacts, ipc):
        path.mkdir(parents=True, exist_ok=True)
    _mount_points(recipe.mounts, workdir, link=not recipe.sandboxed)
    if uid is not None:
        enforce.hand_over((workdir, artifacts, ipc), uid)
    cgroup = enforce.MemoryCgroup.create(recipe.limits.memory_mb)
    manager = _kernel_manager(recipe, layout, folder, cgroup)
    log.debug("launching a kernel in %s (uid %s, cgroup %s)", folder, uid, cgroup.folder if cgroup else None)
    try:
        with open(folder / "kernel.log", "wb") as kernel_log:
            await manager.start_kernel(stdout=kernel_log, stderr=kernel_log, cwd=str(workdir))
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    client = manager.client()
    client.allow_stdin = False
    client.start_channels()
    return StartedKernel(recipe=recipe, folder=folder, uid=uid, manager=manager, client=client, cgroup=cgroup)


async def wait_until_ready(kernel: StartedKernel, timeout: float) -> None:
    """Return once the kernel answers on its shell channel and publishes on IOPub; RuntimeError if it cannot.

    jupyter_client's `wait_for_ready` does the same and then always waits a further 0.2 s for
    IOPub to fall silent; nbclient ignores IOPub messages that belong to no cell it ran, so that
    wait buys nothing here.
    """
    client = kernel.client
    deadline = time.monotonic() + timeout
    while True:
        client.kernel_info()
        with contextlib.suppress(Empty):
            # Any request's reply will do: a kernel slow to start answers all the earlier ones first.
            reply = await client.shell_channel.get_msg(timeout=1)
            if reply["msg_type"] == "kernel_info_reply":
                with contextlib.suppress(Empty):
                    await client.iopub_channel.get_msg(timeout=0.2)
                    return
        if not await kernel.manager.is_alive():
            raise RuntimeError("the kernel died before it answered")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not answer within {timeout:.0f} s")


async def shut_down(kernel: StartedKernel) -> None:
    """Stop the kernel and everything it started (its memory cgroup too), keeping its folder to be read."""
    await _heartbeat_connected(kernel.client)
    with contextlib.suppress(Exception):
        kernel.client.stop_channels()
    with contextlib.suppress(Exception):
        await kernel.manager.shutdown_kernel(now=True)
    with contextlib.suppress(Exception):
        await kernel.manager.cleanup_resources()
    if kernel.cgroup is not None:
        kernel.cgroup.remove()


async def _heartbeat_connected(client: AsyncKernelClient, timeout: float = 1.0) -> None:
    """jupyter_client's heartbeat thread opens its socket some milliseconds after it starts; channels
    stopped before that (a spare not taken, a batch interrupted during a launch) destroy the zmq
    context under it, and the thread dies printing `ZMQError: Too many open files`."""
    heartbeat = getattr(client, "_hb_channel", None)
    deadline = time.monotonic() + timeout
    while (
        heartbeat is not None
        and heartbeat.is_alive()
        and heartbeat.socket is None
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.005)


def remove(kernel: StartedKernel) -> None:
    """Remove a shut-down kernel's folder (rmtree follows no link the kernel may have left)."""
    shutil.rmtree(kernel.folder, ignore_errors=True)


async def discard(kernel: StartedKernel) -> None:
    """Shut a kernel down at once and remove its folder."""
    await shut_down(kernel)
    remove(kernel)


def hand_in(kernel: StartedKernel, files: list[Path]) -> None:
    """Copy the submission and the files the exercise hands out into the kernel's working folder."""
    for file in files:
        shutil.copy2(file, kernel.workdir / file.name)
    if kernel.uid is not None:
        enforce.hand_over((kernel.workdir,), kernel.uid)


def _mount_points(mounts: tuple[tuple[Path, str], ...], workdir: Path, *, link: bool) -> None:
    """Make the places in the working folder where the course's files appear (before the folder is handed over).

    In a sandbox they are empty mount points that bubblewrap mounts over; without one, symbolic
    links (data sets, mounted outside the folder, are read from their grader-side paths instead).
    """
    for source, target in mounts:
        if Path(target).is_absolute():
            continue
        place = workdir / target
        place.parent.mkdir(parents=True, exist_ok=True)
        if link:
            place.symlink_to(source)
        elif source.is_dir():
            place.mkdir(exist_ok=True)
        else:
            place.touch()


def probe_folder(kernel: StartedKernel) -> str:
    """A fresh folder, of a name nobody can guess, for the probe to write into (see `grader.grading.artifacts`)."""
    name = f"probe-{secrets.token_hex(8)}"
    folder = kernel.artifacts / name
    folder.mkdir(mode=0o755)
    if kernel.uid is not None:
        os.chown(folder, kernel.uid, kernel.uid)
    return name


def _discard_spare_at_exit() -> None:
    spare, _state.spare = _state.spare, None
    if spare is not None and _state.loop is not None and not _state.loop.is_closed():
        with contextlib.suppress(Exception):
            _state.loop.run_until_complete(discard(spare))


def _kernel_manager(
    recipe: KernelRecipe, layout: bwrap.SandboxLayout, folder: Path, cgroup: enforce.MemoryCgroup | None
) -> UidKernelManager:
    spec_dir = folder / "kernels" / "grader"
    spec_dir.mkdir(parents=True, exist_ok=True)
    program = [sys.executable, "-m", "ipykernel_launcher", "-f", command.CONNECTION_FILE]
    if recipe.import_keras:
        program.append(f"--IPKernelApp.exec_lines={IMPORT_KERAS}")
    sandbox = command.SandboxSpec(
        program=tuple(program),
        env=kernel_env(layout.workdir or folder),
        layout=layout if recipe.sandboxed else None,
        cgroup_procs=cgroup.procs if cgroup is not None else None,
        processes=recipe.limits.processes,
        file_mb=recipe.limits.disk_mb,
    )
    spec: dict[str, Any] = {
        "argv": sandbox.argv(),
        "display_name": "grader",
        "language": "python",
        "interrupt_mode": "message",
        "env": {},
    }
    if recipe.sandboxed:
        # The description the factory forks from (`grader.sandbox.factory`), beside the argv it describes.
        spec["metadata"] = {SANDBOX_METADATA: sandbox.model_dump(mode="json")}
        metadata = _state.fork(sandbox) if _state.fork is not None else None
        if metadata is not None:
            spec["metadata"].update(metadata)
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    manager = UidKernelManager(
        kernel_name="grader",
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(folder / "ipc" / "kernel"),
        connection_file=str(folder / "ipc" / "connection.json"),
    )
    manager.kernel_uid = layout.uid
    return manager


def kernel_env(workdir: Path) -> dict[str, str]:
    """The kernel's whole environment (`command.sandbox_env`): nothing of the grader's but `command.PASSED_THROUGH`."""
    return command.sandbox_env(workdir, "kernel")
