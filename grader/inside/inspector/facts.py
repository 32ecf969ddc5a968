"""What the inspector measures of a saved model: the reply both sides of the wall read and write.

Defined here, behind the wall, so the inspector's server imports nothing of the grader's; the
grader's results (`grader.result`) carry these values as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


NodeKind = Literal["layer", "op", "model"]


class LayerFacts(Frozen):
    """One node of a saved model's computation graph, as the grader measured it.

    Most nodes are layers. A raw operation (a `keras.ops` call in a functional model) is a node of
    kind "op" and a nested model one of kind "model": neither is in `model.layers`, but both are
    part of what the model computes, so both are rows of the layer table.
    """

    name: str
    type: str
    config: dict[str, Any]
    output_shape: tuple[int | None, ...] | None
    params: int
    kind: NodeKind = "layer"
    constants: int = Field(
        default=0, description="Values of constant arrays the node computes with (not weights)."
    )


class ModelFacts(Frozen):
    """A student's model as measured by the grader from the saved `.keras` file."""

    variable: str
    class_name: str
    layers: tuple[LayerFacts, ...]
    total_params: int
    input_shape: tuple[int | None, ...] | None
    output_shape: tuple[int | None, ...] | None
    constants: int = Field(default=0, description="Constant values in the graph outside the weights.")
    weights_sha256: str | None = Field(default=None, description="Hash of every weight, in graph order.")
    weights_sketch: tuple[float, ...] = Field(
        default=(), description="A fixed random projection of the weights, to find near-identical models."
    )
