"""The names a reference solution defines, read from its source without running it.

`grade rubric check` holds a rubric's `model: {variable: ...}` and its variable checks to the
solution: a name the solution never binds (`modle` for `model`) grades every submission 0, and
only running the solution (`grade rubric test`, seconds to minutes) would otherwise say so.
Reading is static and generous: any binding anywhere counts (an assignment, a loop or `with`
target, an import, a def), so a name that is found may still be undefined at the end, but a name
that is not found is certainly never defined by ordinary code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.grading.submission import Submission

SHELL_OR_MAGIC = re.compile(r"^\s*[%!?]")


@dataclass(frozen=True)
class SolutionNames:
    """What a solution binds, and whether some cell could not be read (then absence proves less)."""

    names: frozenset[str]
    unreadable_cells: int


def defined_names(solution: Submission) -> SolutionNames:
    """Every name a code cell binds; IPython's `%magic` and `!shell` lines are read as blank."""
    names: set[str] = set()
    unreadable = 0
    for cell in solution.cells:
        source = "\n".join("" if SHELL_OR_MAGIC.match(line) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(source)
        except SyntaxError:
            unreadable += 1
            continue
        names.update(_bound(tree))
    return SolutionNames(frozenset(names), unreadable)


def _bound(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Global):
            found.update(node.names)
    return found
