"""The training-configuration check's vocabulary: what the model was compiled and trained with.

A `training:` check compares the loss, the optimizer and its learning rate, the metrics, the
epochs, the batch size, the callbacks and the augmentation a notebook used with what the lesson
teaches. Every name is checked against Keras' own names when the rubric is loaded, so that
`loss: categorical_crosentropy` is an error naming `categorical_crossentropy` rather than a check
that no submission can pass. Loading a rubric must not import Keras (seconds), so the names are
kept here as a table; `tests/test_training_config.py` holds the table to the installed Keras.

Spellings that Keras treats as one are one here: `'categorical_crossentropy'`,
`'CategoricalCrossentropy'` and `keras.losses.CategoricalCrossentropy()` are the same loss;
`'rmsprop'` and `RMSprop(...)` the same optimizer (`canonical_*` below).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from grader.rubric.ranges import Range

KERAS_VERSION = "3.15.1"

LOSS_CLASSES = (
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CTC",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
)
"""`keras.losses`' loss classes."""

LOSSES = (
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "dice",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
)
"""`keras.losses`' loss functions: the canonical spelling of each loss (its class is the same name in CamelCase)."""

LOSS_ALIASES = {
    "bce": "binary_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
}
"""Short names Keras accepts for a loss (and two Keras 2 names the course's notebooks may use)."""

OPTIMIZERS = (
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "Muon",
    "Nadam",
    "RMSprop",
    "SGD",
    "ScheduleFreeAdamW",
)
"""`keras.optimizers`' classes; `'rmsprop'` names `RMSprop` (`keras.optimizers.legacy` reuses these names)."""

CALLBACKS = (
    "BackupAndRestore",
    "CSVLogger",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "OrbaxCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
)
"""`keras.callbacks`' classes."""

METRIC_CLASSES = (
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
)
"""`keras.metrics`' metric classes; each is also named in snake case (`F1Score`: `f1_score`)."""

METRIC_ALIASES = {
    "acc": "accuracy",
    "bce": "binary_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "log_cosh": "log_cosh_error",
    "huber": "huber",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "pearson_correlation": "pearson_correlation",
    "concordance_correlation": "concordance_correlation",
}
"""Names Keras accepts for a metric besides its classes' (`metrics=['acc']` is Keras 2's `accuracy`)."""

ACCURACIES = frozenset({"accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy"})
"""`metrics=['accuracy']` is resolved by Keras to one of these from the loss: each counts as 'accuracy'."""

IMAGE_DATA_GENERATOR = (
    "featurewise_center",
    "samplewise_center",
    "featurewise_std_normalization",
    "samplewise_std_normalization",
    "zca_whitening",
    "zca_epsilon",
    "rotation_range",
    "width_shift_range",
    "height_shift_range",
    "brightness_range",
    "shear_range",
    "zoom_range",
    "channel_shift_range",
    "fill_mode",
    "cval",
    "horizontal_flip",
    "vertical_flip",
    "rescale",
    "preprocessing_function",
    "data_format",
    "validation_split",
    "interpolation_order",
    "dtype",
)
"""`ImageDataGenerator`'s constructor settings (a test keeps this Keras' own list)."""
NOT_AUGMENTATION = frozenset({"preprocessing_function", "validation_split", "dtype"})
"""Settings of the generator that are no augmentation a rubric can compare: a function, a split, a type."""
AUGMENTATION_SETTINGS = tuple(key for key in IMAGE_DATA_GENERATOR if key not in NOT_AUGMENTATION)
"""What an `augmentation:` key may name: what the kernel records of a generator (`budget.GENERATOR_SETTINGS`)."""

ONE_HOT_LOSSES = frozenset(
    {"categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge"}
)
"""Losses that need one label per class (`to_categorical`)."""
INTEGER_LOSSES = frozenset({"sparse_categorical_crossentropy"})
"""Losses that need one integer class index per sample."""


def squash(name: str) -> str:
    """`CategoricalCrossentropy` and `categorical_crossentropy` alike: lower case, no underscores."""
    return name.lower().replace("_", "")


def _by_squash(names: Iterable[str], canonical: Any = None) -> dict[str, str]:
    return {squash(name): (canonical(name) if canonical else name) for name in names}


def _metric_snake(name: str) -> str:
    """`F1Score` -> `f1_score`, `IoU` -> `io_u`: Keras' own snake case of a class name."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_LOSS_LOOKUP = {**_by_squash(LOSSES), **{squash(k): v for k, v in LOSS_ALIASES.items()}}
_OPTIMIZER_LOOKUP = _by_squash(OPTIMIZERS)
_CALLBACK_LOOKUP = _by_squash(CALLBACKS)
_METRIC_LOOKUP = {
    **_by_squash(METRIC_CLASSES, _metric_snake),
    **_by_squash(("accuracy",)),
    **{squash(k): v for k, v in METRIC_ALIASES.items()},
}


def canonical_loss(name: str) -> str | None:
    """The loss function's name for any of Keras' spellings of a loss; None for a name Keras does not know."""
    return _LOSS_LOOKUP.get(squash(name))


def canonical_optimizer(name: str) -> str | None:
    """The optimizer's class name for `'rmsprop'`, `'RMSprop'`, ...; None for a name Keras does not know."""
    return _OPTIMIZER_LOOKUP.get(squash(name))


def canonical_callback(name: str) -> str | None:
    return _CALLBACK_LOOKUP.get(squash(name))


def canonical_metric(name: str) -> str | None:
    """A metric's snake-case name for its class, its function or its alias; None when Keras does not know it."""
    return _METRIC_LOOKUP.get(squash(name))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean RMSprop?)`: the nearest choice, compared without case (empty when none is near)."""
    by_lower = {choice.lower(): choice for choice in choices}
    near = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[near[0]]}?)" if near else ""


def _unknown(kind: str, name: str, choices: tuple[str, ...], at: tuple[Any, ...] = ()) -> PydanticCustomError:
    return PydanticCustomError(
        f"unknown_{kind.replace(' ', '_')}",
        "{detail}",
        {
            "detail": f"unknown {kind} {name!r}{did_you_mean(name, choices)}; the names Keras knows are "
            f"{', '.join(choices)}",
            "at": at,
        },
    )


AugmentationValue = bool | int | float | str | list[float] | None
Count = Annotated[int, Field(gt=0)]
Name = Annotated[str, Field(min_length=1, max_length=100)]

TRAINING_KEYS = (
    "loss",
    "optimizer",
    "learning_rate",
    "metrics",
    "epochs",
    "batch_size",
    "callbacks",
    "augmentation",
    "validation",
    "loss_fits_labels",
)


class TrainingCheckSpec(BaseModel):
    """What a `training:` check compares; only the keys given are compared, each one a share of the points.

    The facts compared come from the student's own process (like a variable check's value): they
    say what the notebook compiled and fitted with, not what a saved model proves.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    loss: Name | None = Field(default=None, description="A Keras loss, in any of its spellings.")
    optimizer: Name | None = Field(default=None, description="A Keras optimizer: rmsprop, adam, sgd, ...")
    learning_rate: Annotated[float, Field(gt=0)] | Range | None = Field(
        default=None, description="The optimizer's learning rate: a number (float32 precision) or {min, max}."
    )
    metrics: Annotated[list[Name], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Metrics the model must be compiled with (others may be there too)."
    )
    epochs: Count | Range | None = Field(
        default=None,
        description="Epochs the notebook's fit calls asked for, added up (before the rubric's training budget).",
    )
    batch_size: Count | Range | None = Field(default=None, description="The last fit call's batch size.")
    callbacks: Annotated[list[Name], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Callback classes the fit calls used (others may be there too)."
    )
    augmentation: Annotated[dict[Name, AugmentationValue], Field(min_length=1, max_length=30)] | None = Field(
        default=None,
        description="ImageDataGenerator settings (horizontal_flip: true, width_shift_range: 0.1, ...); "
        "the preprocessing layers RandomFlip, RandomRotation, RandomTranslation and RandomZoom count too.",
    )
    validation: bool | None = Field(default=None, description="Whether the last fit call validated.")
    loss_fits_labels: Literal[True] | None = Field(
        default=None,
        description="The loss suits the labels fitted on: one-hot labels with categorical_crossentropy, "
        "integer labels with sparse_categorical_crossentropy.",
    )

    @model_validator(mode="after")
    def _compares_something(self) -> TrainingCheckSpec:
        if not self.given():
            raise ValueError(f"a training check needs at least one of {', '.join(TRAINING_KEYS)}")
        return self

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str | None) -> str | None:
        if name is not None and canonical_loss(name) is None:
            raise _unknown("loss", name, LOSSES)
        return name

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, name: str | None) -> str | None:
        if name is not None and canonical_optimizer(name) is None:
            raise _unknown("optimizer", name, OPTIMIZERS)
        return name

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str] | None) -> list[str] | None:
        for index, name in enumerate(names or []):
            if canonical_metric(name) is None:
                choices = tuple(sorted({*_METRIC_LOOKUP.values()}))
                raise _unknown("metric", name, choices, (index,))
        return names

    @field_validator("callbacks")
    @classmethod
    def _known_callbacks(cls, names: list[str] | None) -> list[str] | None:
        for index, name in enumerate(names or []):
            if canonical_callback(name) is None:
                raise _unknown("callback", name, CALLBACKS, (index,))
        return names

    @field_validator("augmentation")
    @classmethod
    def _known_settings(cls, settings: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in settings or {}:
            if key not in AUGMENTATION_SETTINGS:
                raise _unknown("ImageDataGenerator setting", key, AUGMENTATION_SETTINGS, (key,))
        return settings

    def given(self) -> tuple[str, ...]:
        """The keys this check compares, in a stable order."""
        return tuple(key for key in TRAINING_KEYS if getattr(self, key) is not None)
