"""The lesson's formulas for layer shapes and parameter counts, as code and as explanations.

Feedback quotes these with the numbers filled in, so a student sees *why* a count is wrong:
"params 208, expected 80 = 16·2·2·1 + 16". `grade rubric check` uses the same functions to
catch a rubric whose expected numbers contradict its own layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.inside.shapes import format_shape as format_shape

Pair = tuple[int, int]
CONV_TYPES = frozenset({"Conv2D", "Convolution2D"})
POOL_TYPES = frozenset({"MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D"})
TYPE_ALIASES = {"Convolution2D": "Conv2D", "MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D"}


def canonical_type(name: str) -> str:
    return TYPE_ALIASES.get(name, name)


def pair(value: int | Sequence[int]) -> Pair:
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))


def conv_params(filters: int, kernel: Pair, depth_in: int) -> int:
    """K*F*F*D_in + K: one F×F×D_in weight block per filter, plus one bias per filter."""
    return filters * kernel[0] * kernel[1] * depth_in + filters


def dense_params(units: int, inputs: int) -> int:
    return units * inputs + units


def spatial_out(size_in: int, window: int, stride: int, padding: str) -> int:
    """same: ceil(H_in / S); valid: ceil((H_in - F + 1) / S). Pooling follows the same rule."""
    if padding == "same":
        return math.ceil(size_in / stride)
    return math.ceil((size_in - window + 1) / stride)


def spatial_out_formula(size_in: int, window: int, stride: int, padding: str) -> str:
    if padding == "same":
        return f"ceil({size_in}/{stride})"
    return f"ceil(({size_in}-{window}+1)/{stride})"


def expected_output(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...]
) -> tuple[int, ...] | None:
    """What a layer's output shape must be given its spec and its input's shape, where known."""
    kind = canonical_type(layer_type)
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D") and len(shape_in) == 3:
        if kind == "Conv2D":
            if spec.get("filters") is None or spec.get("kernel_size") is None:
                return None
            window, depth = pair(spec["kernel_size"]), int(spec["filters"])
            stride = pair(spec.get("strides") or 1)
        else:
            if spec.get("pool_size") is None:
                return None
            window, depth = pair(spec["pool_size"]), shape_in[2]
            stride = pair(spec.get("strides") or spec["pool_size"])
        padding = spec.get("padding") or "valid"
        height = spatial_out(shape_in[0], window[0], stride[0], padding)
        width = spatial_out(shape_in[1], window[1], stride[1], padding)
        return (height, width, depth)
    if kind == "Flatten":
        return (math.prod(shape_in),)
    if kind == "Dense" and spec.get("units") is not None:
        return (*shape_in[:-1], int(spec["units"]))
    if kind in ("Dropout", "Activation", "BatchNormalization"):
        return shape_in
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D") and len(shape_in) == 3:
        return (shape_in[2],)
    return None


def expected_params(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...]
) -> tuple[int, str] | None:
    """The parameter count a layer must have, with the formula that gives it, where known."""
    kind = canonical_type(layer_type)
    if not shape_in:
        return None
    depth = shape_in[-1]
    if kind == "Conv2D" and spec.get("filters") is not None and spec.get("kernel_size") is not None:
        filters, kernel = int(spec["filters"]), pair(spec["kernel_size"])
        return conv_params(filters, kernel, depth), f"{filters}·{kernel[0]}·{kernel[1]}·{depth} + {filters}"
    if kind == "Dense" and spec.get("units") is not None:
        units = int(spec["units"])
        return dense_params(units, depth), f"{units}·{depth} + {units}"
    if kind in ("MaxPooling2D", "AveragePooling2D", "Flatten", "Dropout", "Activation"):
        return 0, "0 (this layer has no weights)"
    return None


def explain_shape(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...], actual: tuple[int | None, ...]
) -> str | None:
    """Why the output shape should be what the rubric says, in the lesson's words."""
    kind = canonical_type(layer_type)
    expected = expected_output(layer_type, spec, shape_in)
    if expected is None or tuple(actual) == expected:
        return None
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D") and len(actual) == 3:
        window = pair(spec.get("kernel_size") or spec.get("pool_size") or 1)
        default_stride = 1 if kind == "Conv2D" else window[0]
        stride = pair(spec.get("strides") or default_stride)
        padding = spec.get("padding") or "valid"
        for axis, label in ((0, "height"), (1, "width")):
            if actual[axis] != expected[axis]:
                formula = spatial_out_formula(shape_in[axis], window[axis], stride[axis], padding)
                what = (
                    "kernel_size, strides and padding"
                    if kind == "Conv2D"
                    else "pool_size, strides and padding"
                )
                return (
                    f"{label} {actual[axis]}, expected {expected[axis]} = {formula} "
                    f"(padding='{padding}'): check {what}"
                )
        if actual[2] != expected[2]:
            source = "the number of filters" if kind == "Conv2D" else "the depth of the layer before"
            return f"depth {actual[2]}, expected {expected[2]}: the depth is {source}"
    if kind == "Flatten":
        dims = "·".join(str(d) for d in shape_in)
        return f"length {actual[0] if actual else '?'}, expected {expected[0]} = {dims}: check the layers before Flatten"
    return f"output {format_shape(actual)}, expected {format_shape(expected)}"


def explain_params(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...], actual: int
) -> str | None:
    found = expected_params(layer_type, spec, shape_in)
    if found is None or found[0] == actual:
        return None
    value, formula = found
    kind = canonical_type(layer_type)
    if kind == "Conv2D":
        advice = "check filters, kernel_size and the input depth"
    elif kind == "Dense":
        advice = "check units and the size of the layer before (did Flatten see the expected shape?)"
    else:
        advice = "this layer type has no trainable weights"
    return f"params {actual:,}, expected {value:,} = {formula}: {advice}"
