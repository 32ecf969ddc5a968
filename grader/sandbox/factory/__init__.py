"""A warm kernel factory: each grader worker forks its kernels from one template that imported TensorFlow once.

Starting a sandboxed kernel costs about 4 s of CPU, nearly all of it Python starting and importing
TensorFlow and Keras. A batch worker starts one kernel per submission, so it pays that again and
again for the same bytes. Here, one *template* process per worker (`template.py`, started once,
root, from the kernels' own clean environment, inside the kernels' own file-system view) imports
ipykernel, TensorFlow and Keras, runs no TensorFlow op (so no thread pool exists), and forks a
kernel per submission.

Each forked kernel gets the sandbox a launched one gets, by construction: the factory does not
describe the sandbox itself, it carries out the description (`grader.sandbox.command.SandboxSpec`)
whose command line `grader.sandbox.kernels` would run (`plan.plan_for`): the same clean
environment, memory cgroup, rlimits, namespaces (mount, PID, network with only `lo`, IPC, UTS,
cgroup), the same mounts in the same order, the same uid with no capabilities and no_new_privs,
the same seccomp program (`grader.sandbox.seccomp`), the same `python -m ipykernel_launcher -f ...`.

jupyter_client drives a forked kernel as it drives a launched one: the kernelspec keeps its argv,
carries its description beside it, and names the `grader-factory` provisioner
(`FactoryProvisioner`, `metadata()`), which checks that the formatted command line is the one the
description gives, hands the description's plan to the template instead of executing it, and
polls, signals and kills the result through a pidfd. Everything else (the connection file
written and handed to the kernel's uid, ipc sockets, `interrupt_mode: message`, shutdown, the
watchdog on the process tree) is unchanged. Where the template cannot take a kernel (`forkable`
says why) or fails, the provisioner launches it as jupyter_client's own would.

Where the factory cannot run at all (not root, so no uid per kernel; no bubblewrap sandbox to
reproduce; a Linux without mount_setattr or pidfds), `factory_problem()` says why and the caller
launches kernels as before.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import contextlib
import functools
import json
import os
import platform
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, BinaryIO, cast

import psutil
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner

from grader.sandbox import bwrap, command, enforce, kernels
from grader.sandbox.factory.plan import PlanError, plan_for
from grader.sandbox.factory.template import EXIT_STATUS, ORDER_BYTES, SYSCALLS

__all__ = [
    "Factory",
    "FactoryError",
    "FactoryProvisioner",
    "PlanError",
    "by_default",
    "enable",
    "factory_problem",
    "fork_kernel",
    "forkable",
    "metadata",
    "plan_for",
    "process_factory",
]

PROVISIONER = "grader-factory"
TEMPLATE = Path(__file__).with_name("template.py")
FACTORY_PREFIX = "grader-factory-"
PADDING = 4096
PADDING_VARIABLE = "GRADER_TEMPLATE_PADDING"
READY_TIMEOUT_S = 300
REPLY_TIMEOUT_S = 30
TRIAL_SLOT = enforce.TRIAL_SLOT  # the uid slot no kernel and no inspector uses (`enforce.kernel_uid`)
NEEDED_CAPS = {"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_SYS_ADMIN": 21}


class FactoryError(RuntimeError):
    """The template could not fork a kernel (it died, or refused the order)."""


# ---- where the factory can run -----------------------------------------------------------------


@functools.cache
def factory_problem() -> str | None:
    """None when kernels can be forked here, else why not (the caller launches kernels instead).

    Checked once per process, with a real trial: a template that imports nothing forks one
    sandboxed process from a real launch command line, which reports what it sees.
    """
    problem = _static_problem()
    return problem if problem is not None else _trial_problem()


def _static_problem() -> str | None:
    if sys.platform != "linux":
        return "the factory needs Linux namespaces"
    if platform.machine() not in SYSCALLS:
        return f"the factory knows no system call numbers for {platform.machine()}"
    if os.geteuid() != 0:
        return (
            "the grader is not root, so a forked kernel could not get a uid of its own "
            "(RLIMIT_NPROC, signals and ptrace would reach the grader's processes)"
        )
    try:
        uid_map = Path("/proc/self/uid_map").read_text().split()
    except OSError:
        uid_map = []
    if uid_map != ["0", "0", "4294967295"]:
        return "the grader runs in a user namespace: the kernels' uids do not exist here"
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return "this Python has no pidfd support"
    effective = _effective_caps()
    missing = [name for name, bit in NEEDED_CAPS.items() if not effective >> bit & 1]
    if missing:
        return f"the grader lacks {', '.join(missing)}"
    if (problem := bwrap.bwrap_problem()) is not None:
        return f"kernels are not sandboxed here, so there is no sandbox to reproduce ({problem})"
    if enforce.kernel_uid() is None:
        return "setpriv is not installed, so kernels do not run as a uid of their own"
    return None


def _effective_caps() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _trial_problem() -> str | None:
    """Fork one sandboxed process from a real launch command line, and check what it sees."""
    folder = Path(tempfile.mkdtemp(prefix=f"{FACTORY_PREFIX}trial-"))
    uid = enforce.uid_of(os.getpid(), TRIAL_SLOT)
    factory: Factory | None = None
    try:
        work, artifacts, ipc = folder / "work", folder / "artifacts", folder / "ipc"
        for path in (work, artifacts, ipc):
            path.mkdir()
        enforce.hand_over((work, artifacts, ipc), uid)
        spec = command.SandboxSpec(
            program=(sys.executable, "-m", "ipykernel_launcher", "-f", str(ipc / "connection.json")),
            env=kernels.kernel_env(work),
            layout=bwrap.SandboxLayout(workdir=work, writable=(artifacts, ipc), uid=uid, tmp_mb=16),
            processes=64,
            file_mb=16,
        )
        order = {"plan": {**plan_for(spec), "probe": True}}
        factory = Factory.start(preload=False)
        probe = factory.fork_probe(order, timeout=30)
        report = probe.report
        probe.close()
    except (OSError, PlanError, FactoryError, ValueError) as exc:
        return f"a trial fork failed: {exc}"
    finally:
        if factory is not None:
            factory.close()
        shutil.rmtree(folder, ignore_errors=True)
    zero = "0000000000000000"
    expected = {
        "uid": uid,
        "pid": 2,
        "processes": [1, 2],
        "interfaces": ["lo"],
        "caps": dict.fromkeys(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), zero),
        "no_new_privs": "1",
        "seccomp": "2" if spec.syscall_filter else "0",
        "cwd": str(work),
    }
    wrong = {k: report.get(k) for k, v in expected.items() if report.get(k) != v}
    return f"a trial fork was not isolated as expected: {wrong}" if wrong else None


def forkable(
    spec: command.SandboxSpec | None, cmd: list[str] | None = None, connection_file: str = "connection.json"
) -> str | None:
    """None when the factory can start a kernel so described, else why not.

    With `cmd` (the command line jupyter_client would run, `connection_file` filled in), also why
    not when that command line is not the one `spec` gives: the fork follows the description, so
    a launch command that says anything else (another option, another program) is launched.
    """
    problem = factory_problem()
    if problem is not None:
        return problem
    if spec is None:
        return "the kernelspec carries no description of its sandbox"
    described = spec.with_connection_file(connection_file)
    try:
        plan_for(described)
    except PlanError as exc:
        return str(exc)
    if cmd is not None and described.argv() != cmd:
        return "the kernel's command line is not the one its sandbox description gives"
    return None


def enable() -> str | None:
    """From now on, fork this process's sandboxed kernels from its warm template; why not, if not.

    The template imports TensorFlow once, so each kernel starts in a fraction of a second instead
    of seconds of CPU, with the same sandbox a launched kernel gets. Where it cannot run here, or a
    kernel's recipe is one it cannot reproduce, kernels are launched as before, and the batch
    summary says how many and why.
    """
    problem = factory_problem()
    if problem is None:
        kernels.fork_with(lambda spec: metadata() if forkable(spec) is None else None)
        process_factory()
    return problem


def metadata() -> dict[str, Any]:
    """The kernelspec `metadata` that has jupyter_client start the kernel through the factory."""
    return {"kernel_provisioner": {"provisioner_name": PROVISIONER, "config": {}}}


# ---- the template, seen from the grader --------------------------------------------------------


class Factory:
    """One template process and the control socket to it; `fork` may be called from any thread."""

    def __init__(
        self, process: subprocess.Popen[bytes], control: socket.socket, folder: Path, env: dict[str, str]
    ) -> None:
        self.process = process
        self.control = control
        self.folder = folder
        self.env = env
        self.state: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def start(cls, *, preload: bool = True) -> Factory:
        """Start a template (it imports in the background; the first `fork` waits for it).

        Its environment is the kernels' own (`kernels.kernel_env`, HOME a private placeholder),
        plus padding that a kernel overwrites with its own command line and environment.
        """
        folder = Path(tempfile.mkdtemp(prefix=f"{FACTORY_PREFIX}{os.getpid()}-"))
        home = folder / "home"
        home.mkdir(mode=0o700)
        env = {**kernels.kernel_env(home), PADDING_VARIABLE: "." * PADDING}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, str(TEMPLATE), str(theirs.fileno()), str(os.getpid())]
        argv += [*([] if preload else ["--no-preload"]), "." * PADDING]
        try:
            with open(folder / "template.log", "wb") as log:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=home,
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        except BaseException:
            ours.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            theirs.close()
        factory = cls(process, ours, folder, env)
        try:
            ours.send(json.dumps(_view(home)).encode())
        except (OSError, PlanError) as exc:
            factory.close()
            raise FactoryError(f"the template could not be started: {exc}") from None
        return factory

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the template has imported everything; its report (threads, fds, TensorFlow's state)."""
        with self._lock:
            return self._ready(timeout)

    def _ready(self, timeout: float) -> dict[str, Any]:
        if self.state is None:
            self.control.settimeout(timeout)
            try:
                message = self.control.recv(65536)
            except (TimeoutError, OSError) as exc:
                raise FactoryError(f"the template did not get ready: {exc}") from None
            if not message:
                raise FactoryError(f"the template exited before it was ready: {self.log_tail()}")
            state = json.loads(message)
            if "error" in state:
                raise FactoryError(state["error"])
            self.state = state
        return self.state

    def differences(self, env: dict[str, str]) -> list[str]:
        """The variables in which a kernel's environment differs from the one the template imported with.

        TensorFlow reads some at import (TF_ENABLE_ONEDNN_OPTS, CUDA_VISIBLE_DEVICES, thread
        counts): a kernel that should see other values cannot be a copy of this template.
        """
        ignored = ("HOME", "PWD", PADDING_VARIABLE)
        mine = {k: v for k, v in self.env.items() if k not in ignored}
        theirs = {k: v for k, v in env.items() if k not in ignored}
        return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))

    def fork(self, order: dict[str, Any], fds: list[int]) -> tuple[int, int]:
        """Have the template fork a kernel for `order` with `fds` (stdin, stdout, stderr, exit pipe).

        Returns the forked monitor's pid and a pidfd for it (the caller closes it).
        """
        payload = json.dumps(order).encode()
        if len(payload) >= ORDER_BYTES:
            raise FactoryError("the order is too large")
        with self._lock:
            self._ready(READY_TIMEOUT_S)
            self.control.settimeout(REPLY_TIMEOUT_S)
            try:
                self.control.sendmsg(
                    [payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
                )
                message, ancillary, _, _ = self.control.recvmsg(65536, socket.CMSG_SPACE(4))
            except (TimeoutError, OSError) as exc:
                raise FactoryError(f"the template did not answer: {exc}") from None
        pidfds = [
            fd
            for level, kind, data in ancillary
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
            for fd in struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4])
        ]
        if not message:
            raise FactoryError(f"the template died: {self.log_tail()}")
        reply = json.loads(message)
        if "error" in reply or len(pidfds) != 1:
            for fd in pidfds:
                os.close(fd)
            raise FactoryError(f"the template refused the order: {reply.get('error')}")
        return int(reply["pid"]), pidfds[0]

    def fork_probe(self, order: dict[str, Any], timeout: float) -> Probe:
        """Fork `order` (a plan with `probe: true`): a sandboxed process that reports what it sees, then waits."""
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe()
        exit_r, exit_w = os.pipe()
        try:
            pid, pidfd = self.fork(order, [in_r, out_w, out_w, exit_w])
        except BaseException:
            for fd in (out_r, in_w, exit_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, exit_w):
                os.close(fd)
        process = ForkedProcess(pid, pidfd, exit_r, os.fdopen(in_w, "wb"))
        line = b""
        with contextlib.suppress(OSError):
            while not line.endswith(b"\n") and select.select([out_r], [], [], timeout)[0]:
                chunk = os.read(out_r, 1 << 20)
                if not chunk:
                    break
                line += chunk
        os.close(out_r)
        text = line.decode(errors="replace")
        try:
            report = dict(json.loads(text[text.find("{") :]))
        except ValueError:
            process.kill()
            process.close()
            raise FactoryError(f"the forked process reported nothing usable: {text[-500:]!r}") from None
        return Probe(report, process)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.folder / "template.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def close(self) -> None:
        """Stop the template (kernels it forked die with it) and remove its folder."""
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class Probe:
    """A forked probe process: its report, and the process (ended by `close`)."""

    def __init__(self, report: dict[str, Any], process: ForkedProcess) -> None:
        self.report = report
        self.process = process

    def close(self, timeout: float = 10) -> int:
        """Close its stdin (it exits) and wait; kill it if it does not."""
        if self.process.stdin is not None:
            self.process.stdin.close()
            self.process.stdin = None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        self.process.close()
        return code


def _view(home: Path) -> dict[str, Any]:
    """The template's own file system view: a kernel's (the same bwrap operations), with `home` as HOME."""
    uid = enforce.uid_of(os.getpid(), TRIAL_SLOT)
    spec = command.SandboxSpec(
        program=(sys.executable, "-m", "ipykernel_launcher", "-f", str(home / "none")),
        env={},
        layout=bwrap.SandboxLayout(workdir=home, uid=uid, tmp_mb=64),
    )
    plan = plan_for(spec)
    return {"ops": plan["ops"], "chdir": plan["chdir"]}


_shared: Factory | None = None
_shared_lock = threading.Lock()


def process_factory() -> Factory:
    """This process's factory, started on first use (and again if its template died)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            if _shared is not None:
                _shared.close()
            else:
                atexit.register(close_shared)
                from multiprocessing import util as multiprocessing_util

                # A multiprocessing worker leaves through os._exit, which skips atexit but not Finalize.
                multiprocessing_util.Finalize(None, close_shared, exitpriority=10)
            _shared = Factory.start()
        return _shared


def close_shared() -> None:
    global _shared
    with _shared_lock:
        factory, _shared = _shared, None
    if factory is not None:
        factory.close()


# ---- jupyter_client's side ---------------------------------------------------------------------


class ForkedProcess:
    """A forked kernel as `subprocess.Popen` looks to jupyter_client: poll, wait, signals, kill.

    The grader is not the kernel's parent (the template is), so it holds a pidfd, which names
    this process and no other even after its pid is reused, and the read end of a pipe that only
    the monitor holds open: readable once it has exited, holding its exit status.
    """

    stdout = None
    stderr = None

    def __init__(self, pid: int, pidfd: int, exit_fd: int, stdin: BinaryIO) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.exit_fd = exit_fd
        self.stdin: BinaryIO | None = stdin
        self.returncode: int | None = None
        self._sent: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self.exit_fd >= 0 and select.select([self.exit_fd], [], [], 0)[0]:
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self.exit_fd >= 0:
            if not select.select([self.exit_fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"forked kernel {self.pid}", timeout or 0)
            self._collect()
        return self.returncode if self.returncode is not None else -signal.SIGKILL

    def _collect(self) -> None:
        data = os.read(self.exit_fd, EXIT_STATUS.size)
        if len(data) == EXIT_STATUS.size:
            self.returncode = int(EXIT_STATUS.unpack(data)[0])
        else:  # the monitor was killed before it could write
            self.returncode = -(self._sent or signal.SIGKILL)
        os.close(self.exit_fd)
        self.exit_fd = -1

    def send_signal(self, signum: int) -> None:
        """SIGKILL and SIGTERM end the monitor, whose namespace dies with it; others go to the kernel itself."""
        if self.returncode is not None:
            return
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self._sent = signum
            signal.pidfd_send_signal(self.pidfd, signum)
            return
        kernel = self.kernel_pid()
        if kernel is None:
            raise ProcessLookupError(f"forked kernel {self.pid} has no kernel process")
        os.kill(kernel, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kernel_pid(self) -> int | None:
        """The kernel's pid as the grader sees it: the init's child that is PID 2 in their namespace."""
        try:
            for init in psutil.Process(self.pid).children():
                for child in init.children():
                    with contextlib.suppress(OSError):
                        status = Path(f"/proc/{child.pid}/status").read_text()
                        nspid = next(
                            line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")
                        )
                        if nspid[-1] == "2":
                            return child.pid
        except psutil.Error:
            return None
        return None

    def close(self) -> None:
        for fd in (self.pidfd, self.exit_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pidfd = self.exit_fd = -1
        if self.stdin is not None:
            with contextlib.suppress(OSError):
                self.stdin.close()
            self.stdin = None


class FactoryProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, except that the template forks the kernel instead of Popen.

    `pre_launch` (the connection file, the formatted command line) is the local provisioner's.
    `launch_kernel` sends the kernelspec's sandbox description (`kernels.SANDBOX_METADATA`), as a
    plan, to this process's template; where the factory cannot reproduce it or the command line
    is not the one it describes (`forkable` says why), or the template fails, it launches the
    command as the local provisioner would, and `fallback` says why. `forked` tells which it was.
    """

    forked = False
    fallback: str | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        spec = self._sandbox()
        connection_file = str(getattr(self.parent, "connection_file", ""))
        problem = forkable(spec, cmd, connection_file)
        if problem is None and spec is not None:
            try:
                await self._fork(spec.with_connection_file(connection_file), kwargs)
                return self.connection_info
            except FactoryError as exc:
                problem = str(exc)
        self.fallback = problem
        self.log.info("launching the kernel instead of forking it: %s", problem)
        return await super().launch_kernel(cmd, **kwargs)

    def _sandbox(self) -> command.SandboxSpec | None:
        """The sandbox description `kernels` wrote beside the kernelspec's argv (None: none, or unreadable)."""
        described = (self.kernel_spec.metadata or {}).get(kernels.SANDBOX_METADATA)
        try:
            return command.SandboxSpec.model_validate(described) if described is not None else None
        except ValueError:
            return None

    async def _fork(self, spec: command.SandboxSpec, kwargs: dict[str, Any]) -> None:
        order = {"plan": plan_for(spec)}
        factory = process_factory()
        if differences := factory.differences(order["plan"]["env"]):
            raise FactoryError(
                f"the kernel's environment differs from the template's in {', '.join(differences)}"
            )
        stdout, stderr = _fileno(kwargs.get("stdout"), 1), _fileno(kwargs.get("stderr"), 2)
        in_r, in_w = os.pipe()
        exit_r, exit_w = os.pipe()
        try:
            pid, pidfd = await asyncio.to_thread(factory.fork, order, [in_r, stdout, stderr, exit_w])
        except BaseException:
            os.close(in_w)
            os.close(exit_r)
            raise
        finally:
            os.close(in_r)
            os.close(exit_w)
        self.process = cast(Any, ForkedProcess(pid, pidfd, exit_r, os.fdopen(in_w, "wb")))
        self.pid = pid
        self.pgid = None
        self.cwd = kwargs.get("cwd")
        self.forked = True

    async def wait(self) -> int | None:
        process = self.process
        code = await super().wait()
        if isinstance(process, ForkedProcess):
            process.close()
        return code

    async def cleanup(self, restart: bool = False) -> None:
        if isinstance(self.process, ForkedProcess) and self.process.poll() is not None:
            self.process.close()
        await super().cleanup(restart=restart)


def _fileno(stream: Any, default: int) -> int:
    if stream is None:
        return default
    return stream if isinstance(stream, int) else int(stream.fileno())


KernelProvisionerFactory.provisioners[PROVISIONER] = EntryPoint(
    name=PROVISIONER,
    value="grader.sandbox.factory:FactoryProvisioner",
    group=KernelProvisionerFactory.GROUP_NAME,
)


# ---- a kernel, started as kernels.launch starts one --------------------------------------------


@contextlib.contextmanager
def by_default() -> Iterator[None]:
    """Within this block, kernelspecs that name no provisioner are started through the factory.

    jupyter_client's `KernelProvisionerFactory.default_provisioner_name` is process-wide: this is
    for a process (a test, a benchmark) that wants `kernels.launch` as it is to fork its kernels.
    """
    provisioners = KernelProvisionerFactory.instance()
    saved = provisioners.default_provisioner_name
    provisioners.default_provisioner_name = PROVISIONER
    try:
        yield
    finally:
        provisioners.default_provisioner_name = saved


async def fork_kernel(recipe: kernels.KernelRecipe, folder: Path) -> kernels.StartedKernel:
    """`kernels.launch`, forking the kernel (FactoryError, and no kernel left running, where it could not)."""
    with by_default():
        kernel = await kernels.launch(recipe, folder)
    provisioner = getattr(kernel.manager, "provisioner", None)
    if not isinstance(provisioner, FactoryProvisioner) or not provisioner.forked:
        await kernels.shut_down(kernel)
        raise FactoryError(f"the kernel was launched, not forked: {getattr(provisioner, 'fallback', None)}")
    return kernel
