"""Each submission's kernel seed (`grader.grading.prelude.submission_seed`): its own, and the same again."""

from __future__ import annotations

from pathlib import Path

from grader.grading import prelude
from grader.grading.submission import load_submission
from grader.rubric.model import load_rubric
from tests.conftest import REPO

TWINS = REPO / "submissions" / "twins" / "similarity"
RUBRIC = REPO / "rubrics" / "digits-mlp.yaml"


def seed_of(path: Path, identity: str | None = None, rubric_seed: int = 0) -> int:
    rubric = load_rubric(RUBRIC).rubric.model_copy(update={"seed": rubric_seed})
    return prelude.plan_prelude(load_submission(path), rubric, identity=identity).config.seed


def test_two_submissions_of_the_same_exercise_get_different_seeds() -> None:
    first, second = seed_of(TWINS / "honest-sequential.ipynb"), seed_of(TWINS / "honest-functional.ipynb")
    assert first != second
    assert 0 <= first < 2**31 and 0 <= second < 2**31


def test_the_same_submission_gets_the_same_seed_every_time() -> None:
    path = TWINS / "honest-sequential.ipynb"
    assert seed_of(path) == seed_of(path) == prelude.submission_seed(0, "honest-sequential")


def test_the_seed_follows_the_identity_not_the_content() -> None:
    """A batch names a submission by its stem: one file in two folders is two students."""
    path = TWINS / "honest-sequential.ipynb"
    assert seed_of(path, identity="week1__alice") != seed_of(path, identity="week1__bob")
    assert seed_of(path, identity="week1__alice") == seed_of(
        TWINS / "original.ipynb", identity="week1__alice"
    )
    # `grade FILE` and a batch whose folder holds FILE at its top agree.
    assert seed_of(path, identity="honest-sequential") == seed_of(path)


def test_the_rubrics_seed_still_changes_every_seed() -> None:
    path = TWINS / "honest-sequential.ipynb"
    assert seed_of(path, rubric_seed=1) != seed_of(path, rubric_seed=0)


def test_the_report_records_the_seed_the_kernel_got() -> None:
    planned = prelude.plan_prelude(load_submission(TWINS / "original.ipynb"), load_rubric(RUBRIC).rubric)
    assert (
        prelude.kernel_setup(planned, None).seed == planned.config.seed == seed_of(TWINS / "original.ipynb")
    )
    assert f'"seed": {planned.config.seed}' in planned.source
