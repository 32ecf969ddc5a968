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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.result import LayerRow
from grader.rubric import formulas
from grader.rubric.model import LayerSpec

SHOWN_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "units", "pool_size", "rate")
"""The settings a row always shows of a layer; the others only where the rubric asks for them."""
DERIVED_KEYS = frozenset({"output_shape", "params"})
"""What a layer does not choose: its shape and count follow from its settings and its input."""

ROW = 10_000
"""The cost of one charged row; the smaller costs below only break ties between equally short alignments."""
INDEL_TIE = 250
TYPE_TIE = 500

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One row of an alignment: an expected layer, an actual one, or both paired."""

    expected: int | None
    actual: int | None


def align(expected: Sequence[LayerSpec], actual: Sequence[LayerFacts]) -> tuple[Step, ...]:
    """The pairing of expected and actual layers for which the fewest rows differ in type or settings.

    `cost[i][j]` is the cheapest alignment of `expected[i:]` with `actual[j:]`; walking it forward
    and preferring a pair, then a missing layer, then an extra one, makes the earlier of two
    interchangeable layers the paired one (an inserted duplicate is reported as the second).
    """
    n, m = len(expected), len(actual)
    pair = [[_pair_cost(expected[i], actual[j]) for j in range(m)] for i in range(n)]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            options = []
            if i < n and j < m:
                options.append(pair[i][j] + cost[i + 1][j + 1])
            if i < n:
                options.append(ROW + INDEL_TIE + cost[i + 1][j])
            if j < m:
                options.append(ROW + INDEL_TIE + cost[i][j + 1])
            cost[i][j] = min(options)
    steps: list[Step] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and cost[i][j] == pair[i][j] + cost[i + 1][j + 1]:
            steps.append(Step(i, j))
            i, j = i + 1, j + 1
        elif i < n and cost[i][j] == ROW + INDEL_TIE + cost[i + 1][j]:
            steps.append(Step(i, None))
            i += 1
        else:
            steps.append(Step(None, j))
            j += 1
    return tuple(steps)


def _pair_cost(spec: LayerSpec, layer: LayerFacts) -> int:
    if formulas.canonical_type(spec.type) != formulas.canonical_type(layer.type):
        return ROW + TYPE_TIE
    differing = len(own_differences(spec, layer))
    return ROW + differing if differing else 0


def layer_rows(
    expected: Sequence[LayerSpec], model: ModelFacts, input_shape: Shape | None
) -> tuple[LayerRow, ...]:
    """The layer table: aligned rows, each charged for its own differences only."""
    actual = model.layers
    model_input = input_shape or _known(model.input_shape)
    expected_in = _expected_inputs(expected, model_input)
    actual_in = [_known(model.input_shape)] + [_known(layer.output_shape) for layer in actual[:-1]]
    rows: list[LayerRow] = []
    # The position of the latest charged row that changed the shapes flowing to the layers after it.
    root: int | None = None
    for step in align(expected, actual):
        position = len(rows) + 1
        spec = expected[step.expected] if step.expected is not None else None
        layer = actual[step.actual] if step.actual is not None else None
        shape_in = expected_in[step.expected] if step.expected is not None else None
        received = actual_in[step.actual] if step.actual is not None else None
        row = _row(position, spec, layer, shape_in, received, root)
        rows.append(row)
        if row.charged and _changes_flow(row, spec, layer, shape_in, received, root):
            root = position
    return tuple(rows)


def _row(
    position: int,
    spec: LayerSpec | None,
    layer: LayerFacts | None,
    shape_in: Shape | None,
    received: Shape | None,
    root: int | None,
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
    differences = _differences(spec, layer)
    if not differences:
        return LayerRow(position=position, expected=expected, actual=actual, status="match")
    inherited = _inherited(spec, layer, shape_in, received)
    own = own_differences(spec, layer)
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
        )
    return LayerRow(
        position=position,
        expected=expected,
        actual=actual,
        status="mismatch",
        differences=tuple(differences),
        explanation=_explain(spec, layer, shape_in, received, differences, root),
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
    if spec.output_shape is not None:
        return tuple(spec.output_shape)
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
