"""Everything a saved model can run is measured (issue 20, item 1): no computation hides inside a layer.

`safe_mode` rebuilds any Keras object a config names wherever it appears, so a layer's
`activation=` can hold a whole functional model of raw `keras.ops` that the layer runs on every
call, and a wrapper's inner layer can be such a model; the graph walk used to list neither. And
one layer object called several times was one row, so a deeper network matched a shallower
rubric. Each attack here is a real model saved to a real `.keras` file and measured by the
inspector's own code; each has an honest twin that still measures clean and passes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.grading.check import Evidence, run_checks, unaccounted_operations
from grader.inside.inspector import measure
from grader.inside.inspector.facts import ModelFacts
from grader.rubric.model import Rubric, load_rubric
from grader.sandbox.bwrap import bwrap_problem
from tests.conftest import GRADE, REPO

pytestmark = pytest.mark.slow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cnn_rubric() -> Rubric:
    return load_rubric(REPO / "rubrics" / "digits-cnn.yaml").rubric


def saved(model: Any, folder: Path) -> Path:
    path = folder / "model.keras"
    model.save(path)
    return path


def measured(path: Path) -> ModelFacts:
    return measure.measure(measure.load_model(path), "model")


def hidden_classifier(width: int) -> Any:
    """A 'classifier frozen into constants': raw keras.ops on a constant matrix, as a functional model."""
    keras = measure.keras_module()
    inputs = keras.Input((width,))
    weights = np.random.default_rng(0).normal(size=(width, width)).astype("float32")
    return keras.Model(inputs, keras.ops.softmax(keras.ops.matmul(inputs, weights)), name="hidden")


def mlp(activation: Any) -> Any:
    keras = measure.keras_module()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8)),
            layers.Flatten(),
            layers.Dense(64, activation=activation, name="visible"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def test_a_model_as_an_activation_is_refused_naming_the_layer_and_attribute(tmp_path: Path) -> None:
    keras = measure.keras_module()
    path = saved(mlp(hidden_classifier(64)), tmp_path)
    plain = keras.saving.load_model(path, safe_mode=True, compile=False)  # Keras alone loads and runs it
    assert plain.layers[1].activation.name == "hidden"
    with pytest.raises(measure.ModelLoadError) as refused:
        measure.load_model(path)
    message = str(refused.value)
    assert "`visible`" in message and "`activation`" in message and "a whole Keras model" in message, message
    assert 'activation="relu"' in message, message


def test_the_honest_twin_of_the_activation_attack_measures_every_layer(tmp_path: Path) -> None:
    facts = measured(saved(mlp("relu"), tmp_path))
    assert [(r.type, r.kind, r.config.get("activation")) for r in facts.layers] == [
        ("Flatten", "layer", None),
        ("Dense", "layer", "relu"),
        ("Dense", "layer", "softmax"),
    ]


def cnn(inner: Any) -> Any:
    """The rubric's CNN with a TimeDistributed layer over the image's rows, wrapping `inner`."""
    keras = measure.keras_module()
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    h = layers.Reshape((8, 8))(inputs)
    h = layers.TimeDistributed(inner, name="rows")(h)
    h = layers.Reshape((8, 8, 1))(h)
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(h))


def test_a_model_inside_a_wrapper_is_a_row_and_fails_the_architecture(tmp_path: Path) -> None:
    facts = measured(saved(cnn(hidden_classifier(8)), tmp_path))
    hidden = [r for r in facts.layers if r.kind in ("model", "op")]
    assert (hidden[0].name, hidden[0].kind) == ("rows/hidden", "model"), hidden
    assert hidden[1].type == "Matmul" and hidden[1].name.startswith("rows/hidden/matmul"), hidden
    assert any(r.constants == 64 for r in hidden), hidden
    rubric = cnn_rubric()
    assert unaccounted_operations(rubric, facts)
    results = {r.id: r for r in run_checks(rubric, Evidence(model=facts))}
    assert results["architecture"].status == "fail"
    assert "Matmul" in results["architecture"].message, results["architecture"].message


def test_a_plain_layer_inside_a_wrapper_adds_no_row(tmp_path: Path) -> None:
    keras = measure.keras_module()
    facts = measured(saved(cnn(keras.layers.Dense(8)), tmp_path))
    assert all(r.kind == "layer" for r in facts.layers), facts.layers
    assert [r.name for r in facts.layers if r.type == "TimeDistributed"] == ["rows"]


def deep_shared() -> Any:
    """Seven convolutions from two Conv2D objects: the second one called six times."""
    keras = measure.keras_module()
    layers = keras.layers
    first = layers.Conv2D(8, 3, padding="same", activation="relu", name="first")
    shared = layers.Conv2D(8, 3, padding="same", activation="relu", name="shared")
    pool = layers.MaxPooling2D(2)
    inputs = keras.Input((8, 8, 1))
    h = pool(first(inputs))
    for _ in range(6):
        h = shared(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(h))


def two_blocks() -> Any:
    keras = measure.keras_module()
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    h = layers.MaxPooling2D(2)(layers.Conv2D(8, 3, padding="same", activation="relu")(inputs))
    h = layers.MaxPooling2D(2)(layers.Conv2D(8, 3, padding="same", activation="relu")(h))
    h = layers.Dropout(0.3)(layers.Flatten()(h))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(h))


def test_a_layer_called_six_times_is_six_rows(tmp_path: Path) -> None:
    facts = measured(saved(deep_shared(), tmp_path))
    convolutions = [r for r in facts.layers if r.type == "Conv2D"]
    assert [r.name for r in convolutions] == ["first", "shared"] + [f"shared (call {n})" for n in range(2, 7)]
    assert all(r.output_shape == (4, 4, 8) for r in convolutions[1:]), convolutions
    assert facts.total_params == sum(r.params for r in facts.layers if not r.name.endswith(")"))
    results = {r.id: r for r in run_checks(cnn_rubric(), Evidence(model=facts))}
    assert results["architecture"].status == "fail", results["architecture"].message


def test_the_honest_two_block_twin_still_passes(tmp_path: Path) -> None:
    facts = measured(saved(two_blocks(), tmp_path))
    assert [r.type for r in facts.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense",
    ]  # fmt: skip
    results = {r.id: r.status for r in run_checks(cnn_rubric(), Evidence(model=facts))}
    assert results["architecture"] == "pass" and results["size"] == "pass" and results["output"] == "pass"


HOSTILE = REPO / "submissions" / "hostile"


@pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
def test_the_activation_attack_sample_is_refused_and_scores_no_more_than_its_twin(tmp_path: Path) -> None:
    """submissions/hostile/fp-activation-model.py through the real `grade`: a real kernel, the sandboxed inspector."""
    results = {}
    for name, path in (
        ("attack", HOSTILE / "fp-activation-model.py"),
        ("twin", HOSTILE / "twins" / "fp-activation-model-twin.py"),
    ):
        run = subprocess.run(
            [str(GRADE), str(path), "--out", str(tmp_path / name)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        reports = list((tmp_path / name).glob("*.json"))
        assert reports, run.stdout + run.stderr
        results[name] = json.loads(reports[0].read_text())
    attack, twin = results["attack"], results["twin"]
    checks = {c["id"]: c for c in attack["checks"]}
    assert all(c["status"] != "pass" for c in checks.values()), checks
    message = checks["architecture"]["message"]
    assert "`conv`" in message and "`activation`" in message and "a whole Keras model" in message, message
    assert attack["score"] <= twin["score"]
    assert {c["id"]: c["status"] for c in twin["checks"]} == {
        "architecture": "pass",
        "size": "pass",
        "output": "pass",
        "accuracy": "fail",
    }
