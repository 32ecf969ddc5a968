"""Notes on what a notebook asked of its environment that grading does not give it.

Read from the cells' source and how they ran, on the grader's side, after the kernel is gone:

* `!pip install x` (or `%pip`, `!conda`, `!uv pip`, `!apt-get`): the kernel has no network, and
  its set-up (`grader.inside.kernel.setup.OFFLINE_INSTALLERS`) makes pip fail at once instead of
  retrying; the note says that packages cannot be installed during grading, so the student and
  the instructor know why the cell printed an error, or why a later `import` failed.
* `KERAS_BACKEND` set to another backend (`os.environ[...] = "jax"`, `%env`, `%set_env`,
  `os.putenv`, `os.environ.setdefault`): Keras reads it once, when first imported. The grader
  cannot honour it: only TensorFlow is installed for grading (checked, not assumed) and the
  grader's set-up imports Keras before the first cell. The note says the notebook ran on
  TensorFlow and why, rather than let the numbers silently come from another backend.
* A failed cell that assigns the rubric's model variable, when a model by that name was graded
  anyway: it is the one an earlier cell bound, and the note says so (the student otherwise sees
  a grade for a model they replaced).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator, Sequence

from IPython.core.inputtransformer2 import TransformerManager

from grader.result import CellOutcome

DEFAULT_BACKEND = "tensorflow"
INSTALLER = r"(?:pip3?|conda|mamba|micromamba|apt(?:-get)?|uv\s+pip)\s+install\b"
SHELL_LINE = re.compile(rf"^\s*(?:!|%{{1,2}}(?:system|sx)\b).*?\b{INSTALLER}")
MAGIC_LINE = re.compile(rf"^\s*%{{1,2}}{INSTALLER}")
SCRIPT_CELL = re.compile(r"\A\s*%%(?:bash|sh|script\s+\w+|system)\b")
INSTALL_LINE = re.compile(rf"\b{INSTALLER}")
NAME = r"""['"]KERAS_BACKEND['"]"""
VALUE = r"""['"]([^'"\n]{1,40})['"]"""
KERAS_BACKEND = (
    re.compile(rf"environ\s*\[\s*{NAME}\s*\]\s*=\s*{VALUE}"),
    re.compile(rf"environ\.setdefault\(\s*{NAME}\s*,\s*{VALUE}"),
    re.compile(rf"putenv\(\s*{NAME}\s*,\s*{VALUE}"),
    re.compile(rf"environ\.update\([^)]*?KERAS_BACKEND\s*=\s*{VALUE}"),
    re.compile(r"^\s*%(?:set_)?env\s+KERAS_BACKEND\s*[=\s]\s*['\"]?([\w.-]{1,40})", re.MULTILINE),
)
CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
STOPPED_BEFORE_RUNNING = ("SyntaxError", "IndentationError", "TabError")


def installs(cells: Sequence[CellOutcome]) -> tuple[str, ...]:
    """A note per cell that installs packages through a shell escape or magic."""
    notes = []
    for cell in cells:
        if _installs(cell.source):
            notes.append(
                f"cell {cell.number} installs packages (`{_first_install_line(cell.source)}`): packages cannot "
                "be installed during grading, which runs without network access, so the installer failed at "
                "once; the notebook is graded with the packages installed on the grading machine (ask your "
                "instructor if it needs another)"
            )
    return tuple(notes)


def _installs(source: str) -> bool:
    """A shell escape (`!pip install`), a magic (`%pip install`) or a shell cell (`%%bash`) that installs."""
    if SCRIPT_CELL.match(source):
        return bool(INSTALL_LINE.search(source))
    return any(SHELL_LINE.match(line) or MAGIC_LINE.match(line) for line in source.splitlines())


def _first_install_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if INSTALL_LINE.search(line)), "")
    return line[:80] + ("…" if len(line) > 80 else "")


def keras_backend(cells: Sequence[CellOutcome], keras_imported_first: bool) -> tuple[str, ...]:
    """A note per cell that asks Keras for a backend other than TensorFlow, saying why it did not get it."""
    notes = []
    for cell in cells:
        for backend in dict.fromkeys(_backends(cell.source)):
            if backend.lower() == DEFAULT_BACKEND:
                continue
            reasons = []
            if not _installed(backend):
                reasons.append(f"`{backend}` is not installed on the grading machine")
            if keras_imported_first:
                reasons.append(
                    "Keras chooses its backend once, when first imported, and the grader's set-up imports "
                    "it before the notebook's first cell"
                )
            why = "; ".join(reasons) or "the grader grades every notebook on TensorFlow"
            notes.append(
                f"cell {cell.number} sets KERAS_BACKEND to `{backend}`, but the grader ran the notebook on "
                f"TensorFlow: {why}"
            )
    return tuple(notes)


def _backends(source: str) -> Iterator[str]:
    for pattern in KERAS_BACKEND:
        for found in pattern.finditer(source):
            yield found.group(1).strip()


def _installed(backend: str) -> bool:
    module = {"torch": "torch", "pytorch": "torch", "jax": "jax", "numpy": "numpy", "openvino": "openvino"}
    name = module.get(backend.lower())
    if name is None:
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def replaced_model(cells: Sequence[CellOutcome], variable: str | None, graded: str | None) -> tuple[str, ...]:
    """A note when the graded model `graded` is an earlier binding of a name a failed cell meant to rebind.

    Only where the source says so: the cell did not run at all (a syntax error), or it failed at a
    line before every assignment of the name in it (the line IPython's traceback gives).
    """
    if variable is None or graded != variable:
        return ()
    for cell in reversed(cells):
        if cell.status != "error":
            continue
        lines = _assignment_lines(cell.source, variable)
        if not lines:
            continue
        failed_at = _failing_line(cell)
        if cell.error_name in STOPPED_BEFORE_RUNNING or (failed_at is not None and failed_at <= min(lines)):
            return (
                f"cell {cell.number}, which assigns `{variable}`, failed; the model graded is the one "
                f"`{variable}` was bound to before it",
            )
        return ()
    return ()


def _failing_line(cell: CellOutcome) -> int | None:
    found = CELL_LINE.search(cell.traceback or "")
    return int(found.group(1)) if found else None


def _assignment_lines(source: str, variable: str) -> list[int]:
    """Lines of the cell's top-level code (not inside a function or class) that bind `variable`."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        pattern = re.compile(rf"^\s*{re.escape(variable)}\s*(?::[^=]+)?=(?!=)", re.MULTILINE)
        return [source.count("\n", 0, found.start()) + 1 for found in pattern.finditer(source)]
    finder = _Bindings(variable)
    finder.visit(tree)
    return finder.lines


class _Bindings(ast.NodeVisitor):
    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.lines: list[int] = []

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == self.variable and isinstance(node.ctx, ast.Store):
            self.lines.append(node.lineno)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        return None

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        return None
