"""Hints next to a traceback whose error message does not say what the notebook did to cause it.

The grader runs notebooks without network, so a course notebook's `cifar10.load_data()` or
`VGG16(weights='imagenet')` fails with "URL fetch failure ... Temporary failure in name
resolution", which tells neither the student nor the instructor what to do. The hint says why it
failed and which rubric key provides the data set or file offline (see `grader.grading.course`).

A reshape written for the whole data set fails once an earlier cell took a subsample; the hint
names the array, the subsample and its size (`subsample_hint`).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from grader.result import CellOutcome, RunFacts

MAGIC = re.compile(r"^\s*[%!]")

NETWORK_FAILURE = re.compile(
    r"URL fetch failure|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|urlopen error|Failed to establish a new connection|getaddrinfo failed",
    re.IGNORECASE,
)
KERAS_DATASET = re.compile(
    r"keras/src/datasets/(mnist|fashion_mnist|cifar10|cifar100|imdb|reuters|boston_housing)\.py"
)
WEIGHTS_URL = re.compile(r"https?://\S+/([A-Za-z0-9_.-]+\.(?:h5|keras|npz|pth?))\b")


def explain(facts: RunFacts) -> RunFacts:
    """The run's facts with this module's hints: a failed download, a reshape a subsample broke."""
    return explain_subsamples(explain_downloads(facts))


def explain_downloads(facts: RunFacts) -> RunFacts:
    """The run's facts with a hint on every failed cell that tried the network (and has no hint yet)."""
    cells = []
    for cell in facts.cells:
        hint = download_hint(cell) if cell.hint is None else None
        cells.append(cell.model_copy(update={"hint": hint}) if hint else cell)
    return facts.model_copy(update={"cells": tuple(cells)})


def download_hint(cell: CellOutcome) -> str | None:
    text = f"{cell.error_value or ''}\n{cell.traceback or ''}"
    if cell.status != "error" or not NETWORK_FAILURE.search(text):
        return None
    why = "The grader runs notebooks without network access, so this download failed."
    dataset = KERAS_DATASET.search(text)
    if dataset:
        name = dataset.group(1)
        return (
            f"{why} The rubric can provide Keras' {name} data set offline: `datasets: {{{name}: {{}}}}` "
            f"(from the grader's Keras cache) or `datasets: {{{name}: {{npz: FILE}}}}`; "
            "ask your instructor, your code need not change."
        )
    weights = WEIGHTS_URL.search(text)
    if weights and ("applications" in text or weights.group(1).endswith(".h5")):
        return (
            f"{why} The rubric can provide the pretrained weights offline: `weights: [{weights.group(1)}]`, "
            "from the grader's Keras cache (~/.keras/models); ask your instructor, your code need not change."
        )
    return (
        f"{why} Files the notebook needs can be handed out with the rubric's `files:` (copied beside the "
        "notebook) or `assets:` (mounted read-only where the notebook reads them)."
    )


RESHAPE_FAILURE = re.compile(r"cannot reshape array of size (\d+) into shape \(([\d,\s-]*)\)")


@dataclass(frozen=True)
class Subsample:
    """`x_small = x_train[:1000]` in cell 3: a name bound to the first `rows` rows of another array."""

    name: str
    rows: int
    cell: int
    line: str


def subsample_hint(failed: CellOutcome, cells: Iterable[CellOutcome]) -> str | None:
    """Why a reshape failed after the notebook cut its data down, naming the array and its new size.

    Subsampling (`x_train = x_train[:1000]`) to train faster, then reshaping with the full data
    set's size (`x_train.reshape((60000, 28, 28, 1))`) fails with numpy's "cannot reshape array of
    size 784000 into shape (60000,28,28,1)", which names neither the array nor the subsample. A
    static look at the cells up to the failing one finds the subsample; the sizes in the message
    confirm it, so the hint is only given when the numbers agree.
    """
    match = RESHAPE_FAILURE.search(failed.error_value or "") if failed.status == "error" else None
    if match is None:
        return None
    size = int(match.group(1))
    shape = tuple(int(part) for part in match.group(2).replace(" ", "").split(",") if part)
    if not shape or any(d <= 0 for d in shape[1:]):
        return None
    row = math.prod(shape[1:])
    if row == 0 or size % row or size // row == shape[0]:
        return None
    rows = size // row
    earlier = [c for c in cells if c.number <= failed.number]
    found = [s for s in _subsamples(earlier) if s.rows == rows]
    if not found:
        return None
    reshaped = set(_reshaped_names(failed.source))
    named = [s for s in found if s.name in reshaped] or found
    cut = named[-1]
    tail = ", ".join(str(d) for d in shape[1:])
    return (
        f"`{cut.name}` holds {rows:,} rows since cell {cut.cell} took a subsample (`{cut.line}`), but this "
        f"reshape asks for {shape[0]:,} rows, the size of the whole data set. Let the first dimension follow "
        f"the data: `{cut.name}.reshape((-1, {tail}))`."
    )


def explain_subsamples(facts: RunFacts) -> RunFacts:
    """The run's facts with a hint on a failed reshape that a subsample of the data explains."""
    cells = []
    for cell in facts.cells:
        hint = subsample_hint(cell, facts.cells) if cell.hint is None else None
        cells.append(cell.model_copy(update={"hint": hint}) if hint else cell)
    return facts.model_copy(update={"cells": tuple(cells)})


def _subsamples(cells: Iterable[CellOutcome]) -> Iterator[Subsample]:
    """Every `a = b[:N]` (or `b[M:N]`, `b[:N, ...]`, `a, c = b[:N], d[:N]`) in the cells, N a number or a name bound to one."""
    numbers: dict[str, int] = {}
    for cell in cells:
        tree = _parse(cell.source)
        if tree is None:
            continue
        lines = cell.source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign):
                continue
            for target, value in _pairs(node):
                if isinstance(value, ast.Constant) and type(value.value) is int:
                    numbers[target] = value.value
                    continue
                rows = _rows_taken(value, numbers)
                if rows is not None:
                    line = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else target
                    yield Subsample(name=target, rows=rows, cell=cell.number, line=line)


def _pairs(node: ast.Assign) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) for `a = v` and for each element of `a, b = v, w`."""
    for target in node.targets:
        if isinstance(target, ast.Name):
            yield target.id, node.value
        elif (
            isinstance(target, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(target.elts) == len(node.value.elts)
        ):
            for element, value in zip(target.elts, node.value.elts, strict=True):
                if isinstance(element, ast.Name):
                    yield element.id, value


def _rows_taken(value: ast.expr, numbers: dict[str, int]) -> int | None:
    """N for `b[:N]`, N - M for `b[M:N]`, with the first index of a tuple subscript read the same way."""
    if not isinstance(value, ast.Subscript):
        return None
    index = value.slice
    if isinstance(index, ast.Tuple) and index.elts:
        index = index.elts[0]
    if not isinstance(index, ast.Slice) or index.step is not None:
        return None
    start = 0 if index.lower is None else _number(index.lower, numbers)
    stop = None if index.upper is None else _number(index.upper, numbers)
    if start is None or stop is None or start < 0 or stop <= start:
        return None
    return stop - start


def _number(node: ast.expr, numbers: dict[str, int]) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return numbers.get(node.id)
    return None


def _reshaped_names(source: str) -> Iterator[str]:
    """The arrays a cell reshapes: `a.reshape(...)` and `np.reshape(a, ...)`."""
    tree = _parse(source)
    if tree is None:
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr != "reshape":
            continue
        if isinstance(node.func.value, ast.Name) and node.func.value.id not in ("np", "numpy", "tf"):
            yield node.func.value.id
        elif node.args and isinstance(node.args[0], ast.Name):
            yield node.args[0].id


def _parse(source: str) -> ast.Module | None:
    """A cell's syntax tree, magics blanked; None for a cell Python cannot read."""
    code = "\n".join("" if MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
