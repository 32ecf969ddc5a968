"""Kernel side: `%load_ext grader` and `%grade` are silent no-ops in a graded run.

A student who self-checked with `%grade` leaves `%load_ext grader` and `%grade` in the notebook
they hand in. The grading kernel has no grader installed (the sandbox does not mount it), so
without this `%load_ext grader` failed with "No module named 'grader'" in every graded run and
showed in the report as the student's error. Here, before the first cell, a stand-in `grader`
module (only where no real one is importable) answers `%load_ext grader`, and `%grade` is
registered as a magic that does nothing: the grade itself is the self-check's answer. Any spelling
reaches them (`get_ipython().run_line_magic(...)` too), which rewriting the cells' text would not.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

STAND_IN = "grader"


def grade(line: str = "") -> None:
    """`%grade` in a graded run: the notebook is being graded, so there is nothing to self-check."""


def load_ipython_extension(shell: Any) -> None:
    shell.register_magic_function(grade, magic_kind="line", magic_name="grade")


def install() -> None:
    """Register `%grade` and, unless a real `grader` is importable, the stand-in module for `%load_ext`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    load_ipython_extension(shell)
    if STAND_IN in sys.modules or importlib.util.find_spec(STAND_IN) is not None:
        return
    module = types.ModuleType(STAND_IN, "the grading kernel's stand-in for the grader's %grade extension")
    module.load_ipython_extension = load_ipython_extension  # type: ignore[attr-defined]
    sys.modules[STAND_IN] = module
