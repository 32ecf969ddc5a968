"""Which `keras.applications` base a nested model is, told by its structure, not by its name.

A transfer-learning model nests a pretrained base (`VGG16(include_top=False)`) as one layer. The
rubric names the base (`type: VGG16`), and the student may rename it, while anyone may call any
model "vgg16". So a nested model is identified by the layers it is made of: their classes in
order, their windows (kernel size, strides, padding, pool size, dilation) and the names the
application gives them itself (`block1_conv1`, `conv2_block1_1_conv`); the numbers of filters
and units are left out, since MobileNet's `alpha` scales them (a rubric pins them with `params`).
What follows the features tells `include_top` (the application's classification layers) and
`pooling` (one global pooling layer). The table is generated from the installed Keras
(`bases_build`) and kept behind the inspector's wall, which imports nothing of the grader's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from grader.inside.inspector import bases_table

GEOMETRY = ("kernel_size", "strides", "padding", "pool_size", "dilation_rate")
"""The settings of a layer that are the application's own whatever its width (`alpha`) or input."""
POOLINGS = {"GlobalAveragePooling2D": "avg", "GlobalMaxPooling2D": "max"}


class Base(NamedTuple):
    """One application: how many feature layers, which of their names are its own, their digest; the same of its top."""

    size: int
    names: str
    digest: str
    top_count: int
    top_names: str
    top_digest: str


TABLE: dict[str, Base] = {name: Base(*row) for name, row in bases_table.BASES.items()}


def own_layers(model: Any) -> list[Any]:
    """The model's layers without its input layer (a saved model's input layer carries no structure)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def digest(layers: Sequence[Any], names: str) -> str:
    """SHA-256 of the layers' classes and windows in order, with the names `names` marks ("1") as the application's own."""
    described = [_describe(layer, keep == "1") for layer, keep in zip(layers, names, strict=True)]
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _describe(layer: Any, named: bool) -> list[Any]:
    try:
        config = layer.get_config()
    except Exception:
        config = {}
    window = {
        key: list(value) if isinstance(value, tuple | list) else value
        for key in GEOMETRY
        if isinstance(value := config.get(key), str | int | tuple | list)
        and (key != "padding" or isinstance(value, str))
    }
    return [type(layer).__name__, str(layer.name) if named else "", window]


def identify(model: Any) -> dict[str, Any] | None:
    """`{"application": "VGG16", "include_top": False, "pooling": None}` for a model that is that base; else None."""
    layers = own_layers(model)
    for name, base in TABLE.items():
        if len(layers) < base.size or digest(layers[: base.size], base.names) != base.digest:
            continue
        rest = layers[base.size :]
        if len(rest) == base.top_count and digest(rest, base.top_names) == base.top_digest:
            return {"application": name, "include_top": True, "pooling": None}
        if not rest:
            return {"application": name, "include_top": False, "pooling": None}
        if len(rest) == 1 and type(rest[0]).__name__ in POOLINGS:
            return {"application": name, "include_top": False, "pooling": POOLINGS[type(rest[0]).__name__]}
    return None
