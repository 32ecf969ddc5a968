"""The data a rubric names: held-out data for accuracy checks, and the course's data sets and assets.

Only what the instructor writes, validated; reading the files is the pipeline's job
(`grader.grading.datasets` for held-out data, `grader.grading.course` for course data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SOURCE_KINDS = ("npz", "sklearn", "keras")
CourseSet = Literal["mnist", "fashion_mnist", "cifar10", "cifar100"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Strict):
    """Exactly one of: an `.npz` file (arrays `x`, `y`), a scikit-learn set, a Keras test split."""

    npz: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Path relative to the rubric; arrays `x` and `y`."
    )
    sklearn: Literal["digits"] | None = Field(default=None, description="All of scikit-learn's bundled set.")
    keras: Literal["mnist", "cifar10"] | None = Field(
        default=None, description="The test split, read from the Keras cache (~/.keras/datasets)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DataSource:
        given = [kind for kind in SOURCE_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"data needs exactly one of {', '.join(SOURCE_KINDS)} (found: {found})")
        return self

    def describe(self) -> str:
        if self.npz is not None:
            return self.npz
        if self.sklearn is not None:
            return f"scikit-learn's {self.sklearn}"
        return f"Keras' {self.keras} test split"


class Preprocess(_Strict):
    """What the grader does to every image before the model sees it: to float32, rescale, reshape."""

    rescale: float | None = Field(default=None, description="Multiply pixel values by this.")
    reshape: Annotated[tuple[Annotated[int, Field(gt=0)], ...], Field(min_length=1)] | None = Field(
        default=None, description="The shape of one input, without the batch dimension."
    )


class CourseDataset(_Strict):
    """One Keras data set the notebook loads: from the grader's Keras cache, or the instructor's `.npz`."""

    npz: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Relative to the rubric: arrays x_train, y_train, x_test, y_test."
    )
    train: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="Keep this many training images."
    )
    test: Annotated[int, Field(gt=0)] | None = Field(default=None, description="Keep this many test images.")
    seed: int = Field(default=0, description="Which subsample: the same seed gives the same images.")


class Asset(_Strict):
    """A file or folder the course hands out, mounted read-only where the notebook reads it."""

    source: Annotated[str, Field(min_length=1)] = Field(description="Relative to the rubric.")
    target: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Relative to the notebook's folder (default: the source's name)."
    )

    @field_validator("target")
    @classmethod
    def _inside_the_working_folder(cls, target: str | None) -> str | None:
        if target is not None and (target.startswith("/") or ".." in Path(target).parts):
            raise ValueError(f"{target!r}: a target is a path inside the notebook's folder, without `..`")
        return target
