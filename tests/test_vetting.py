"""The saved config's vetting (`grader.inside.inspector.vetting`): every place a config can hold an object.

Pure JSON, no TensorFlow: each test is one place a `.keras` config can name a deserialisable Keras
object, an attack there (a whole functional model, the thing safe_mode would rebuild and run), and
its honest twin (a built-in name or class), which passes unchanged or as its plain name.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.inside.inspector import vetting
from grader.inside.inspector.vetting import ConfigRefused, vet_model_config, vetted_archive

HIDDEN = {
    "module": "keras",
    "class_name": "Functional",
    "config": {"name": "hidden", "layers": [], "input_layers": [], "output_layers": []},
    "registered_name": "Functional",
}


def dense(**settings: Any) -> dict[str, Any]:
    config = {"name": "visible", "units": 10, "activation": "relu", "kernel_initializer": "glorot_uniform"}
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {**config, **settings},
        "registered_name": None,
    }


def model(*layers: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": list(layers)},
        "registered_name": None,
        **top,
    }


def refused(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigRefused) as error:
        vet_model_config(config)
    return str(error.value)


@pytest.mark.parametrize(
    "place", ["activation", "kernel_initializer", "bias_regularizer", "kernel_constraint", "dtype", "units"]
)
def test_a_model_in_any_setting_of_a_layer_is_refused_naming_layer_and_setting(place: str) -> None:
    message = refused(model(dense(**{place: copy.deepcopy(HIDDEN)})))
    assert "`visible`" in message and f"`{place}`" in message, message


@pytest.mark.parametrize(
    ("place", "honest"),
    [
        ("activation", "softmax"),
        (
            "kernel_initializer",
            {"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": None}},
        ),
        ("bias_regularizer", {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}}),
        (
            "kernel_constraint",
            {"module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 3}},
        ),
        ("dtype", {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}),
    ],
)
def test_the_honest_twin_of_each_setting_passes_unchanged(place: str, honest: Any) -> None:
    config = model(dense(**{place: honest}))
    assert vet_model_config(config) == config


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ({"module": "builtins", "class_name": "function", "config": "softmax_v2", "registered_name": "function"}, "softmax"),
        ({"module": "builtins", "class_name": "function", "config": "log_softmax_v2"}, "log_softmax"),
        ({"module": "builtins", "class_name": "function", "config": "swish"}, "swish"),
        ({"module": "keras.layers", "class_name": "ReLU", "config": {"name": "re_lu", "max_value": None}}, "relu"),
        ({"module": "keras.layers", "class_name": "Softmax", "config": {"name": "s", "axis": -1}}, "softmax"),
        ({"module": "keras.layers", "class_name": "Activation", "config": {"activation": "tanh"}}, "tanh"),
        ("relu", "relu"),
    ],
)  # fmt: skip
def test_each_spelling_of_an_activation_becomes_its_built_in_name(written: Any, name: str) -> None:
    vetted = vet_model_config(model(dense(activation=written)))
    assert vetted["config"]["layers"][0]["config"]["activation"] == name


def test_an_unknown_function_as_activation_says_what_to_write() -> None:
    message = refused(
        model(dense(activation={"module": "builtins", "class_name": "function", "config": "exp"}))
    )
    assert "`visible` (Dense)" in message and "`exp`" in message and 'activation="relu"' in message, message


def test_a_model_inside_a_wrapper_is_kept_for_the_graph_walk_and_vetted_itself() -> None:
    wrapper = {
        "module": "keras.layers",
        "class_name": "TimeDistributed",
        "config": {"name": "rows", "layer": HIDDEN},
    }
    assert vet_model_config(model(wrapper))["config"]["layers"][0]["config"]["layer"] == HIDDEN
    inner = copy.deepcopy(HIDDEN)
    inner["config"]["layers"] = [dense(activation=copy.deepcopy(HIDDEN))]
    message = refused(model({**wrapper, "config": {"name": "rows", "layer": inner}}))
    assert "`visible`" in message and "`activation`" in message, message


def test_a_model_passed_as_a_call_argument_is_refused() -> None:
    tensor = {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 4], "dtype": "float32", "keras_history": ["i", 0, 0]},
    }
    honest = {
        **dense(),
        "name": "visible",
        "inbound_nodes": [{"args": [tensor], "kwargs": {"training": False}}],
    }
    assert vet_model_config(model(honest))["config"]["layers"][0] == honest
    attack = {**honest, "inbound_nodes": [{"args": [tensor], "kwargs": {"fn": HIDDEN}}]}
    assert "called with a Functional object" in refused(model(attack))


def test_shared_object_ids_and_compile_config_are_dropped() -> None:
    """An innocent-looking entry with a shared id would stand for whatever object was rebuilt under that id."""
    relu = {"module": "keras.layers", "class_name": "ReLU", "config": {"name": "r"}, "shared_object_id": 7}
    config = model(dense(activation=relu), compile_config={"loss": HIDDEN})
    vetted = vet_model_config(config)
    assert "shared_object_id" not in json.dumps(vetted) and "compile_config" not in vetted
    assert vetted["config"]["layers"][0]["config"]["activation"] == "relu"


@pytest.mark.parametrize(
    ("layer", "said"),
    [
        ({"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l"}}, "Lambda"),
        ({"module": "keras.layers", "class_name": "TFSMLayer", "config": {"name": "t"}}, "SavedModel"),
        ({"module": "mypackage", "class_name": "Dense", "config": {"name": "d"}}, "custom class"),
        ({**dense(), "extra": HIDDEN}, "unexpected entry"),
        ("Dense", "not a Keras object"),
    ],
)
def test_layers_the_grader_cannot_account_for_are_refused(layer: Any, said: str) -> None:
    assert said in refused(model(layer))


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep: Any = "relu"
    for _ in range(5000):
        deep = [deep]
    assert "nested too deeply" in refused(model(dense(units=deep)))


def write_archive(path: Path, config: Any) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"\x89HDF weights")


def test_the_vetted_archive_keeps_the_weights_and_replaces_the_config(tmp_path: Path) -> None:
    write_archive(
        tmp_path / "model.keras",
        model(dense(activation={"module": "builtins", "class_name": "function", "config": "softmax_v2"})),
    )
    vetted = vetted_archive(tmp_path / "model.keras")
    with zipfile.ZipFile(vetted) as archive:
        assert archive.read("model.weights.h5") == b"\x89HDF weights"
        assert (
            json.loads(archive.read("config.json"))["config"]["layers"][0]["config"]["activation"]
            == "softmax"
        )


def test_an_oversized_config_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vetting, "MAX_CONFIG_BYTES", 1000)
    with zipfile.ZipFile(tmp_path / "model.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * 1001)
    with pytest.raises(ConfigRefused, match="larger than"):
        vetted_archive(tmp_path / "model.keras")
