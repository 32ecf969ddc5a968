"""The layer table: expected layers aligned with the model's, and which differences are a row's own.

A model's shapes and parameter counts flow from layer to layer, so one wrong setting or one
missing layer changes the shape of every layer after it. Comparing each later row with the
rubric's numbers would charge that one mistake again on every row, and tell the student to check
the settings of layers whose settings are right. So the table is built in two steps:

1. An edit-distance alignment over layer types and settings (never shapes, which are inherited):
   the pairing for which the fewest rows differ, a missing or extra layer costing one row, ties
   broken towards fewer differing settings.
2. Each paired row whose own type and settings match but whose output shape or parameter count
   differs is recomputed with the lesson's formulas: if its settings give the rubric's numbers from
   the rubric's input, and the model's numbers from the input the layer actually receives, the
   difference is inherited. Such a row "follows from" the charged row that changed its input, and
   is not charged again.

One mistake is thereby charged once, and only where it was made.

The alignment may also fold two rows of one side into one: a layer and the standalone activation
layer right after it (`Dense(10)` then `Softmax()`) compute what one layer with that activation
does (`grader.rubric.equivalence`). Where the check's `accept:` lists `activation-layer` a fold
costs what its pair costs, and the row names the form it was accepted in; where it does not, a fold
is offered only when the rubric asks for that very activation in the other spelling, and costs one
row that says so, rather than the two (a changed activation and an extra layer) it would be
unfolded. With `input-layer` accepted, the rubric's leading `InputLayer` row is matched by the
model's input, which the inspector measures as a shape and never as a row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.result import LayerRow
from grader.rubric import equivalence, formulas
from grader.rubric.model import LayerSpec

SHOWN_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "units", "pool_size", "rate")
"""The settings a row always shows of a layer; the others only where the rubric asks for them."""
DERIVED_KEYS = frozenset({"output_shape", "params"})
"""What a layer does not choose: its shape and count follow from its settings and its input."""

ROW = 10_000
"""The cost of one charged row; the smaller costs below only break ties between equally short alignments."""
INDEL_TIE = 250
TYPE_TIE = 500
SPELLING_TIE = 100
"""Strict: an activation in the rubric's other spelling is one charged row, cheaper than the two it is unfolded."""

Shape = tuple[int, ...]
Forms = frozenset[str]
Side = Literal["actual", "expected"]
SIDES: tuple[tuple[Side, int, int], ...] = (("actual", 1, 2), ("expected", 2, 1))
"""Each fold, and how many expected and actual rows it reads."""
FoldCosts = dict[tuple[Side, int, int], int]


@dataclass(frozen=True)
class Step:
    """One row of an alignment: an expected layer, an actual one, or both paired.

    `fold` reads two rows of one side as one: the layer at `actual` (or `expected`) with the
    standalone activation layer right after it (`grader.rubric.equivalence`).
    """

    expected: int | None
    actual: int | None
    fold: Side | None = None


@dataclass(frozen=True)
class Move:
    """One way on from (i, j): its cost, the row it makes, and how many expected and actual rows it reads."""

    cost: int
    step: Step
    di: int
    dj: int


def align(
    expected: Sequence[LayerSpec], actual: Sequence[LayerFacts], accept: Forms = frozenset()
) -> tuple[Step, ...]:
    """The pairing of expected and actual layers for which the fewest rows differ in type or settings.

    `cost[i][j]` is the cheapest alignment of `expected[i:]` with `actual[j:]`; walking it forward
    and preferring a pair, then a fold, then a missing layer, then an extra one, makes the earlier
    of two interchangeable layers the paired one (an inserted duplicate is reported as the second).
    """
    n, m = len(expected), len(actual)
    pair = [[_pair_cost(expected[i], actual[j]) for j in range(m)] for i in range(n)]
    folds = _fold_costs(expected, actual, accept)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i < n or j < m:
                cost[i][j] = min(
                    mv.cost + cost[i + mv.di][j + mv.dj] for mv in _moves(i, j, n, m, pair, folds)
                )
    steps: list[Step] = []
    i = j = 0
    while i < n or j < m:
        move = next(
            mv for mv in _moves(i, j, n, m, pair, folds) if cost[i][j] == mv.cost + cost[i + mv.di][j + mv.dj]
        )
        steps.append(move.step)
        i, j = i + move.di, j + move.dj
    return tuple(steps)


def _moves(i: int, j: int, n: int, m: int, pair: list[list[int]], folds: FoldCosts) -> list[Move]:
    """What the alignment may do at (i, j), in the order ties are broken."""
    moves = []
    if i < n and j < m:
        moves.append(Move(pair[i][j], Step(i, j), 1, 1))
        for side, di, dj in SIDES:
            folded = folds.get((side, i, j))
            if folded is not None:
                moves.append(Move(folded, Step(i, j, side), di, dj))
    if i < n:
        moves.append(Move(ROW + INDEL_TIE, Step(i, None), 1, 0))
    if j < m:
        moves.append(Move(ROW + INDEL_TIE, Step(None, j), 0, 1))
    return moves


def _fold_costs(expected: Sequence[LayerSpec], actual: Sequence[LayerFacts], accept: Forms) -> FoldCosts:
    """The cost of each possible fold: a pair's where the rubric accepts the form, else one row (see `_rubric_names`)."""
    costs: FoldCosts = {}
    for i, spec in enumerate(expected):
        for j, layer in enumerate(actual):
            for side, _, _ in SIDES:
                folded = fold(expected, actual, Step(i, j, side))
                if folded is None:
                    continue
                merged_spec, merged_layer, standalone = folded
                if "activation-layer" in accept:
                    costs[(side, i, j)] = _pair_cost(merged_spec, merged_layer)
                elif _rubric_names(side, spec, layer, standalone):
                    own = len(own_differences(merged_spec, merged_layer))
                    costs[(side, i, j)] = ROW + SPELLING_TIE + own
    return costs


def _rubric_names(side: Side, spec: LayerSpec, layer: LayerFacts, standalone: tuple[str, str]) -> bool:
    """Strict: whether the rubric asks for this very activation, in the other spelling (then it is one row)."""
    name = standalone[1]
    if side == "actual":
        return spec.activation is not None and same_setting(name, spec.activation)
    return same_setting(layer.config.get("activation"), name)


def fold(
    expected: Sequence[LayerSpec], actual: Sequence[LayerFacts], step: Step
) -> tuple[LayerSpec, LayerFacts, tuple[str, str]] | None:
    """The step's layer read with the standalone activation after it as one, and that activation layer's
    (type, activation); None where the two do not compute the same as one layer or the types differ."""
    assert step.expected is not None and step.actual is not None
    spec, layer = expected[step.expected], actual[step.actual]
    if formulas.canonical_type(spec.type) != formulas.canonical_type(layer.type):
        return None
    if formulas.canonical_type(spec.type) not in equivalence.HOLDS_ACTIVATION:
        return None
    if step.fold == "actual" and step.actual + 1 < len(actual):
        merged = _fold_actual(layer, actual[step.actual + 1])
        return (spec, merged[0], merged[1]) if merged is not None else None
    if step.fold == "expected" and step.expected + 1 < len(expected):
        merged_spec = _fold_expected(spec, expected[step.expected + 1])
        return (merged_spec[0], layer, merged_spec[1]) if merged_spec is not None else None
    return None


def _fold_actual(layer: LayerFacts, after: LayerFacts) -> tuple[LayerFacts, tuple[str, str]] | None:
    """`Dense(10)` then `Activation('softmax')` as the one `Dense(10, activation='softmax')` they compute."""
    name = equivalence.activation_of(after.type, after.config) if after.kind == "layer" else None
    if name is None or not equivalence.is_linear(layer.config.get("activation")):
        return None
    if after.params != 0 or after.output_shape != layer.output_shape:
        return None
    merged = layer.model_copy(
        update={
            "name": f"{layer.name} + {after.name}",
            "config": {**layer.config, "activation": name},
            "output_shape": after.output_shape,
        }
    )
    return merged, (after.type, name)


def _fold_expected(spec: LayerSpec, after: LayerSpec) -> tuple[LayerSpec, tuple[str, str]] | None:
    """The rubric's `Dense(10)` then `Activation('softmax')` rows as the one layer they compute."""
    name = equivalence.activation_of(after.type, after.attributes())
    if name is None or not equivalence.is_linear(spec.activation) or after.params not in (None, 0):
        return None
    shape = after.output_shape if after.output_shape is not None else spec.output_shape
    return spec.model_copy(update={"activation": name, "output_shape": shape}), (after.type, name)


def _pair_cost(spec: LayerSpec, layer: LayerFacts) -> int:
    if formulas.canonical_type(spec.type) != formulas.canonical_type(layer.type):
        return ROW + TYPE_TIE
    differing = len(own_differences(spec, layer))
    return ROW + differing if differing else 0


@dataclass(frozen=True)
class Spelling:
    """A row read in another spelling than the rubric's: what to say, and whether the rubric accepts it."""

    text: str
    accepted: bool


def layer_rows(
    expected: Sequence[LayerSpec], model: ModelFacts, input_shape: Shape | None, accept: Forms = frozenset()
) -> tuple[LayerRow, ...]:
    """The layer table: aligned rows, each charged for its own differences only.

    Where the rubric accepts `input-layer`, its leading `InputLayer` row is matched by the model's
    input (`_input_row`); a wrong input shape there is the charged row the first layers follow from.
    """
    if "input-layer" in accept and expected and expected[0].type == equivalence.INPUT_LAYER:
        first = _input_row(expected[0], model)
        stated = expected[0].model_extra or {}
        shape = input_shape or _known(_stated_input(stated)) or _known(model.input_shape)
        root = 1 if first.charged else None
        return _aligned_rows(expected[1:], model, shape, accept, [first], root)
    return _aligned_rows(expected, model, input_shape, accept, [], None)


def _aligned_rows(
    expected: Sequence[LayerSpec],
    model: ModelFacts,
    input_shape: Shape | None,
    accept: Forms,
    rows: list[LayerRow],
    root: int | None,
) -> tuple[LayerRow, ...]:
    """The aligned rows after `rows`; `root` is the latest charged row that changed the shapes flowing on."""
    actual = model.layers
    expected_in = _expected_inputs(expected, input_shape or _known(model.input_shape))
    actual_in = [_known(model.input_shape)] + [_known(layer.output_shape) for layer in actual[:-1]]
    for step in align(expected, actual, accept):
        position = len(rows) + 1
        spec = expected[step.expected] if step.expected is not None else None
        layer = actual[step.actual] if step.actual is not None else None
        spelling = None
        if step.fold is not None:
            folded = fold(expected, actual, step)
            assert folded is not None
            spec, layer, standalone = folded
            spelling = _spelling(step.fold, spec.type, standalone, position, "activation-layer" in accept)
        shape_in = expected_in[step.expected] if step.expected is not None else None
        received = actual_in[step.actual] if step.actual is not None else None
        row = _row(position, spec, layer, shape_in, received, root, spelling)
        rows.append(row)
        if row.charged and _changes_flow(row, spec, layer, shape_in, received, root):
            root = position
    return tuple(rows)


def _spelling(
    side: Side, layer_type: str, standalone: tuple[str, str], position: int, accepted: bool
) -> Spelling:
    """What a folded row says: the form it was accepted as, or (strict) the one difference it is charged for."""
    written = equivalence.spelled(*standalone)
    name = standalone[1]
    if side == "actual":
        if accepted:
            text = f"activation as its own layer ({written} after layer {position}), declared equivalent by the rubric"
        else:
            text = (
                f"activation as its own layer: {written} after {layer_type}, "
                f"where the rubric expects activation='{name}' inside {layer_type}"
            )
    elif accepted:
        text = (
            f"activation inside the layer (activation='{name}') where the rubric has {written} as its own "
            f"layer after it, declared equivalent by the rubric"
        )
    else:
        text = (
            f"activation inside {layer_type} (activation='{name}'), where the rubric expects it as its own layer: "
            f"{written} after {layer_type}"
        )
    return Spelling(text, accepted)


def _input_row(spec: LayerSpec, model: ModelFacts) -> LayerRow:
    """The rubric's `InputLayer` row against the model's input, which the inspector measures as a shape, not a row."""
    shape = list(model.input_shape) if model.input_shape is not None else None
    layer = LayerFacts(
        name="(the model's input)",
        type=equivalence.INPUT_LAYER,
        config={"shape": shape, "batch_shape": [None, *shape] if shape is not None else None},
        output_shape=model.input_shape,
        params=0,
    )
    text = (
        f"the input as the model's input shape ({formulas.format_shape(model.input_shape)}, from Input() or "
        "input_shape=, which is no layer), declared equivalent by the rubric"
    )
    return _row(1, spec, layer, None, None, None, Spelling(text, True))


def _stated_input(settings: dict[str, Any]) -> tuple[int | None, ...] | None:
    """The input shape an `InputLayer` row states (`shape`, or `batch_shape` without its batch size)."""
    if isinstance(settings.get("shape"), list):
        return tuple(settings["shape"])
    if isinstance(settings.get("batch_shape"), list) and settings["batch_shape"]:
        return tuple(settings["batch_shape"][1:])
    return None


def _row(
    position: int,
    spec: LayerSpec | None,
    layer: LayerFacts | None,
    shape_in: Shape | None,
    received: Shape | None,
    root: int | None,
    spelling: Spelling | None = None,
) -> LayerRow:
    expected = spec.attributes() if spec is not None else None
    if expected is not None:
        expected = {k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()}
    actual = _actual_view(layer, spec) if layer is not None else None
    if spec is None:
        return LayerRow(position=position, expected=None, actual=actual, status="extra")
    if layer is None:
        return LayerRow(
            position=position,
            expected=expected,
            actual=None,
            status="missing",
            explanation=_missing_explanation(spec, shape_in),
        )
    charged = [spelling.text] if spelling is not None and not spelling.accepted else []
    accepted = spelling.text if spelling is not None and spelling.accepted else None
    differences = charged + _differences(spec, layer)
    if not differences:
        return LayerRow(
            position=position, expected=expected, actual=actual, status="match", accepted=accepted
        )
    inherited = _inherited(spec, layer, shape_in, received)
    own = charged + own_differences(spec, layer)
    if inherited and not own and root is not None:
        assert shape_in is not None and received is not None
        return LayerRow(
            position=position,
            expected=expected,
            actual=actual,
            status="follows",
            differences=tuple(differences),
            explanation=_follows_explanation(layer, shape_in, received, root),
            follows_from=root,
            accepted=accepted,
        )
    return LayerRow(
        position=position,
        expected=expected,
        actual=actual,
        status="mismatch",
        differences=tuple(differences),
        explanation=_explain(spec, layer, shape_in, received, differences, root),
        accepted=accepted,
    )


def _inherited(spec: LayerSpec, layer: LayerFacts, shape_in: Shape | None, received: Shape | None) -> bool:
    """Whether the layer's shape and count are what its settings give, both in the rubric's chain and in the model's.

    Its settings are the rubric's where the rubric gives them and the layer's own elsewhere; they
    must give the rubric's output shape and count (where the rubric states them) from the rubric's
    input, so a setting the rubric leaves open cannot hide a mistake, and the layer's measured shape
    and count from the input it actually receives.
    """
    if shape_in is None or received is None:
        return False
    settings = _settings(spec, layer)
    want = spec.attributes()
    if "output_shape" in want:
        if formulas.expected_output(spec.type, settings, shape_in) != tuple(want["output_shape"]):
            return False
        if layer.output_shape is None or formulas.expected_output(spec.type, settings, received) != tuple(
            layer.output_shape
        ):
            return False
    if "params" in want:
        in_rubric = formulas.expected_params(spec.type, settings, shape_in)
        in_model = formulas.expected_params(spec.type, settings, received)
        if in_rubric is None or in_model is None:
            return False
        if in_rubric[0] != want["params"] or in_model[0] != layer.params:
            return False
    return True


def _settings(spec: LayerSpec, layer: LayerFacts) -> dict[str, Any]:
    """The layer's settings, the rubric's where it gives them (they match: the row has no setting differences)."""
    own = {key: value for key, value in layer.config.items() if value is not None}
    return {**own, **_rubric_settings(spec)}


def _changes_flow(
    row: LayerRow,
    spec: LayerSpec | None,
    layer: LayerFacts | None,
    shape_in: Shape | None,
    received: Shape | None,
    root: int | None,
) -> bool:
    """Whether a charged row changed what the layers after it receive (unknown counts as changed).

    A missing layer does when it would have changed its input's shape; an extra one when it
    changes its input's shape; a mismatched one when its output is not what the rubric's settings
    give from the input it receives (an activation alone changes no shape), or when it is charged
    for an input that no earlier charged row explains (the model's input shape differs).
    """
    if row.status == "missing":
        assert spec is not None
        out = _expected_out(spec, shape_in)
        return out is None or shape_in is None or out != shape_in
    if layer is None or layer.output_shape is None or received is None:
        return True
    if row.status == "extra":
        return tuple(layer.output_shape) != received
    if spec is None or formulas.canonical_type(spec.type) != formulas.canonical_type(layer.type):
        return True
    if root is None and shape_in is not None and received != shape_in:
        return True
    return formulas.expected_output(spec.type, _rubric_settings(spec), received) != tuple(layer.output_shape)


def _rubric_settings(spec: LayerSpec) -> dict[str, Any]:
    return {
        key: value for key, value in spec.attributes().items() if key not in DERIVED_KEYS and key != "type"
    }


def _expected_out(spec: LayerSpec, shape_in: Shape | None) -> Shape | None:
    """The shape a rubric row should give from `shape_in` (an activation layer or an input row keeps it)."""
    if spec.output_shape is not None:
        return tuple(spec.output_shape)
    if spec.type in equivalence.ACTIVATION_LAYERS or spec.type == equivalence.INPUT_LAYER:
        return shape_in
    return formulas.expected_output(spec.type, spec.attributes(), shape_in) if shape_in is not None else None


def _known(shape: tuple[int | None, ...] | None) -> Shape | None:
    if shape is None or any(d is None for d in shape):
        return None
    return tuple(int(d) for d in shape if d is not None)


def _expected_inputs(expected: Sequence[LayerSpec], input_shape: Shape | None) -> list[Shape | None]:
    """The input shape each expected layer should see, following the rubric's own chain of layers."""
    shapes: list[Shape | None] = []
    current = input_shape
    for spec in expected:
        shapes.append(current)
        current = _expected_out(spec, current)
    return shapes


def _actual_view(layer: LayerFacts, spec: LayerSpec | None) -> dict[str, Any]:
    """What a row shows of the layer: the lesson's settings, and any other the rubric's row asks about."""
    asked = [key for key in (spec.attributes() if spec is not None else {}) if key not in DERIVED_KEYS]
    shown = [key for key in (*SHOWN_KEYS, *asked) if key in layer.config and key != "type"]
    view: dict[str, Any] = {
        "name": layer.name,
        "type": layer.type,
        **{key: layer.config[key] for key in shown},
    }
    view["output_shape"] = list(layer.output_shape) if layer.output_shape is not None else None
    view["params"] = layer.params
    if layer.kind != "layer":
        view["kind"] = layer.kind
    if layer.constants:
        view["constants"] = layer.constants
    return view


def _missing_explanation(spec: LayerSpec, shape_in: Shape | None) -> str | None:
    if spec.type == equivalence.INPUT_LAYER:
        return (
            "a model's input (Input() or input_shape=) is measured as its input shape, not as a layer, so no "
            "model has this row unless the rubric accepts input-layer"
        )
    if shape_in is None:
        return None
    out = _expected_out(spec, shape_in)
    if out is None:
        return None
    after = (
        "; without it the layers after it receive a different input, so their shapes and params differ too"
        if out != shape_in
        else ""
    )
    return f"it should turn {formulas.format_shape(shape_in)} into {formulas.format_shape(out)}{after}"


def own_differences(spec: LayerSpec, layer: LayerFacts) -> list[str]:
    """Where the layer's type or settings differ from the rubric's (its shape and count aside)."""
    return [d for d in _differences(spec, layer) if d.split(" ", 1)[0] not in DERIVED_KEYS]


def _differences(spec: LayerSpec, layer: LayerFacts) -> list[str]:
    """Every way the layer differs from the rubric's; of another type, only that (its settings are another layer's)."""
    if formulas.canonical_type(spec.type) != formulas.canonical_type(layer.type):
        return [f"type {layer.type}, expected {spec.type}"]
    found: list[str] = []
    for key, wanted in spec.attributes().items():
        if key == "type":
            continue
        have = _actual_value(layer, key)
        if not same_setting(have, wanted):
            if have is None and key not in DERIVED_KEYS:
                found.append(f"{key} not recorded, expected {_show(wanted)}")
                continue
            if isinstance(wanted, int | float) and not isinstance(wanted, bool) and isinstance(have, list):
                wanted = [wanted] * len(have)  # `kernel_size: 3` means 3 along every axis
            found.append(f"{key} {_show(have)}, expected {_show(wanted)}")
    return found


def _actual_value(layer: LayerFacts, key: str) -> Any:
    if key == "output_shape":
        return layer.output_shape
    if key == "params":
        return layer.params
    return layer.config.get(key)


def same_setting(have: Any, wanted: Any) -> bool:
    """Whether a measured setting is the rubric's, the way Keras would read the rubric's spelling.

    A number stands for the same number along every axis (`kernel_size: 3` is `(3, 3)`, and
    `(3,)` for a Conv1D); floats are equal to 1e-6; names compare without case or underscores, so
    `relu` is `ReLU` and `l2` or `glorot_uniform` name the serialised `L2` and `GlorotUniform`; a
    mapping states only the entries it gives (`{l2: 0.01}` is an `L2` with that factor, whatever
    else its config holds); booleans equal only booleans.
    """
    if have is None or wanted is None:
        return have is None and wanted is None
    if isinstance(wanted, bool) or isinstance(have, bool):
        return isinstance(have, bool) and isinstance(wanted, bool) and have == wanted
    if isinstance(have, dict) and "class_name" in have:
        inner = have.get("config")
        config: dict[str, Any] = inner if isinstance(inner, dict) else {}
        if isinstance(wanted, str):
            return _name(wanted) in {_name(str(have["class_name"])), _name(str(config.get("name", "")))}
        if isinstance(wanted, dict):
            named = "class_name" not in wanted or _name(str(wanted["class_name"])) == _name(
                str(have["class_name"])
            )
            entries = wanted.get("config", {}) if "class_name" in wanted else wanted
            return named and isinstance(entries, dict) and same_setting(config, entries)
        return False
    if isinstance(wanted, dict):
        return isinstance(have, dict) and all(
            key in have and same_setting(have[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(wanted)
            and all(same_setting(h, w) for h, w in zip(have, wanted, strict=True))
        )
    if isinstance(have, list | tuple):
        return bool(have) and all(same_setting(h, wanted) for h in have)
    if isinstance(wanted, int | float) and isinstance(have, int | float):
        return math.isclose(float(have), float(wanted), rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(wanted, str) and isinstance(have, str):
        return _name(have) == _name(wanted)
    return bool(have == wanted)


def _name(text: str) -> str:
    return text.replace("_", "").lower()


def _show(value: Any) -> str:
    if isinstance(value, dict):
        if "class_name" in value:
            config = value.get("config") or {}
            inner = (
                ", ".join(f"{k}={_show(v)}" for k, v in config.items()) if isinstance(config, dict) else ""
            )
            return f"{value['class_name']}({inner})"
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return formulas.format_shape(value)
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _follows_explanation(layer: LayerFacts, shape_in: Shape, received: Shape, root: int) -> str:
    gives = f"{formulas.format_shape(layer.output_shape)} and {layer.params:,} params"
    return (
        f"follows from layer {root}: this layer's settings are right; it receives "
        f"{formulas.format_shape(received)} instead of {formulas.format_shape(shape_in)}, "
        f"and from that its settings give {gives}"
    )


def _explain(
    spec: LayerSpec,
    layer: LayerFacts,
    shape_in: Shape | None,
    received: Shape | None,
    differences: list[str],
    root: int | None,
) -> str:
    """The row's own differences in one sentence: settings first, then shapes and counts by the lesson's formulas.

    After an earlier charged difference the formulas are applied to the input the layer receives,
    since that is what its own settings act on; a shape or count that only follows from the earlier
    difference is named as such rather than explained again.
    """
    notes = {d.split(" ", 1)[0]: d for d in differences}
    attrs = spec.attributes()
    for key in notes.keys() & attrs.keys():
        why = formulas.explain_setting(spec.type, key, layer.config.get(key), attrs[key])
        if why is not None:
            notes[key] = f"{notes[key]}: {why}"
    after_root = root is not None and received is not None and shape_in is not None and received != shape_in
    base = received if after_root else shape_in
    if base is None:
        return "; ".join(notes.values())
    explained = {
        "output_shape": formulas.explain_shape(spec.type, attrs, base, layer.output_shape)
        if layer.output_shape is not None
        else None,
        "params": formulas.explain_params(spec.type, attrs, base, layer.params),
    }
    inherited = []
    for key, text in explained.items():
        if key not in notes:
            continue
        if text is not None:
            notes[key] = text
        elif after_root:
            inherited.append(key)
            del notes[key]
    if inherited:
        what = " and ".join({"output_shape": "output shape", "params": "params"}[key] for key in inherited)
        notes["follows"] = f"its {what} follow{'s' if len(inherited) == 1 else ''} from layer {root}"
    elif after_root and any(key in notes for key in explained):
        assert received is not None
        notes["input"] = (
            f"from the {formulas.format_shape(received)} it receives, which follows from layer {root}"
        )
    if not after_root and received is not None and shape_in is not None and received != shape_in:
        notes["input"] = (
            f"it receives {formulas.format_shape(received)} instead of {formulas.format_shape(shape_in)}"
        )
    return "; ".join(notes.values())
