"""`grade batch`: a whole class graded in parallel, through the real CLI, real kernels and real Ray.

One mixed class (a good notebook, a wrong one, one without a model, one whose kernel exits, one
that is not JSON) is graded once with the local pool and once with Ray; the tests then read what
each run left on disk.
"""

from __future__ import annotations

import csv
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Graded, run_grade, write_notebook

pytestmark = pytest.mark.slow

STUDENTS = ("alice", "wrong-kernel-size", "no-model", "exits", "broken")
GRADED = ("alice", "wrong-kernel-size", "no-model", "exits")
ENV_CELL = (
    "import os\n"
    "print('CUDA_VISIBLE_DEVICES=' + str(os.environ.get('CUDA_VISIBLE_DEVICES')))\n"
    "print('TF_FORCE_GPU_ALLOW_GROWTH=' + str(os.environ.get('TF_FORCE_GPU_ALLOW_GROWTH')))"
)


def write_class(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("alice", "wrong-kernel-size", "no-model"):
        shutil.copy(REPO / "submissions" / f"{name}.ipynb", folder)
    write_notebook(folder / "exits.ipynb", ENV_CELL, "os._exit(1)", "conv_params = 80", exercise="conv-dims")
    (folder / "broken.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ', encoding="utf-8")
    return folder


def batch(*args: str | Path, out: Path) -> Graded:
    return run_grade("batch", *args, "--out", out, out_dir=out, timeout=400)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class(tmp_path_factory.mktemp("class") / "submissions")


@pytest.fixture(scope="module")
def local_run(classroom: Path, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return batch(classroom, "-j", "2", out=tmp_path_factory.mktemp("local") / "reports")


def volatile_free(result: dict[str, Any]) -> dict[str, Any]:
    """A result without what may differ between two runs of the same submission: times and device."""
    run = {k: v for k, v in result["run"].items() if k not in ("duration_s", "device", "stages")}
    return {**result, "run": run}


def results(out: Path) -> dict[str, dict[str, Any]]:
    return {stem: volatile_free(json.loads((out / f"{stem}.json").read_text())) for stem in GRADED}


def test_every_submission_is_graded_once_and_a_bad_one_is_only_its_own_row(local_run: Graded) -> None:
    assert local_run.returncode == 0, local_run.stderr
    assert "5 submissions: 4 graded, 0 rescored, 0 unchanged, 1 could not be graded" in local_run.stdout
    out = local_run.out_dir
    for stem in GRADED:
        assert json.loads((out / f"{stem}.json").read_text())["submission"] == f"{stem}.ipynb"
        assert "<html" in (out / f"{stem}.html").read_text()
        keys = json.loads((out / ".keys" / f"{stem}.key").read_text())
        assert len(keys["execution"]) == len(keys["scoring"]) == 64
    assert json.loads((out / "alice.json").read_text())["score"] == 8
    exits = json.loads((out / "exits.json").read_text())
    assert [c["status"] for c in exits["run"]["cells"]] == ["ok", "died", "skipped"]
    failure = json.loads((out / "broken.error.json").read_text())
    assert failure["kind"] == "submission"
    assert failure["message"].startswith("broken.ipynb:1:")
    assert not (out / "broken.json").exists()
    assert "broken: broken.ipynb:1:" in local_run.stderr


def test_gradebook_has_a_row_per_student_and_a_column_per_check(local_run: Graded) -> None:
    with (local_run.out_dir / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(STUDENTS)
    assert rows["alice"]["cifar10-cnn:architecture"] == "6.0"
    assert rows["alice"]["total"] == "8.0"
    assert rows["wrong-kernel-size"]["cifar10-cnn:size"] == "0.0"
    assert rows["exits"]["conv-dims:conv-layer"] == "0.0"
    assert rows["exits"]["cifar10-cnn:architecture"] == ""
    assert rows["broken"]["status"] == "error"
    assert "broken JSON" in rows["broken"]["error"]


def test_junit_has_a_case_per_submission_and_check(local_run: Graded) -> None:
    root = ET.parse(local_run.out_dir / "junit.xml").getroot()
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == set(STUDENTS)
    alice = [case.get("name") for case in suites["alice"].iter("testcase")]
    assert alice == ["architecture", "size", "output"]
    assert not list(suites["alice"].iter("failure"))
    wrong = {case.get("name"): case for case in suites["wrong-kernel-size"].iter("testcase")}
    failure = wrong["size"].find("failure")
    assert failure is not None and "528,294 parameters" in (failure.get("message") or "")
    assert suites["broken"].find("testcase/error") is not None
    assert root.get("tests") == str(3 + 3 + 3 + 3 + 1)


def test_gradescope_results_follow_the_autograder_format(local_run: Graded) -> None:
    alice = json.loads((local_run.out_dir / "gradescope" / "alice" / "results.json").read_text())
    assert alice["score"] == 8
    assert [(t["score"], t["max_score"], t["status"]) for t in alice["tests"]] == [
        (6, 6, "passed"),
        (1, 1, "passed"),
        (1, 1, "passed"),
    ]
    assert alice["tests"][0]["name"].startswith("architecture")
    broken = json.loads((local_run.out_dir / "gradescope" / "broken" / "results.json").read_text())
    assert broken["score"] == 0 and "broken JSON" in broken["output"]


def test_index_summarises_the_class(local_run: Graded) -> None:
    page = (local_run.out_dir / "index.html").read_text()
    assert "<svg" in page and "90–100%: 1</title>" in page
    for stem in GRADED:
        assert f'href="{stem}.html"' in page
    assert "cifar10-cnn:architecture" in page and "1 / 3" in page
    assert "the kernel died in cell 2" in page
    assert "could not be graded: broken.ipynb" in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")


def test_a_rerun_grades_nothing_new_and_a_changed_submission_is_regraded(
    local_run: Graded, classroom: Path
) -> None:
    out = local_run.out_dir
    before = {stem: (out / f"{stem}.json").stat().st_mtime_ns for stem in GRADED}
    again = batch(classroom, "-j", "2", out=out)
    assert again.returncode == 0, again.stderr
    assert "5 submissions: 0 graded, 0 rescored, 4 unchanged, 1 could not be graded" in again.stdout
    assert {stem: (out / f"{stem}.json").stat().st_mtime_ns for stem in GRADED} == before

    forced = batch(str(classroom / "exits*.ipynb"), "--force", out=out)
    assert "1 submissions: 1 graded, 0 rescored, 0 unchanged, 0 could not be graded" in forced.stdout
    assert (out / "exits.json").stat().st_mtime_ns != before["exits"]


def test_ray_executor_gives_the_same_results(local_run: Graded, classroom: Path, tmp_path: Path) -> None:
    on_ray = batch(classroom, "--executor", "ray", "-j", "2", out=tmp_path / "ray")
    assert on_ray.returncode == 0, on_ray.stderr
    assert "5 submissions: 4 graded, 0 rescored, 0 unchanged, 1 could not be graded" in on_ray.stdout
    assert results(on_ray.out_dir) == results(local_run.out_dir)
    assert (on_ray.out_dir / "gradebook.csv").read_text() == (local_run.out_dir / "gradebook.csv").read_text()
    assert (on_ray.out_dir / "broken.error.json").read_text() == (
        local_run.out_dir / "broken.error.json"
    ).read_text()


def test_each_gpu_worker_hands_its_own_device_to_the_kernel(tmp_path: Path) -> None:
    folder = tmp_path / "gpu-class"
    folder.mkdir()
    for name in ("first", "second", "third"):
        write_notebook(folder / f"{name}.ipynb", ENV_CELL, exercise="conv-dims")
    done = batch(folder, "--gpus", "0,1", out=tmp_path / "reports")
    assert done.returncode == 0, done.stderr
    for name in ("first", "second", "third"):
        result = json.loads((tmp_path / "reports" / f"{name}.json").read_text())
        output = result["run"]["cells"][0]["output"]
        assert "TF_FORCE_GPU_ALLOW_GROWTH=true" in output
        gpu = next(
            line.split("=")[1] for line in output.splitlines() if line.startswith("CUDA_VISIBLE_DEVICES")
        )
        assert gpu in ("0", "1")
        assert f"graded by a worker assigned GPU {gpu} (CUDA_VISIBLE_DEVICES={gpu})" in result["notes"]
        assert result["run"]["device"]


def test_usage_errors_are_reported_not_raised(tmp_path: Path) -> None:
    empty = batch(tmp_path / "nowhere", out=tmp_path / "reports")
    assert empty.returncode == 2 and "no submissions" in empty.stderr
    bad_gpus = batch(tmp_path, "--gpus", "first", out=tmp_path / "reports")
    assert bad_gpus.returncode == 2 and "--gpus" in bad_gpus.stderr
    assert "Traceback" not in empty.stderr + bad_gpus.stderr


def test_changing_only_points_rescores_the_class_from_what_ran_with_no_kernel(
    local_run: Graded, classroom: Path, tmp_path: Path
) -> None:
    """The scoring key changed, the execution key did not: scored again from `.artifacts/`, same run facts.

    Starts from a copy of the local run's out folder (the class graded with the same rubrics, in
    rubrics/), graded again with a copy of the rubrics whose points alone differ.
    """
    rubrics = Path(shutil.copytree(REPO / "rubrics", tmp_path / "rubrics"))
    out = Path(shutil.copytree(local_run.out_dir, tmp_path / "reports"))
    unchanged = batch(classroom, "-j", "2", "--rubrics", rubrics, out=out)
    assert "5 submissions: 0 graded, 0 rescored, 4 unchanged, 1 could not be graded" in unchanged.stdout, (
        "the copied rubrics are the same rubrics: nothing is graded again"
    )
    before = results(out)
    rubric = rubrics / "cifar10-cnn.yaml"
    rubric.write_text(
        rubric.read_text().replace("  - id: size\n    points: 1\n", "  - id: size\n    points: 3\n")
    )

    rescored = batch(classroom, "-j", "2", "--rubrics", rubrics, out=out)
    assert rescored.returncode == 0, rescored.stderr
    assert "5 submissions: 0 graded, 3 rescored, 1 unchanged, 1 could not be graded" in rescored.stdout
    assert "kernels:" not in rescored.stderr, "no kernel was started"
    after = results(out)
    assert after["alice"]["score"] == before["alice"]["score"] + 2 and after["alice"]["max_score"] == 10
    for stem in ("alice", "wrong-kernel-size", "no-model"):
        assert after[stem]["run"]["cells"] == before[stem]["run"]["cells"], "what ran is what was kept"
    assert after["exits"] == before["exits"], "a conv-dims student's rubric did not change"

    forced = batch(classroom, "-j", "2", "--rubrics", rubrics, "--rescore", out=out)
    assert "0 graded, 4 rescored, 0 unchanged" in forced.stdout


def write_mixed_class(root: Path) -> Path:
    """Two exercises whose files name none: the lesson's conv-dims notebook and pool-dims script,
    their `grader.exercise` metadata and `# grader:` line stripped; a file that no rubric claims,
    one that two claim, and one whose name holds a backslash to pass for `week3/`."""
    import nbformat

    for folder in ("week3", "week4", "both", "misc"):
        (root / folder).mkdir(parents=True)
    notebook = nbformat.read(str(REPO / "exercises" / "conv-dims" / "solution.ipynb"), as_version=4)
    del notebook.metadata["grader"]
    nbformat.write(notebook, str(root / "week3" / "conv.ipynb"))
    script = (REPO / "submissions" / "pool-dims-script.py").read_text(encoding="utf-8")
    (root / "week4" / "pool.py").write_text(
        script.replace("# grader: exercise=pool-dims\n", ""), encoding="utf-8"
    )
    write_notebook(root / "misc" / "nobody.ipynb", "x = 1")
    write_notebook(root / "both" / "twice.ipynb", "x = 1")
    write_notebook(root / "week3\\evil.ipynb", "x = 1")
    return root


def test_a_class_of_two_exercises_is_sorted_by_folder_in_one_batch(tmp_path: Path) -> None:
    """--rubric-for claims week3/, pool-dims's `match:` week4/; the rest are rows that say why."""
    rubrics = Path(shutil.copytree(REPO / "rubrics", tmp_path / "rubrics"))
    for name, match in (("pool-dims", "[week4/*, both/*]"), ("conv-dims", "[both/*]")):
        rubric = rubrics / f"{name}.yaml"
        rubric.write_text(f"{rubric.read_text()}match: {match}\n")
    root = write_mixed_class(tmp_path / "class")
    done = batch(
        root, "--rubrics", rubrics, "--rubric-for", "week3/*=conv-dims", "-j", "2", out=tmp_path / "out"
    )
    assert done.returncode == 0, done.stderr
    assert "5 submissions: 2 graded, 0 rescored, 0 unchanged, 3 could not be graded" in done.stdout
    out = done.out_dir
    conv = json.loads((out / "week3__conv.json").read_text())
    pool = json.loads((out / "week4__pool.json").read_text())
    assert (conv["exercise"], conv["score"], conv["max_score"]) == ("conv-dims", 5, 5)
    assert (pool["exercise"], pool["score"], pool["max_score"]) == ("pool-dims", 5, 5)
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["week3__conv"]["exercise"] == "conv-dims" and rows["week4__pool"]["exercise"] == "pool-dims"
    assert rows["week3__conv"]["conv-dims:conv-layer"] == "3.0"
    assert rows["week4__pool"]["pool-dims:pool-layer"] == "3.0"
    twice = json.loads((out / "both__twice.error.json").read_text())
    assert twice["kind"] == "rubric"
    assert twice["message"].startswith("both/twice.ipynb: matches 2 rubrics by rubrics' `match:`")
    assert "conv-dims.yaml (match: 'both/*')" in twice["message"]
    assert "pool-dims.yaml (match: 'both/*')" in twice["message"]
    nobody = json.loads((out / "misc__nobody.error.json").read_text())
    assert nobody["message"].startswith("misc/nobody.ipynb: which rubric?")
    assert (
        "--rubric-for 'week3/*=" in nobody["message"]
        and "pool-dims.yaml (match: week4/*, both/*)" in nobody["message"]
    )
    evil = next(out.glob("week3_evil*.error.json"))
    assert json.loads(evil.read_text())["message"].startswith("week3\\\\evil.ipynb: which rubric?")
    assert rows["both__twice"]["status"] == "error" and "matches 2 rubrics" in rows["both__twice"]["error"]
    assert rows["misc__nobody"]["status"] == "error" and "which rubric?" in rows["misc__nobody"]["error"]


def test_rubric_for_usage_errors_stop_before_any_kernel(tmp_path: Path) -> None:
    root = write_mixed_class(tmp_path / "class")
    bad_glob = batch(root, "--rubric-for", "/week3/*=conv-dims", out=tmp_path / "out")
    assert bad_glob.returncode == 2 and "drop the leading `/`" in bad_glob.stderr
    both = batch(
        root, "--rubric", "rubrics/conv-dims.yaml", "--rubric-for", "week3/*=conv-dims", out=tmp_path / "out"
    )
    assert both.returncode == 2 and "--rubric-for would never apply" in both.stderr
    unknown = batch(root, "--rubric-for", "week3/*=conv-dimz", out=tmp_path / "out")
    assert unknown.returncode == 3 and "no rubric 'conv-dimz'" in unknown.stderr
    assert "Traceback" not in bad_glob.stderr + both.stderr + unknown.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()
