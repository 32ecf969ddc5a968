"""The warm kernel template: imports ipykernel, TensorFlow and Keras once, then forks one sandboxed kernel per order.

Run as a script by `grader.sandbox.factory.Factory` (never imported by anything else at run time), as root,
from a clean environment (the kernel's own, `kernels.kernel_env`, with a placeholder HOME):

    python template.py CONTROL_FD GRADER_PID [--no-preload] PADDING

Why a script of the standard library alone: every forked kernel is a copy of this process, so
whatever the template imported the student can see in `sys.modules`. It imports what a launched
kernel would import anyway (ipykernel, TensorFlow, Keras) and nothing of the grader's.

Each order comes in on CONTROL_FD (a SOCK_SEQPACKET socket to the grader worker) as one JSON
message plus four file descriptors (the kernel's stdin, stdout, stderr and an exit pipe). The
template never parses an order: it receives it into one reused buffer, forks, and zeroes the
buffer, so no kernel's copy of the template's memory holds anything of another kernel's order.
What it sends back is the forked process's pid and a pidfd for it.

Three processes per kernel, the same shape as bubblewrap's (whose command line, parsed by
`grader.sandbox.factory.plan`, is the order's plan):

- the *monitor* (bwrap's outer process): joins the kernel's memory cgroup, sets the rlimits,
  unshares the mount, network, IPC, UTS, cgroup and PID namespaces, brings `lo` up, forks the
  init and waits for it; it dies with the template, and writes the exit status to the exit pipe;
- the *init* (bwrap's PID 1): builds the new root exactly as bwrap does (a tmpfs root, the
  order's binds, /proc, /dev, sized tmpfs, pivot_root), starts a new session, forks the kernel,
  drops every capability and reaps until the kernel exits; it dies with the monitor;
- the *kernel* (PID 2): becomes the order's uid (setpriv's steps: bounding set, groups, gids,
  uids, no_new_privs, no capabilities), applies the order's seccomp program (the bytes bubblewrap
  is handed for a launched kernel), takes the clean environment and working directory, and
  runs `python -m ipykernel_launcher -f CONNECTION_FILE ...` in-process, with the connection
  file the grader wrote.

TensorFlow's thread pools do not exist in the template (it runs no op; the only threads are
OpenBLAS's idle servers, which OpenBLAS stops around fork): the kernel creates its own on its
first op.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import json
import os
import platform
import select
import signal
import socket
import struct
import sys
import time
import traceback
import types
from typing import Any

PRELOAD = ("tensorflow", "keras", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
ORDER_BYTES = 1 << 20
ORDER_FDS = 4
EXIT_STATUS = struct.Struct("i")

CLONE = {"ipc": 0x08000000, "pid": 0x20000000, "net": 0x40000000, "uts": 0x04000000, "cgroup": 0x02000000}
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_SILENT, MS_PRIVATE, MS_SLAVE = 0x1000, 0x4000, 0x8000, 0x40000, 0x80000
MNT_DETACH = 2
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PR_SET_MM, PR_SET_MM_MAP = 35, 14
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, SOCK_FILTER_BYTES = 22, 2, 8
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SYSCALLS = {
    "x86_64": {"pivot_root": 155, "capset": 126, "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "capset": 91, "mount_setattr": 442},
}
BINDS = ("ro-bind", "bind", "dev-bind")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
COVERED_PROC = ("sys", "sysrq-trigger", "irq", "bus")
NEWROOT, OLDROOT = "/newroot", "/oldroot"
HOST = "/.host"  # the host's root, in the template's view (root only); kernels never see it
# What the imports did to the environment and under HOME (see `_snapshot`); the kernels redo it.
_IMPORTED: dict[str, Any] = {"environ": {}, "home": {}}

_libc = ctypes.CDLL(None, use_errno=True)
# Python's own dispositions at start-up (SIGINT raises KeyboardInterrupt, SIGPIPE and SIGXFSZ are
# ignored): a forked kernel gets exactly these back, as a freshly started interpreter would have.
_STARTUP_SIGNALS = {
    s: signal.getsignal(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
}


# ---- Linux interfaces (ctypes: the venv's Python 3.11 has no os.unshare) ------------------------


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _syscall(name: str, *args: Any) -> None:
    number = SYSCALLS[platform.machine()][name]
    _check(_libc.syscall(ctypes.c_long(number), *args), name)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data))
    _check(result, f"mount {source} on {target}")


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_bytes(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _syscall("pivot_root", ctypes.c_char_p(_bytes(new_root)), ctypes.c_char_p(_bytes(put_old)))


def set_mount_attributes(target: str, attributes: int) -> None:
    """Set `attributes` (read-only, nosuid, nodev) on the mount at `target` and every mount below it.

    One mount_setattr(2) call with AT_RECURSIVE does what bubblewrap does mount by mount.
    """
    attr = _MountAttr(attr_set=attributes)
    _syscall(
        "mount_setattr",
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(_bytes(target)),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )


def prctl(option: int, arg: int = 0) -> None:
    zero = ctypes.c_ulong(0)
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero), f"prctl {option}")


def apply_seccomp(code: bytes) -> None:
    """Apply a compiled seccomp program for good (`grader.sandbox.seccomp`); no_new_privs must be set already."""
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // SOCK_FILTER_BYTES, ctypes.cast(buffer, ctypes.c_void_p))
    zero = ctypes.c_ulong(0)
    result = _libc.prctl(
        ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), zero, zero
    )
    _check(result, "prctl PR_SET_SECCOMP")


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets (a uid change leaves the inheritable one)."""
    header = _CapHeader(version=LINUX_CAPABILITY_VERSION_3, pid=0)
    data = (_CapData * 2)()
    _syscall("capset", ctypes.byref(header), ctypes.byref(data))


def drop_bounding_set() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as last:
        for cap in range(int(last.read()) + 1):
            prctl(PR_CAPBSET_DROP, cap)


def loopback_up() -> None:
    """Bring `lo` up in a new network namespace (Linux gives it 127.0.0.1 and ::1), as bubblewrap does."""
    request = struct.Struct("16sh22x")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = request.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, request.pack(b"lo", 0)))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, request.pack(b"lo", flags | IFF_UP))


# ---- the template ------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Serve orders until the grader closes its end of the control socket, or dies (which closes it).

    No parent-death signal here: it would fire when the grader *thread* that started the template
    ends, not the grader. The monitors have one, on the template's only thread.
    """
    control_fd, grader_pid = int(argv[0]), int(argv[1])
    if os.getppid() != grader_pid:
        return 1
    control = socket.socket(fileno=control_fd)
    if not _warm_up(control, preload="--no-preload" not in argv):
        return 1
    return _serve(control)


def _warm_up(control: socket.socket, *, preload: bool) -> bool:
    """Enter the kernels' view of the file system, import what every kernel imports, and say so.

    False (after telling the grader why) when the sandbox's view could not be entered.
    """
    started = time.monotonic()
    try:
        _enter_view(json.loads(control.recv(ORDER_BYTES)))
    except (OSError, ValueError, KeyError) as exc:
        control.send(json.dumps({"error": f"the template could not enter its sandbox: {exc}"}).encode())
        return False
    environment = dict(os.environ)
    if preload:
        for module in PRELOAD:
            __import__(module)
    _IMPORTED["environ"] = {k: v for k, v in os.environ.items() if environment.get(k) != v}
    _IMPORTED["home"] = _snapshot(os.path.expanduser("~"))
    gc.collect()
    # Objects that exist now are shared with every kernel; freezing them keeps the collector from
    # writing to (and so copying) their pages in each kernel.
    gc.freeze()
    control.send(json.dumps(_state(time.monotonic() - started)).encode())
    return True


def _serve(control: socket.socket) -> int:
    """Fork a monitor per order until the control socket closes; reap each monitor as it exits."""
    # Reap each monitor as soon as it exits (a zombie would still show in the grader's process
    # lists): SIGCHLD wakes the loop through this pipe.
    woken, wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake)
    buffer = bytearray(ORDER_BYTES)
    while True:
        _reap()
        ready, _, _ = select.select([control.fileno(), woken], [], [], 5.0)
        if woken in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(woken, 4096)
        if control.fileno() not in ready:
            continue
        try:
            size, ancillary, flags, _ = control.recvmsg_into([buffer], socket.CMSG_SPACE(ORDER_FDS * 4))
        except ConnectionError:
            return 0
        if size == 0:
            return 0
        fds = _received_fds(ancillary)
        if len(fds) != ORDER_FDS or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            _close_all(fds)
            buffer[:size] = bytes(size)
            control.send(
                json.dumps(
                    {"error": f"an order is one message under {ORDER_BYTES} bytes and {ORDER_FDS} fds"}
                ).encode()
            )
            continue
        _fork_monitor(control, buffer, size, fds)


def _fork_monitor(control: socket.socket, buffer: bytearray, size: int, fds: list[int]) -> None:
    """Fork the monitor that carries out one order, and hand the grader a pidfd of it."""
    sys.stdout.flush()
    sys.stderr.flush()
    template = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        _close_all(fds)
        control.send(json.dumps({"error": f"fork: {exc}"}).encode())
        return
    if pid == 0:
        code = 1
        try:
            code = _monitor(bytes(buffer[:size]), fds, control, template)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    buffer[:size] = bytes(size)
    _close_all(fds)
    pidfd = os.pidfd_open(pid)
    try:
        control.sendmsg(
            [json.dumps({"pid": pid}).encode()],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", pidfd))],
        )
    finally:
        os.close(pidfd)


def _enter_view(plan: dict[str, Any]) -> None:
    """See the file system as the kernels will (their mounts, their HOME), with the host's root at /.host.

    The imports then behave as in a launched kernel: what they read is what a kernel can read, and
    what they write lands where a kernel's would (fontconfig, finding no /var/cache/fontconfig,
    writes its cache under HOME), never on the host. The kernels are built from /.host.
    """
    unshare(CLONE_NEWNS)
    _build_root(plan["ops"], "", keep_host=True)
    os.chdir(plan["chdir"])


def _snapshot(home: str) -> dict[str, bytes | None]:
    """The files (bytes) and folders (None) the imports wrote under HOME, relative to it.

    A launched kernel's imports write them under its own HOME (Keras's keras.json, Matplotlib's
    font cache and fontconfig's); a forked kernel gets the same copy (`_fresh_process_state`).
    """
    found: dict[str, bytes | None] = {}
    for folder, folders, files in os.walk(home):
        for name in folders:
            found[os.path.relpath(os.path.join(folder, name), home)] = None
        for name in files:
            with open(os.path.join(folder, name), "rb") as file:
                content = file.read()
            if os.fsencode(home) not in content:
                found[os.path.relpath(os.path.join(folder, name), home)] = content
    return found


def _state(import_s: float) -> dict[str, Any]:
    """What the template reports when ready: enough for the grader (and the tests) to check it is fork-safe."""
    context = None
    if "tensorflow" in sys.modules:
        from tensorflow.python.eager import context as tf_context

        context = tf_context.context()._context_handle is not None
    zmq = sys.modules.get("zmq")
    return {
        "pid": os.getpid(),
        "import_s": round(import_s, 3),
        "threads": len(os.listdir("/proc/self/task")),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "tensorflow_context": context,
        "zmq_context": bool(zmq is not None and zmq.Context._instance is not None),
        "modules": len(sys.modules),
        # Memory a kernel could write and the template (or a sibling) would see: there must be none.
        "shared_writable": [
            line for line in _maps() if line.split()[1][1] == "w" and line.split()[1][3] == "s"
        ],
        "environ_added": sorted(_IMPORTED["environ"]),
        "home": sorted(_IMPORTED["home"]),
    }


def _maps() -> list[str]:
    with open("/proc/self/maps") as maps:
        return maps.read().splitlines()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds += list(struct.unpack(f"{usable // 4}i", data[:usable]))
    return fds


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _close_other_fds(keep: tuple[int, ...]) -> None:
    last = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(last, fd)
        last = fd + 1
    os.closerange(last, os.sysconf("SC_OPEN_MAX"))


# ---- the monitor: bubblewrap's outer process ---------------------------------------------------


def _monitor(order_bytes: bytes, fds: list[int], control: socket.socket, template: int) -> int:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    control.close()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != template:
        return 1
    stdin, stdout, stderr, exit_pipe = fds
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        os.dup2(fd, target)
    exit_copy = os.dup(exit_pipe) if exit_pipe < 3 else exit_pipe
    _close_other_fds((exit_copy,))
    plan = json.loads(order_bytes)["plan"]
    if plan["cgroup_procs"]:
        with open(HOST + plan["cgroup_procs"], "w") as procs:
            procs.write(str(os.getpid()))
    import resource

    for name, value in plan["rlimits"].items():
        limit = getattr(resource, f"RLIMIT_{name.upper()}")
        resource.setrlimit(limit, (value, value))
    flags = CLONE_NEWNS
    for name in plan["unshare"]:
        flags |= CLONE[name]
    try:
        unshare(flags)
    except OSError:
        if "cgroup" not in plan["unshare_try"]:
            raise
        unshare(flags & ~CLONE["cgroup"])
    if "net" in plan["unshare"]:
        loopback_up()
    alive_r, alive_w = os.pipe()
    init = os.fork()
    if init == 0:
        code = 1
        try:
            os.close(alive_w)
            os.close(exit_copy)
            code = _init(plan, alive_r)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(alive_r)
    _, status = os.waitpid(init, 0)
    code = os.waitstatus_to_exitcode(status)
    os.write(exit_copy, EXIT_STATUS.pack(code))
    return code if code >= 0 else 128 - code


# ---- the init: bubblewrap's PID 1 --------------------------------------------------------------


def _init(plan: dict[str, Any], alive: int) -> int:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([alive], [], [], 0)[0]:
        return 1  # the monitor died before the death signal was armed
    os.close(alive)
    _set_signals(dict.fromkeys(_STARTUP_SIGNALS, signal.SIG_DFL))
    if plan["new_session"]:
        os.setsid()
    _build_root(plan["ops"], HOST)
    kernel = os.fork()
    if kernel == 0:
        code = 1
        try:
            code = _kernel(plan)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            _flush()
            os._exit(code)
    _close_other_fds(())
    _show_in_proc(
        b"grader-kernel-init\0", b"".join(os.fsencode(f"{k}={v}") + b"\0" for k, v in plan["env"].items())
    )
    drop_bounding_set()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    clear_capabilities()
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def _build_root(ops: list[list[Any]], host: str, keep_host: bool = False) -> None:
    """bubblewrap's setup_newroot: a tmpfs root, pivot into it, build /newroot from /oldroot, pivot again.

    Sources are host paths, found under `host` in the current view ("" for the host's own view,
    HOST in the template's). With `keep_host`, the old root stays reachable at HOST (root only).
    """
    sources = {index: host + _resolve(host, op[1]) for index, op in enumerate(ops) if op[0] in BINDS}
    mount(None, "/", None, MS_SILENT | MS_SLAVE | MS_REC)
    mount("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID)
    os.chdir("/tmp")
    os.mkdir("newroot", 0o755)
    mount("newroot", "newroot", None, MS_SILENT | MS_BIND | MS_REC)
    os.mkdir("oldroot", 0o755)
    pivot_root("/tmp", "oldroot")
    os.chdir("/")
    for index, op in enumerate(ops):
        kind = op[0]
        if kind in BINDS:
            _bind(OLDROOT + sources[index], NEWROOT + op[2], kind)
        elif kind == "symlink":
            _parents(NEWROOT + op[2])
            os.symlink(op[1], NEWROOT + op[2])
        elif kind == "dir":
            _parents(NEWROOT + op[1])
            _mkdir(NEWROOT + op[1], op[2] if op[2] is not None else 0o755)
        elif kind == "tmpfs":
            _tmpfs(NEWROOT + op[1], op[2], op[3])
        elif kind == "proc":
            _proc(NEWROOT + op[1])
        elif kind == "dev":
            _dev(NEWROOT + op[1], OLDROOT + host)
        else:
            raise ValueError(f"unknown sandbox operation {kind!r}")
    if keep_host:
        _mkdir(NEWROOT + HOST, 0o700)
        mount(OLDROOT, NEWROOT + HOST, None, MS_SILENT | MS_BIND | MS_REC)
    mount("oldroot", "oldroot", None, MS_SILENT | MS_REC | MS_PRIVATE)
    umount2("oldroot", MNT_DETACH)
    os.chdir(NEWROOT)
    pivot_root(".", ".")
    umount2(".", MNT_DETACH)
    os.chdir("/")


def _resolve(root: str, path: str) -> str:
    """`path` with every symbolic link resolved as the host would, for a host seen at `root`."""
    pending = [part for part in path.split("/") if part]
    resolved: list[str] = []
    for _ in range(1000):
        if not pending:
            return "/" + "/".join(resolved)
        part = pending.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        if part == ".":
            continue
        candidate = root + "/" + "/".join([*resolved, part])
        if os.path.islink(candidate):
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
        else:
            resolved.append(part)
    raise OSError(40, f"too many levels of symbolic links: {path}")


def _mkdir(path: str, mode: int) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    os.chmod(path, mode)


def _parents(path: str) -> None:
    parts = path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        _mkdir("/" + "/".join(parts[:depth]), 0o755)


def _bind(source: str, dest: str, kind: str) -> None:
    _parents(dest)
    if os.path.isdir(source):
        _mkdir(dest, 0o755)
    elif not os.path.lexists(dest):
        os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o444))
    mount(source, dest, None, MS_SILENT | MS_BIND | MS_REC)
    attributes = MOUNT_ATTR_NOSUID
    if kind != "dev-bind":
        attributes |= MOUNT_ATTR_NODEV
    if kind == "ro-bind":
        attributes |= MOUNT_ATTR_RDONLY
    set_mount_attributes(dest, attributes)


def _tmpfs(dest: str, perms: int | None, size: int | None) -> None:
    _parents(dest)
    _mkdir(dest, 0o755)
    options = [f"mode={perms if perms is not None else 0o755:o}"]
    if size is not None:
        options.append(f"size={size}")
    mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV, ",".join(options))


def _proc(dest: str) -> None:
    _parents(dest)
    _mkdir(dest, 0o755)
    mount("proc", dest, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV)
    for name in COVERED_PROC:
        path = f"{dest}/{name}"
        if os.access(path, os.W_OK):
            mount(path, path, None, MS_SILENT | MS_BIND | MS_REC)
            set_mount_attributes(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)


def _dev(dest: str, host: str) -> None:
    _parents(dest)
    _mkdir(dest, 0o755)
    mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for node in DEV_NODES:
        _bind(f"{host}/dev/{node}", f"{dest}/{node}", "dev-bind")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ):
        os.symlink(target, f"{dest}/{name}")
    _mkdir(f"{dest}/shm", 0o755)
    _mkdir(f"{dest}/pts", 0o755)
    mount("devpts", f"{dest}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{dest}/ptmx")


# ---- the kernel: PID 2 -------------------------------------------------------------------------


def _kernel(plan: dict[str, Any]) -> int:
    """setpriv's steps, then what `python -m ipykernel_launcher ...` does, in this (forked) interpreter."""
    os.chdir(plan["chdir"])
    drop = plan["drop"]
    drop_bounding_set()
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups([])
    os.setresgid(drop["gid"], drop["gid"], drop["gid"])
    os.setresuid(drop["uid"], drop["uid"], drop["uid"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    clear_capabilities()
    if plan.get("seccomp"):
        apply_seccomp(bytes.fromhex(plan["seccomp"]))
    # A uid change makes a process undumpable (its /proc files root's); an exec would reset that.
    prctl(PR_SET_DUMPABLE, 1)
    _set_signals(_STARTUP_SIGNALS)
    argv = plan["argv"]
    _take_environment(plan["env"], argv)
    _fresh_process_state()
    if plan.get("probe"):
        return _report()
    sys.argv = [argv[0], *argv[3:]]
    sys.orig_argv = list(argv)
    sys.path[0] = os.getcwd()
    sys.modules["__main__"] = types.ModuleType("__main__")
    import runpy

    runpy._run_module_as_main("ipykernel_launcher", alter_argv=True)  # type: ignore[attr-defined]
    _exit_like_python()
    return 0


def _take_environment(env: dict[str, str], argv: list[str]) -> None:
    """Exactly `env`, in os.environ and in the C library; /proc/self/{cmdline,environ} say what exec would."""
    _libc.clearenv()
    os.environ.clear()
    os.environ.update(env)
    # What the imports set (TensorFlow's TF2_BEHAVIOR, ...), as they would have in a launched kernel.
    os.environ.update(_IMPORTED["environ"])
    _show_in_proc(
        b"".join(os.fsencode(a) + b"\0" for a in argv),
        b"".join(os.fsencode(f"{k}={v}") + b"\0" for k, v in env.items()),
    )


class _MmMap(ctypes.Structure):
    _fields_ = [
        *(
            (name, ctypes.c_uint64)
            for name in (
                "start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
                "start_stack", "arg_start", "arg_end", "env_start", "env_end", "auxv",
            )
        ),
        ("auxv_size", ctypes.c_uint32),
        ("exe_fd", ctypes.c_uint32),
    ]  # fmt: skip


def _show_in_proc(argv: bytes, environ: bytes) -> None:
    """Make /proc/self/cmdline and /proc/self/environ show the kernel's own, as after an exec.

    The template was started with padding in both, so the kernel's fit in the same memory; then
    prctl(PR_SET_MM_MAP), which needs no capability when the executable stays the same, moves
    their ends. (The C library's environ no longer points there: `clearenv` ran first.) Where
    that prctl is missing, the rest of each area is zeroed instead: the same words, then NULs.
    """
    with open("/proc/self/stat") as stat:
        words = stat.read().rsplit(")", 1)[1].split()
    fields = {number: int(word) for number, word in enumerate(words, start=3) if word.lstrip("-").isdigit()}
    arg_start, arg_end, env_start, env_end = (fields[n] for n in range(48, 52))
    if len(argv) > arg_end - arg_start or len(environ) > env_end - env_start:
        return
    ctypes.memmove(arg_start, argv + bytes(arg_end - arg_start - len(argv)), arg_end - arg_start)
    ctypes.memmove(env_start, environ + bytes(env_end - env_start - len(environ)), env_end - env_start)
    _libc.sbrk.restype = ctypes.c_void_p
    layout = _MmMap(
        start_code=fields[26], end_code=fields[27], start_data=fields[45], end_data=fields[46],
        start_brk=fields[47], brk=_libc.sbrk(0) or fields[47], start_stack=fields[28],
        arg_start=arg_start, arg_end=arg_start + len(argv), env_start=env_start, env_end=env_start + len(environ),
        auxv=0, auxv_size=0, exe_fd=0xFFFFFFFF,
    )  # fmt: skip
    _libc.prctl(ctypes.c_int(PR_SET_MM), ctypes.c_ulong(PR_SET_MM_MAP), ctypes.byref(layout),
                ctypes.c_ulong(ctypes.sizeof(layout)), ctypes.c_ulong(0))  # fmt: skip


def _set_signals(handlers: dict[Any, Any]) -> None:
    for signum, handler in handlers.items():
        # The C library's own real-time signals, and handlers Python did not install, stay as they are.
        with contextlib.suppress(OSError, ValueError, TypeError):
            signal.signal(signum, handler)


def _fresh_process_state() -> None:
    """What a fresh interpreter would not share with its siblings: random state, HOME and paths under it.

    Python's `random` reseeds itself after fork; NumPy's legacy global state does not. The imports
    wrote files under the template's HOME (keras.json, Matplotlib's and fontconfig's font caches):
    the same files go under this kernel's HOME, and Keras and Matplotlib, which remembered their
    folders there, look again.
    """
    import tempfile

    tempfile.tempdir = None
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
    home = os.path.expanduser("~")
    for relative, content in sorted(_IMPORTED["home"].items()):
        path = os.path.join(home, relative)
        with contextlib.suppress(OSError):
            if content is None:
                os.makedirs(path, exist_ok=True)
            elif not os.path.lexists(path):
                with open(path, "xb") as file:
                    file.write(content)
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and "KERAS_HOME" not in os.environ:
        base = home if os.access(home, os.W_OK) else "/tmp"
        config._KERAS_DIR = os.path.join(base, ".keras")  # type: ignore[attr-defined]
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        for name, label in (("get_configdir", "CONFIGDIR=%s"), ("get_cachedir", "CACHEDIR=%s")):
            cached = getattr(matplotlib, name)
            setattr(matplotlib, name, matplotlib._logged_cached(label)(cached.__wrapped__))


def _report() -> int:
    """A probe instead of a kernel (see `grader.sandbox.factory.Factory.fork_probe`): what a kernel would see, as JSON.

    Written as one line to stdout; then it waits for stdin to close, so that a test can look at a
    sandboxed process that imported nothing.
    """
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    with open("/proc/self/mountinfo") as mounts:
        mountinfo = mounts.read()
    report = {
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "caps": {k: fields[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
        "no_new_privs": fields["NoNewPrivs"].strip(),
        "seccomp": fields["Seccomp"].strip(),
        "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "mountinfo": mountinfo,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    _flush()
    sys.stdin.buffer.read()  # lives until the grader closes its stdin
    return 0


def _exit_like_python() -> None:
    """What the interpreter does on a normal exit before it goes (the kernel must not return into the template)."""
    import atexit
    import threading

    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    _flush()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
