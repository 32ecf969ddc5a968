"""grader: autograding for Keras deep-learning exercises.

The pipeline, one module per stage: `rubric` -> `submission` -> `run` (with `sandbox` and
`probe`) -> `inspect` -> `check` -> `report`, orchestrated by `grade` and driven by `cli`.
"""

__version__ = "0.1.0"
