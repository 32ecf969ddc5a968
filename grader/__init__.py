"""grader: autograding for Keras deep-learning exercises.

Folders by wing (ARCHITECTURE.md has the tree): `rubric` (the instructor's vocabulary), `grading`
(one submission, its stages in order), `sandbox` and `inside` (the wall and what runs behind it),
`render`, `authoring`, `outputs` and `batch` (a class), and `cli` on top.

`%load_ext grader` in a notebook registers `%grade`, a self-check of the running kernel
(`grader.magic`); it is imported only then, so `import grader` stays cheap.
"""

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """IPython's hook for `%load_ext grader`."""
    from grader.magic import load_ipython_extension as load

    load(ipython)
