"""Code that runs inside the student's kernel, on the far side of the trust boundary.

Everything in this package is executed in the student's (sandboxed) process, never imported by
the kernel from the grader's installation (which the sandbox does not mount): `cell_source`
reads these modules' source files and writes the one cell that installs them in the kernel as a
package named `grader_kernel`, then calls one function with JSON arguments. That is the only way
grader code enters a kernel. The modules import nothing from the grader side (a test enforces
it): only the standard library at module level, and what the student's kernel already has
(Keras, NumPy) inside functions. What they leave behind is untrusted input to the grader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PACKAGE = "grader_kernel"
HERE = Path(__file__).resolve().parent

LOADER = """\
def _grader_kernel_call(sources, entry, arguments):
    import json, sys, types
    package = sys.modules.get({package!r})
    if package is None:
        package = types.ModuleType({package!r})
        package.__path__ = []
        sys.modules[{package!r}] = package
    for name, source in sources:
        full = {package!r} + "." + name
        module = types.ModuleType(full)
        module.__package__ = {package!r}
        module.__file__ = "<" + full + ">"
        sys.modules[full] = module
        setattr(package, name, module)
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    module_name, function = entry.rsplit(".", 1)
    getattr(sys.modules[{package!r} + "." + module_name], function)(**json.loads(arguments))
"""


def cell_source(entry: str, arguments: dict[str, Any], modules: tuple[str, ...]) -> str:
    """The cell that installs `modules` (names in this package, dependencies first) and calls `entry`.

    `entry` is "module.function"; `arguments` travel as one JSON string literal, so no value can
    change the cell's code (a rubric variable named `null_params` stays `null_params`). The cell
    binds no name in the student's namespace once it has run.
    """
    sources = [(name, (HERE / f"{name}.py").read_text(encoding="utf-8")) for name in modules]
    return (
        LOADER.format(package=PACKAGE)
        + f"_grader_kernel_call({sources!r}, {entry!r}, {json.dumps(arguments)!r})\n"
        + "del _grader_kernel_call\n"
    )
