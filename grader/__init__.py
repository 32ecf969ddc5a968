"""grader: autograding for Keras deep-learning exercises.

The pipeline, one module per stage: `rubric` -> `submission` -> `run` (with `sandbox` and
`probe`) -> `inspect` -> `check` -> `report`, orchestrated by `grade` and driven by `cli`.

`%load_ext grader` in a notebook registers `%grade`, a self-check of the running kernel
(`grader.magic`); it is imported only then, so `import grader` stays cheap.
"""

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """IPython's hook for `%load_ext grader`."""
    from grader.magic import load_ipython_extension as load

    load(ipython)
