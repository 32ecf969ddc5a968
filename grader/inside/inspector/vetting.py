"""Vetting a saved model's config before Keras builds anything from it: every object it names is accounted for.

A `.keras` file's `config.json` is a tree of serialised objects (`{"class_name": ..., "module": ...}`),
and `safe_mode` lets Keras rebuild any of its own classes wherever such a dict appears. So a layer's
`activation=` (or an initializer, a wrapper's inner layer, a call's arguments) could hold a whole
functional model of raw `keras.ops` that the layer runs on every call while the graph walk never
sees it. The inspector therefore reads the config itself first and allows a serialised object only
where it knows what it is:

- a layer, operation or nested model in a model's `layers` list, or a wrapper's inner layer
  (`layer`, `backward_layer`, `cell`, `cells`): rebuilt and then walked by `measure.graph_nodes`;
- an activation: only a built-in name. TensorFlow's spellings of the same function (`tf.nn.softmax`
  is saved as a function named `softmax_v2`) and the one-line layers `ReLU()`, `Softmax()`,
  `Activation("relu")` become that name, so every spelling of one network measures the same;
- an initializer, regularizer, constraint or dtype policy: only Keras' built-in classes, with plain
  settings;
- a call's arguments: tensors, constant arrays and plain values (constants are counted as such).

Anything else is refused with the layer, the attribute and what to write instead. Nothing here
trusts the probe: this runs in the inspector, on the file alone. `shared_object_id` is dropped
everywhere (it would let an innocent-looking entry stand for an object rebuilt elsewhere), and so
is `compile_config` (the inspector never compiles).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

CONFIG_MEMBER = "config.json"
MAX_CONFIG_BYTES = 64 * 1024 * 1024

ACTIVATIONS = frozenset(
    {
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
        "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
        "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
        "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
        "threshold",
    }
)  # fmt: skip
"""Keras 3's built-in activations (`keras.activations`), the names a saved config may use."""

TF_ACTIVATIONS = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax"}
"""TensorFlow functions saved under a name Keras does not know, and the built-in that computes the same."""

BUILT_IN_CLASSES = {
    "initializer": frozenset(
        {
            "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
            "IdentityInitializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
            "OrthogonalInitializer", "RandomNormal", "RandomUniform", "TruncatedNormal",
            "VarianceScaling", "Zeros",
        }
    ),
    "regularizer": frozenset({"L1", "L1L2", "L2", "OrthogonalRegularizer"}),
    "constraint": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "dtype": frozenset({"DTypePolicy", "FloatDTypePolicy"}),
}  # fmt: skip
"""Per kind of setting, the Keras classes a config may name there: they hold numbers, never computation."""

EXAMPLES = {
    "initializer": '"glorot_uniform" or keras.initializers.HeNormal()',
    "regularizer": "keras.regularizers.L2(0.01)",
    "constraint": "keras.constraints.MaxNorm(3)",
    "dtype": '"float32"',
}

NESTED_LAYER_KEYS = frozenset({"layer", "backward_layer", "forward_layer", "cell"})
NESTED_LAYER_LISTS = frozenset({"layers", "cells"})
ACTIVATION_KEYS = frozenset({"activation", "recurrent_activation"})
REFUSED_CLASSES = {
    "Lambda": "a Lambda layer runs Python code the grader will not run; use Keras' built-in layers instead",
    "TFSMLayer": "a TFSMLayer loads a SavedModel from outside the file; build the model from Keras' layers",
    "JaxLayer": "a JaxLayer runs JAX code the grader cannot measure; build the model from Keras' layers",
    "FlaxLayer": "a FlaxLayer runs Flax code the grader cannot measure; build the model from Keras' layers",
    "TorchModuleWrapper": "a TorchModuleWrapper runs PyTorch code the grader cannot measure; use Keras' layers",
}
OBJECT_KEYS = frozenset({"module", "class_name", "config", "registered_name", "name", "build_config"})
ARGUMENT_CLASSES = frozenset(
    {"__keras_tensor__", "__numpy__", "__tensor__", "__ellipsis__", "__slice__", "__bytes__"}
)


class ConfigRefused(ValueError):
    """The saved config holds something the grader cannot account for; the message names where and what to write."""


def vetted_archive(path: Path) -> Path:
    """A copy of the `.keras` archive at `path` whose config passed `vet_model_config`, beside it.

    The weights and metadata are copied as they are; only `config.json` is replaced by its vetted
    form. Raises `ConfigRefused` when the config holds anything the grader cannot account for.
    """
    target = path.with_name(f"vetted-{path.name}")
    with zipfile.ZipFile(path) as source:
        config = vet_model_config(_read_config(source))
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
            for info in source.infolist():
                if info.filename == CONFIG_MEMBER:
                    continue
                with source.open(info) as member, copy.open(info.filename, "w", force_zip64=True) as out:
                    while block := member.read(1 << 20):
                        out.write(block)
            copy.writestr(CONFIG_MEMBER, json.dumps(config))
    return target


def _read_config(archive: zipfile.ZipFile) -> Any:
    try:
        info = archive.getinfo(CONFIG_MEMBER)
    except KeyError:
        raise ConfigRefused(
            "the saved model has no config.json; save it with model.save('model.keras')"
        ) from None
    if info.file_size > MAX_CONFIG_BYTES:
        raise ConfigRefused(
            f"the saved model's config is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB"
        )
    with archive.open(info) as member:
        text = member.read(MAX_CONFIG_BYTES + 1)
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigRefused(
            f"the saved model's config is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB"
        )
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigRefused("the saved model's config.json is not valid JSON") from None


def vet_model_config(config: Any) -> Any:
    """The model's config with every serialised object accounted for, or `ConfigRefused` naming the first that is not."""
    try:
        return _object(config, "the model")
    except RecursionError:
        raise ConfigRefused("the saved model's config is nested too deeply") from None


def _object(entry: Any, where: str) -> dict[str, Any]:
    """A layer, operation or model: a Keras class, its settings vetted, its call arguments plain."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ConfigRefused(f"{where}: a layer entry that is not a Keras object")
    class_name = entry["class_name"]
    inner = entry.get("config")
    name = str(
        inner.get("name") if isinstance(inner, dict) and inner.get("name") else entry.get("name", class_name)
    )
    label = f"layer `{name[:80]}` ({class_name[:80]})"
    if class_name in REFUSED_CLASSES:
        raise ConfigRefused(f"{label}: {REFUSED_CLASSES[class_name]}")
    module = entry.get("module")
    if not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
        raise ConfigRefused(
            f"{label}: a custom class (module {str(module)[:80]!r}) the grader will not run; "
            "use Keras' built-in layers instead"
        )
    vetted: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("shared_object_id", "compile_config"):
            continue
        if key == "config":
            vetted[key] = _settings(value, label) if isinstance(value, dict) else _plain(value, label, key)
        elif key == "inbound_nodes":
            vetted[key] = _arguments(value, label)
        elif key in OBJECT_KEYS:
            vetted[key] = _plain(value, label, key)
        else:
            raise ConfigRefused(f"{label}: an unexpected entry `{key[:80]}` in the saved config")
    return vetted


def _settings(config: dict[str, Any], label: str) -> dict[str, Any]:
    vetted: dict[str, Any] = {}
    for key, value in config.items():
        if key == "shared_object_id":
            continue
        if key in NESTED_LAYER_LISTS and isinstance(value, list):
            vetted[key] = [_object(item, f"{label}, in its `{key}`") for item in value]
        elif key in NESTED_LAYER_KEYS and value is not None:
            vetted[key] = _object(value, f"{label}, its `{key}`")
        elif key in ACTIVATION_KEYS:
            vetted[key] = _activation(value, label, key)
        elif key.endswith("_initializer"):
            vetted[key] = _built_in(value, "initializer", label, key)
        elif key.endswith("_regularizer"):
            vetted[key] = _built_in(value, "regularizer", label, key)
        elif key.endswith("_constraint"):
            vetted[key] = _built_in(value, "constraint", label, key)
        elif key in ("dtype", "dtype_policy"):
            vetted[key] = _built_in(value, "dtype", label, key)
        else:
            vetted[key] = _plain(value, label, key)
    return vetted


def _activation(value: Any, label: str, key: str) -> str | None:
    """The built-in name an activation setting stands for; anything that is not one is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        name = TF_ACTIVATIONS.get(value, value)
        if name in ACTIVATIONS:
            return name
        raise ConfigRefused(
            _activation_advice(label, key, f"`{value[:80]}`, which is not a Keras activation")
        )
    if isinstance(value, dict):
        class_name = value.get("class_name")
        inner = value.get("config")
        if class_name == "function" and isinstance(inner, str):
            module = value.get("module")
            name = TF_ACTIVATIONS.get(inner, inner)
            if (
                name in ACTIVATIONS
                and isinstance(module, str)
                and (module == "builtins" or module.startswith("keras"))
            ):
                return name
            raise ConfigRefused(
                _activation_advice(
                    label, key, f"the function `{inner[:80]}`, which is not a Keras activation"
                )
            )
        if class_name == "__lambda__" or (class_name is None and "value" in value):
            raise ConfigRefused(
                _activation_advice(label, key, "a Python lambda, which the grader will not run")
            )
        if isinstance(inner, dict):
            layer = _activation_layer(str(class_name), inner, label, key)
            if layer is not None:
                return layer
        what = f"a {str(value.get('module'))[:60]}.{str(class_name)[:60]} object"
        if class_name in ("Functional", "Sequential", "Model"):
            what = f"a whole Keras model ({class_name})"
        raise ConfigRefused(_activation_advice(label, key, f"{what}, which the grader cannot account for"))
    raise ConfigRefused(_activation_advice(label, key, "a value the grader cannot read"))


def _activation_layer(class_name: str, config: dict[str, Any], label: str, key: str) -> str | None:
    """`ReLU()`, `Softmax()` and `Activation(name)` written as an activation are that built-in name."""
    if class_name == "Activation":
        return _activation(config.get("activation"), label, key)
    if (
        class_name == "ReLU"
        and not config.get("max_value")
        and not config.get("negative_slope")
        and not config.get("threshold")
    ):
        return "relu"
    if class_name == "Softmax" and config.get("axis", -1) in (-1, [-1]):
        return "softmax"
    return None


def _activation_advice(label: str, key: str, what: str) -> str:
    return (
        f'{label}: its `{key}` is {what}; write {key}="relu" (or "softmax", "sigmoid", "tanh": '
        "a name from keras.activations), or put the computation in the model as a layer of its own"
    )


def _built_in(value: Any, kind: str, label: str, key: str) -> Any:
    """An initializer, regularizer, constraint or dtype: a name, or one of Keras' own classes with plain settings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        class_name = value.get("class_name")
        module = value.get("module")
        if (
            class_name in BUILT_IN_CLASSES[kind]
            and isinstance(module, str)
            and (module == "keras" or module.startswith("keras."))
            and isinstance(value.get("config"), dict | None)
        ):
            return {
                name: _plain(setting, label, key)
                for name, setting in value.items()
                if name != "shared_object_id"
            }
        what = f"a {str(module)[:60]}.{str(class_name)[:60]} object"
    else:
        what = f"a {type(value).__name__}"
    raise ConfigRefused(
        f"{label}: its `{key}` is {what}, not one of Keras' built-in {kind}s; write {key}={EXAMPLES[kind]}"
    )


def _arguments(value: Any, label: str) -> Any:
    """A call's arguments: tensors of the graph, constant arrays and plain values, nothing that computes."""
    if isinstance(value, list):
        return [_arguments(item, label) for item in value]
    if isinstance(value, dict):
        class_name = value.get("class_name")
        if class_name is None:
            return {key: _arguments(item, label) for key, item in value.items()}
        if class_name in ARGUMENT_CLASSES:
            return {key: _plain(item, label, "inbound_nodes") for key, item in value.items()}
        raise ConfigRefused(
            f"{label}: it is called with a {str(class_name)[:80]} object as an argument, which the grader "
            "cannot account for; call layers on tensors and constant arrays only"
        )
    return value


def _plain(value: Any, label: str, key: str) -> Any:
    """A setting that must hold no serialised object at all: numbers, strings, lists of them."""
    if isinstance(value, list):
        return [_plain(item, label, key) for item in value]
    if isinstance(value, dict):
        if "class_name" in value:
            raise ConfigRefused(
                f"{label}: its `{key[:80]}` holds a {str(value.get('class_name'))[:80]} object, which the grader "
                "cannot account for; write a plain value (a number, a name) there"
            )
        return {name: _plain(item, label, key) for name, item in value.items() if name != "shared_object_id"}
    return value
