"""The one table of Keras 2 (and Keras 1) idioms the course's 2017 notebooks use, and SciPy's `imresize`.

Three parts of the grader read it, so that they cannot drift apart: the kernel-side compatibility
layer (`keras2`, `budget`) translates or refuses each idiom, the grader-side static scan
(`grader.grading.migration.scan`) lists each one a submission uses with its Keras 3 spelling, and the
failure explanations (`grader.grading.migration.explain`) recognise the error Keras 3 raises for it when
the layer is off. Each entry carries an example line of Keras 2 code; a test runs every example
through all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LayerAction = Literal["translates", "refuses"]


@dataclass(frozen=True)
class Idiom:
    """One idiom: how reports name it, how Keras 3 spells it, what `compat: keras2` does, an example.

    `silent`: without the compatibility layer, Keras 3 runs the example without an error but
    reads it differently (`Conv2D(32, 3, 3)`), or the same (an alias kept for old code), so there
    is no error to explain: the static scan's hint is what tells the student.
    """

    name: str
    keras3: str
    layer: LayerAction
    example: str
    silent: bool = False


LAYERS_IMPORT = "from keras.layers import Conv2D, MaxPooling2D, Dense, Dropout, Flatten, Activation"

MODULES: dict[str, tuple[str, Idiom]] = {
    "keras.utils.np_utils": (
        "keras.utils",
        Idiom(
            "keras.utils.np_utils",
            "keras.utils.to_categorical(y, num_classes)",
            "translates",
            "from keras.utils import np_utils",
        ),
    ),
    "keras.layers.convolutional": (
        "keras.layers",
        Idiom(
            "keras.layers.convolutional",
            LAYERS_IMPORT,
            "translates",
            "from keras.layers.convolutional import Conv2D",
        ),
    ),
    "keras.layers.core": (
        "keras.layers",
        Idiom("keras.layers.core", LAYERS_IMPORT, "translates", "from keras.layers.core import Dense"),
    ),
    "keras.layers.pooling": (
        "keras.layers",
        Idiom(
            "keras.layers.pooling",
            LAYERS_IMPORT,
            "translates",
            "from keras.layers.pooling import MaxPooling2D",
        ),
    ),
}
"""Module paths Keras 3 removed: (the module that replaced it, the idiom)."""

IMAGE_MODULE = "keras.preprocessing.image"
IMAGE_NAMES = ("ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator")
IMAGE_DATA_GENERATOR = Idiom(
    "keras.preprocessing.image.ImageDataGenerator",
    "augmentation layers (keras.layers.RandomFlip, RandomTranslation, RandomRotation) or tf.data",
    "translates",
    "from keras.preprocessing.image import ImageDataGenerator",
)

GENERATOR_METHODS: dict[str, Idiom] = {
    "fit_generator": Idiom(
        "fit_generator",
        "model.fit(generator, steps_per_epoch=..., epochs=...)",
        "translates",
        "model.fit_generator(batches(), steps_per_epoch=1, epochs=1, verbose=0)",
    ),
    "evaluate_generator": Idiom(
        "evaluate_generator",
        "model.evaluate(generator, steps=...)",
        "translates",
        "model.evaluate_generator(batches(), steps=1)",
    ),
    "predict_generator": Idiom(
        "predict_generator",
        "model.predict(generator, steps=...)",
        "translates",
        "model.predict_generator(batches(), steps=1)",
    ),
}
"""`Model` methods Keras 3 removed, each replaced by the plain method taking a generator."""

RENAMED_FIT_KEYWORDS: dict[str, tuple[str, Idiom]] = {
    "nb_epoch": (
        "epochs",
        Idiom("nb_epoch=", "epochs=", "translates", "model.fit(x, y, nb_epoch=1, verbose=0)"),
    ),
}
"""`fit` keywords with a new name and the same meaning: (the Keras 3 keyword, the idiom)."""

KERAS1_FIT_KEYWORDS: dict[str, Idiom] = {
    "samples_per_epoch": Idiom(
        "samples_per_epoch= (Keras 1)",
        "steps_per_epoch= (a number of batches, not of samples)",
        "refuses",
        "model.fit_generator(batches(), samples_per_epoch=8, epochs=1)",
    ),
    "nb_val_samples": Idiom(
        "nb_val_samples= (Keras 1)",
        "validation_steps= (a number of batches, not of samples)",
        "refuses",
        "model.fit_generator(batches(), steps_per_epoch=1, validation_data=batches(), nb_val_samples=8)",
    ),
}
"""Keras 1 `fit` keywords that counted samples where Keras 3 counts batches: refused, never guessed."""


def _layer_keyword(old: str, new: str, example: str) -> tuple[str, Idiom]:
    return new, Idiom(f"{old}= (Keras 1)", f"{new}=", "refuses", example)


KERAS1_LAYER_KEYWORDS: dict[str, tuple[str, Idiom]] = {
    "border_mode": _layer_keyword("border_mode", "padding", "keras.layers.Conv2D(4, 3, border_mode='same')"),
    "subsample": _layer_keyword("subsample", "strides", "keras.layers.Conv2D(4, 3, subsample=(2, 2))"),
    "init": _layer_keyword("init", "kernel_initializer", "keras.layers.Dense(2, init='uniform')"),
    "output_dim": _layer_keyword("output_dim", "units", "keras.layers.Dense(output_dim=2)"),
    "nb_filter": _layer_keyword("nb_filter", "filters", "keras.layers.Conv2D(nb_filter=4, kernel_size=3)"),
    "nb_row": _layer_keyword("nb_row", "kernel_size", "keras.layers.Conv2D(4, nb_row=3, nb_col=3)"),
    "nb_col": _layer_keyword("nb_col", "kernel_size", "keras.layers.Conv2D(4, nb_col=3)"),
    "W_regularizer": _layer_keyword(
        "W_regularizer", "kernel_regularizer", "keras.layers.Dense(2, W_regularizer=None)"
    ),
    "b_regularizer": _layer_keyword(
        "b_regularizer", "bias_regularizer", "keras.layers.Dense(2, b_regularizer=None)"
    ),
    "W_constraint": _layer_keyword(
        "W_constraint", "kernel_constraint", "keras.layers.Dense(2, W_constraint=None)"
    ),
    "b_constraint": _layer_keyword(
        "b_constraint", "bias_constraint", "keras.layers.Dense(2, b_constraint=None)"
    ),
    "dim_ordering": _layer_keyword(
        "dim_ordering", "data_format", "keras.layers.MaxPooling2D(dim_ordering='tf')"
    ),
    "pool_length": _layer_keyword("pool_length", "pool_size", "keras.layers.MaxPooling1D(pool_length=2)"),
    "filter_length": _layer_keyword(
        "filter_length", "kernel_size", "keras.layers.Conv1D(4, filter_length=3)"
    ),
}
"""Keras 1 layer keywords, refused with their Keras 3 name: (the Keras 3 keyword, the idiom)."""

HISTORY_KEYS: dict[str, tuple[str, Idiom]] = {
    "acc": (
        "accuracy",
        Idiom(
            "history['acc']",
            "history['accuracy']",
            "translates",
            "model.fit(x, y, epochs=1, verbose=0).history['acc']",
        ),
    ),
    "val_acc": (
        "val_accuracy",
        Idiom(
            "history['val_acc']",
            "history['val_accuracy']",
            "translates",
            "model.fit(x, y, epochs=1, verbose=0, validation_split=0.25).history['val_acc']",
        ),
    ),
}
"""Keras 2's names for the accuracy in a training history: (Keras 3's name, the idiom)."""

CHECKPOINT_PERIOD = Idiom(
    "ModelCheckpoint(period=)",
    "save_freq='epoch' (the default: every epoch)",
    "translates",
    "keras.callbacks.ModelCheckpoint('best.keras', period=1)",
)
HDF5_PATH = Idiom(
    "a .hdf5 model file",
    ".keras (whole model) or .weights.h5 (weights only)",
    "translates",
    "keras.callbacks.ModelCheckpoint('best.hdf5')",
)
CONVOLUTION2D = Idiom(
    "Convolution2D",
    "Conv2D (Convolution2D is an alias kept for old code)",
    "translates",
    "keras.layers.Convolution2D(4, 3)",
    silent=True,
)
KERAS1_CONVOLUTION = Idiom(
    "Conv2D(filters, rows, cols) (Keras 1)",
    "Conv2D(filters, (rows, cols)): Keras 3 reads the last positional number as the strides",
    "refuses",
    "keras.layers.Conv2D(4, 3, 3)",
    silent=True,
)
IMRESIZE = Idiom(
    "scipy.misc.imresize",
    "numpy.array(PIL.Image.fromarray(img).resize((width, height), PIL.Image.BILINEAR)) or "
    "cv2.resize(img, (width, height)): SciPy 1.3 removed scipy.misc.imresize",
    "translates",
    "import scipy.misc; scipy.misc.imresize(np.zeros((8, 8), 'uint8'), 0.5)",
)
"""Not Keras, but of the same era: the course's notebooks resize images with it (an old SciPy's API)."""

ALL: tuple[Idiom, ...] = (
    *(idiom for _, idiom in MODULES.values()),
    IMAGE_DATA_GENERATOR,
    *GENERATOR_METHODS.values(),
    *(idiom for _, idiom in RENAMED_FIT_KEYWORDS.values()),
    *KERAS1_FIT_KEYWORDS.values(),
    *(idiom for _, idiom in KERAS1_LAYER_KEYWORDS.values()),
    *(idiom for _, idiom in HISTORY_KEYS.values()),
    CHECKPOINT_PERIOD,
    HDF5_PATH,
    CONVOLUTION2D,
    KERAS1_CONVOLUTION,
    IMRESIZE,
)
"""Every idiom, for the table's test: each is translated or refused, hinted, and (unless silent) explained."""

EXAMPLE_SETUP = """\
import numpy as np, keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
x = np.zeros((8, 4), "float32"); y = np.zeros(8, "int64")
def batches():
    while True:
        yield x, y
"""
"""What every example may use: a compiled model, data and a generator of batches."""
