"""Kernel side: the Keras 2 idioms of the course's 2017 notebooks, run under Keras 3 (`compat: keras2`).

Removed module paths are answered by the modules that replaced them, `fit_generator` and friends
call `fit`, `.hdf5` checkpoints are written and read under their Keras 3 names, `history['acc']`
answers, and the Keras 1 forms that Keras 3 would misread (`Convolution2D(32, 3, 3)`,
`border_mode=`) are refused with their Keras 3 spelling. Each use is recorded (`records`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import inspect
import os
import sys
from typing import Any

from .records import record

LEGACY_MODULES = {
    "keras.utils.np_utils": ("keras.utils", "keras.utils.to_categorical(y, num_classes)"),
    "keras.layers.convolutional": ("keras.layers", "from keras.layers import Conv2D, MaxPooling2D"),
    "keras.layers.core": ("keras.layers", "from keras.layers import Dense, Dropout, Flatten, Activation"),
    "keras.layers.pooling": ("keras.layers", "from keras.layers import MaxPooling2D, GlobalAveragePooling2D"),
}

LEGACY_IMAGE_NAMES = ("ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator")

KERAS1_KEYWORDS = {
    "border_mode": "padding",
    "subsample": "strides",
    "init": "kernel_initializer",
    "output_dim": "units",
    "nb_filter": "filters",
    "nb_row": "kernel_size",
    "nb_col": "kernel_size",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "dim_ordering": "data_format",
    "pool_length": "pool_size",
    "filter_length": "kernel_size",
}

KERAS1_FIT_KEYWORDS = {
    "samples_per_epoch": "steps_per_epoch (a number of batches, not of samples)",
    "nb_val_samples": "validation_steps (a number of batches, not of samples)",
}

HISTORY_ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy", "accuracy": "acc", "val_accuracy": "val_acc"}


class LegacyKerasError(TypeError):
    """A Keras 1 form that neither Keras 2 nor Keras 3 reads the way the notebook means it."""


class _LegacyModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of the Keras 2 module paths Keras 3 removed with the modules that replaced them."""

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in LEGACY_MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        source, spelling = LEGACY_MODULES[module.__name__]
        target = importlib.import_module(source)
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("_")})
        record(f"import {module.__name__}", module.__name__, spelling)


def install(keras: Any) -> None:
    """Make the Keras 2 idioms work (and the Keras 1 ones fail clearly) in this kernel."""
    sys.meta_path.insert(0, _LegacyModules())
    _install_image_data_generator(keras)
    _install_generator_methods(keras)
    _install_checkpoint_paths(keras)
    _install_history_aliases(keras)
    _install_keras1_refusals(keras)


def _install_image_data_generator(keras: Any) -> None:
    from keras.src.legacy.preprocessing import image as legacy_image

    image_module = importlib.import_module("keras.preprocessing.image")
    previous = getattr(image_module, "__getattr__", None)

    def legacy_name(name: str) -> Any:
        if name in LEGACY_IMAGE_NAMES:
            record(
                f"keras.preprocessing.image.{name}",
                name,
                "keras.layers.RandomFlip / RandomTranslation / RandomRotation layers, or tf.data",
            )
            return getattr(legacy_image, name)
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module 'keras.preprocessing.image' has no attribute {name!r}")

    vars(image_module)["__getattr__"] = legacy_name


def _install_generator_methods(keras: Any) -> None:
    model = keras.Model

    def fit_generator(
        self: Any,
        generator: Any,
        steps_per_epoch: int | None = None,
        epochs: int = 1,
        verbose: Any = 1,
        callbacks: Any = None,
        validation_data: Any = None,
        validation_steps: int | None = None,
        class_weight: Any = None,
        max_queue_size: int = 10,
        workers: int = 1,
        use_multiprocessing: bool = False,
        shuffle: bool = True,
        initial_epoch: int = 0,
        **legacy: Any,
    ) -> Any:
        record(
            "fit_generator",
            "model.fit_generator(...)",
            "model.fit(generator, steps_per_epoch=..., epochs=...)",
        )
        refuse_keras1_fit_keywords(legacy)
        if "nb_epoch" in legacy:
            record("nb_epoch", "nb_epoch=", "epochs=")
            epochs = legacy.pop("nb_epoch")
        if legacy:
            raise TypeError(f"fit_generator() got unexpected keyword arguments: {', '.join(legacy)}")
        return self.fit(
            generator,
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_data=validation_data,
            validation_steps=validation_steps,
            class_weight=class_weight,
            shuffle=shuffle,
            initial_epoch=initial_epoch,
        )

    def evaluate_generator(
        self: Any, generator: Any, steps: int | None = None, verbose: Any = 0, **_: Any
    ) -> Any:
        record("evaluate_generator", "model.evaluate_generator(...)", "model.evaluate(generator, steps=...)")
        return self.evaluate(generator, steps=steps, verbose=verbose)

    def predict_generator(
        self: Any, generator: Any, steps: int | None = None, verbose: Any = 0, **_: Any
    ) -> Any:
        record("predict_generator", "model.predict_generator(...)", "model.predict(generator, steps=...)")
        return self.predict(generator, steps=steps, verbose=verbose)

    model.fit_generator = fit_generator
    model.evaluate_generator = evaluate_generator
    model.predict_generator = predict_generator


def refuse_keras1_fit_keywords(kwargs: dict[str, Any]) -> None:
    for old, new in KERAS1_FIT_KEYWORDS.items():
        if old in kwargs:
            record(f"{old}= (Keras 1)", f"{old}=", new)
            raise LegacyKerasError(f"`{old}=` is Keras 1; Keras 2 and 3 spell it {new}")


def _save_path(path: str, idiom: str, weights_only: bool) -> str:
    """Keras 3 refuses to save to `X.hdf5`: save to its Keras 3 spelling instead, and record it."""
    if not path.endswith(".hdf5"):
        return path
    stem = path[: -len(".hdf5")]
    new_path = f"{stem}.weights.h5" if weights_only else f"{stem}.keras"
    record(idiom, path, new_path)
    return new_path


def _load_path(path: str, idiom: str) -> str:
    """A missing `X.hdf5` is read from where `_save_path` wrote it, if anywhere (and recorded)."""
    if not path.endswith(".hdf5") or os.path.exists(path):
        return path
    stem = path[: -len(".hdf5")]
    variant = next(
        (p for p in (f"{stem}.keras", f"{stem}.weights.h5", f"{stem}.h5") if os.path.exists(p)), None
    )
    if variant is None:
        return path
    record(idiom, path, variant)
    return variant


def _install_checkpoint_paths(keras: Any) -> None:
    checkpoint = keras.callbacks.ModelCheckpoint
    original_init = checkpoint.__init__

    @functools.wraps(original_init)
    def checkpoint_init(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> None:
        path = os.fspath(filepath)
        if "period" in kwargs:
            record("ModelCheckpoint(period=)", "period=", "save_freq='epoch' (every epoch is the default)")
            kwargs.pop("period")
        weights_only = bool(kwargs.get("save_weights_only", args[3] if len(args) > 3 else False))
        original_init(self, _save_path(path, "checkpoint to .hdf5", weights_only), *args, **kwargs)

    checkpoint.__init__ = checkpoint_init

    model = keras.Model
    original_save_weights = model.save_weights
    original_load_weights = model.load_weights

    @functools.wraps(original_save_weights)
    def save_weights(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _save_path(os.fspath(filepath), "save_weights to .hdf5", weights_only=True)
        return original_save_weights(self, path, *args, **kwargs)

    @functools.wraps(original_load_weights)
    def load_weights(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _load_path(os.fspath(filepath), "load_weights from .hdf5")
        return original_load_weights(self, path, *args, **kwargs)

    model.save_weights = save_weights
    model.load_weights = load_weights

    original_load_model = keras.saving.load_model

    @functools.wraps(original_load_model)
    def load_model(filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _load_path(os.fspath(filepath), "load_model from .hdf5")
        return original_load_model(path, *args, **kwargs)

    keras.saving.load_model = load_model
    keras.models.load_model = load_model


class AliasingHistory(dict[str, Any]):
    """`history.history` that also answers Keras 2's 'acc' / 'val_acc' (and Keras 3's names for them)."""

    def _alias(self, key: Any) -> Any:
        if not dict.__contains__(self, key) and key in HISTORY_ALIASES:
            other = HISTORY_ALIASES[key]
            if dict.__contains__(self, other):
                if key in ("acc", "val_acc"):
                    record(f"history['{key}']", f"['{key}']", f"['{other}']")
                return other
        return key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._alias(key))

    def __contains__(self, key: Any) -> bool:
        return dict.__contains__(self, self._alias(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self._alias(key), default)


def _install_history_aliases(keras: Any) -> None:
    history = keras.callbacks.History
    original_init = history.__init__

    @functools.wraps(original_init)
    def history_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.history = AliasingHistory(self.history)

    history.__init__ = history_init


def _install_keras1_refusals(keras: Any) -> None:
    layer = keras.layers.Layer
    original_layer_init = layer.__init__

    @functools.wraps(original_layer_init)
    def layer_init(self: Any, *args: Any, **kwargs: Any) -> None:
        for old, new in KERAS1_KEYWORDS.items():
            if old in kwargs:
                name = type(self).__name__
                record(f"{old}= (Keras 1)", f"{name}({old}=...)", f"{new}=")
                raise LegacyKerasError(f"{name}({old}=...) is Keras 1; Keras 2 and Keras 3 spell it `{new}=`")
        original_layer_init(self, *args, **kwargs)

    _keep_signature(layer_init, original_layer_init)
    layer.__init__ = layer_init

    for conv, rank in ((keras.layers.Conv2D, 2), (keras.layers.Conv3D, 3)):
        _refuse_positional_kernel(conv, rank)


def _refuse_positional_kernel(conv: Any, rank: int) -> None:
    """`Convolution2D(32, 3, 3)` (filters, rows, cols) is Keras 1; Keras 3 would read the last 3 as strides."""
    original_init = conv.__init__

    @functools.wraps(original_init)
    def conv_init(self: Any, *args: Any, **kwargs: Any) -> None:
        sizes = args[1 : 1 + rank]
        if len(sizes) == rank and all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            name = type(self).__name__
            written = ", ".join(str(a) for a in args[: 1 + rank])
            kernel = "(" + ", ".join(str(n) for n in sizes) + ")"
            record(
                f"{name}(filters, rows, cols) (Keras 1)", f"{name}({written})", f"{name}({args[0]}, {kernel})"
            )
            raise LegacyKerasError(
                f"{name}({written}) is the Keras 1 form (filters, rows, cols): Keras 3 would read the "
                f"last number as the strides. Write {name}({args[0]}, {kernel}) for a {'x'.join(map(str, sizes))} "
                "kernel."
            )
        original_init(self, *args, **kwargs)

    _keep_signature(conv_init, original_init)
    conv.__init__ = conv_init


def _keep_signature(wrapper: Any, original: Any) -> None:
    """Keras reads a layer's `__init__` signature (both ways) to build its config: show it the original."""
    wrapper.__signature__ = inspect.signature(original)
