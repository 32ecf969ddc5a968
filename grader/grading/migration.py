"""Migration hints: the Keras 2 (and Keras 1) idioms in a submission, and their Keras 3 spelling.

The scan is static (ast, with a line-by-line regex fallback for cells that do not parse), runs
grader-side and executes nothing, so every report lists the legacy idioms whether or not the
compatibility layer was on. `explain_failures` adds one sentence next to a student's traceback
when the error is what Keras 3 raises for a removed Keras 2 path.
"""

from __future__ import annotations

import ast
import dataclasses
import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from grader.grading.submission import Cell
from grader.inside.kernel import idioms
from grader.inside.kernel.idioms import Idiom
from grader.result import CellOutcome, MigrationHint, RunFacts

MAGIC = re.compile(r"^\s*[%!]")
CONV_CLASSES = {"Conv2D": 2, "Convolution2D": 2, "Conv3D": 3, "Convolution3D": 3}
FILE_METHODS = {"ModelCheckpoint", "save", "save_weights", "load_weights", "load_model"}


LEGACY_MODULES: dict[str, Idiom] = {path: idiom for path, (_, idiom) in idioms.MODULES.items()}
IMAGE_DATA_GENERATOR = idioms.IMAGE_DATA_GENERATOR
GENERATOR_METHODS = idioms.GENERATOR_METHODS
LEGACY_KEYWORDS: dict[str, Idiom] = {
    **{old: idiom for old, (_, idiom) in idioms.RENAMED_FIT_KEYWORDS.items()},
    **idioms.KERAS1_FIT_KEYWORDS,
    **{old: idiom for old, (_, idiom) in idioms.KERAS1_LAYER_KEYWORDS.items()},
}
CHECKPOINT_PERIOD = idioms.CHECKPOINT_PERIOD
HISTORY_KEYS: dict[str, Idiom] = {old: idiom for old, (_, idiom) in idioms.HISTORY_KEYS.items()}
HDF5_PATH = idioms.HDF5_PATH
CONVOLUTION2D = idioms.CONVOLUTION2D
IMRESIZE = idioms.IMRESIZE


IMAGE_MODULE = idioms.IMAGE_MODULE
DOTTED_PARTS = max(len(path.split(".")) for path in (*LEGACY_MODULES, IMAGE_MODULE))
PARSE_FAILURES = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass(frozen=True)
class Finding:
    """An idiom on a line of a cell; `details` gives the idiom and the text it was found in.

    The details are worked out only for the first finding of an idiom on a line (the one that
    becomes a hint): reading the text costs a slice of its line, and repeating that for every
    finding made the scan quadratic in the source.
    """

    line: int
    idiom: str
    details: Callable[[], tuple[Idiom, str]]


class _Lines:
    """The lines of a cell's code, split once so that a node's text costs its own line, not the cell."""

    def __init__(self, code: str) -> None:
        self.lines = code.split("\n")

    def first_line(self, node: ast.stmt | ast.expr) -> str:
        """`ast.get_source_segment(code, node).splitlines()[0]`, which re-splits the whole code per call.

        The code reaching here has only `\\n` line breaks (`_scan_source` rejoined its lines), and ast
        offsets are UTF-8 byte offsets.
        """
        if node.end_lineno is None or node.end_col_offset is None:
            return ""
        line = self.lines[node.lineno - 1].encode()
        end = node.end_col_offset if node.end_lineno == node.lineno else None
        return line[node.col_offset : end].decode()


def scan(cells: Iterable[Cell]) -> tuple[MigrationHint, ...]:
    """Every legacy idiom in the cells, in source order, one hint per idiom per line.

    Linear in the source: it runs grader-side before any time limit, on submissions of up to
    `MAX_SUBMISSION_BYTES` (benchmarks/scan_benchmark.py).
    """
    hints: list[MigrationHint] = []
    seen: set[tuple[int, int, str]] = set()
    for cell in cells:
        for finding in _scan_source(cell.source):
            key = (cell.number, finding.line, finding.idiom)
            if key in seen:
                continue
            seen.add(key)
            idiom, found = finding.details()
            hints.append(
                MigrationHint(
                    cell=cell.number, line=finding.line, idiom=idiom.name, found=found, keras3=idiom.keras3
                )
            )
    return tuple(sorted(hints, key=lambda h: (h.cell, h.line)))


def _scan_source(source: str) -> Iterator[Finding]:
    """The idioms in one cell, from its syntax tree; line by line where there is no tree to read.

    Besides a syntax error, `ast.parse` refuses nesting deeper than its recursion limit
    (RecursionError, MemoryError) and, on some Python versions, a NUL byte (ValueError): a student
    can write any of them.
    """
    code = "\n".join("" if MAGIC.match(line) else line for line in source.splitlines())
    with _without_cycle_collection():
        try:
            tree = ast.parse(code)
        except PARSE_FAILURES:
            yield from _scan_lines(code)
            return
        lines = _Lines(code)
        for node in ast.walk(tree):
            yield from _scan_node(node, lines)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while a syntax tree is built and walked.

    A tree has no reference cycles (nodes do not point to their parents), yet the collector
    traverses the millions of nodes of a large submission again and again as they are allocated:
    with it on, the scan of a 5 MB source takes twice as long.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _at(node: ast.stmt | ast.expr, idiom: Idiom, lines: _Lines) -> Finding:
    return Finding(node.lineno, idiom.name, lambda: (idiom, lines.first_line(node)))


def _scan_node(node: ast.AST, lines: _Lines) -> Iterator[Finding]:
    if isinstance(node, ast.ImportFrom) and node.module:
        for name in (alias.name for alias in node.names):
            full = f"{node.module}.{name}"
            if node.module in LEGACY_MODULES:
                yield _at(node, LEGACY_MODULES[node.module], lines)
                break
            if full in LEGACY_MODULES:
                yield _at(node, LEGACY_MODULES[full], lines)
            if node.module == IMAGE_MODULE and name == "ImageDataGenerator":
                yield _at(node, IMAGE_DATA_GENERATOR, lines)
            if name in ("Convolution2D",):
                yield _at(node, CONVOLUTION2D, lines)
            if full == IMRESIZE.name:
                yield _at(node, IMRESIZE, lines)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in LEGACY_MODULES:
                yield _at(node, LEGACY_MODULES[alias.name], lines)
    elif isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        if dotted in LEGACY_MODULES:
            yield _at(node, LEGACY_MODULES[dotted], lines)
        if dotted == IMRESIZE.name:
            yield _at(node, IMRESIZE, lines)
        if node.attr in GENERATOR_METHODS:
            yield _at(node, GENERATOR_METHODS[node.attr], lines)
        if node.attr == "ImageDataGenerator" and _dotted(node.value) == IMAGE_MODULE:
            yield _at(node, IMAGE_DATA_GENERATOR, lines)
    elif isinstance(node, ast.Call):
        yield from _scan_call(node, lines)
    elif isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and key.value in HISTORY_KEYS:
            yield _at(node, HISTORY_KEYS[str(key.value)], lines)


def _scan_call(node: ast.Call, lines: _Lines) -> Iterator[Finding]:
    name = _called_name(node.func)
    for keyword in node.keywords:
        if keyword.arg in LEGACY_KEYWORDS:
            yield _at(node, LEGACY_KEYWORDS[keyword.arg], lines)
        if keyword.arg == "period" and name == "ModelCheckpoint":
            yield _at(node, CHECKPOINT_PERIOD, lines)
    if name in CONV_CLASSES:
        if name == "Convolution2D":
            yield _at(node, CONVOLUTION2D, lines)
        rank = CONV_CLASSES[name]
        sizes = node.args[1 : 1 + rank]
        if len(sizes) == rank and all(_is_int(a) for a in sizes):
            yield Finding(
                node.lineno,
                f"{name}(filters, rows, cols) (Keras 1)",
                lambda: (_keras1_convolution(name, node, sizes, lines), lines.first_line(node)),
            )
    if name in FILE_METHODS:
        paths = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "filepath")]
        if any(isinstance(p, ast.Constant) and str(p.value).endswith(".hdf5") for p in paths):
            yield _at(node, HDF5_PATH, lines)


def _keras1_convolution(name: str, node: ast.Call, sizes: list[ast.expr], lines: _Lines) -> Idiom:
    """Keras 1's `Conv2D(filters, rows, cols)`, which Keras 3 reads as (filters, kernel_size, strides)."""
    numbers = ", ".join(str(a.value) for a in sizes if isinstance(a, ast.Constant))
    try:
        filters = ast.unparse(node.args[0])
    except RecursionError:
        filters = lines.first_line(node.args[0])
    return dataclasses.replace(
        idioms.KERAS1_CONVOLUTION,
        name=f"{name}(filters, rows, cols) (Keras 1)",
        keras3=f"{name}({filters}, ({numbers})): Keras 3 reads the last positional number as the strides",
    )


def _is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool)


def _called_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _dotted(node: ast.AST) -> str:
    """`keras.layers.core` for that chain of attributes; "" for anything longer than a legacy path.

    Bounded so that a chain of n attributes costs n steps, not n of them per attribute.
    """
    attributes: list[str] = []
    while isinstance(node, ast.Attribute):
        if len(attributes) == DOTTED_PARTS - 1:
            return ""
        attributes.append(node.attr)
        node = node.value
    return ".".join((node.id, *reversed(attributes))) if isinstance(node, ast.Name) else ""


NP_UTILS_IMPORT = re.compile(r"\bfrom\s+keras\.utils\s+import\s+")
NP_UTILS_NAME = re.compile(r"\bnp_utils\b")


def _imports_np_utils(line: str) -> bool:
    """`from keras.utils import ..., np_utils`: one search per part, since `import\\s+.*\\bnp_utils\\b`
    backtracks once per `from keras.utils import` on a line, quadratic in the line.
    """
    start = NP_UTILS_IMPORT.search(line)
    return start is not None and NP_UTILS_NAME.search(line, start.end()) is not None


LINE_PATTERNS: tuple[tuple[Callable[[str], object], Idiom], ...] = (
    *((re.compile(rf"\b{re.escape(module)}\b").search, idiom) for module, idiom in LEGACY_MODULES.items()),
    (_imports_np_utils, LEGACY_MODULES["keras.utils.np_utils"]),
    (re.compile(r"\bImageDataGenerator\b").search, IMAGE_DATA_GENERATOR),
    *((re.compile(rf"\.{method}\s*\(").search, idiom) for method, idiom in GENERATOR_METHODS.items()),
    *((re.compile(rf"\b{keyword}\s*=").search, idiom) for keyword, idiom in LEGACY_KEYWORDS.items()),
    *((re.compile(rf"""\[\s*['"]{key}['"]\s*\]""").search, idiom) for key, idiom in HISTORY_KEYS.items()),
    (re.compile(r"""['"][^'"]*\.hdf5['"]""").search, HDF5_PATH),
    (re.compile(r"\bimresize\b").search, IMRESIZE),
)


def _scan_lines(code: str) -> Iterator[Finding]:
    """For a cell that does not parse: the idioms a regex can see, line by line."""
    for number, line in enumerate(code.splitlines(), start=1):
        for matches, idiom in LINE_PATTERNS:
            if matches(line):
                yield _on_line(number, idiom, line)


def _on_line(number: int, idiom: Idiom, line: str) -> Finding:
    return Finding(number, idiom.name, lambda: (idiom, line.strip()))


# ---- explaining failures ---------------------------------------------------------------------


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(re.escape(name) for name in names)


MODULE_FAILURE = re.compile(
    rf"No module named '({_alternatives(idioms.MODULES)})'|cannot import name '(np_utils)'"
)
IMAGE_FAILURE = re.compile(rf"cannot import name '({_alternatives(idioms.IMAGE_NAMES)})'")
METHOD_FAILURE = re.compile(rf"has no attribute '({_alternatives(idioms.GENERATOR_METHODS)})'")
FIT_KEYWORD_FAILURE = re.compile(
    rf"unexpected keyword argument '({_alternatives([*idioms.RENAMED_FIT_KEYWORDS, *idioms.KERAS1_FIT_KEYWORDS])})'"
)
LAYER_KEYWORD_FAILURE = re.compile(
    rf"Unrecognized keyword arguments passed to \w+: \{{'({_alternatives(idioms.KERAS1_LAYER_KEYWORDS)})'"
)
MISSING_ARGUMENT = re.compile(r"missing 1 required positional argument: '(\w+)'")
PERIOD_FAILURE = re.compile(r"ModelCheckpoint.*unexpected keyword argument 'period'")
HDF5_FAILURE = re.compile(r"filepath provided must end in `\.keras`|must end in `\.weights\.h5`")
IMRESIZE_FAILURE = re.compile(
    r"module 'scipy\.misc' has no attribute 'imresize'|cannot import name 'imresize'|No module named 'scipy\.misc'"
)
KEYERROR_HISTORY = {f"'{old}'": f"'{new}'" for old, (new, _) in idioms.HISTORY_KEYS.items()}
EXPLAINED_ERRORS = ("ModuleNotFoundError", "ImportError", "AttributeError", "TypeError", "ValueError")


def explain(outcome: CellOutcome, *, compat: bool = False) -> str | None:
    """One sentence when the cell's error is Keras 3 refusing a Keras 2 idiom; None otherwise.

    With the compatibility layer on, 'acc' is aliased, so a KeyError for it means something else
    (e.g. the empty history of a fit that loaded a checkpoint) and gets no migration sentence.
    """
    if outcome.error_name is None or outcome.error_value is None:
        return None
    value = outcome.error_value
    if outcome.error_name == "KeyError" and value in KEYERROR_HISTORY and not compat:
        return (
            f"Keras 3 records accuracy in the history as {KEYERROR_HISTORY[value]}, not {value} "
            "(the Keras 2 name)."
        )
    if outcome.error_name not in EXPLAINED_ERRORS:
        return None
    if IMRESIZE_FAILURE.search(value) and "imresize" in f"{outcome.source}\n{outcome.traceback or ''}":
        return (
            "`scipy.misc.imresize` was removed in SciPy 1.3 (2019), after this notebook was written: resize "
            f"with {IMRESIZE.keras3.split(': ')[0]}, or ask your instructor to grade with `compat: keras2`, "
            "which provides it as it was."
        )
    if match := MODULE_FAILURE.search(value):
        path = match.group(1) or "keras.utils.np_utils"
        replacement, idiom = idioms.MODULES[path]
        if replacement == "keras.layers":
            return (
                f"`{path}` is a Keras 2 module path that Keras 3 removed: import the layers from "
                f"`keras.layers` instead (`{idiom.keras3}`)."
            )
        return f"`{path}` was removed in Keras 3: write `{idiom.keras3}` instead."
    if IMAGE_FAILURE.search(value):
        return (
            f"Keras 3 removed `{idioms.IMAGE_DATA_GENERATOR.name}`: augment with "
            f"{idioms.IMAGE_DATA_GENERATOR.keras3} instead."
        )
    if match := METHOD_FAILURE.search(value):
        method = match.group(1)
        return f"Keras 3 removed `{method}`: pass the generator to `{idioms.GENERATOR_METHODS[method].keras3}` instead."
    if PERIOD_FAILURE.search(value):
        return f"Keras 3's ModelCheckpoint has no `period=`: write {idioms.CHECKPOINT_PERIOD.keras3}."
    if match := FIT_KEYWORD_FAILURE.search(value):
        return _keyword_sentence(match.group(1))
    if match := LAYER_KEYWORD_FAILURE.search(value):
        return _keyword_sentence(match.group(1))
    if match := MISSING_ARGUMENT.search(value):
        return _missing_argument_sentence(match.group(1), outcome)
    if HDF5_FAILURE.search(value):
        return (
            "Keras 3 does not save checkpoints to `.hdf5` files: name the file `.keras` (whole model) or "
            "`.weights.h5` (with save_weights_only=True)."
        )
    return None


def _keyword_sentence(old: str) -> str:
    idiom = LEGACY_KEYWORDS[old]
    if old in idioms.RENAMED_FIT_KEYWORDS:
        return f"`{old}=` is the Keras 1 spelling that Keras 3 no longer accepts: write `{idiom.keras3}`."
    return f"`{old}=` is a Keras 1 argument: Keras 2 and 3 call it `{idiom.keras3}`."


def _missing_argument_sentence(argument: str, outcome: CellOutcome) -> str | None:
    """`Dense(output_dim=2)` fails for the missing `units`: the Keras 1 keyword is in the failing line."""
    text = f"{outcome.traceback or ''}\n{outcome.source}"
    for old, (new, _) in idioms.KERAS1_LAYER_KEYWORDS.items():
        if new == argument and re.search(rf"\b{re.escape(old)}\s*=", text):
            return _keyword_sentence(old)
    return None


def explain_failures(facts: RunFacts, *, compat: bool = False) -> RunFacts:
    """The run's facts with a migration sentence on every cell whose error a Keras 2 idiom caused."""
    cells = []
    for cell in facts.cells:
        sentence = explain(cell, compat=compat) if cell.hint is None else None
        cells.append(cell.model_copy(update={"hint": sentence}) if sentence else cell)
    return facts.model_copy(update={"cells": tuple(cells)})
