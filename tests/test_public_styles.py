"""Fair grades on notebooks written the way public Keras teaching material writes them (issue 23).

Five reference solutions of our own, each in the idiom of a public course (exercises/styles/: a
DeepLearning.AI lab's `activation=tf.nn.relu`, the TensorFlow tutorials' `model.add(...,
input_shape=...)` and logits, Deep Learning with Python's functional API, the keras.io Keras 3
example, the basic-classification `tf.keras.Sequential` with a probability model beside it), their
rubrics (rubrics/styles-*.yaml, from `grade rubric new`, reviewed), and three single mistakes per
notebook (tests/mutations.py). One `grade batch` grades the whole class, several exercises at once,
each notebook finding its rubric by its `grader.exercise` id; the tests then read what it wrote:

* every reference gets full marks;
* every mistake costs exactly one row of the architecture check, the row of the changed layer,
  naming the setting that changed (the layers after it see other shapes: a consequence, not a
  second mistake), and the architecture check loses one row's share of its points;
* two honest students who wrote the same network in two spellings are not flagged as similar.
"""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from tests.conftest import REPO, Graded, run_grade
from tests.mutations import HONEST_PAIR, TABLE, Mistake, Style, mutant

pytestmark = pytest.mark.slow

CONSEQUENCES = ("match", "follows")
"""Row statuses that charge nothing: the layer is right, or differs only as a consequence of an earlier row."""

MUTANTS = [
    pytest.param(style, mistake, id=f"{style.name}--{mistake.name}")
    for style in TABLE
    for mistake in style.mistakes
]
STYLES = [pytest.param(style, id=style.name) for style in TABLE]


def reference_stem(style: Style) -> str:
    return f"{style.name}--reference"


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """One batch: every reference, every mutant and the honest pair, graded with the rubrics in rubrics/."""
    folder = tmp_path_factory.mktemp("styles") / "submissions"
    folder.mkdir()
    for style in TABLE:
        (folder / f"{reference_stem(style)}.ipynb").write_bytes(style.solution.read_bytes())
        for mistake in style.mistakes:
            mutant(style, mistake, folder)
    for honest in HONEST_PAIR:
        (folder / honest.name).write_bytes(honest.read_bytes())
    out = tmp_path_factory.mktemp("styles-reports") / "reports"
    graded = run_grade("batch", folder, "-j", "2", "--out", out, out_dir=out, timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    return graded


def result(graded: Graded, stem: str) -> dict[str, Any]:
    return json.loads((graded.out_dir / f"{stem}.json").read_text())


def architecture(graded: Graded, stem: str) -> dict[str, Any]:
    return next(c for c in result(graded, stem)["checks"] if c["id"] == "architecture")


def test_the_table_names_real_rubric_rows() -> None:
    """Each mistake's row exists in its rubric and compares the setting it changes; a missing row is the layer removed."""
    from grader.rubric.model import load_rubric

    for style in TABLE:
        rubric = load_rubric(style.rubric).rubric
        assert rubric.exercise == style.exercise
        layers = next(c for c in rubric.checks if c.id == "architecture").layers
        assert layers, style.name
        for mistake in style.mistakes:
            assert 1 <= mistake.row <= len(layers), (style.name, mistake.name)
            expected = layers[mistake.row - 1]
            if mistake.missing:
                assert f"{expected.type}(" in mistake.old and f"{expected.type}(" not in mistake.new
            else:
                assert getattr(expected, mistake.setting) is not None, "the rubric must compare that setting"


@pytest.fixture(scope="module")
def rubrics_checked() -> Graded:
    """One `grade rubric check` of every style's rubric (the command takes several)."""
    return run_grade("rubric", "check", *(style.rubric for style in TABLE), out_dir=REPO, timeout=300)


@pytest.mark.parametrize("style", STYLES)
def test_rubric_check_passes(rubrics_checked: Graded, style: Style) -> None:
    checked = rubrics_checked
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ok = f"ok {style.rubric}: 3 checks, 8 points"
    assert any(line.startswith(ok) for line in checked.stdout.splitlines()), checked.stdout
    assert "warning" not in checked.stdout + checked.stderr, "the session's Keras cache has every data set"


@pytest.mark.parametrize("style", STYLES)
def test_reference_gets_full_marks(graded_class: Graded, style: Style) -> None:
    graded = result(graded_class, reference_stem(style))
    assert graded["exercise"] == style.exercise
    assert graded["score"] == graded["max_score"] > 0, [
        (c["id"], c["status"], c["message"]) for c in graded["checks"]
    ]
    assert all(c["status"] == "pass" for c in graded["checks"])


@pytest.mark.parametrize(("style", "mistake"), MUTANTS)
def test_one_mistake_is_charged_one_row_naming_its_cause(
    graded_class: Graded, style: Style, mistake: Mistake
) -> None:
    check = architecture(graded_class, f"{style.name}--{mistake.name}")
    rows = check["layer_rows"]
    charged = [row for row in rows if row["status"] not in CONSEQUENCES]
    summary = [(r["position"], r["status"], r["differences"]) for r in rows if r["status"] != "match"]
    assert len(charged) == 1, f"one mistake, {len(charged)} rows charged: {summary}"
    row = charged[0]
    assert row["position"] == mistake.row, summary
    if mistake.missing:
        assert row["status"] == "missing" and row["actual"] is None, summary
        assert f"{row['expected']['type']}(" in mistake.old
    else:
        assert row["status"] == "mismatch", summary
        assert any(difference.startswith(f"{mistake.setting} ") for difference in row["differences"]), (
            f"the row must name {mistake.setting!r}: {row['differences']}"
        )
    assert check["status"] == "fail"
    assert check["first_difference"] == mistake.row - 1
    assert f"layer {mistake.row}" in check["message"]
    share = check["max_points"] * (len(rows) - 1) / len(rows)
    assert check["points"] == pytest.approx(share, abs=0.01), "one row's share of the points, no more"


def test_honest_pair_is_not_flagged_and_copies_are(graded_class: Graded) -> None:
    """The references and two students' own spellings of one network raise no flag; a one-token copy does."""
    honest = {reference_stem(style) for style in TABLE} | {path.stem for path in HONEST_PAIR}
    for path in HONEST_PAIR:
        graded = result(graded_class, path.stem)
        assert graded["exercise"] == "styles-keras3-convnet"
        assert graded["score"] == graded["max_score"]
    with open(graded_class.out_dir / "similarity.csv", newline="", encoding="utf-8") as handle:
        pairs = [(row["student_a"], row["student_b"], row["kind"]) for row in csv.DictReader(handle)]
    flagged_honest = [pair for pair in pairs if pair[0] in honest and pair[1] in honest]
    assert flagged_honest == [], f"honest pairs flagged: {flagged_honest}"
    copies = {frozenset((a, b)) for a, b, _ in pairs}
    assert frozenset(("keras3-convnet--reference", "keras3-convnet--dropout-half-to-quarter")) in copies, (
        "a mutant is its reference with one number changed: the similarity pass must see that"
    )
