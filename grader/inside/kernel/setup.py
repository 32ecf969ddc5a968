"""Kernel side: the grader's set-up cell, run before the student's first cell (see `grader.grading.prelude`).

`install(config)` caps the GPU memory of this kernel (before anything starts TensorFlow's GPU
runtime), seeds, then, as the rubric and the command line ask, makes the Keras 2 idioms work,
answers the course's data sets offline, and applies the training budget. `config` is {seed,
import_keras, compat, max_epochs, max_steps, checkpoint, course, gpu_memory_mb}.
"""

from __future__ import annotations

from typing import Any

from . import budget, course, gpu, keras2, seeding


def install(config: dict[str, Any]) -> None:
    gpu.cap_memory(config.get("gpu_memory_mb"))
    keras = seeding.seed(int(config.get("seed", 0)), bool(config.get("import_keras")))
    course.install(config.get("course") or {}, keras)
    if keras is None:
        return
    if config.get("compat") == "keras2":
        keras2.install(keras)
    budget.install(keras, config)
