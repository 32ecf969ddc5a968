"""Declared equivalences (issue #22, item 5): `accept:` lets a layers check take another spelling as its own.

Fast tests score hand-built `ModelFacts` (with the configs Keras reports) through the real check
functions; the slow ones build real Keras models in three spellings, save them as `.keras`, measure
them with the inspector's own code and score them against the real `digits-mlp-accepting` rubric.
The properties reuse the one-mutation machinery of tests/test_alignment.py: a split activation
costs no row where the rubric accepts it and exactly one where it does not, also beside a mistake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from grader.grading.check import Evidence, run_checks
from grader.inside.inspector.facts import LayerFacts, ModelFacts
from grader.render.report import print_summary, render_html
from grader.render.visibility import for_student
from grader.result import CheckResult, GradeResult, LayerRow
from grader.rubric.model import Rubric, load_rubric, parse_rubric
from tests.conftest import REPO, examples
from tests.test_alignment import REFERENCE, RUBRIC, Layer, assert_one_mistake, charged, facts

ACCEPTING = REPO / "rubrics" / "digits-mlp-accepting.yaml"

MLP = """exercise: d
title: D
model: {input_shape: [8, 8]}
checks:
  - id: architecture
    points: 6
%s    layers:
%s      - {type: Flatten, output_shape: [64], params: 0}
      - {type: Dense, units: 64, activation: relu, output_shape: [64], params: 4160}
%s"""
INSIDE = "      - {type: Dense, units: 10, activation: softmax, output_shape: [10], params: 650}\n"
SEPARATE = (
    "      - {type: Dense, units: 10, output_shape: [10], params: 650}\n"
    "      - {type: Activation, activation: softmax, output_shape: [10], params: 0}\n"
)


def rubric(last: str = INSIDE, accept: str = "", first: str = "", visibility: str = "") -> Rubric:
    options = (f"    accept: [{accept}]\n" if accept else "") + (
        f"    visibility: {visibility}\n" if visibility else ""
    )
    return parse_rubric(MLP % (options, first, last))


def layer(name: str, kind: str, shape: tuple[int, ...], params: int = 0, **config: Any) -> LayerFacts:
    return LayerFacts(name=name, type=kind, config=config, output_shape=shape, params=params)


def mlp(*last: LayerFacts, input_shape: tuple[int, ...] = (8, 8)) -> ModelFacts:
    """Flatten, Dense(64, relu), then `last`: the model the inspector measures (no row for the input)."""
    flat = 1
    for size in input_shape:
        flat *= size
    layers = (
        layer("flatten", "Flatten", (flat,)),
        layer("dense", "Dense", (64,), 64 * flat + 64, units=64, activation="relu"),
        *last,
    )
    return ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=layers,
        total_params=sum(node.params for node in layers),
        input_shape=input_shape,
        output_shape=layers[-1].output_shape,
    )


def dense10(activation: str = "linear") -> LayerFacts:
    return layer("dense_1", "Dense", (10,), 650, units=10, activation=activation)


ACTIVATION_LAYERS = {
    "Activation('softmax')": layer("activation", "Activation", (10,), activation="softmax"),
    "Softmax()": layer("softmax", "Softmax", (10,), axis=-1),
}


def architecture(model: ModelFacts, checked: Rubric) -> CheckResult:
    return run_checks(checked, Evidence(model=model))[0]


def charged_rows(result: CheckResult) -> list[LayerRow]:
    return [row for row in result.layer_rows if row.charged]


@pytest.mark.parametrize("written", list(ACTIVATION_LAYERS))
def test_an_activation_as_its_own_layer_passes_where_accepted_and_is_named(written: str) -> None:
    result = architecture(mlp(dense10(), ACTIVATION_LAYERS[written]), rubric(accept="activation-layer"))
    assert result.status == "pass" and result.points == 6
    assert [row.status for row in result.layer_rows] == ["match"] * 3
    named = f"activation as its own layer ({written} after layer 3), declared equivalent by the rubric"
    assert result.layer_rows[2].accepted == named
    assert result.message == f"all 3 expected layers match; accepted: {named}"
    assert result.layer_rows[2].actual is not None
    assert result.layer_rows[2].actual["name"] == f"dense_1 + {ACTIVATION_LAYERS[written].name}"


@pytest.mark.parametrize("written", list(ACTIVATION_LAYERS))
def test_strict_charges_an_activation_as_its_own_layer_once_saying_where_it_is(written: str) -> None:
    result = architecture(mlp(dense10(), ACTIVATION_LAYERS[written]), rubric())
    assert [(row.position, row.status) for row in charged_rows(result)] == [(3, "mismatch")]
    assert result.points == 4 and len(result.layer_rows) == 3
    fact = f"activation as its own layer: {written} after Dense, where the rubric expects activation='softmax' inside Dense"
    assert result.layer_rows[2].differences == (fact,)
    assert result.message == f"1 of 3 layers differs, at layer 3: {fact}"
    assert all(row.accepted is None for row in result.layer_rows)


def test_an_activation_inside_the_layer_matches_the_rubrics_separate_activation_row_where_accepted() -> None:
    result = architecture(mlp(dense10("softmax")), rubric(SEPARATE, "activation-layer"))
    assert result.status == "pass" and [row.status for row in result.layer_rows] == ["match"] * 3
    assert result.layer_rows[2].accepted == (
        "activation inside the layer (activation='softmax') where the rubric has Activation('softmax') as its "
        "own layer after it, declared equivalent by the rubric"
    )
    assert result.message.startswith("all 4 expected layers match; accepted: activation inside the layer")


def test_strict_charges_an_activation_inside_the_layer_once_where_the_rubric_has_it_separate() -> None:
    result = architecture(mlp(dense10("softmax")), rubric(SEPARATE))
    assert [(row.position, row.status) for row in charged_rows(result)] == [(3, "mismatch")]
    assert result.layer_rows[2].differences == (
        "activation inside Dense (activation='softmax'), where the rubric expects it as its own layer: "
        "Activation('softmax') after Dense",
    )


def test_the_same_rubric_both_ways_round_gives_the_same_marks() -> None:
    inside, separate = mlp(dense10("softmax")), mlp(dense10(), ACTIVATION_LAYERS["Activation('softmax')"])
    for last in (INSIDE, SEPARATE):
        checked = rubric(last, "activation-layer")
        assert architecture(inside, checked).points == architecture(separate, checked).points == 6


NOT_THE_SAME = [
    (
        "ReLU(max_value=6)",
        "relu",
        layer("re_lu", "ReLU", (10,), max_value=6.0, negative_slope=0.0, threshold=0.0),
    ),
    (
        "ReLU(threshold=1)",
        "relu",
        layer("re_lu", "ReLU", (10,), max_value=None, negative_slope=0.0, threshold=1.0),
    ),
    ("LeakyReLU() is slope 0.3", "leaky_relu", layer("leaky_re_lu", "LeakyReLU", (10,), negative_slope=0.3)),
    ("ELU(alpha=0.5)", "elu", layer("elu", "ELU", (10,), alpha=0.5)),
    ("Softmax(axis=0)", "softmax", layer("softmax", "Softmax", (10,), axis=0)),
    ("PReLU learns", "relu", layer("p_re_lu", "PReLU", (10,), 10)),
]


@pytest.mark.parametrize(("why", "name", "after"), NOT_THE_SAME, ids=[case[0] for case in NOT_THE_SAME])
def test_an_activation_layer_that_computes_another_function_never_passes(
    why: str, name: str, after: LayerFacts
) -> None:
    last = f"      - {{type: Dense, units: 10, activation: {name}, output_shape: [10], params: 650}}\n"
    result = architecture(mlp(dense10(), after), rubric(last, "activation-layer"))
    assert result.status == "fail" and result.points < 6, why
    assert all(row.accepted is None for row in result.layer_rows), why


@pytest.mark.parametrize(
    ("name", "after"),
    [
        ("relu", layer("re_lu", "ReLU", (10,), max_value=None, negative_slope=0.0, threshold=0.0)),
        ("elu", layer("elu", "ELU", (10,), alpha=1.0)),
        ("leaky_relu", layer("leaky_re_lu", "LeakyReLU", (10,), negative_slope=0.2)),
    ],
)
def test_activation_layers_with_keras_own_settings_are_that_activation(name: str, after: LayerFacts) -> None:
    last = f"      - {{type: Dense, units: 10, activation: {name}, output_shape: [10], params: 650}}\n"
    assert architecture(mlp(dense10(), after), rubric(last, "activation-layer")).status == "pass"


def test_an_accepted_spelling_of_the_wrong_activation_is_charged_once_for_the_activation() -> None:
    after = layer("activation", "Activation", (10,), activation="sigmoid")
    result = architecture(mlp(dense10(), after), rubric(accept="activation-layer"))
    assert [(row.position, row.status) for row in charged_rows(result)] == [(3, "mismatch")]
    assert result.layer_rows[2].differences == ("activation 'sigmoid', expected 'softmax'",)
    assert (result.layer_rows[2].accepted or "").startswith(
        "activation as its own layer (Activation('sigmoid')"
    )


def test_a_layer_with_an_activation_of_its_own_is_not_folded() -> None:
    """relu then softmax is not softmax: an activation layer folds only into a linear layer."""
    model = mlp(dense10("relu"), ACTIVATION_LAYERS["Activation('softmax')"])
    result = architecture(model, rubric(accept="activation-layer"))
    assert result.status == "fail" and all(row.accepted is None for row in result.layer_rows)


def test_a_recurrent_layers_activation_is_never_an_activation_layer() -> None:
    """An LSTM's `activation` acts inside its cell; an Activation after it is another network."""
    checked = parse_rubric(
        "exercise: d\ntitle: D\nmodel: {input_shape: [5, 3]}\nchecks:\n  - id: architecture\n    points: 2\n"
        "    accept: [activation-layer]\n    layers:\n      - {type: LSTM, units: 4, activation: tanh}\n"
    )
    lstm = layer("lstm", "LSTM", (4,), 128, units=4, activation="linear")
    tanh = layer("activation", "Activation", (4,), activation="tanh")
    model = ModelFacts(
        variable="model",
        class_name="Sequential",
        layers=(lstm, tanh),
        total_params=128,
        input_shape=(5, 3),
        output_shape=(4,),
    )
    result = run_checks(checked, Evidence(model=model))[0]
    assert result.status == "fail" and all(row.accepted is None for row in result.layer_rows)


INPUT_ROW = "      - {type: InputLayer, shape: [8, 8]}\n"


def test_the_inspector_has_no_input_row_so_a_rubric_input_row_is_matched_by_the_models_input() -> None:
    result = architecture(mlp(dense10("softmax")), rubric(accept="input-layer", first=INPUT_ROW))
    assert result.status == "pass" and [row.status for row in result.layer_rows] == ["match"] * 4
    assert result.layer_rows[0].accepted == (
        "the input as the model's input shape ((8, 8), from Input() or input_shape=, which is no layer), "
        "declared equivalent by the rubric"
    )
    assert result.layer_rows[0].actual is not None and result.layer_rows[0].actual["shape"] == [8, 8]


def test_strict_charges_a_rubric_input_row_once_saying_no_model_has_one() -> None:
    result = architecture(mlp(dense10("softmax")), rubric(first=INPUT_ROW))
    assert [(row.position, row.status) for row in charged_rows(result)] == [(1, "missing")]
    assert "measured as its input shape, not as a layer" in result.message


def test_a_wrong_input_shape_is_charged_on_the_input_row_and_the_first_layers_follow() -> None:
    checked = parse_rubric(
        (MLP % ("    accept: [input-layer]\n", INPUT_ROW, INSIDE)).replace(
            "model: {input_shape: [8, 8]}\n", ""
        )
    )
    result = architecture(mlp(dense10("softmax"), input_shape=(4, 4)), checked)
    assert [(row.position, row.status) for row in charged_rows(result)] == [(1, "mismatch")]
    assert result.layer_rows[0].differences == ("shape (4, 4), expected (8, 8)",)
    assert [row.follows_from for row in result.layer_rows[1:3]] == [1, 1]


def test_accept_and_strict_give_the_same_result_where_no_other_spelling_is_written() -> None:
    model = mlp(layer("dense_1", "Dense", (10,), 650, units=10, activation="sigmoid"))
    strict, accepting = architecture(model, rubric()), architecture(model, rubric(accept="activation-layer"))
    assert strict == accepting and strict.status == "fail"


def test_a_row_without_an_accepted_form_serialises_as_before_and_one_with_it_round_trips(
    grade_result: Callable[..., GradeResult],
) -> None:
    result = grade_result(
        architecture(mlp(dense10(), ACTIVATION_LAYERS["Softmax()"]), rubric(accept="activation-layer")),
        exercise="d",
        title="D",
        rubric="d.yaml",
    )
    data = json.loads(result.to_json())
    rows = data["checks"][0]["layer_rows"]
    assert "accepted" not in rows[0] and rows[2]["accepted"].startswith("activation as its own layer")
    assert GradeResult.model_validate(data) == result


def test_the_accepted_form_is_shown_in_the_html_and_the_terminal_and_withheld_from_a_hidden_checks_student(
    grade_result: Callable[..., GradeResult],
) -> None:
    model = mlp(dense10(), ACTIVATION_LAYERS["Activation('softmax')"])
    named = "accepted: activation as its own layer (Activation(&#39;softmax&#39;) after layer 3)"
    for visibility, shown in (("visible", True), ("hidden", False)):
        check = architecture(model, rubric(accept="activation-layer", visibility=visibility))
        result = grade_result(check, exercise="d", title="D", rubric="d.yaml")
        data = json.loads(result.to_json())
        assert (named in render_html(data, student_view=True)) is shown
        assert named in render_html(data)
        assert ("accepted" in json.dumps(for_student(data))) is shown
        console = Console(width=400, record=True)
        print_summary(result, (), console, student_view=True)
        assert ("accepted: activation as its own layer" in console.export_text()) is shown


def accepting(checked: Rubric) -> Rubric:
    spec = checked.checks[0]
    return checked.model_copy(update={"checks": [spec.model_copy(update={"accept": ["activation-layer"]})]})


SPLITTABLE = [i for i, ref in enumerate(REFERENCE) if ref.type in ("Conv2D", "Dense") and ref.activation]
STANDALONE = {"relu": ("Activation", "ReLU"), "softmax": ("Activation", "Softmax")}


def split(layers: tuple[Layer, ...], index: int, written: str) -> tuple[Layer, ...]:
    """The layer at `index` with its activation written as its own layer right after it."""
    own = layers[index]
    assert own.activation is not None
    after = Layer("Activation", activation=own.activation) if written == "Activation" else Layer(written)
    return (*layers[:index], replace(own, activation="linear"), after, *layers[index + 1 :])


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_a_split_activation_costs_no_row_where_accepted_and_one_where_not(data: st.DataObject) -> None:
    index = data.draw(st.sampled_from(SPLITTABLE))
    activation = REFERENCE[index].activation
    assert activation is not None
    written = data.draw(st.sampled_from(STANDALONE[activation]))
    model = facts(split(REFERENCE, index, written))
    assert model is not None
    accepted = run_checks(accepting(RUBRIC), Evidence(model=model))[0]
    assert accepted.status == "pass" and not charged(accepted)
    assert [row.position for row in accepted.layer_rows if row.accepted] == [index + 1]
    root = assert_one_mistake(run_checks(RUBRIC, Evidence(model=model))[0])
    assert root.position == index + 1 and root.differences[0].startswith("activation as its own layer: ")


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_beside_a_split_activation_one_mutation_is_still_charged_once(data: st.DataObject) -> None:
    index = data.draw(st.sampled_from(SPLITTABLE))
    activation = REFERENCE[index].activation
    assert activation is not None
    other = data.draw(st.sampled_from([i for i in SPLITTABLE if i != index]))
    units = data.draw(st.sampled_from([8, 24, 48]))
    changed = replace(
        REFERENCE[other], **({"units": units} if REFERENCE[other].units else {"filters": units})
    )
    mutated = (*REFERENCE[:other], changed, *REFERENCE[other + 1 :])
    model = facts(split(mutated, index, STANDALONE[activation][0]))
    assert model is not None
    root = assert_one_mistake(run_checks(accepting(RUBRIC), Evidence(model=model))[0])
    assert root.position == other + 1 and root.differences[0].split(" ")[0] in ("units", "filters")


# --- real Keras models, measured by the inspector's own code -----------------------------------


def _keras() -> Any:
    from grader.inside.inspector import measure

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return measure.keras_module()


def inside_with_input() -> Any:
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


def separate_with_input_shape() -> Any:
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.Flatten(input_shape=(8, 8)),
            layers.Dense(64),
            layers.Activation("relu"),
            layers.Dropout(0.2),
            layers.Dense(64),
            layers.ReLU(),
            layers.Dropout(0.2),
            layers.Dense(10),
            layers.Softmax(),
        ]
    )


def functional_separate() -> Any:
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input((8, 8))
    h = layers.Flatten()(inputs)
    h = layers.Dropout(0.2)(layers.Dense(64, activation="relu")(h))
    h = layers.Dropout(0.2)(layers.Activation("relu")(layers.Dense(64)(h)))
    return keras.Model(inputs, layers.Activation("softmax")(layers.Dense(10)(h)))


SPELLINGS: dict[str, Callable[[], Any]] = {
    "inside, Input()": inside_with_input,
    "separate, input_shape=": separate_with_input_shape,
    "functional, mixed": functional_separate,
}


def measured(model: Any, folder: Path) -> ModelFacts:
    from grader.inside.inspector import measure

    model.save(folder / "model.keras")
    return measure.measure(measure.load_model(folder / "model.keras"), "model")


@pytest.mark.slow
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_every_spelling_gets_full_marks_from_the_accepting_rubric(spelling: str, tmp_path: Path) -> None:
    facts_of = measured(SPELLINGS[spelling](), tmp_path)
    assert facts_of.input_shape == (8, 8) and "InputLayer" not in [node.type for node in facts_of.layers]
    results = {r.id: r for r in run_checks(load_rubric(ACCEPTING).rubric, Evidence(model=facts_of))}
    assert {key: r.status for key, r in results.items()} == {
        "architecture": "pass",
        "size": "pass",
        "output": "pass",
    }
    rows = results["architecture"].layer_rows
    assert rows[0].accepted is not None and rows[0].accepted.startswith(
        "the input as the model's input shape"
    )
    folded = [
        row.position for row in rows if row.accepted and row.accepted.startswith("activation as its own")
    ]
    assert (
        folded
        == {"inside, Input()": [], "separate, input_shape=": [3, 5, 7], "functional, mixed": [5, 7]}[spelling]
    )


@pytest.mark.slow
def test_without_accept_each_separate_activation_is_charged_once(tmp_path: Path) -> None:
    checked = load_rubric(ACCEPTING).rubric
    spec = checked.checks[0]
    assert spec.layers is not None
    strict_spec = spec.model_copy(update={"accept": [], "layers": spec.layers[1:]})
    strict = checked.model_copy(update={"checks": [strict_spec]})
    result = run_checks(strict, Evidence(model=measured(separate_with_input_shape(), tmp_path)))[0]
    assert [(row.position, row.status) for row in charged_rows(result)] == [
        (2, "mismatch"),
        (4, "mismatch"),
        (6, "mismatch"),
    ]
    assert result.points == pytest.approx(round(strict_spec.points * 3 / 6, 2))
    assert "activation as its own layer: Softmax() after Dense" in result.layer_rows[5].differences[0]
