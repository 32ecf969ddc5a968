"""Every spelling of one network measures the same and gets the same grade (issue 23, item 1).

DeepLearning.AI's notebooks write `Dense(10, activation=tf.nn.softmax)`, `tf.keras` layers and an
explicit `InputLayer`; Keras saves `tf.nn.softmax` as a function named `softmax_v2` that it cannot
load back, so before vetting such a model got 0 on every check with no layer named. Each model here
is built, saved to a real `.keras` file, loaded and measured by the inspector's own code
(`measure.load_model`, `measure.measure`) and scored by the real checks against the real
`digits-cnn` rubric.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.grading.check import Evidence, run_checks
from grader.inside.inspector import measure
from grader.inside.inspector.facts import ModelFacts
from grader.rubric.model import load_rubric
from tests.conftest import REPO

pytestmark = pytest.mark.slow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras() -> Any:
    return measure.keras_module()


def _tf() -> Any:
    import tensorflow as tf

    return tf


def canonical() -> Any:
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )


def tf_nn_functions() -> Any:
    """The DeepLearning.AI spelling: tf.keras layers, tf.nn activations, an explicit InputLayer."""
    tf = _tf()
    layers = tf.keras.layers
    return tf.keras.models.Sequential(
        [
            layers.InputLayer(shape=(8, 8, 1)),
            layers.Conv2D(8, (3, 3), padding="same", activation=tf.nn.relu),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(16, (3, 3), padding="same", activation=tf.nn.relu),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation=tf.nn.softmax),
        ]
    )


def keras_activation_objects() -> Any:
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.layers.InputLayer(shape=(8, 8, 1)),
            layers.Conv2D(8, 3, padding="same", activation=keras.activations.relu),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, padding="same", activation=keras.activations.relu),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation=keras.activations.softmax),
        ]
    )


def functional_tf_math() -> Any:
    tf = _tf()
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    h = layers.Conv2D(8, 3, padding="same", activation=tf.nn.relu)(inputs)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, padding="same", activation=tf.keras.activations.relu)(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model(inputs, layers.Dense(10, activation=tf.nn.softmax)(h))


def activation_layers() -> Any:
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, padding="same", activation=layers.ReLU()),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, padding="same", activation=layers.Activation("relu")),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation=layers.Softmax()),
        ]
    )


SPELLINGS: dict[str, Callable[[], Any]] = {
    "canonical": canonical,
    "tf-nn-functions": tf_nn_functions,
    "keras-activation-objects": keras_activation_objects,
    "functional-tf-math": functional_tf_math,
    "activation-layers": activation_layers,
}


def measured(model: Any, folder: Path) -> ModelFacts:
    path = folder / "model.keras"
    model.save(path)
    return measure.measure(measure.load_model(path), "model")


def rows(facts: ModelFacts) -> list[tuple[Any, ...]]:
    return [(r.type, r.kind, r.config.get("activation"), r.output_shape, r.params) for r in facts.layers]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> ModelFacts:
    return measured(canonical(), tmp_path_factory.mktemp("canonical"))


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_every_spelling_measures_and_grades_the_same(
    spelling: str, reference: ModelFacts, tmp_path: Path
) -> None:
    facts = measured(SPELLINGS[spelling](), tmp_path)
    assert rows(facts) == rows(reference)
    assert [r.config.get("activation") for r in facts.layers if r.type in ("Conv2D", "Dense")] == [
        "relu",
        "relu",
        "softmax",
    ]
    rubric = load_rubric(REPO / "rubrics" / "digits-cnn.yaml").rubric
    statuses = {r.id: r.status for r in run_checks(rubric, Evidence(model=facts)) if r.kind != "accuracy"}
    assert statuses == {"architecture": "pass", "size": "pass", "output": "pass"}, statuses


@pytest.mark.parametrize(
    ("spell", "name"),
    [
        ("tf.nn.softmax", "softmax"),
        ("tf.nn.log_softmax", "log_softmax"),
        ("tf.nn.relu", "relu"),
        ("tf.math.sigmoid", "sigmoid"),
        ("tf.nn.sigmoid", "sigmoid"),
        ("tf.tanh", "tanh"),
        ("tf.nn.elu", "elu"),
        ("keras.activations.relu", "relu"),
        ("keras.layers.ReLU()", "relu"),
        ("keras.layers.Softmax()", "softmax"),
        ("keras.layers.Activation('sigmoid')", "sigmoid"),
    ],
)
def test_a_tensorflow_function_measures_as_its_keras_name(spell: str, name: str, tmp_path: Path) -> None:
    keras, tf = _keras(), _tf()
    activation = eval(spell, {"tf": tf, "keras": keras})  # the spelling as a student writes it
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
    facts = measured(model, tmp_path)
    assert facts.layers[0].config["activation"] == name


@pytest.mark.parametrize(
    ("spell", "what"),
    [
        ("tf.math.exp", "`exp`"),
        ("lambda", "lambda"),
        ("keras.layers.ReLU(max_value=6.0)", "ReLU"),
    ],
)
def test_an_activation_that_is_no_keras_name_is_refused_naming_layer_and_attribute(
    spell: str, what: str, tmp_path: Path
) -> None:
    keras, tf = _keras(), _tf()
    activation = (lambda x: x * 2) if spell == "lambda" else eval(spell, {"tf": tf, "keras": keras})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation, name="scores")])
    model.save(tmp_path / "model.keras")
    with pytest.raises(measure.ModelLoadError) as refused:
        measure.load_model(tmp_path / "model.keras")
    message = str(refused.value)
    assert "`scores`" in message and "`activation`" in message and what in message, message
    assert 'activation="relu"' in message and "deserialized" not in message, message
