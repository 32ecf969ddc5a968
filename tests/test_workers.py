"""Batch workers: the next kernel is launched ahead of need, and the held-out data is read once per batch.

A tiny accuracy exercise (held-out digits the test writes, an untrained model that still has to be
evaluated on them) is graded by the real local pool and by a real local Ray instance, straight
through the executors, so that the tests can read what each worker reports about itself.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from sklearn.datasets import load_digits

from grader.batch.discovery import discover
from grader.batch.engine import BatchSettings, plan_batch, spare_kernels_by_default
from grader.batch.executors import LocalExecutor, RayExecutor, SlurmExecutor, Task, TaskOutcome, TaskStarted
from grader.grading.grade import Overrides
from tests.conftest import REPO, run_grade, write_notebook

pytestmark = pytest.mark.slow

STUDENTS = ("ann", "ben", "cy")
RUBRIC = """\
exercise: tiny-digits
title: Tiny digits
model: {variable: model, input_shape: [8, 8, 1]}
checks:
  - id: output
    points: 1
    output_shape: [10]
  - id: accuracy
    points: 2
    accuracy:
      data: {npz: held-out.npz}
      preprocess: {rescale: 0.0625, reshape: [8, 8, 1]}
      tiers: [{min: 0.9, points: 2}]
"""
MODEL = (
    "import keras\n"
    "keras.utils.set_random_seed(7)\n"
    "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),\n"
    "                          keras.layers.Dense(10, activation='softmax')])"
)


def write_held_out(path: Path, count: int) -> None:
    digits = load_digits()
    np.savez(path, x=digits.images[:count], y=digits.target[:count])


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course")
    (root / "rubric.yaml").write_text(RUBRIC, encoding="utf-8")
    write_held_out(root / "held-out.npz", 120)
    (root / "class").mkdir()
    for stem in STUDENTS:
        write_notebook(root / "class" / f"{stem}.ipynb", MODEL)
    return root


def tasks_for(course: Path) -> list[Task]:
    settings = BatchSettings(
        rubric_path=course / "rubric.yaml",
        rubrics_dir=course,
        overrides=Overrides(),
        out_dir=course / "unused",
    )
    planned = plan_batch(discover(str(course / "class"), settings.out_dir), settings)
    assert all(isinstance(item, Task) for item in planned)
    return [item for item in planned if isinstance(item, Task)]


def spare_kernels() -> set[int]:
    """Kernel processes whose folder is a spare's (launched ahead of need)."""
    found = set()
    for process in psutil.process_iter(["cmdline"]):
        if any("grader-spare-" in part for part in process.info["cmdline"] or ()):
            found.add(process.pid)
    return found


def spare_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("grader-spare-*"))


def comparable(outcome: TaskOutcome) -> dict[str, Any]:
    """A result without what may differ between two gradings of the same notebook by two students.

    Its name, times and device, and the kernel's seed, which comes from the student's name (the
    notebook seeds itself, so the same code gives the same model whichever kernel runs it).
    """
    assert outcome.result_json is not None, outcome.failure
    result = json.loads(outcome.result_json)
    run = {k: v for k, v in result["run"].items() if k not in ("duration_s", "device", "stages")}
    setup = {k: v for k, v in (result["kernel_setup"] or {}).items() if k != "seed"}
    checks = [
        {**check, "metrics": {k: v for k, v in check["metrics"].items() if k != "duration_s"}}
        if check["metrics"]
        else check
        for check in result["checks"]
    ]
    return {**result, "submission": None, "run": run, "checks": checks, "kernel_setup": setup}


@pytest.fixture(scope="module")
def local_outcomes(course: Path) -> list[TaskOutcome]:
    folders_before = spare_folders()
    events = list(LocalExecutor(1).run(tasks_for(course)))
    outcomes = [event for event in events if isinstance(event, TaskOutcome)]
    started = [event.stem for event in events if isinstance(event, TaskStarted)]
    assert sorted(started) == sorted(STUDENTS), (
        "the pool says when it starts each student (for the progress bar)"
    )
    deadline = time.monotonic() + 10
    while spare_kernels() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not spare_kernels(), "a spare kernel outlived its worker"
    assert spare_folders() == folders_before, "a spare kernel's folder was left behind"
    return outcomes


def test_after_its_first_submission_a_worker_takes_a_kernel_started_ahead(
    local_outcomes: list[TaskOutcome],
) -> None:
    assert len(local_outcomes) == len(STUDENTS)
    assert len({o.worker for o in local_outcomes}) == 1
    assert [o.kernel_prestarted for o in local_outcomes] == [False, True, True]
    assert all(o.kernel_wait_s is not None and o.kernel_wait_s >= 0 for o in local_outcomes)


def test_a_kernel_started_ahead_grades_exactly_like_a_fresh_one(local_outcomes: list[TaskOutcome]) -> None:
    results = [comparable(o) for o in local_outcomes]
    assert results[0] == results[1] == results[2]
    accuracy = next(c for c in results[0]["checks"] if c["id"] == "accuracy")
    assert accuracy["metrics"]["samples"] == 120


def test_local_workers_never_read_the_held_out_data_themselves(local_outcomes: list[TaskOutcome]) -> None:
    assert [o.data_reads for o in local_outcomes] == [0, 0, 0]


def test_slurm_jobs_grade_exactly_like_local_workers(
    course: Path, local_outcomes: list[TaskOutcome], tmp_path: Path
) -> None:
    """submitit's local executor runs the Slurm path (job pickles, shared folder, results) on this machine."""
    outcomes = list(SlurmExecutor(tmp_path / "slurm", cluster="local", parallelism=2).run(tasks_for(course)))
    assert sorted(o.stem for o in outcomes) == sorted(STUDENTS)
    by_stem = {o.stem: comparable(o) for o in outcomes}
    assert [by_stem[o.stem] for o in local_outcomes] == [comparable(o) for o in local_outcomes]
    assert [o.data_reads for o in outcomes] == [0, 0, 0], "jobs map the batch's held-out data, not the source"
    assert len({o.worker for o in outcomes}) == len(STUDENTS), "one job (one process) per submission"
    assert list((tmp_path / "slurm").glob("held-out-*")) == [], "the shared data folder is removed afterwards"


def test_ray_workers_get_the_held_out_data_from_the_object_store(
    course: Path, local_outcomes: list[TaskOutcome]
) -> None:
    folders_before = spare_folders()
    on_ray = sorted(RayExecutor(None, 2).run(tasks_for(course)), key=lambda o: o.stem)
    assert spare_folders() == folders_before, "a Ray worker's spare kernel folder was left behind"
    assert [o.stem for o in on_ray] == list(STUDENTS)
    assert [o.data_reads for o in on_ray] == [0, 0, 0]
    assert [comparable(o) for o in on_ray] == [comparable(o) for o in local_outcomes]


def test_changing_the_held_out_data_rescores_and_changing_a_limit_regrades(
    course: Path, tmp_path: Path
) -> None:
    """Held-out data decides only the score: the class is scored again from what ran, with no kernel."""
    course = Path(shutil.copytree(course, tmp_path / "course"))
    out = tmp_path / "reports"
    arguments = ("batch", course / "class", "--rubric", course / "rubric.yaml", "-j", "1", "--out", out)
    first = run_grade(*arguments, "--spare-kernels", out_dir=out, timeout=400)
    assert first.returncode == 0, first.stderr
    assert "3 submissions: 3 graded, 0 rescored, 0 unchanged" in first.stdout
    assert "kernels: 2 of 3 started ahead of need" in first.stderr
    unchanged = run_grade(*arguments, out_dir=out, timeout=400)
    assert "3 submissions: 0 graded, 0 rescored, 3 unchanged" in unchanged.stdout

    write_held_out(course / "held-out.npz", 100)
    rescored = run_grade(*arguments, "--no-spare-kernels", out_dir=out, timeout=400)
    assert rescored.returncode == 0, rescored.stderr
    assert "3 submissions: 0 graded, 3 rescored, 0 unchanged" in rescored.stdout
    assert "kernels:" not in rescored.stderr, "no kernel was started"
    for stem in STUDENTS:
        result = json.loads((out / f"{stem}.json").read_text())
        accuracy = next(c for c in result["checks"] if c["id"] == "accuracy")
        assert accuracy["metrics"]["samples"] == 100

    regraded = run_grade(*arguments, "--cell-timeout", "100", out_dir=out, timeout=400)
    assert "3 submissions: 3 graded, 0 rescored, 0 unchanged" in regraded.stdout, "a limit changes what runs"


LOOK_AROUND = (
    "import os\n"
    "kernels = [p for p in os.listdir('/proc') if p.isdigit()\n"
    "           and open(f'/proc/{p}/cmdline', 'rb').read().split(b'\\0')[1:3] == [b'-m', b'ipykernel_launcher']]\n"
    "print('uid', os.getuid(), 'kernels visible', len(kernels))"
)


def test_a_spare_kernel_is_invisible_to_the_running_student_and_has_its_own_uid(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    for stem in ("first", "second", "third"):
        write_notebook(tmp_path / "class" / f"{stem}.ipynb", LOOK_AROUND, exercise="conv-dims")
    settings = BatchSettings(
        rubric_path=None, rubrics_dir=REPO / "rubrics", overrides=Overrides(), out_dir=tmp_path / "out"
    )
    tasks = [
        t
        for t in plan_batch(discover(str(tmp_path / "class"), settings.out_dir), settings)
        if isinstance(t, Task)
    ]
    outcomes = [o for o in LocalExecutor(1).run(tasks) if isinstance(o, TaskOutcome)]
    assert [o.kernel_prestarted for o in outcomes] == [False, True, True]
    seen = []
    for outcome in outcomes:
        assert outcome.result_json is not None, outcome.failure
        output = json.loads(outcome.result_json)["run"]["cells"][0]["output"]
        assert output.endswith("kernels visible 1\n"), output
        seen.append(int(output.split()[1]))
    if os.geteuid() == 0:
        assert seen[0] != seen[1] and seen[1] != seen[2], "a spare must not share the running kernel's uid"


def test_spare_kernels_are_on_by_default_only_where_they_find_idle_cpu() -> None:
    cores = os.cpu_count() or 1
    assert spare_kernels_by_default(cores, ()) is False
    assert spare_kernels_by_default(cores, ("0",)) is True
    assert spare_kernels_by_default(cores - 1, ()) is (cores > 1)
