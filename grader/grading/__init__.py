"""One submission, graded: the pipeline's stages, in the order they run.

`submission` (read the file) → `migration` (scan for Keras 2 idioms) → `course` and `datasets`
(the data the notebook and the checks read) → `prelude` (the kernel's set-up cell) → `run` (one
sandboxed kernel through nbclient) → `probe` and `artifacts` (what the kernel left, read as hostile
input) → `inspector` (the sandboxed process that loads and measures the models) → `evaluate`
(held-out accuracy) → `check` (the rubric's checks) ; `grade` orchestrates them and is the entry
point (`grade.grade_submission`).
"""
