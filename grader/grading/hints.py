"""Hints next to a student's traceback when a cell failed because it tried to download something.

The grader runs notebooks without network, so a course notebook's `cifar10.load_data()` or
`VGG16(weights='imagenet')` fails with "URL fetch failure ... Temporary failure in name
resolution", which tells neither the student nor the instructor what to do. The hint says why it
failed and which rubric key provides the data set or file offline (see `grader.grading.course`).
"""

from __future__ import annotations

import re

from grader.result import CellOutcome, RunFacts

NETWORK_FAILURE = re.compile(
    r"URL fetch failure|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|urlopen error|Failed to establish a new connection|getaddrinfo failed",
    re.IGNORECASE,
)
KERAS_DATASET = re.compile(
    r"keras/src/datasets/(mnist|fashion_mnist|cifar10|cifar100|imdb|reuters|boston_housing)\.py"
)
WEIGHTS_URL = re.compile(r"https?://\S+/([A-Za-z0-9_.-]+\.(?:h5|keras|npz|pth?))\b")


def explain_downloads(facts: RunFacts) -> RunFacts:
    """The run's facts with a hint on every failed cell that tried the network (and has no hint yet)."""
    cells = []
    for cell in facts.cells:
        hint = download_hint(cell) if cell.hint is None else None
        cells.append(cell.model_copy(update={"hint": hint}) if hint else cell)
    return facts.model_copy(update={"cells": tuple(cells)})


def download_hint(cell: CellOutcome) -> str | None:
    text = f"{cell.error_value or ''}\n{cell.traceback or ''}"
    if cell.status != "error" or not NETWORK_FAILURE.search(text):
        return None
    why = "The grader runs notebooks without network access, so this download failed."
    dataset = KERAS_DATASET.search(text)
    if dataset:
        name = dataset.group(1)
        return (
            f"{why} The rubric can provide Keras' {name} data set offline: `datasets: {{{name}: {{}}}}` "
            f"(from the grader's Keras cache) or `datasets: {{{name}: {{npz: FILE}}}}`; "
            "ask your instructor, your code need not change."
        )
    weights = WEIGHTS_URL.search(text)
    if weights and ("applications" in text or weights.group(1).endswith(".h5")):
        return (
            f"{why} The rubric can provide the pretrained weights offline: `weights: [{weights.group(1)}]`, "
            "from the grader's Keras cache (~/.keras/models); ask your instructor, your code need not change."
        )
    return (
        f"{why} Files the notebook needs can be handed out with the rubric's `files:` (copied beside the "
        "notebook) or `assets:` (mounted read-only where the notebook reads them)."
    )
