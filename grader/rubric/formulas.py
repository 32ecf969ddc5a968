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
from grader.rubric import applications, keras_catalog

Pair = tuple[int, int]
CONV_TYPES = frozenset({"Conv2D", "Convolution2D"})
POOL_TYPES = frozenset({"MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D"})
WINDOWED_2D = frozenset({"Conv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D"})
RECURRENT_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
"""Weight blocks of a recurrent layer: one per gate (an LSTM's input, forget, cell and output; a GRU's update, reset and candidate)."""
GLOBAL_POOLS = frozenset(
    {"GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"}
)
NO_WEIGHTS = frozenset(
    {
        "MaxPooling2D",
        "AveragePooling2D",
        "Flatten",
        "Dropout",
        "Activation",
        "MaxPooling1D",
        "AveragePooling1D",
    }
    | GLOBAL_POOLS
)


def canonical_type(name: str) -> str:
    """The class a type names: Keras' aliases (`MaxPool2D`, `Convolution2D`) are one class."""
    found = keras_catalog.LAYERS.get(name)
    return found[0] if found is not None else name


def pair(value: int | Sequence[int]) -> Pair:
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))


def single(value: int | Sequence[int]) -> int:
    """A 1D layer's window or stride: `3` or `[3]`."""
    return int(value) if isinstance(value, int) else int(next(iter(value)))


def conv_params(filters: int, kernel: Pair, depth_in: int, bias: bool = True) -> int:
    """K*F*F*D_in + K: one F×F×D_in weight block per filter, plus one bias per filter."""
    return filters * kernel[0] * kernel[1] * depth_in + (filters if bias else 0)


def dense_params(units: int, inputs: int, bias: bool = True) -> int:
    return units * inputs + (units if bias else 0)


def separable_params(filters: int, kernel: Pair, depth_in: int, multiplier: int, bias: bool = True) -> int:
    """Depthwise F×F×D_in×M, then pointwise D_in×M×K, plus K biases."""
    return (
        kernel[0] * kernel[1] * depth_in * multiplier
        + depth_in * multiplier * filters
        + (filters if bias else 0)
    )


def recurrent_params(kind: str, units: int, inputs: int, bias: bool = True, reset_after: bool = True) -> int:
    """G·U·(U + I + 1): per gate, a kernel on the input, a recurrent kernel on the state and a bias.

    A GRU with reset_after=True (Keras 3's default) has two biases per gate: G·U·(U + I + 2).
    """
    biases = (2 if kind == "GRU" and reset_after else 1) if bias else 0
    return RECURRENT_GATES[kind] * units * (units + inputs + biases)


def spatial_out(size_in: int, window: int, stride: int, padding: str) -> int:
    """same: ceil(H_in / S); valid: ceil((H_in - F + 1) / S). Pooling follows the same rule."""
    if padding in ("same", "causal"):
        return math.ceil(size_in / stride)
    return math.ceil((size_in - window + 1) / stride)


def spatial_out_formula(size_in: int, window: int, stride: int, padding: str) -> str:
    if padding in ("same", "causal"):
        return f"ceil({size_in}/{stride})"
    return f"ceil(({size_in}-{window}+1)/{stride})"


def _dilated(window: int, dilation: int) -> int:
    """A dilated kernel spans (F - 1)·d + 1 inputs."""
    return (window - 1) * dilation + 1


def _bias(spec: dict[str, Any]) -> bool:
    return spec.get("use_bias") is not False


def expected_output(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...]
) -> tuple[int, ...] | None:
    """What a layer's output shape must be given its spec and its input's shape, where known."""
    kind = canonical_type(layer_type)
    if kind in WINDOWED_2D and len(shape_in) == 3:
        if kind in ("Conv2D", "SeparableConv2D"):
            if spec.get("filters") is None or spec.get("kernel_size") is None:
                return None
            kernel, depth = pair(spec["kernel_size"]), int(spec["filters"])
            dilation = pair(spec.get("dilation_rate") or 1)
            window = (_dilated(kernel[0], dilation[0]), _dilated(kernel[1], dilation[1]))
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
    if kind == "Conv1D" and len(shape_in) == 2:
        if spec.get("filters") is None or spec.get("kernel_size") is None:
            return None
        span = _dilated(single(spec["kernel_size"]), single(spec.get("dilation_rate") or 1))
        steps = spatial_out(
            shape_in[0], span, single(spec.get("strides") or 1), spec.get("padding") or "valid"
        )
        return (steps, int(spec["filters"]))
    if kind in RECURRENT_GATES and len(shape_in) == 2 and spec.get("units") is not None:
        units = int(spec["units"])
        return (shape_in[0], units) if spec.get("return_sequences") else (units,)
    if kind == "Embedding" and spec.get("output_dim") is not None:
        return (*shape_in, int(spec["output_dim"]))
    if kind == "Flatten":
        return (math.prod(shape_in),)
    if kind == "Dense" and spec.get("units") is not None:
        return (*shape_in[:-1], int(spec["units"]))
    if kind in ("Dropout", "Activation", "BatchNormalization"):
        return shape_in
    if (
        kind in GLOBAL_POOLS
        and not spec.get("keepdims")
        and len(shape_in) == (2 if kind.endswith("1D") else 3)
    ):
        return (shape_in[-1],)
    return None


def expected_params(
    layer_type: str, spec: dict[str, Any], shape_in: tuple[int, ...]
) -> tuple[int, str] | None:
    """The parameter count a layer must have, with the formula that gives it, where known."""
    kind = canonical_type(layer_type)
    bias = _bias(spec)
    if kind == "Embedding" and spec.get("input_dim") is not None and spec.get("output_dim") is not None:
        tokens, width = int(spec["input_dim"]), int(spec["output_dim"])
        return tokens * width, f"{tokens}·{width}"
    if not shape_in:
        return None
    depth = shape_in[-1]
    plus = " + {}" if bias else ""
    if (
        kind in ("Conv2D", "Conv1D")
        and spec.get("filters") is not None
        and spec.get("kernel_size") is not None
    ):
        filters = int(spec["filters"])
        kernel = pair(spec["kernel_size"]) if kind == "Conv2D" else (single(spec["kernel_size"]), 1)
        sizes = f"{kernel[0]}·{kernel[1]}" if kind == "Conv2D" else f"{kernel[0]}"
        return conv_params(filters, kernel, depth, bias), f"{filters}·{sizes}·{depth}" + plus.format(filters)
    if kind == "SeparableConv2D" and spec.get("filters") is not None and spec.get("kernel_size") is not None:
        filters, kernel = int(spec["filters"]), pair(spec["kernel_size"])
        multiplier = int(spec.get("depth_multiplier") or 1)
        formula = (
            f"{kernel[0]}·{kernel[1]}·{depth}·{multiplier} + {depth}·{multiplier}·{filters}"
            + plus.format(filters)
        )
        return separable_params(filters, kernel, depth, multiplier, bias), formula
    if kind == "Dense" and spec.get("units") is not None:
        units = int(spec["units"])
        return dense_params(units, depth, bias), f"{units}·{depth}" + plus.format(units)
    if kind in RECURRENT_GATES and spec.get("units") is not None:
        units, gates = int(spec["units"]), RECURRENT_GATES[kind]
        reset_after = spec.get("reset_after") is not False
        biases = (2 if kind == "GRU" and reset_after else 1) if bias else 0
        inner = f"{units} + {depth}" + (f" + {biases}" if biases else "")
        value = recurrent_params(kind, units, depth, bias, reset_after)
        return value, (f"{gates}·" if gates > 1 else "") + f"{units}·({inner})"
    if kind == "BatchNormalization":
        learned = (spec.get("center") is not False) + (spec.get("scale") is not False)
        return (learned + 2) * depth, f"{learned + 2}·{depth}"
    if kind in NO_WEIGHTS:
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
    if kind in WINDOWED_2D and len(actual) == 3:
        convolution = kind in ("Conv2D", "SeparableConv2D")
        window = pair(spec.get("kernel_size") or spec.get("pool_size") or 1)
        default_stride = 1 if convolution else window[0]
        if convolution:
            dilation = pair(spec.get("dilation_rate") or 1)
            window = (_dilated(window[0], dilation[0]), _dilated(window[1], dilation[1]))
        stride = pair(spec.get("strides") or default_stride)
        padding = spec.get("padding") or "valid"
        for axis, label in ((0, "height"), (1, "width")):
            if actual[axis] != expected[axis]:
                formula = spatial_out_formula(shape_in[axis], window[axis], stride[axis], padding)
                what = "kernel_size, strides and padding" if convolution else "pool_size, strides and padding"
                return (
                    f"{label} {actual[axis]}, expected {expected[axis]} = {formula} "
                    f"(padding='{padding}'): check {what}"
                )
        if actual[2] != expected[2]:
            source = "the number of filters" if convolution else "the depth of the layer before"
            return f"depth {actual[2]}, expected {expected[2]}: the depth is {source}"
    if kind in RECURRENT_GATES and len(expected) != len(actual):
        wanted = "True" if len(expected) == 2 else "False"
        return f"output {format_shape(actual)}, expected {format_shape(expected)}: check return_sequences={wanted}"
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
    return f"params {actual:,}, expected {value:,} = {formula}: {_advice(canonical_type(layer_type), spec)}"


def _advice(kind: str, spec: dict[str, Any]) -> str:
    """What to check when a layer's count differs, in the lesson's words for its kind."""
    if kind in ("Conv2D", "Conv1D"):
        return "check filters, kernel_size and the input depth"
    if kind == "SeparableConv2D":
        return (
            "a depthwise kernel per input channel (kernel_size·kernel_size·depth·depth_multiplier), then a "
            "1×1 pointwise convolution to the filters, plus a bias per filter: check filters, kernel_size, "
            "depth_multiplier and the input depth"
        )
    if kind == "Dense":
        return "check units and the size of the layer before (did Flatten see the expected shape?)"
    if kind == "BatchNormalization":
        return (
            "per channel a scale (gamma) and an offset (beta), which train, and a moving mean and variance, "
            "which do not: 4·C parameters, 2·C of them trainable; check the depth of the layer before"
        )
    if kind == "Embedding":
        return "one vector of output_dim numbers per token of the vocabulary: check input_dim and output_dim"
    if kind in RECURRENT_GATES:
        gates = {"SimpleRNN": "its one block", "LSTM": "each of its 4 gates", "GRU": "each of its 3 gates"}[
            kind
        ]
        return (
            f"for {gates}, a kernel on the input's features, a recurrent kernel on the units and a bias"
            + (
                " (two per gate with reset_after=True)"
                if kind == "GRU" and spec.get("reset_after") is not False
                else ""
            )
            + ": check units and the input's feature size"
        )
    return "this layer type has no trainable weights"


BASE_SETTINGS_EXPLAINED = {
    "trainable": (
        "a frozen base (base.trainable = False) keeps its pretrained weights: none of them is trained, so all "
        "its parameters are non-trainable and only the layers after it learn; set base.trainable = False "
        "before compiling"
    ),
    "trainable_params": (
        "a frozen base trains none of its weights (0 trainable parameters): set base.trainable = False "
        "before compiling"
    ),
    "non_trainable_params": (
        "a frozen base's parameters are all non-trainable: its pretrained weights stay as they are; "
        "set base.trainable = False before compiling"
    ),
    "include_top": (
        "include_top=False removes the base's own classifier (for VGG16, Flatten and the fully-connected "
        "layers fc1, fc2 and the 1000-way ImageNet predictions) and keeps the convolutional features, "
        "on which the new head is trained"
    ),
    "pooling": (
        "pooling='avg' or 'max' ends the base with one global pooling layer; without it the base ends with "
        "its last convolutional block's feature maps"
    ),
}
"""What each setting of a pretrained base means, in the lesson's terms."""


def explain_setting(layer_type: str, key: str, have: Any, wanted: Any) -> str | None:
    """Why a pretrained base's setting matters, when the row's base has it otherwise (None for a layer's settings).

    `key` is the setting the rubric states, `have` the measured value and `wanted` the rubric's.
    """
    if layer_type not in applications.BASES or key not in BASE_SETTINGS_EXPLAINED or have == wanted:
        return None
    if key == "trainable" and wanted is True:
        return (
            "the rubric asks to fine-tune the base: set base.trainable = True so its weights are trained too"
        )
    if key == "include_top" and wanted is True:
        return "the rubric asks for the whole network, its ImageNet classifier included: include_top=True"
    return BASE_SETTINGS_EXPLAINED[key]
