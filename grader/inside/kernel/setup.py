"""Kernel side: the grader's set-up cell, run before the student's first cell (see `grader.grading.prelude`).

`install(config)` makes package installers fail at once (below), makes `%load_ext grader` and
`%grade` silent no-ops (`selfcheck`), caps the GPU memory of this
kernel (before anything starts TensorFlow's GPU runtime), seeds, then, as the rubric and the
command line ask, makes the Keras 2 idioms work, answers the course's data sets offline, and
applies the training budget. `config` is {seed, import_keras, compat, max_epochs, max_steps,
checkpoint, course, gpu_memory_mb}.
"""

from __future__ import annotations

import os
from typing import Any

from . import budget, course, gpu, keras2, seeding, selfcheck

OFFLINE_INSTALLERS = {
    "PIP_NO_INDEX": "1",
    "PIP_RETRIES": "0",
    "PIP_TIMEOUT": "1",
    "PIP_NO_INPUT": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "UV_OFFLINE": "1",
}
"""The kernel has no network: without these, `!pip install x` retries each download five times
with back-off and `%pip` asks pip's index again for each requirement, spending the notebook's time
on a wait that cannot succeed. Set in this process's environment, they reach every `!pip` and
`%pip` subprocess, which then fails at once ("no matching distribution") or finds the package
already installed. The grader adds a note beside such a cell (`grader.grading.shell_hints`)."""


def install(config: dict[str, Any]) -> None:
    os.environ.update(OFFLINE_INSTALLERS)
    selfcheck.install()
    gpu.cap_memory(config.get("gpu_memory_mb"))
    keras = seeding.seed(int(config.get("seed", 0)), bool(config.get("import_keras")))
    course.install(config.get("course") or {}, keras)
    if keras is None:
        return
    if config.get("compat") == "keras2":
        keras2.install(keras)
    budget.install(keras, config)
