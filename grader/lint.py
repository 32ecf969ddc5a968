"""`grade rubric check`: validate a rubric, then find the mistakes validation cannot see.

A rubric can be valid and still wrong: points that sum to zero, tiers out of order, a layer's
expected numbers that contradict the lesson's formulas given the layers before it, a data file
that is not there. Each finding names the file, line and column, like a validation error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML

from grader import formulas
from grader.errors import RubricError
from grader.rubric import CheckSpec, Rubric, load_rubric, yaml_position

PATH_KEYS = frozenset({"npz", "files", "file", "path", "solution"})
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in a rubric, where it is, and how bad."""

    source: str
    line: int | None
    column: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.severity}: {self.message}"
        return f"{self.source}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    path: Path
    rubric: Rubric | None
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")


def lint(path: Path) -> LintReport:
    """Validate a rubric, then look for the mistakes validation cannot see."""
    try:
        loaded = load_rubric(path)
    except RubricError as exc:
        return LintReport(path, None, (_error_finding(str(path), exc),))
    raw = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    where = _Locator(str(path), raw)
    rubric = loaded.rubric
    findings = [
        *_points_findings(rubric, where),
        *_tier_findings(rubric, raw, where),
        *_formula_findings(rubric, where),
        *_path_findings(path.parent, raw, where),
    ]
    return LintReport(path, rubric, tuple(findings))


def _error_finding(source: str, exc: RubricError) -> Finding:
    """A rubric error already names file:line:col on each of its lines; keep its text whole."""
    text = exc.message + (f"\n  hint: {exc.hint}" if exc.hint else "")
    return Finding(source, None, None, "error", text)


class _Locator:
    """Line and column (1-based) of a key path in the round-trip YAML."""

    def __init__(self, source: str, data: Any) -> None:
        self.source = source
        self.data = data

    def at(self, *loc: Any) -> tuple[int, int]:
        return yaml_position(self.data, loc)

    def warn(self, message: str, *loc: Any) -> Finding:
        line, column = self.at(*loc)
        return Finding(self.source, line, column, "warning", message)


def _points_findings(rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    if rubric.max_score <= 0:
        yield where.warn("the checks' points sum to zero, so every submission scores 0/0", "checks")


def _tier_findings(rubric: Rubric, raw: Any, where: _Locator) -> Iterator[Finding]:
    """Tiers listed out of order read wrongly (the grader sorts them); a low top tier caps the check."""
    for index, check in enumerate(rubric.checks):
        if check.accuracy is None:
            continue
        loc = ("checks", index, "accuracy", "tiers")
        listed = [float(tier["min"]) for tier in raw["checks"][index]["accuracy"]["tiers"]]
        if listed != sorted(listed, reverse=True):
            yield where.warn(
                f"tiers are listed out of order (min {', '.join(f'{m:g}' for m in listed)}); the grader "
                "tries the highest first, so list them that way",
                *loc,
            )
        top = check.accuracy.tiers[0].points
        if top < check.points:
            yield where.warn(
                f"the top tier gives {top:g} of the check's {check.points:g} points, so no submission "
                "can get full marks on this check",
                *loc,
            )


def _formula_findings(rubric: Rubric, where: _Locator) -> Iterator[Finding]:
    """Chain the lesson's formulas through each layer list, from the model's input shape."""
    for index, check in enumerate(rubric.checks):
        if check.layers is not None:
            yield from _layer_chain_findings(rubric, index, check, where)


def _layer_chain_findings(rubric: Rubric, index: int, check: CheckSpec, where: _Locator) -> Iterator[Finding]:
    assert check.layers is not None
    current = rubric.model.input_shape
    all_params: list[int] = []
    for position, layer in enumerate(check.layers):
        attrs = layer.attributes()
        loc = ("checks", index, "layers", position)
        computed = formulas.expected_output(layer.type, attrs, current) if current is not None else None
        if layer.output_shape is not None and computed is not None and tuple(layer.output_shape) != computed:
            yield where.warn(
                f"layer {position + 1} ({layer.type}): output_shape {formulas.format_shape(layer.output_shape)} "
                f"contradicts the lesson's formula, which gives {formulas.format_shape(computed)} "
                f"from input {formulas.format_shape(current)}",
                *loc,
                "output_shape",
            )
        params = formulas.expected_params(layer.type, attrs, current) if current is not None else None
        if layer.params is not None and params is not None and layer.params != params[0]:
            yield where.warn(
                f"layer {position + 1} ({layer.type}): params {layer.params:,} contradicts the lesson's "
                f"formula, which gives {params[0]:,} = {params[1]} from input {formulas.format_shape(current)}",
                *loc,
                "params",
            )
        if layer.params is not None:
            all_params.append(layer.params)
        current = tuple(layer.output_shape) if layer.output_shape is not None else computed
    yield from _totals_findings(rubric, check, all_params, current, where)


def _totals_findings(
    rubric: Rubric,
    layers_check: CheckSpec,
    all_params: list[int],
    final_shape: tuple[int, ...] | None,
    where: _Locator,
) -> Iterator[Finding]:
    """A total_params or output_shape check should agree with the layer list it summarises."""
    assert layers_check.layers is not None
    complete = len(all_params) == len(layers_check.layers)
    for index, check in enumerate(rubric.checks):
        if isinstance(check.total_params, int) and complete and check.total_params != sum(all_params):
            yield where.warn(
                f"total_params {check.total_params:,} differs from the sum of the params of "
                f"`{layers_check.id}`'s layers ({sum(all_params):,})",
                "checks",
                index,
                "total_params",
            )
        if (
            check.output_shape is not None
            and final_shape is not None
            and tuple(check.output_shape) != final_shape
        ):
            yield where.warn(
                f"output_shape {formulas.format_shape(check.output_shape)} differs from the last layer of "
                f"`{layers_check.id}` ({formulas.format_shape(final_shape)})",
                "checks",
                index,
                "output_shape",
            )


def _path_findings(base: Path, raw: Any, where: _Locator) -> Iterator[Finding]:
    """Every file the rubric names (data, hand-out files, solution, examples) should exist."""
    for loc, value in _walk(raw, ()):
        names_a_path = bool(loc) and (loc[-1] in PATH_KEYS or (len(loc) > 1 and loc[-2] in PATH_KEYS))
        if names_a_path and isinstance(value, str) and value and not (base / value).exists():
            yield where.warn(f"{value!r} does not exist (paths are relative to the rubric's folder)", *loc)


def _walk(node: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield loc, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*loc, index))
