"""The kernel side (`grader/inside/kernel/`): its import contract, the one way it is shipped, and its pieces in-process.

The modules run inside the student's kernel, where the grader's package is not mounted: they may
import only the standard library at module level (and each other, relatively), never the grader
side. Their functions are tested here in the test process, with the real Keras where they need it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.grading import prelude, probe
from grader.inside import kernel
from grader.inside.kernel import budget, keras2, records
from grader.inside.kernel import probe as kernel_probe

KERNEL = Path(kernel.__file__).parent
STANDARD_LIBRARY = set(sys.stdlib_module_names)


def module_level_imports(path: Path) -> Iterator[tuple[int, str, int]]:
    """(line, module, relative level) of every import that runs when the module is loaded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                yield statement.lineno, alias.name, 0
        elif isinstance(statement, ast.ImportFrom):
            yield statement.lineno, statement.module or "", statement.level


def every_import(path: Path) -> Iterator[tuple[int, str, int]]:
    for found in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(found, ast.Import):
            for alias in found.names:
                yield found.lineno, alias.name, 0
        elif isinstance(found, ast.ImportFrom):
            yield found.lineno, found.module or "", found.level


@pytest.mark.parametrize("path", sorted(KERNEL.glob("*.py")), ids=lambda p: p.name)
def test_kernel_modules_import_nothing_from_the_grader_side(path: Path) -> None:
    """The import contract: standard library at module level, other kernel modules relatively, never `grader`."""
    for line, module, level in every_import(path):
        assert level > 0 or module.split(".")[0] != "grader", f"{path.name}:{line} imports {module}"
    if path.name == "__init__.py":
        return
    for line, module, level in module_level_imports(path):
        top = module.split(".")[0]
        assert level > 0 or top in STANDARD_LIBRARY or top == "__future__", (
            f"{path.name}:{line}: {module} is imported when the module loads; the kernel may not have it "
            "yet (import it inside the function that needs it)"
        )


def test_every_module_the_prelude_ships_comes_after_the_modules_it_imports() -> None:
    shipped = list(prelude.KERNEL_SETUP_MODULES)
    for position, name in enumerate(shipped):
        for line, module, level in module_level_imports(KERNEL / f"{name}.py"):
            if level:
                dependency = module.split(".")[0] if module else None
                assert dependency is None or dependency in shipped[:position], (
                    f"{name}.py:{line} imports .{dependency}, shipped after it"
                )


def test_arguments_travel_as_data_so_a_variable_named_null_params_stays_null_params() -> None:
    """The old probe cell rewrote its JSON with .replace('null', 'None'): `null_params` became `None_params`."""
    names = ("null_params", "None_x", "true_height")
    cell = probe.probe_source("/tmp/out/null", names, None)
    calls = [
        statement.value
        for statement in ast.parse(cell).body
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
    ]
    assert len(calls) == 1 and isinstance(calls[0].args[2], ast.Constant)
    assert ast.literal_eval(calls[0].args[1]) == "probe.save_models_and_facts"
    arguments = json.loads(calls[0].args[2].value)
    assert arguments == {"out_dir": "/tmp/out/null", "variables": list(names), "input_shape": None}


def test_the_shipped_cell_installs_the_modules_as_one_package_and_calls_the_entry() -> None:
    cell = kernel.cell_source(
        "records.record", {"idiom": "null_idiom", "found": "null", "keras3": 'x"y'}, modules=("records",)
    )
    namespace: dict[str, Any] = {}
    try:
        exec(compile(cell, "<cell>", "exec"), namespace)
        shipped = sys.modules["grader_kernel.records"]
        assert shipped.USES[-1]["idiom"] == "null_idiom" and shipped.USES[-1]["keras3"] == 'x"y'
        assert "_grader_kernel_call" not in namespace, "the cell leaves no name behind"
    finally:
        for name in [n for n in sys.modules if n == "grader_kernel" or n.startswith("grader_kernel.")]:
            del sys.modules[name]


def test_plain_values_are_copied_and_anything_else_refused() -> None:
    assert kernel_probe.plain(np.int64(80)) == 80
    assert kernel_probe.plain(np.array([[1.5, 2.0]])) == [[1.5, 2.0]]
    assert kernel_probe.plain(float("nan")) == "nan"
    with pytest.raises(TypeError, match="not a plain value"):
        kernel_probe.plain(object())
    with pytest.raises(TypeError):
        kernel_probe.plain(np.zeros(20_000))


def test_training_histories_are_bounded_where_they_are_written() -> None:
    class History:
        history = {f"m{i}": [0.1] * 5000 for i in range(50)} | {"x" * 500: [float("inf")]}

    class Model:
        history = History()

    kept = kernel_probe.history_of(Model(), [], "model") or {}
    assert len(kept) == kernel_probe.HISTORY_SERIES
    assert all(len(values) <= kernel_probe.HISTORY_POINTS for values in kept.values())


def test_records_count_repeats_and_stop_at_their_bound() -> None:
    before = list(records.USES)
    try:
        records.USES.clear()
        for _ in range(3):
            records.record("nb_epoch", "nb_epoch=", "epochs=")
        assert records.USES == [
            {
                "idiom": "nb_epoch",
                "found": "nb_epoch=",
                "keras3": "epochs=",
                "cell": None,
                "line": None,
                "count": 3,
            }
        ]
        for number in range(records.MAX_RECORDS + 10):
            records.record(f"idiom {number}", "x", "y")
        assert len(records.USES) == records.MAX_RECORDS
    finally:
        records.USES[:] = before


def test_keras2_paths_and_histories() -> None:
    assert keras2._save_path("best.hdf5", weights_only=True) == "best.weights.h5"
    assert keras2._save_path("best.hdf5", weights_only=False) == "best.keras"
    history = keras2.AliasingHistory({"accuracy": [0.5], "val_accuracy": [0.4]})
    assert history["acc"] == [0.5] and "val_acc" in history and history.get("loss") is None
    with pytest.raises(keras2.LegacyKerasError, match="steps_per_epoch"):
        keras2.refuse_keras1_fit_keywords({"samples_per_epoch": 100})


def test_the_training_budget_caps_epochs_and_steps() -> None:
    arguments: dict[str, Any] = {"epochs": 100, "initial_epoch": 10}
    budget._cap(arguments, max_epochs=2, max_steps=5)
    assert arguments == {"epochs": 12, "initial_epoch": 10, "steps_per_epoch": 5}
    unchanged: dict[str, Any] = {"epochs": 1, "steps_per_epoch": 3}
    budget._cap(unchanged, max_epochs=2, max_steps=5)
    assert unchanged == {"epochs": 1, "steps_per_epoch": 3}


@pytest.mark.slow
def test_the_probe_saves_models_with_a_manifest_the_grader_can_check(tmp_path: Path) -> None:
    """In-process, with the real Keras: each model saved once, with its size and SHA-256."""
    from grader.inside.inspector.measure import keras_module

    keras = keras_module()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    namespace = {"model": model, "same": model, "_hidden": model, "x": 1}
    saved = kernel_probe._save_models(keras, namespace, str(tmp_path), None, [])
    assert [entry["variable"] for entry in saved] == ["model"]
    file = tmp_path / saved[0]["file"]
    assert saved[0]["bytes"] == file.stat().st_size
    assert saved[0]["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
