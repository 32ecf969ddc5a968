"""Pretrained bases a rubric row may name (`type: VGG16`): a nested `keras.applications` model as one row.

A transfer-learning model nests a pretrained base as one layer:

```yaml
layers:
  - {type: VGG16, include_top: false, trainable: false, non_trainable_params: 14714688}
  - {type: GlobalAveragePooling2D}
  - {type: Dense, units: 133, activation: softmax}
```

The inspector tells which application a nested model is by its structure, not its name
(`grader.inside.inspector.bases`, whose table lists the same applications), and records for its
row the settings below, so the row compares like any layer's. `layers` counts as
`len(base.layers)` does (the input layer included: 19 for VGG16 without its top); `params` and
`output_shape` may be stated as on any row.
"""

from __future__ import annotations

import difflib

from grader.inside.inspector.bases_table import BASES as STRUCTURES

BASE_SETTINGS = ("include_top", "pooling", "trainable", "layers", "trainable_params", "non_trainable_params")
"""What the inspector records of a base: how it was built (include_top, pooling) and how much of it trains."""

BASES: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (f"keras.applications.{name}", BASE_SETTINGS) for name in STRUCTURES
}
"""Rubric type -> (the constructor's full name, the settings a row may state)."""


def nearest(name: str) -> str | None:
    """The base a misspelt type most likely means, compared without case; None if none is near.

    Of equally near bases, one with the same characters in another order wins: `VGG61` is VGG16
    with two digits swapped, not VGG19.
    """
    by_lower = {base.lower(): base for base in BASES}
    near = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    swapped = [base for base in near if sorted(base) == sorted(name.lower())]
    return by_lower[(swapped or near)[0]] if near else None
