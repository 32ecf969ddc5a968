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
