"""`grade rubric test` on the batch's machinery: the same grades as grading each file alone, in the
rubric's order, every problem a row, nothing left behind.

The rubric-level tests of the command (every committed rubric passes, a difference exits 1, no
solution exits 3) are in tests/test_authoring.py; these are about grading through the batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.authoring.selftest import Expectation, exit_code_for, expectations, one_by_one
from grader.batch.engine import grade_files
from grader.batch.executors import LocalExecutor
from grader.errors import ExitCode
from grader.grading.grade import Overrides
from grader.result import Failure, GradeResult
from grader.rubric.model import load_rubric
from grader.sandbox.factory import factory_problem
from tests.conftest import REPO, Graded, GradeRunner, run_grade, write_notebook

CONV_DIMS_CHECKS = (REPO / "rubrics" / "conv-dims.yaml").read_text(encoding="utf-8").split("examples:")[0]
SOLUTION = REPO / "exercises" / "conv-dims" / "solution.ipynb"


def _summary(graded: GradeResult | Failure) -> tuple[object, ...]:
    """What must agree between two ways of grading a file: the score and each check's verdict."""
    if isinstance(graded, Failure):
        return ("failure", graded.kind, graded.message)
    return (graded.score, tuple((c.id, c.status, c.points, c.message) for c in graded.checks))


@pytest.mark.slow
def test_the_batch_grades_the_solution_and_examples_as_each_alone() -> None:
    loaded = load_rubric(REPO / "rubrics" / "digits-mlp.yaml")
    files = [(expectation.path, loaded) for expectation in expectations(loaded)]
    executor = LocalExecutor(2, spare_kernels=False, factory=factory_problem() is None)
    batch = dict(grade_files(files, Overrides(), executor))
    alone = dict(one_by_one(files, Overrides()))
    assert sorted(batch) == sorted(alone) == [0, 1, 2]
    assert [_summary(batch[i]) for i in range(3)] == [_summary(alone[i]) for i in range(3)]
    assert [_summary(batch[i])[0] for i in range(3)] == [9, 0, 4]


@pytest.fixture(scope="module")
def troubled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graded, Path, Path]:
    """`grade rubric test` of a rubric whose examples die, loop, are missing or are a link, between two
    that grade normally; run with its own TMPDIR, to see what it leaves there."""
    folder = tmp_path_factory.mktemp("troubled")
    scratch = folder / "tmp"
    scratch.mkdir()
    write_notebook(folder / "dies.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    write_notebook(folder / "loops.ipynb", "while True:\n    pass")
    (folder / "link.ipynb").symlink_to(SOLUTION)
    rubric = folder / "troubled.yaml"
    rubric.write_text(
        CONV_DIMS_CHECKS.replace("{timeout: 300, cell_timeout: 120}", "{timeout: 120, cell_timeout: 20}")
        + f"solution: {SOLUTION}\n"
        "examples:\n"
        f"  - {{path: {REPO / 'exercises' / 'conv-dims' / 'starter.ipynb'}, score: 0}}\n"
        "  - {path: dies.ipynb, score: 5}\n"
        "  - {path: loops.ipynb, score: 5}\n"
        "  - {path: missing.ipynb, score: 5}\n"
        "  - {path: link.ipynb, score: 5}\n"
        f"  - {{path: {SOLUTION}, score: 5}}\n",
        encoding="utf-8",
    )
    listing = sorted(p.name for p in folder.iterdir())
    done = run_grade(
        "rubric", "test", rubric, out_dir=folder / "reports", env={"TMPDIR": str(scratch)}, timeout=900
    )
    assert sorted(p.name for p in folder.iterdir()) == listing, "rubric test wrote beside the rubric"
    return done, folder, scratch


@pytest.mark.slow
def test_a_dying_a_looping_a_missing_and_a_linked_example_are_rows_and_the_rest_still_run(
    troubled: tuple[Graded, Path, Path],
) -> None:
    done, folder, _ = troubled
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if not line.startswith("    ")]
    assert [row.split(":")[0] for row in rows] == [
        f"PASS solution {SOLUTION}",
        f"PASS example {REPO / 'exercises' / 'conv-dims' / 'starter.ipynb'}",
        f"FAIL example {folder / 'dies.ipynb'}",
        f"FAIL example {folder / 'loops.ipynb'}",
        f"FAIL example {folder / 'missing.ipynb'}",
        f"FAIL example {folder / 'link.ipynb'}",
        f"PASS example {SOLUTION}",
    ]
    details = done.stdout.split(f"FAIL example {folder / 'missing.ipynb'}")[1]
    assert f"{folder / 'missing.ipynb'}: no such file" in details
    assert f"{folder / 'link.ipynb'}: is a symbolic link" in details
    assert "score 0, expected 5" in done.stdout.split(f"FAIL example {folder / 'loops.ipynb'}")[0]


@pytest.mark.slow
def test_rubric_test_leaves_no_temporary_file(troubled: tuple[Graded, Path, Path]) -> None:
    done, _, scratch = troubled
    assert "PASS solution" in done.stdout
    assert sorted(os.listdir(scratch)) == []


def test_a_rubric_without_a_solution_still_tests_its_examples_and_exits_3(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    (tmp_path / "link.ipynb").symlink_to(SOLUTION)
    rubric = tmp_path / "orphan.yaml"
    rubric.write_text(
        "exercise: orphan\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n"
        "examples:\n  - {path: missing.ipynb, score: 0}\n  - {path: link.ipynb, score: 1}\n",
        encoding="utf-8",
    )
    done = grade_cli("rubric", "test", rubric)
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FAIL solution ") and lines[0].endswith(": not graded")
    assert "no reference solution for 'orphan'" in lines[1]
    assert lines[2] == f"FAIL example {tmp_path / 'missing.ipynb'}: not graded"
    assert lines[3].strip().startswith(f"{tmp_path / 'missing.ipynb'}: no such file")
    assert lines[4] == f"FAIL example {tmp_path / 'link.ipynb'}: not graded"
    assert "is a symbolic link" in lines[5]
    assert "solution: PATH" in done.stderr


def test_a_rubric_with_neither_solution_nor_examples_is_one_row(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    rubric = tmp_path / "empty.yaml"
    rubric.write_text("exercise: empty\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n")
    done = grade_cli("rubric", "test", rubric, "--workers", "1")
    assert done.returncode == 3
    assert done.stdout.splitlines()[0].startswith("FAIL solution ")
    assert len([line for line in done.stdout.splitlines() if not line.startswith("    ")]) == 1


def test_the_gravest_exit_code_wins_and_a_pass_counts_for_nothing() -> None:
    def outcome(code: ExitCode, problem: str | None) -> Expectation:
        return Expectation(Path("x.ipynb"), "example", 0, {}, problem=problem, exit_code=code)

    passed = outcome(ExitCode.GRADER_FAILURE, None)
    differs = outcome(ExitCode.BELOW_FAIL_UNDER, "no such file")
    no_solution = outcome(ExitCode.BAD_RUBRIC, "no reference solution")
    grader = outcome(ExitCode.GRADER_FAILURE, "the grader itself failed")
    assert exit_code_for([passed]) == ExitCode.GRADED
    assert exit_code_for([passed, differs]) == ExitCode.BELOW_FAIL_UNDER
    assert exit_code_for([differs, no_solution, passed]) == ExitCode.BAD_RUBRIC
    assert exit_code_for([no_solution, grader, differs]) == ExitCode.GRADER_FAILURE
