"""One table of Keras 2 idioms (`grader/inside/kernel/idioms.py`), and every idiom in it served three ways.

For each idiom's example line: the compatibility layer translates it (runs, records a use) or
refuses it (a `LegacyKerasError`, recorded); the static scan gives a hint under the same name;
and without the layer, the error real Keras 3 raises is explained next to the traceback (unless
the idiom is `silent`: Keras 3 runs it without an error). The examples run in two fresh Python
processes with the real Keras, one with the layer installed, one without.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from grader.grading import migration
from grader.grading.submission import Cell
from grader.inside.kernel import idioms
from grader.result import CellOutcome

pytestmark = pytest.mark.slow

RUNNER = textwrap.dedent(
    """\
    import json, os, sys, traceback
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.chdir(sys.argv[2])
    import keras
    from grader.inside.kernel import budget, idioms, keras2, records
    if sys.argv[1] == "layer":
        keras2.install(keras)
        budget.install(keras, {"compat": "keras2"})
    found = {}
    for idiom in idioms.ALL:
        namespace = {}
        exec(idioms.EXAMPLE_SETUP, namespace)
        records.USES.clear()
        try:
            exec(idiom.example, namespace)
            error = None
        except Exception as exc:
            error = {"name": type(exc).__name__, "value": str(exc), "traceback": traceback.format_exc()}
        found[idiom.example] = {"error": error, "uses": [use["idiom"] for use in records.USES]}
    print("RESULTS " + json.dumps(found))
    """
)


def run_examples(mode: str, folder: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, mode, folder], capture_output=True, text=True, timeout=600, check=False
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULTS ")), None)
    assert line is not None, done.stderr[-3000:]
    return dict(json.loads(line.removeprefix("RESULTS ")))


@pytest.fixture(scope="module")
def with_layer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_examples("layer", str(tmp_path_factory.mktemp("layer")))


@pytest.fixture(scope="module")
def without_layer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_examples("plain", str(tmp_path_factory.mktemp("plain")))


def test_every_idiom_has_an_example_and_a_unique_example() -> None:
    examples = [idiom.example for idiom in idioms.ALL]
    assert len(set(examples)) == len(examples)
    assert {idiom.layer for idiom in idioms.ALL} == {"translates", "refuses"}


@pytest.mark.parametrize("idiom", idioms.ALL, ids=lambda idiom: idiom.name)
def test_the_layer_translates_or_refuses_it(idiom: idioms.Idiom, with_layer: dict[str, Any]) -> None:
    outcome = with_layer[idiom.example]
    if idiom.layer == "translates":
        assert outcome["error"] is None, outcome["error"]
        assert idiom is idioms.CONVOLUTION2D or idiom.name in outcome["uses"], outcome["uses"]
    else:
        assert outcome["error"] is not None and outcome["error"]["name"] == "LegacyKerasError", outcome
        assert any(use.startswith(idiom.name.split("(")[0]) for use in outcome["uses"]), outcome["uses"]


@pytest.mark.parametrize("idiom", idioms.ALL, ids=lambda idiom: idiom.name)
def test_the_static_scan_hints_it_under_the_same_name(idiom: idioms.Idiom) -> None:
    cell = Cell(number=1, source=idioms.EXAMPLE_SETUP + idiom.example + "\n")
    names = [hint.idiom for hint in migration.scan([cell])]
    assert idiom.name in names, names


@pytest.mark.parametrize("idiom", idioms.ALL, ids=lambda idiom: idiom.name)
def test_without_the_layer_the_keras3_error_is_explained(
    idiom: idioms.Idiom, without_layer: dict[str, Any]
) -> None:
    error = without_layer[idiom.example]["error"]
    if idiom.silent:
        assert error is None, "a silent idiom runs under Keras 3 (the scan's hint is what tells the student)"
        return
    assert error is not None, f"{idiom.example} ran under Keras 3 without an error"
    outcome = CellOutcome(
        number=1,
        source=idiom.example,
        status="error",
        error_name=error["name"],
        error_value=error["value"],
        traceback=error["traceback"],
    )
    sentence = migration.explain(outcome)
    assert sentence is not None, f"{error['name']}: {error['value']}"
