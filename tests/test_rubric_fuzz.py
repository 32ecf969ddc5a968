"""Fuzzing `parse_rubric`: whatever the text, the result is a `Rubric` or a `RubricError`, nothing else.

Three generators, from blind to informed: any text; any YAML document built from mappings,
lists and scalars; and a valid rubric with one part replaced by anything. The last reaches the
deepest code (union errors, key paths, line lookup) because most of the document still validates.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from grader.errors import RubricError
from grader.rubric.model import Rubric, parse_rubric

from .conftest import REPO, examples

FUZZ = settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = (
    "exercise", "title", "description", "model", "limits", "checks", "id", "points", "partial", "layers",
    "total_params", "output_shape", "variable", "type", "filters", "kernel_size", "strides", "padding",
    "activation", "units", "pool_size", "rate", "params", "name", "equals", "tolerance", "min", "max",
    "input_shape", "timeout", "cell_timeout", "memory_mb", "processes", "output_kb", "disk_mb",
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(KEYS),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers(), st.booleans())
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=40,
)


def dump(data: Any) -> str:
    stream = io.StringIO()
    YAML(typ="rt").dump(data, stream)
    return stream.getvalue()


def parses_or_explains(text: str) -> None:
    try:
        rubric = parse_rubric(text, source="fuzz.yaml")
    except RubricError as exc:
        assert exc.message.startswith("fuzz.yaml"), "every error names the file"
        return
    assert isinstance(rubric, Rubric)


VALID = YAML(typ="safe").load((REPO / "rubrics" / "conv-dims.yaml").read_text())


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a parsed YAML document, the document itself included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], rest, value)}
    copy = list(document)
    copy[head] = replaced(copy[head], rest, value)
    return copy


@FUZZ
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    parses_or_explains(text)


@FUZZ
@given(structures)
def test_any_yaml_structure(data: Any) -> None:
    parses_or_explains(dump(data))


@FUZZ
@given(st.sampled_from(paths(VALID)), structures)
def test_valid_rubric_with_one_part_replaced(path: tuple[Any, ...], value: Any) -> None:
    parses_or_explains(dump(replaced(VALID, path, value)))


@FUZZ
@given(st.sampled_from(paths(VALID)[1:]), st.sampled_from(KEYS), structures)
def test_valid_rubric_with_a_key_added_beside_one(path: tuple[Any, ...], key: str, value: Any) -> None:
    parent = path[:-1]
    node = VALID
    for part in parent:
        node = node[part]
    if isinstance(node, dict):
        parses_or_explains(dump(replaced(VALID, parent, {**node, key: value})))


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000,
        "a: " + "{" * 3000,
        "&loop [*loop]",
        "exercise: x\ntitle: t\nchecks: &c [{id: a, points: 1, layers: *c}]",
        "checks: !!python/object/apply:os.system [echo pwned]",
        "\x00",
        "--- a\n--- b\n",
        "A: 1\nint: 2\nRange: 3",
    ],
    ids=[
        "deep-list",
        "deep-unclosed",
        "self-alias",
        "recursive-checks",
        "python-tag",
        "nul",
        "two-docs",
        "tag-like-keys",
    ],
)
def test_nasty_documents(text: str) -> None:
    parses_or_explains(text)


def test_deep_nesting_is_refused_at_the_level_that_goes_too_deep() -> None:
    """Before: ruamel recursed until Python's limit and the message was 'maximum recursion depth exceeded'."""
    with pytest.raises(RubricError) as refused:
        parse_rubric("exercise: x\nchecks: " + "[" * 5000 + "]" * 5000, source="deep.yaml")
    assert refused.value.message == "deep.yaml:2:108: not valid YAML: nested more than 100 levels deep"
    assert "unclosed brackets" in (refused.value.hint or "")
    nested = "a: " + "[" * 50 + "]" * 50 + "\n"
    with pytest.raises(RubricError) as validated:
        parse_rubric(nested, source="fine.yaml")
    assert "not valid YAML" not in validated.value.message, "50 levels is YAML, only not a rubric"


def test_the_unchanged_rubric_parses() -> None:
    assert parse_rubric(dump(VALID)).exercise == "conv-dims"
