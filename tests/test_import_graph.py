"""The package's import graph: no cycles, and no import that runs back up the house.

Built from the source (every `import`, at module level or inside a function), so an import hidden
in a function to dodge a cycle is still an edge. The one edge left out is IPython's `%load_ext grader`
hook in `grader/__init__.py`, which must import the self-check to register it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
HOOK = ("grader", "grader.magic")

# Which wings a wing may import from, besides itself, the shared top-level modules and `inside`
# (whose schemas both sides of the wall read). What runs behind the wall imports nothing else.
SHARED = {"errors", "result", "text", "debugging", "inside"}
MAY_IMPORT = {
    "rubric": set(),
    "render": {"rubric"},
    "sandbox": {"rubric"},
    "grading": {"rubric", "sandbox", "inside", "render"},
    "outputs": {"rubric", "grading", "render", "authoring"},
    "authoring": {"rubric", "grading", "render"},
    "batch": {"rubric", "grading", "sandbox", "inside", "render", "outputs"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("grader")
            ):
                assert node.module is not None
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("grader")]
            for target in targets:
                resolved = known(target)
                if resolved is not None and resolved != name and (name, resolved) != HOOK:
                    graph[name].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("lower", sorted(MAY_IMPORT))
def test_no_import_runs_back_up_the_house(lower: str) -> None:
    allowed = MAY_IMPORT[lower] | {lower} | SHARED
    upward = [
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        if wing(source) == lower
        for target in targets
        if wing(target) not in allowed and target != "grader"
    ]
    assert upward == []


def test_nothing_behind_the_wall_imports_the_grader() -> None:
    outward = [
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        if wing(source) == "inside"
        for target in targets
        if wing(target) != "inside"
    ]
    assert outward == []


def test_the_top_of_the_package_holds_few_modules() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(top) <= 10, top
