"""GPUs shared safely, tested as far as a machine without a GPU allows (issue #14, point 4).

What cannot exist here is the GPU itself. Two stand-ins take its place, and nothing else is faked:
an `nvidia-smi` executable on PATH that answers the one query the grader makes (so the grader's
real subprocess path reads it), and, for the kernel-side cap, a `tensorflow` module whose GPU API
records what it was asked (TensorFlow's own `set_logical_device_configuration` needs a GPU to
accept a memory limit). The batch itself runs for real: four workers on two "GPUs", real kernels.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from grader.cli import batch_view
from grader.grading import prelude
from grader.grading.submission import load_submission
from grader.inside.kernel import gpu, records
from grader.rubric.model import load_rubric
from tests.conftest import REPO, GradeRunner, run_grade, write_notebook

GPU_TOTALS_MB = {"0": 16_384, "1": 8_192}

FAKE_NVIDIA_SMI = """#!/bin/sh
# Stand-in for the driver's tool: answers `--id=N --query-gpu=memory.total --format=csv,noheader,nounits`.
case "$1" in
  --id=0) echo 16384 ;;
  --id=1) echo 8192 ;;
  *) echo "No devices were found" >&2; exit 6 ;;
esac
"""


@pytest.fixture
def nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on PATH holding the stand-in `nvidia-smi` (for this process and the `grade` it starts)."""
    folder = tmp_path / "driver"
    folder.mkdir()
    tool = folder / "nvidia-smi"
    tool.write_text(FAKE_NVIDIA_SMI, encoding="utf-8")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


class RecordingTensorFlow(types.ModuleType):
    """`tensorflow` as far as `cap_memory` uses it, with `gpus` visible; records each configuration."""

    def __init__(self, gpus: list[str]) -> None:
        super().__init__("tensorflow")
        self.configured: list[tuple[str, int]] = []
        recorder = self

        class LogicalDeviceConfiguration:
            def __init__(self, memory_limit: int) -> None:
                self.memory_limit = memory_limit

        def set_logical_device_configuration(device: str, configs: list[Any]) -> None:
            recorder.configured.extend((device, config.memory_limit) for config in configs)

        self.config = types.SimpleNamespace(
            list_physical_devices=lambda kind: list(gpus) if kind == "GPU" else [],
            set_logical_device_configuration=set_logical_device_configuration,
            LogicalDeviceConfiguration=LogicalDeviceConfiguration,
        )


@pytest.fixture
def fresh_records() -> Any:
    saved = list(records.TRAINING)
    records.TRAINING.clear()
    yield records.TRAINING
    records.TRAINING[:] = saved


def test_the_cap_gives_every_visible_gpu_one_logical_device_of_that_size_and_says_so(
    monkeypatch: pytest.MonkeyPatch, fresh_records: list[dict[str, Any]]
) -> None:
    tf = RecordingTensorFlow(["GPU:0", "GPU:1"])
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    gpu.cap_memory(3_686)
    assert tf.configured == [("GPU:0", 3_686), ("GPU:1", 3_686)]
    assert [(r["event"], r["detail"]) for r in fresh_records] == [
        ("gpu_capped", "each GPU limited to 3686 MB for this kernel")
    ]


@pytest.mark.parametrize(("visible", "cap"), [([], 3_686), (["GPU:0"], None)])
def test_without_a_gpu_or_without_a_cap_nothing_is_configured_or_noted(
    monkeypatch: pytest.MonkeyPatch, fresh_records: list[dict[str, Any]], visible: list[str], cap: int | None
) -> None:
    tf = RecordingTensorFlow(visible)
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    gpu.cap_memory(cap)
    assert tf.configured == [] and fresh_records == []


def test_the_cap_travels_in_the_prelude_and_makes_it_set_up_keras() -> None:
    """The cap must be set before the student's first cell starts TensorFlow's GPU runtime: in the prelude."""
    loaded = load_rubric(REPO / "rubrics" / "conv-dims.yaml")
    submission = load_submission(REPO / "submissions" / "pool-dims-script.py")
    planned = prelude.plan_prelude(submission, loaded.rubric, gpu_memory_mb=2_048)
    assert planned.config.gpu_memory_mb == 2_048 and planned.config.needs_keras
    assert '"gpu_memory_mb": 2048' in planned.source
    assert prelude.plan_prelude(submission, loaded.rubric).config.gpu_memory_mb is None


def test_kernels_sharing_a_gpu_split_90_percent_of_the_smallest_card(nvidia_smi: Path) -> None:
    assert batch_view.gpu_memory_mb("0") == GPU_TOTALS_MB["0"]
    assert batch_view.gpu_memory_mb("7") is None, "a GPU the driver does not list has no size"
    assert batch_view.shared_gpu_cap(("0", "1"), 2) == int(8_192 * 0.9 / 2)
    assert batch_view.shared_gpu_cap(("0",), 3) == int(16_384 * 0.9 / 3)
    assert batch_view.shared_gpu_cap(("0", "1"), 1) is None, "one kernel per GPU: no cap needed"


def test_kernels_per_gpu_without_gpus_is_a_usage_error(grade_cli: GradeRunner) -> None:
    done = grade_cli("batch", REPO / "submissions", "--kernels-per-gpu", "2")
    assert done.returncode == 2
    assert "--kernels-per-gpu needs --gpus" in done.stderr and "Traceback" not in done.stderr


ENV_CELL = """import os
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
conv_params = 80
"""


@pytest.mark.slow
def test_two_kernels_per_gpu_run_as_four_workers_each_told_its_gpu_and_its_share(
    tmp_path: Path, nvidia_smi: Path
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    names = [f"student{n}" for n in range(4)]
    for name in names:
        write_notebook(folder / f"{name}.ipynb", ENV_CELL, exercise="conv-dims")
    out = tmp_path / "reports"
    done = run_grade("batch", folder, "--gpus", "0,1", "--kernels-per-gpu", "2", "--out", out, out_dir=out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "grading with one worker per GPU slot: 0, 1, 0, 1" in done.stdout + done.stderr
    share = int(min(GPU_TOTALS_MB.values()) * 0.9 / 2)
    for name in names:
        result = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        printed = result["run"]["cells"][0]["output"]
        gpu_id = printed.strip().split("=")[1]
        assert gpu_id in GPU_TOTALS_MB, printed
        assert (
            f"graded by a worker assigned GPU {gpu_id} (CUDA_VISIBLE_DEVICES={gpu_id}), "
            f"the kernel's TensorFlow capped at {share} MB of it"
        ) in result["notes"]
