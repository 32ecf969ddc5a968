"""`./dev` picks TensorFlow's build from `nvidia-smi -L`, installs with constraints.txt, and its pins fit pyproject.

`./dev --dry-run` prints what set-up would do through the same functions set-up runs, so the GPU branch is
tested here with a stand-in `nvidia-smi` first on PATH, from a copy of the script (nothing is installed).
The pins are read against pyproject's ranges with `packaging`, as pip reads them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

NVIDIA_SMI = {
    "h100": 'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5e2b7c1a-0000-0000-0000-000000000000)"',
    "two": 'echo "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1)"; echo "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-2)"',
    "no-driver": (
        'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2; exit 9'
    ),
    "no-devices": 'echo "No devices were found"; exit 6',
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what ./dev reads, so that whatever it did would land here."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("dev", "pyproject.toml", "constraints.txt"):
        shutil.copy2(REPO / name, root / name)
    return root


def dry_run(root: Path, nvidia_smi: str | None, **env: str) -> dict[str, str]:
    """`./dev --dry-run` with `nvidia-smi` replaced by a script (None: one that fails like a missing command)."""
    bin_dir = root.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nvidia-smi"
    if nvidia_smi is None:
        fake.write_text("#!/bin/sh\nexit 127\n")  # shadows a real one on a GPU machine
    else:
        fake.write_text(f'#!/bin/sh\n[ "$1" = -L ] || exit 2\n{nvidia_smi}\n')
    fake.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k != "GRADER_TF"}
    environment.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env)
    done = subprocess.run(
        ["bash", str(root / "dev"), "--dry-run"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not (root / ".venv").exists()
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    return lines


@pytest.mark.parametrize("listing", ["h100", "two"])
def test_a_listed_gpu_installs_the_cuda_build(checkout: Path, listing: str) -> None:
    plan = dry_run(checkout, NVIDIA_SMI[listing])
    assert plan["tensorflow build"].startswith("gpu (nvidia-smi -L lists GPU 0: NVIDIA ")
    assert plan["would run"] == ".venv/bin/python -m pip install -q -c constraints.txt -e .[gpu,dev]"
    if os.uname().machine == "x86_64":
        assert plan["would remove"] == "tensorflow-cpu (if installed)"


@pytest.mark.parametrize("listing", ["no-driver", "no-devices", None])
def test_no_listed_gpu_installs_the_cpu_build(checkout: Path, listing: str | None) -> None:
    plan = dry_run(checkout, NVIDIA_SMI[listing] if listing else None)
    assert plan["tensorflow build"] == "cpu (no GPU listed by nvidia-smi -L)"
    assert plan["would run"] == ".venv/bin/python -m pip install -q -c constraints.txt -e .[cpu,dev]"


def test_grader_tf_decides_instead_of_nvidia_smi(checkout: Path) -> None:
    assert dry_run(checkout, NVIDIA_SMI["h100"], GRADER_TF="cpu")["would run"].endswith(".[cpu,dev]")
    assert dry_run(checkout, NVIDIA_SMI["no-driver"], GRADER_TF="gpu")["would run"].endswith(".[gpu,dev]")
    done = subprocess.run(
        ["bash", str(checkout / "dev"), "--dry-run"],
        capture_output=True,
        text=True,
        env={**os.environ, "GRADER_TF": "cuda"},
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "GRADER_TF must be cpu or gpu, not 'cuda'" in done.stderr


def test_the_stamp_changes_with_the_pins_the_dependencies_and_the_build(checkout: Path) -> None:
    cpu = dry_run(checkout, None)["stamp"]
    assert dry_run(checkout, None)["stamp"] == cpu
    assert dry_run(checkout, NVIDIA_SMI["h100"])["stamp"] != cpu
    constraints = checkout / "constraints.txt"
    constraints.write_text(constraints.read_text().replace("\nkeras==3.15.1\n", "\nkeras==3.15.2\n"))
    pinned = dry_run(checkout, None)["stamp"]
    assert pinned != cpu
    assert "keras==3.15.2" in constraints.read_text()
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# changed\n")
    assert dry_run(checkout, None)["stamp"] not in (cpu, pinned)


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), f"not an exact pin: {line!r}"
            found[canonicalize_name(name)] = version
    return found


def requirements(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    listed = list(project["dependencies"])
    for extra in extras:
        listed += project["optional-dependencies"][extra]
    return [Requirement(text) for text in listed]


def applies(requirement: Requirement, machine: str) -> bool:
    environment = {"platform_machine": machine, "sys_platform": "linux", "extra": ""}
    return requirement.marker is None or requirement.marker.evaluate(environment)


@pytest.mark.parametrize("extras", [("cpu", "dev"), ("gpu", "dev"), ("cpu",), ("gpu",)])
def test_every_pin_lies_within_pyprojects_ranges(extras: tuple[str, ...]) -> None:
    pinned = pins()
    for requirement in requirements(*extras):
        if not applies(requirement, "x86_64"):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} has no pin in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside pyproject's {requirement}"
        )


def test_the_base_requires_no_tensorflow_build_and_each_extra_exactly_one() -> None:
    """Both builds install the package `tensorflow`: two of them in one environment would clash."""
    builds = {"tensorflow", "tensorflow-cpu"}
    assert not {canonicalize_name(r.name) for r in requirements()} & builds
    for machine in ("x86_64", "aarch64"):
        for extra in ("cpu", "gpu"):
            listed = [Requirement(t) for t in PYPROJECT["project"]["optional-dependencies"][extra]]
            chosen = [r for r in listed if applies(r, machine) and canonicalize_name(r.name) in builds]
            assert len(chosen) == 1, (machine, extra, chosen)
            if extra == "gpu":
                assert chosen[0].extras == {"and-cuda"}
    cpu = [Requirement(t) for t in PYPROJECT["project"]["optional-dependencies"]["cpu"]]
    gpu = [Requirement(t) for t in PYPROJECT["project"]["optional-dependencies"]["gpu"]]
    cpu_builds = {str(r.specifier) for r in cpu if canonicalize_name(r.name) in builds}
    gpu_builds = {str(r.specifier) for r in gpu if canonicalize_name(r.name) in builds}
    assert cpu_builds == gpu_builds and len(gpu_builds) == 1, "the two builds at different versions"
    others = {str(r) for r in cpu if canonicalize_name(r.name) not in builds}
    assert others == {str(r) for r in gpu if canonicalize_name(r.name) not in builds}, (
        "the kernel's other packages (OpenCV) differ between the builds"
    )
    assert pins()["tensorflow"] == pins()["tensorflow-cpu"]


def test_this_environment_has_what_constraints_pins() -> None:
    """The venv the suite runs in was installed by ./dev with constraints.txt: its direct dependencies match."""
    from importlib.metadata import PackageNotFoundError, version

    if not sys.prefix.endswith(".venv"):
        pytest.skip("not ./dev's .venv")
    pinned = pins()
    for requirement in requirements("dev"):
        if not applies(requirement, os.uname().machine):
            continue
        name = canonicalize_name(requirement.name)
        try:
            installed = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is not installed")
        assert installed == pinned[name], f"{name} {installed} installed, constraints.txt pins {pinned[name]}"
