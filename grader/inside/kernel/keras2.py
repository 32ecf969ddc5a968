"""Kernel side: the Keras 2 idioms of the course's 2017 notebooks, run under Keras 3 (`compat: keras2`).

Removed module paths are answered by the modules that replaced them, `fit_generator` and friends
call `fit`, `.hdf5` checkpoints are written and read under their Keras 3 names, `history['acc']`
answers, and the Keras 1 forms that Keras 3 would misread (`Convolution2D(32, 3, 3)`,
`border_mode=`) are refused with their Keras 3 spelling. Of the same era, `scipy.misc.imresize`
(removed in SciPy 1.3) is provided with its old behaviour. Each use is recorded (`records`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
import warnings
from typing import Any

from . import idioms
from .records import record

HISTORY_ALIASES = {
    **{old: new for old, (new, _) in idioms.HISTORY_KEYS.items()},
    **{new: old for old, (new, _) in idioms.HISTORY_KEYS.items()},
}


def use(idiom: idioms.Idiom, found: str) -> None:
    """Record one use of an idiom under the table's name and Keras 3 spelling (as the static scan names it)."""
    record(idiom.name, found, idiom.keras3)


class LegacyKerasError(TypeError):
    """A Keras 1 form that neither Keras 2 nor Keras 3 reads the way the notebook means it."""


class _LegacyModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of the Keras 2 module paths Keras 3 removed with the modules that replaced them."""

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in idioms.MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        source, idiom = idioms.MODULES[module.__name__]
        target = importlib.import_module(source)
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("_")})
        use(idiom, module.__name__)


def install(keras: Any) -> None:
    """Make the Keras 2 idioms work (and the Keras 1 ones fail clearly) in this kernel."""
    sys.meta_path.insert(0, _LegacyModules())
    _install_image_data_generator(keras)
    _install_generator_methods(keras)
    _install_checkpoint_paths(keras)
    _install_history_aliases(keras)
    _install_keras1_refusals(keras)
    _install_imresize()


def _install_image_data_generator(keras: Any) -> None:
    from keras.src.legacy.preprocessing import image as legacy_image

    image_module = importlib.import_module(idioms.IMAGE_MODULE)
    previous = getattr(image_module, "__getattr__", None)

    def legacy_name(name: str) -> Any:
        if name in idioms.IMAGE_NAMES:
            use(idioms.IMAGE_DATA_GENERATOR, f"{idioms.IMAGE_MODULE}.{name}")
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
        use(idioms.GENERATOR_METHODS["fit_generator"], "model.fit_generator(...)")
        refuse_keras1_fit_keywords(legacy)
        rename_fit_keywords(legacy)
        epochs = legacy.pop("epochs", epochs)
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
        use(idioms.GENERATOR_METHODS["evaluate_generator"], "model.evaluate_generator(...)")
        return self.evaluate(generator, steps=steps, verbose=verbose)

    def predict_generator(
        self: Any, generator: Any, steps: int | None = None, verbose: Any = 0, **_: Any
    ) -> Any:
        use(idioms.GENERATOR_METHODS["predict_generator"], "model.predict_generator(...)")
        return self.predict(generator, steps=steps, verbose=verbose)

    model.fit_generator = fit_generator
    model.evaluate_generator = evaluate_generator
    model.predict_generator = predict_generator


def refuse_keras1_fit_keywords(kwargs: dict[str, Any]) -> None:
    for old, idiom in idioms.KERAS1_FIT_KEYWORDS.items():
        if old in kwargs:
            use(idiom, f"{old}=")
            raise LegacyKerasError(f"`{old}=` is Keras 1; Keras 2 and 3 spell it {idiom.keras3}")


def rename_fit_keywords(kwargs: dict[str, Any]) -> None:
    """`nb_epoch=` and the like, renamed in place to their Keras 3 keyword (and recorded)."""
    for old, (new, idiom) in idioms.RENAMED_FIT_KEYWORDS.items():
        if old in kwargs:
            use(idiom, f"{old}=")
            kwargs[new] = kwargs.pop(old)


def _save_path(path: str, weights_only: bool) -> str:
    """Keras 3 refuses to save to `X.hdf5`: save to its Keras 3 spelling instead, and record it."""
    if not path.endswith(".hdf5"):
        return path
    stem = path[: -len(".hdf5")]
    new_path = f"{stem}.weights.h5" if weights_only else f"{stem}.keras"
    record(idioms.HDF5_PATH.name, path, new_path)
    return new_path


def _load_path(path: str) -> str:
    """A missing `X.hdf5` is read from where `_save_path` wrote it, if anywhere (and recorded)."""
    if not path.endswith(".hdf5") or os.path.exists(path):
        return path
    stem = path[: -len(".hdf5")]
    variant = next(
        (p for p in (f"{stem}.keras", f"{stem}.weights.h5", f"{stem}.h5") if os.path.exists(p)), None
    )
    if variant is None:
        return path
    record(idioms.HDF5_PATH.name, path, variant)
    return variant


def _install_checkpoint_paths(keras: Any) -> None:
    checkpoint = keras.callbacks.ModelCheckpoint
    original_init = checkpoint.__init__

    @functools.wraps(original_init)
    def checkpoint_init(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> None:
        path = os.fspath(filepath)
        if "period" in kwargs:
            use(idioms.CHECKPOINT_PERIOD, "period=")
            kwargs.pop("period")
        weights_only = bool(kwargs.get("save_weights_only", args[3] if len(args) > 3 else False))
        original_init(self, _save_path(path, weights_only), *args, **kwargs)

    checkpoint.__init__ = checkpoint_init

    model = keras.Model
    original_save_weights = model.save_weights
    original_load_weights = model.load_weights

    @functools.wraps(original_save_weights)
    def save_weights(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _save_path(os.fspath(filepath), weights_only=True)
        return original_save_weights(self, path, *args, **kwargs)

    @functools.wraps(original_load_weights)
    def load_weights(self: Any, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _load_path(os.fspath(filepath))
        return original_load_weights(self, path, *args, **kwargs)

    model.save_weights = save_weights
    model.load_weights = load_weights

    original_load_model = keras.saving.load_model

    @functools.wraps(original_load_model)
    def load_model(filepath: Any, *args: Any, **kwargs: Any) -> Any:
        path = _load_path(os.fspath(filepath))
        return original_load_model(path, *args, **kwargs)

    keras.saving.load_model = load_model
    keras.models.load_model = load_model


class AliasingHistory(dict[str, Any]):
    """`history.history` that also answers Keras 2's 'acc' / 'val_acc' (and Keras 3's names for them)."""

    def _alias(self, key: Any) -> Any:
        if not dict.__contains__(self, key) and key in HISTORY_ALIASES:
            other = HISTORY_ALIASES[key]
            if dict.__contains__(self, other):
                if key in idioms.HISTORY_KEYS:
                    use(idioms.HISTORY_KEYS[key][1], f"['{key}']")
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
    """Refuse the Keras 1 forms when a layer is created, before its own `__init__` sees them.

    In `Layer.__new__`, not `Layer.__init__`: `Dense(output_dim=2)` fails in `Dense.__init__` for
    the missing `units` before it ever calls `Layer.__init__`, with a message that names neither.
    The positional convolution (`Conv2D(32, 3, 3)`) is checked first: Keras 3 would not fail on it
    but silently read the last number as the strides.
    """
    layer = keras.layers.Layer
    original_layer_new = layer.__new__
    convolutions = ((keras.layers.Conv3D, 3), (keras.layers.Conv2D, 2))

    def layer_new(cls: Any, *args: Any, **kwargs: Any) -> Any:
        rank = next((rank for conv, rank in convolutions if issubclass(cls, conv)), None)
        if rank is not None:
            _refuse_positional_kernel(cls.__name__, args, rank)
        for old, (new, idiom) in idioms.KERAS1_LAYER_KEYWORDS.items():
            if old in kwargs:
                name = cls.__name__
                use(idiom, f"{name}({old}=...)")
                raise LegacyKerasError(f"{name}({old}=...) is Keras 1; Keras 2 and Keras 3 spell it `{new}=`")
        return original_layer_new(cls, *args, **kwargs)

    layer.__new__ = layer_new


def _refuse_positional_kernel(name: str, args: tuple[Any, ...], rank: int) -> None:
    """`Convolution2D(32, 3, 3)` (filters, rows, cols) is Keras 1; Keras 3 would read the last 3 as strides."""
    sizes = args[1 : 1 + rank]
    if len(sizes) == rank and all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
        written = ", ".join(str(a) for a in args[: 1 + rank])
        kernel = "(" + ", ".join(str(n) for n in sizes) + ")"
        record(f"{name}(filters, rows, cols) (Keras 1)", f"{name}({written})", f"{name}({args[0]}, {kernel})")
        raise LegacyKerasError(
            f"{name}({written}) is the Keras 1 form (filters, rows, cols): Keras 3 would read the "
            f"last number as the strides. Write {name}({args[0]}, {kernel}) for a {'x'.join(map(str, sizes))} "
            "kernel."
        )


IMRESIZE_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "cubic": 3}
"""`imresize`'s interp names and PIL's resampling filters (NEAREST, LANCZOS, BILINEAR, BICUBIC)."""
IMAGE_MODES = {2: "L", 3: "RGB", 4: "RGBA"}


def _install_imresize() -> None:
    """`scipy.misc.imresize`, as SciPy before 1.3 had it, where this SciPy has no such function.

    SciPy 2.0 removes `scipy.misc` itself: then the module is made, holding `imresize` alone.
    """
    try:
        scipy = importlib.import_module("scipy")
    except ImportError:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            misc = importlib.import_module("scipy.misc")
    except ImportError:
        misc = types.ModuleType("scipy.misc")
        sys.modules["scipy.misc"] = misc
        vars(scipy)["misc"] = misc
    if not hasattr(misc, "imresize"):
        vars(misc)["imresize"] = imresize


def imresize(arr: Any, size: Any, interp: str = "bilinear", mode: str | None = None) -> Any:
    """Resize an image, as scipy.misc.imresize did before SciPy 1.3 removed it (through PIL, as it did).

    `size` is a fraction of the size (a float), a percentage (an int) or the (height, width) to
    resize to; the result is uint8, an array of another type being byte-scaled first (its minimum
    to 0, its maximum to 255).
    """
    import numpy
    from PIL import Image

    use(idioms.IMRESIZE, "scipy.misc.imresize(...)")
    if interp not in IMRESIZE_FILTERS:
        raise ValueError(f"imresize: unknown interp {interp!r}; one of {', '.join(IMRESIZE_FILTERS)}")
    image = Image.fromarray(_image_bytes(numpy.asarray(arr)))
    if mode is not None:
        image = image.convert(mode)
    width, height = image.size
    if isinstance(size, int | numpy.signedinteger) and not isinstance(size, bool):
        target = (int(width * size / 100.0), int(height * size / 100.0))
    elif isinstance(size, float | numpy.floating):
        target = (int(width * size), int(height * size))
    else:
        target = (int(size[1]), int(size[0]))
    return numpy.array(image.resize(target, resample=IMRESIZE_FILTERS[interp]))


def _image_bytes(data: Any) -> Any:
    """The array as uint8 pixels: unchanged if uint8, else scaled from its minimum..maximum to 0..255 (`bytescale`)."""
    import numpy

    channels = data.shape[2] if data.ndim == 3 else 1
    if data.ndim not in (2, 3) or (data.ndim == 3 and channels not in (3, 4)):
        raise ValueError("'arr' does not have a suitable array shape for any mode.")
    if data.dtype == numpy.uint8:
        return numpy.ascontiguousarray(data)
    low, high = float(data.min()), float(data.max())
    scaled = (data.astype(numpy.float64) - low) * (255.0 / ((high - low) or 1.0))
    return (scaled.clip(0, 255) + 0.5).astype(numpy.uint8)
