"""Declared equivalences: the other spellings of a layer table an instructor accepts (`accept:`).

A layers check compares the model's rows with the rubric's one by one, so by default (strict) a
network written in another spelling than the rubric's differs by a row, even when it computes the
same function. A check's `accept:` lists the spellings that are to count as the rubric's own:

- `activation-layer`: an activation inside a layer (`Dense(10, activation="softmax")`) or as its
  own layer right after it (`Dense(10)` then `Activation("softmax")`), either way round. The layer
  must be one whose `activation` is applied to its output (Dense, the convolutions, EinsumDense;
  not a recurrent layer, whose `activation` acts inside its cell) and, in the split spelling, have
  no activation of its own (`linear`). The standalone layers that count, each only with the
  settings under which it is exactly Keras' activation of that name: `Activation(name)`,
  `Softmax()` (axis -1), `ReLU()` (no `max_value`, `negative_slope` or `threshold`), `ELU()`
  (alpha 1.0) and `LeakyReLU(negative_slope=0.2)` (Keras' `leaky_relu`; the layer's own default
  slope is 0.3, another function). `PReLU` learns its slope and is never one.
- `input-layer`: the model's input written as an `InputLayer` row of the rubric. The inspector
  measures a model's input as its input shape, never as a row, so `Input((8, 8, 1))` in the list,
  `keras.Input` in a functional model and `input_shape=` on the first layer already measure the
  same; what this form adds is that a rubric row `{type: InputLayer, shape: [8, 8, 1]}` is matched
  by the model's input (its shape compared) instead of being a layer no model has.

Sequential against functional needs no form: the whole graph is measured either way.

Every form computes the same function as the rubric's spelling, so accepting it can never pass a
different network. A row matched through a form is named in the report; without `accept:` the
other spelling of an activation is charged on exactly one row, which says what was written where.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

EquivalentForm = Literal["activation-layer", "input-layer"]

FORM_NAMES: dict[str, str] = {
    "activation-layer": "activation as its own layer",
    "input-layer": "the input as the model's input shape",
}
"""How the report names each form (`accepted: <name> (...)`)."""

HOLDS_ACTIVATION = frozenset(
    {
        "Dense",
        "EinsumDense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
    }
)
"""Layer classes whose `activation` is applied to their output, so it can equally be a layer after them."""

ACTIVATION_LAYERS = frozenset({"Activation", "Softmax", "ReLU", "ELU", "LeakyReLU"})
"""Layer classes that apply an activation and nothing else (shape kept, no weights)."""

INPUT_LAYER = "InputLayer"
KERAS_LEAKY_SLOPE = 0.2
"""`keras.activations.leaky_relu`'s default slope: a `LeakyReLU` layer is that activation only with it."""


def activation_of(layer_type: str, settings: Mapping[str, Any]) -> str | None:
    """The Keras activation a standalone activation layer applies, or None if it is none or its settings differ.

    `settings` are the layer's (a measured config or a rubric row's): a setting absent is the
    class's default. `Activation` without a name (a rubric row that leaves it open) is None too:
    no name, no claim of equality.
    """
    if layer_type == "Activation":
        name = settings.get("activation")
        return name if isinstance(name, str) and name else None
    if layer_type == "Softmax":
        return "softmax" if settings.get("axis", -1) in (-1, [-1], None) else None
    if layer_type == "ReLU":
        plain = all(not settings.get(key) for key in ("max_value", "negative_slope", "threshold"))
        return "relu" if plain else None
    if layer_type == "ELU":
        return "elu" if _is(settings.get("alpha", 1.0), 1.0) else None
    if layer_type == "LeakyReLU":
        slope = settings.get("negative_slope", settings.get("alpha", 0.3))
        return "leaky_relu" if _is(slope, KERAS_LEAKY_SLOPE) else None
    return None


def is_linear(activation: Any) -> bool:
    """Whether a layer's own activation is none at all (`linear`, or not given)."""
    return activation is None or (isinstance(activation, str) and activation.lower() == "linear")


def spelled(layer_type: str, name: str) -> str:
    """`Activation('softmax')`, `Softmax()`: how a standalone activation layer is written."""
    return f"Activation('{name}')" if layer_type == "Activation" else f"{layer_type}()"


def _is(value: Any, wanted: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isclose(value, wanted)
