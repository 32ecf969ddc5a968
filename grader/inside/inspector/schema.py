"""Every message between the grader and its inspector, one model each, imported by both sides of the wall.

The grader's client (`grader.grading.inspector`) sends a `MeasureRequest` or a `PredictRequest`
with the files as descriptors beside it; the server (`grader.inside.inspector.server`) says
`Ready` once Keras is imported, then answers each request with `Measured`, `Predicted` or
`Failed`. Both sides build and read messages through these models, so a field renamed on one side
is renamed on the other; the grader validates every reply, since the inspector holds a student's
model and what it says is hostile input. Defined here, behind the wall, so the server imports
nothing of the grader's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from grader.inside.inspector.facts import ModelFacts


class Message(BaseModel):
    """A message on the inspector's wire: immutable, and nothing but its own fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureRequest(Message):
    """Measure the model sent as the first descriptor: its whole graph, as `ModelFacts` for `variable`."""

    op: Literal["measure"] = "measure"
    variable: str
    sha256: str


class PredictRequest(Message):
    """One class per input: the model is the first descriptor, a `.npy` array of inputs the second."""

    op: Literal["predict"] = "predict"
    sha256: str
    num_classes: int
    batch_size: int


Request = Annotated[MeasureRequest | PredictRequest, Field(discriminator="op")]
REQUEST: TypeAdapter[MeasureRequest | PredictRequest] = TypeAdapter(Request)
OPS = ("measure", "predict")


class Timing(Message):
    """What one request cost: loading and walking inside the inspector, and (the grader's) the round trip."""

    load_ms: float = 0.0
    walk_ms: float = 0.0
    round_trip_ms: float = 0.0


class Ready(Message):
    """The inspector has imported Keras and waits for requests."""

    ready: Literal[True] = True


class Prediction(BaseModel):
    """One class index per held-out input, and how many inputs gave non-finite scores (no indices)."""

    model_config = ConfigDict(frozen=True)

    classes: tuple[int, ...]
    nonfinite: int = Field(ge=0)
    device: str = Field(max_length=200)
    duration_s: float


class Measured(Message):
    """The reply to a `MeasureRequest`."""

    ok: Literal[True] = True
    facts: ModelFacts
    timing: Timing = Timing()


class Predicted(Prediction):
    """The reply to a `PredictRequest`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: Literal[True] = True
    timing: Timing = Timing()

    def prediction(self) -> Prediction:
        """The prediction alone, as the grader scores it."""
        return Prediction(
            classes=self.classes, nonfinite=self.nonfinite, device=self.device, duration_s=self.duration_s
        )


class Failed(Message):
    """Any request the inspector could not answer, and why (in words for the report)."""

    ok: Literal[False] = False
    error: str
