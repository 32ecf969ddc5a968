"""The lesson's formulas agree with what real Keras layers compute."""

from __future__ import annotations

import pytest

from grader.inside.inspector.measure import keras_module
from grader.rubric import formulas

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("filters", "kernel", "strides", "padding", "shape_in"),
    [
        (16, 2, 2, "valid", (200, 200, 1)),
        (32, 3, 1, "same", (100, 100, 16)),
        (64, 2, 1, "same", (8, 8, 32)),
        (8, 5, 3, "valid", (31, 29, 3)),
        (4, 3, 2, "same", (7, 7, 2)),
    ],
)
def test_conv_shape_and_params_match_keras(
    filters: int, kernel: int, strides: int, padding: str, shape_in: tuple[int, ...]
) -> None:
    keras = keras_module()
    layer = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding)
    output = layer(keras.Input(shape=shape_in))
    spec = {"filters": filters, "kernel_size": kernel, "strides": strides, "padding": padding}
    assert formulas.expected_output("Conv2D", spec, shape_in) == tuple(output.shape[1:])
    expected = formulas.expected_params("Conv2D", spec, shape_in)
    assert expected is not None and expected[0] == layer.count_params()


@pytest.mark.parametrize(
    ("pool", "strides", "padding", "shape_in"),
    [
        (2, None, "valid", (100, 100, 15)),
        (3, 2, "valid", (9, 9, 4)),
        (2, 2, "same", (7, 7, 1)),
        (2, 1, "valid", (5, 5, 2)),
    ],
)
def test_pool_shape_matches_keras(
    pool: int, strides: int | None, padding: str, shape_in: tuple[int, ...]
) -> None:
    keras = keras_module()
    output = keras.layers.MaxPooling2D(pool, strides=strides, padding=padding)(keras.Input(shape=shape_in))
    spec = {"pool_size": pool, "strides": strides, "padding": padding}
    assert formulas.expected_output("MaxPooling2D", spec, shape_in) == tuple(output.shape[1:])


def test_lessons_numbers() -> None:
    assert formulas.conv_params(16, (2, 2), 1) == 80
    assert formulas.spatial_out(200, 2, 2, "valid") == 100
    assert formulas.dense_params(500, 1024) == 512_500


def test_explanations_quote_the_formula_with_numbers() -> None:
    spec = {"filters": 16, "kernel_size": 2, "strides": 2, "padding": "valid"}
    assert formulas.explain_params("Conv2D", spec, (200, 200, 1), 208) == (
        "params 208, expected 80 = 16·2·2·1 + 16: check filters, kernel_size and the input depth"
    )
    shape = formulas.explain_shape("Conv2D", spec, (200, 200, 1), (99, 99, 16))
    assert shape is not None and shape.startswith("height 99, expected 100 = ceil((200-2+1)/2)")
    assert formulas.format_shape((10,)) == "(10,)"


def _built(layer: object, shape_in: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    keras = keras_module()
    output = layer(keras.Input(shape=shape_in))  # type: ignore[operator]
    return tuple(output.shape[1:]), int(layer.count_params())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "spec", "shape_in"),
    [
        ("BatchNormalization", {}, (8, 8, 16)),
        ("BatchNormalization", {"center": False}, (10, 7)),
        ("Embedding", {"input_dim": 1000, "output_dim": 16}, (20,)),
        ("SimpleRNN", {"units": 8}, (5, 3)),
        ("SimpleRNN", {"units": 8, "return_sequences": True}, (5, 3)),
        ("LSTM", {"units": 32, "return_sequences": True}, (10, 16)),
        ("LSTM", {"units": 4, "use_bias": False}, (7, 2)),
        ("GRU", {"units": 32}, (10, 16)),
        ("GRU", {"units": 6, "reset_after": False}, (4, 3)),
        ("GlobalAveragePooling2D", {}, (7, 7, 64)),
        ("GlobalMaxPooling1D", {}, (9, 12)),
        ("Conv1D", {"filters": 16, "kernel_size": 3}, (100, 8)),
        ("Conv1D", {"filters": 4, "kernel_size": 5, "strides": 2, "padding": "same"}, (33, 3)),
        ("Conv1D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2}, (20, 1)),
        ("SeparableConv2D", {"filters": 32, "kernel_size": 3}, (28, 28, 16)),
        (
            "SeparableConv2D",
            {"filters": 8, "kernel_size": 3, "depth_multiplier": 2, "padding": "same"},
            (9, 9, 3),
        ),
        ("Conv2D", {"filters": 8, "kernel_size": 3, "dilation_rate": 2, "use_bias": False}, (12, 12, 3)),
        ("Dense", {"units": 10, "use_bias": False}, (64,)),
    ],
)
def test_each_layer_types_formulas_match_keras_count_params(
    kind: str, spec: dict[str, object], shape_in: tuple[int, ...]
) -> None:
    keras = keras_module()
    shape, count = _built(getattr(keras.layers, kind)(**spec), shape_in)
    assert formulas.expected_output(kind, spec, shape_in) == shape
    expected = formulas.expected_params(kind, spec, shape_in)
    assert expected is not None and expected[0] == count


def test_the_new_layer_types_are_explained_with_their_formulas() -> None:
    assert formulas.explain_params("BatchNormalization", {}, (8, 8, 16), 32) == (
        "params 32, expected 64 = 4·16: per channel a scale (gamma) and an offset (beta), which train, and a "
        "moving mean and variance, which do not: 4·C parameters, 2·C of them trainable; check the depth of "
        "the layer before"
    )
    assert (
        formulas.explain_params("Embedding", {"input_dim": 1000, "output_dim": 16}, (20,), 1) or ""
    ).startswith("params 1, expected 16,000 = 1000·16: one vector of output_dim numbers per token")
    lstm = formulas.explain_params("LSTM", {"units": 32}, (10, 16), 1)
    assert lstm is not None and lstm.startswith(
        "params 1, expected 6,272 = 4·32·(32 + 16 + 1): for each of its 4 gates"
    )
    gru = formulas.explain_params("GRU", {"units": 32}, (10, 16), 1)
    assert gru is not None and "= 3·32·(32 + 16 + 2)" in gru and "two per gate with reset_after=True" in gru
    rnn = formulas.explain_params("SimpleRNN", {"units": 8}, (5, 3), 1)
    assert rnn is not None and "= 8·(8 + 3 + 1)" in rnn
    separable = formulas.explain_params("SeparableConv2D", {"filters": 32, "kernel_size": 3}, (28, 28, 16), 1)
    assert separable is not None and "expected 688 = 3·3·16·1 + 16·1·32 + 32" in separable
    assert formulas.explain_params("GlobalAveragePooling2D", {}, (7, 7, 64), 3) == (
        "params 3, expected 0 = 0 (this layer has no weights): this layer type has no trainable weights"
    )
    assert formulas.explain_shape("LSTM", {"units": 4, "return_sequences": True}, (7, 2), (4,)) == (
        "output (4,), expected (7, 4): check return_sequences=True"
    )
