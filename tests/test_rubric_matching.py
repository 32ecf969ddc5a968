"""Which rubric grades which submission of a mixed class: globs, `match:`, `--rubric-for` (fast tier).

Real YAML rubrics (the course's conv-dims and pool-dims, given `match:` lines), real files found by
the real discovery, real submissions read by the real loader; no kernel is started.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.batch.discovery import Found, discover
from grader.batch.routing import Router, RubricFor
from grader.errors import RubricError
from grader.grading.submission import load_submission
from grader.rubric.globs import check_glob, glob_matches, shown_path
from grader.rubric.model import parse_rubric
from tests.conftest import REPO, examples, write_notebook

MINIMAL = "exercise: demo\ntitle: Demo\nchecks:\n  - {id: size, points: 1, total_params: 80}\n"


# --- globs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "parts", "expected"),
    [
        ("week3/*", ("week3", "alice.ipynb"), True),
        ("week3/*", ("week3", "bob", "alice.ipynb"), False),  # `*` stays within a folder
        ("week3/**", ("week3", "bob", "alice.ipynb"), True),
        ("week3/**/*.py", ("week3", "pool.py"), True),  # `**` may match no folder at all
        ("**/conv-*.ipynb", ("a", "b", "conv-1.ipynb"), True),
        ("*.ipynb", ("week3", "alice.ipynb"), False),  # anchored at the root, not a suffix match
        ("week3/*", ("Week3", "alice.ipynb"), False),  # case-sensitive on every system
        ("week[0-9]/*", ("week7", "x.py"), True),
        ("josé/*", ("jose\u0301", "x.py"), True),  # NFD from macOS matches an NFC pattern
        ("*", ("[abc].ipynb",), True),  # a student's brackets are data, never a pattern
        ("[abc].ipynb", ("[abc].ipynb",), False),
        ("a.*", ("a.(?s:.*)",), True),  # regex syntax in a name means nothing
        ("week3/*", ("week3\\alice.ipynb",), False),  # a backslash is no separator
        ("week3/*", ("week3\nalice.ipynb",), False),  # nor is a newline
        ("week3*", ("week3\nalice.ipynb",), True),  # ... it is one name at the top level
        ("*", ("bad\udcff.py",), True),  # a name that is not UTF-8 still matches
    ],
)
def test_a_glob_matches_the_whole_relative_path_name_by_name(
    pattern: str, parts: tuple[str, ...], expected: bool
) -> None:
    assert glob_matches(check_glob(pattern), parts) is expected


def test_a_deep_folder_a_student_made_costs_no_recursion() -> None:
    parts = ("d",) * 3000 + ("x.ipynb",)
    assert glob_matches("**/**/x.ipynb", parts)
    assert not glob_matches("**/y.ipynb", parts)


names = st.text(min_size=1, max_size=12).filter(lambda name: name not in (".", ".."))


@settings(max_examples=examples(200), deadline=None)
@given(parts=st.lists(names, min_size=1, max_size=6), pattern=st.text(max_size=20))
def test_any_name_is_only_ever_the_subject_of_a_match(parts: list[str], pattern: str) -> None:
    """Whatever a student calls their files and folders: `*` is one name, `**` any path, nothing raises."""
    assert glob_matches("*", parts) is (len(parts) == 1)
    assert glob_matches("**", parts)
    assert glob_matches("/".join(["*"] * len(parts)), parts)
    try:
        checked = check_glob(pattern)
    except ValueError:
        return
    glob_matches(checked, parts)


@pytest.mark.parametrize(
    ("pattern", "fix"),
    [
        ("", "empty glob"),
        ("/week3/*", "drop the leading `/`"),
        ("week3\\*", "backslash"),
        ("week3//*", "empty, `.` and `..`"),
        ("../other/*", "empty, `.` and `..`"),
        ("week**/x", "segment of its own"),
        ("week[3/*", "not closed"),
        ("week3/\n*", "line breaks"),
        ("x" * 201, "at most 200"),
    ],
)
def test_a_glob_that_would_not_match_what_it_says_is_refused(pattern: str, fix: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_glob(pattern)
    assert fix in str(raised.value)


def test_a_hostile_path_is_shown_on_one_line_without_passing_for_a_folder() -> None:
    shown = shown_path(("week3\\alice.ipynb",))
    assert shown == "week3\\\\alice.ipynb"
    assert shown_path(("a\nb\u202e.py",)) == "a\\nb\\u202e.py"
    assert shown_path(("week3", "josé.py")) == "week3/josé.py"


# --- the rubric's match: -----------------------------------------------------------------------


def test_a_rubric_lists_the_globs_it_grades() -> None:
    rubric = parse_rubric(MINIMAL + "match: [week3/*, '**/conv-*.ipynb']\n")
    assert rubric.match == ["week3/*", "**/conv-*.ipynb"]
    assert parse_rubric(MINIMAL).match is None


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("match: []\n", "5:1: match: an empty `match:` list matches no submission"),
        ("match: [week3/*, 'w[1/*']\n", "5:18: match[1]: 'w[1/*': a `[` is not closed"),
        ("match: ['/abs/*']\n", "match[0]: '/abs/*': globs are relative to the batch's folder"),
        ("match: week3/*\n", "match: Input should be a valid list"),
    ],
)
def test_a_bad_match_is_a_rubric_error_with_line_and_key(yaml: str, expected: str) -> None:
    with pytest.raises(RubricError) as raised:
        parse_rubric(MINIMAL + yaml, source="r.yaml")
    assert expected in raised.value.message


# --- --rubric-for -------------------------------------------------------------------------------


def test_rubric_for_is_split_at_the_last_equals_sign() -> None:
    assert RubricFor.parse("week3/*=conv-dims") == RubricFor(pattern="week3/*", rubric="conv-dims")
    assert RubricFor.parse("a=b/*=rubrics/x.yaml") == RubricFor(pattern="a=b/*", rubric="rubrics/x.yaml")
    for bad in ("week3/*", "=conv-dims", "week3/*=", "/abs=conv-dims"):
        with pytest.raises(ValueError):
            RubricFor.parse(bad)


# --- routing a mixed class ---------------------------------------------------------------------


@pytest.fixture
def rubrics(tmp_path: Path) -> Path:
    """conv-dims claims week3/, pool-dims claims week4/ and every `pool*` script; both claim `both/`."""
    folder = tmp_path / "rubrics"
    folder.mkdir()
    for name, match in (
        ("conv-dims", "[week3/**, 'both/*']"),
        ("pool-dims", "[week4/**, '**/pool*.py', 'both/*']"),
    ):
        text = (REPO / "rubrics" / f"{name}.yaml").read_text(encoding="utf-8")
        (folder / f"{name}.yaml").write_text(f"{text}match: {match}\n", encoding="utf-8")
    shutil.copy(REPO / "rubrics" / "cifar10-cnn.yaml", folder)
    return folder


@pytest.fixture
def classroom(tmp_path: Path) -> dict[str, Found]:
    root = tmp_path / "class"
    for folder in ("week3", "week4", "both", "other"):
        (root / folder).mkdir(parents=True)
    write_notebook(root / "week3" / "alice.ipynb", "x = 1")
    write_notebook(root / "week3" / "claims.ipynb", "x = 1", exercise="cifar10-cnn")
    write_notebook(root / "week4" / "bob.ipynb", "x = 1")
    (root / "other" / "pool-carol.py").write_text("x = 1\n", encoding="utf-8")
    write_notebook(root / "both" / "dan.ipynb", "x = 1")
    write_notebook(root / "other" / "erin.ipynb", "x = 1")
    write_notebook(root / "week3\\mallory.ipynb", "x = 1")
    write_notebook(root / "week3\nmallory.ipynb", "x = 1")
    return {"/".join(found.relative): found for found in discover(str(root), tmp_path / "reports")}


def chosen(router: Router, found: Found) -> str:
    return router.choose(load_submission(found.path), found.relative).rubric.exercise


def test_discovery_keeps_each_files_own_names_below_the_root(classroom: dict[str, Found]) -> None:
    assert classroom["week3/alice.ipynb"].relative == ("week3", "alice.ipynb")
    assert classroom["week3\\mallory.ipynb"].relative == ("week3\\mallory.ipynb",)
    assert classroom["week3\nmallory.ipynb"].relative == ("week3\nmallory.ipynb",)


def test_match_sorts_a_class_that_names_no_exercise(rubrics: Path, classroom: dict[str, Found]) -> None:
    router = Router.load(None, (), rubrics)
    assert chosen(router, classroom["week3/alice.ipynb"]) == "conv-dims"
    assert chosen(router, classroom["week4/bob.ipynb"]) == "pool-dims"
    assert chosen(router, classroom["other/pool-carol.py"]) == "pool-dims"
    assert chosen(router, classroom["week3/claims.ipynb"]) == "cifar10-cnn", "the notebook's exercise wins"


def test_two_rubrics_or_none_is_an_error_naming_the_file_and_the_candidates(
    rubrics: Path, classroom: dict[str, Found]
) -> None:
    router = Router.load(None, (), rubrics)
    with pytest.raises(RubricError) as two:
        chosen(router, classroom["both/dan.ipynb"])
    assert two.value.message.startswith("both/dan.ipynb: matches 2 rubrics by rubrics' `match:`")
    assert "conv-dims.yaml (match: 'both/*')" in two.value.message
    assert "pool-dims.yaml (match: 'both/*')" in two.value.message
    with pytest.raises(RubricError) as none:
        chosen(router, classroom["other/erin.ipynb"])
    message = none.value.message
    assert message.startswith("other/erin.ipynb: which rubric? the submission names no exercise")
    assert "conv-dims.yaml (match: week3/**, both/*)" in message and "pool-dims.yaml" in message


def test_a_name_crafted_to_look_like_a_folder_is_not_in_it(
    rubrics: Path, classroom: dict[str, Found]
) -> None:
    router = Router.load(None, (), rubrics)
    for name, shown in (
        ("week3\\mallory.ipynb", "week3\\\\mallory.ipynb"),
        ("week3\nmallory.ipynb", "week3\\nmallory.ipynb"),
    ):
        with pytest.raises(RubricError) as raised:
            chosen(router, classroom[name])
        assert raised.value.message.startswith(f"{shown}: which rubric?")
        assert "\n" not in raised.value.message


def test_rubric_for_wins_over_the_notebook_and_match(rubrics: Path, classroom: dict[str, Found]) -> None:
    rules = (RubricFor.parse("week3/*=pool-dims"), RubricFor.parse(f"both/*={rubrics / 'conv-dims.yaml'}"))
    router = Router.load(None, rules, rubrics)
    assert chosen(router, classroom["week3/alice.ipynb"]) == "pool-dims"
    assert chosen(router, classroom["week3/claims.ipynb"]) == "pool-dims", "over the student's own metadata"
    assert chosen(router, classroom["both/dan.ipynb"]) == "conv-dims", "decides what match: left open"
    assert chosen(router, classroom["week4/bob.ipynb"]) == "pool-dims", "match: still sorts the rest"


def test_two_rubric_for_patterns_claiming_one_file_is_its_error(
    rubrics: Path, classroom: dict[str, Found]
) -> None:
    rules = (RubricFor.parse("week3/*=pool-dims"), RubricFor.parse("**/alice.ipynb=conv-dims"))
    router = Router.load(None, rules, rubrics)
    with pytest.raises(RubricError) as raised:
        chosen(router, classroom["week3/alice.ipynb"])
    assert "matches 2 rubrics by --rubric-for patterns" in raised.value.message
    assert "--rubric-for 'week3/*'" in raised.value.message
    same = Router.load(
        None, (*rules[:1], RubricFor.parse(f"**/alice.ipynb={rubrics / 'pool-dims.yaml'}")), rubrics
    )
    assert chosen(same, classroom["week3/alice.ipynb"]) == "pool-dims", (
        "two patterns, one rubric: no conflict"
    )


def test_a_bad_rubric_for_rubric_stops_the_batch_before_any_kernel(rubrics: Path) -> None:
    with pytest.raises(RubricError, match="no rubric 'conv-dimz'"):
        Router.load(None, (RubricFor.parse("week3/*=conv-dimz"),), rubrics)
    with pytest.raises(RubricError, match="rubric file not found"):
        Router.load(None, (RubricFor.parse("week3/*=missing.yaml"),), rubrics)
    with pytest.raises(RubricError, match="--rubric-for would never apply"):
        Router.load(rubrics / "conv-dims.yaml", (RubricFor.parse("week3/*=conv-dims"),), rubrics)


def test_a_broken_rubric_in_the_folder_is_named_not_fatal(rubrics: Path, classroom: dict[str, Found]) -> None:
    (rubrics / "draft.yaml").write_text("exercise: draft\nmatch: [\n", encoding="utf-8")
    router = Router.load(None, (), rubrics)
    assert chosen(router, classroom["week4/bob.ipynb"]) == "pool-dims"
    with pytest.raises(RubricError) as raised:
        chosen(router, classroom["other/erin.ipynb"])
    assert "draft.yaml (" in raised.value.message and "which does not load" in raised.value.message
