"""One description of a sandboxed process (grader.sandbox.command): its command line, its environment, its fork plan.

The kernels, the inspector and the factory all start from a `SandboxSpec`; these tests run the
command line it builds in the real sandbox and check what the process inside finds, and that the
factory's plan and bubblewrap's options come from the same operations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.rubric import limits
from grader.rubric.limits import MIB
from grader.sandbox import bwrap, command, enforce, kernels
from grader.sandbox.factory.plan import PlanError, plan_for

PEAK_FILES = ("memory.peak", "memory.max_usage_in_bytes")
REPORT = (
    "import json, os, resource\n"
    "print(json.dumps({'env': dict(os.environ), 'uid': os.getuid(), 'cwd': os.getcwd(),\n"
    "  'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],\n"
    "  'fsize': resource.getrlimit(resource.RLIMIT_FSIZE)[0],\n"
    "  }))\n"
)


def spec_for(tmp_path: Path, cgroup: enforce.MemoryCgroup | None = None) -> command.SandboxSpec:
    uid = enforce.kernel_uid(3)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    if uid is not None:
        enforce.hand_over((work,), uid)
    return command.SandboxSpec(
        program=(sys.executable, "-c", REPORT),
        env=command.sandbox_env(work, "inspector"),
        layout=bwrap.SandboxLayout(workdir=work, uid=uid, tmp_mb=16),
        cgroup_procs=cgroup.procs if cgroup is not None else None,
        processes=64 if uid is not None else None,
        file_mb=16,
    )


def test_the_sandboxed_process_finds_exactly_what_its_description_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if bwrap.bwrap_problem() is not None:
        pytest.skip(f"no sandbox here: {bwrap.bwrap_problem()}")
    monkeypatch.setenv("GRADER_TOKEN", "do-not-leak")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    cgroup = enforce.MemoryCgroup.create(512, purpose="test")
    peak = None
    try:
        spec = spec_for(tmp_path, cgroup)
        assert spec.env["OMP_NUM_THREADS"] == "3" and "GRADER_TOKEN" not in spec.env
        done = subprocess.run(
            spec.argv(), capture_output=True, text=True, timeout=120, check=False, env={**os.environ}
        )
        if cgroup is not None:
            peak = next(
                (int(f.read_text()) for f in (cgroup.folder / n for n in PEAK_FILES) if f.exists()), None
            )
    finally:
        if cgroup is not None:
            cgroup.remove()
    assert done.returncode == 0, done.stderr
    inside = json.loads(done.stdout)
    assert spec.layout is not None
    work = str(spec.layout.workdir)
    assert inside["env"] == {**spec.env, "PWD": work}, "the clean environment, bwrap's PWD, nothing else"
    assert inside["cwd"] == work
    assert inside["fsize"] == 16 * MIB
    if spec.layout.uid is not None:
        assert inside["uid"] == spec.layout.uid and inside["nproc"] == 64
    if peak is not None:
        assert peak > 0, (
            "it ran in its memory cgroup (bwrap gives it a cgroup namespace, so it sees only '/')"
        )


def test_the_command_line_puts_each_defence_in_its_order(tmp_path: Path) -> None:
    cgroup_procs = tmp_path / "cgroup.procs"
    spec = spec_for(tmp_path).model_copy(update={"cgroup_procs": cgroup_procs})
    argv = spec.argv()
    assert argv[1] == "-i" and argv[0].endswith("env"), (
        "a clean environment first: bwrap's own process keeps it"
    )
    order = [
        argv.index(str(cgroup_procs)),
        next(i for i, w in enumerate(argv) if w.endswith("bwrap")),
        argv.index(sys.executable),
    ]
    if enforce.system_tool("prlimit") is not None:
        order.insert(1, argv.index(enforce.system_tool("prlimit") or ""))
    if spec.layout is not None and spec.layout.uid is not None:
        order.insert(-1, argv.index(enforce.system_tool("setpriv") or "setpriv"))
    assert order == sorted(order)
    assert argv[-3:] == list(spec.program)
    unsandboxed = spec.model_copy(update={"layout": None})
    assert not any(w.endswith("bwrap") for w in unsandboxed.argv())
    assert unsandboxed.argv()[-3:] == list(spec.program)


def test_the_factory_plan_and_bwraps_options_come_from_the_same_operations(tmp_path: Path) -> None:
    layout = bwrap.SandboxLayout(
        workdir=tmp_path / "work",
        writable=(tmp_path / "artifacts",),
        mounts=((Path("/etc/hostname"), tmp_path / "work" / "data" / "hostname"),),
        hidden_files=(Path("/etc/passwd"),),
        uid=enforce.KERNEL_UID_BASE + 7,
        tmp_mb=32,
    )
    spec = command.SandboxSpec(
        program=(sys.executable, "-m", "ipykernel_launcher", "-f", command.CONNECTION_FILE),
        env=kernels.kernel_env(tmp_path / "work"),
        layout=layout,
        processes=96,
        file_mb=32,
    ).with_connection_file("/c.json")
    argv = spec.argv()
    operations = bwrap.operations(layout)
    words = [word for operation in operations for word in operation.words()]
    start = argv.index(words[0])
    assert argv[start : start + len(words)] == words, (
        "bwrap is told the operations, in order, and nothing between"
    )
    if enforce.system_tool("setpriv") is None:
        return
    plan = plan_for(spec)
    assert plan["ops"] == [operation.step() for operation in operations]
    assert plan["argv"] == [sys.executable, "-m", "ipykernel_launcher", "-f", "/c.json"]
    assert plan["drop"] == {"uid": layout.uid, "gid": layout.uid}
    assert plan["env"] == {**spec.env, "PWD": str(layout.workdir)}
    assert plan["chdir"] == str(layout.workdir)
    if enforce.system_tool("prlimit") is not None:
        assert plan["rlimits"] == {"nproc": 96, "fsize": 32 * MIB}
    for refused in (
        spec.model_copy(update={"layout": None}),
        spec.model_copy(update={"program": ("/bin/sh",)}),
    ):
        with pytest.raises(PlanError):
            plan_for(refused)


def test_one_environment_builder_kernel_and_inspector_differ_only_where_they_must(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in command.PASSED_THROUGH:
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    kernel = command.sandbox_env(tmp_path, "kernel")
    inspector = command.sandbox_env(Path("/tmp"), "inspector")
    for env in (kernel, inspector):
        assert all(env[name] == f"value-of-{name}" for name in command.PASSED_THROUGH)
        assert "AWS_SECRET_ACCESS_KEY" not in env and "LD_PRELOAD" not in env
    differ = {k for k in kernel.keys() | inspector.keys() if kernel.get(k) != inspector.get(k)}
    assert differ == {"HOME", "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL"}
    assert all(why.strip() for why in command.PASSED_THROUGH.values()), "each variable says why it passes"


def test_a_kernelspec_carries_the_description_its_argv_was_built_from(tmp_path: Path) -> None:
    recipe = kernels.KernelRecipe(
        sandboxed=True, own_uid=False, limits=limits.Limits(processes=50, disk_mb=20)
    )
    layout = bwrap.SandboxLayout(workdir=tmp_path / "work", writable=(tmp_path / "ipc",), tmp_mb=20)
    (tmp_path / "ipc").mkdir()
    kernels._kernel_manager(recipe, layout, tmp_path, None)
    spec = json.loads((tmp_path / "kernels" / "grader" / "kernel.json").read_text())
    described = command.SandboxSpec.model_validate(spec["metadata"][kernels.SANDBOX_METADATA])
    assert described.argv() == spec["argv"]
    assert described.layout == layout and described.processes == 50 and described.file_mb == 20
