"""`grader.batch.store` on a real out folder: the two keys, what is kept of a run, and the error rows.

No kernel and no batch: the keys are computed from real rubrics (the README's conv-dims rubric,
`conftest.CONV_DIMS_RUBRIC`, in a tmp folder) and the results are hand-built `GradeResult`s written
through the store, read back as the next batch would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grader.batch.store import (
    ARTIFACTS,
    EXECUTION_FILE,
    KEYS,
    Keys,
    ResultStore,
    execution_key,
    grader_failure,
    scoring_key,
)
from grader.grading import unmeasured
from grader.grading.grade import Execution, Overrides, StoredModel
from grader.result import Failure, GradeResult, KernelSetup, RunFacts
from grader.rubric.limits import LimitOverrides
from grader.rubric.model import LoadedRubric, load_rubric

from .conftest import CONV_DIMS_RUBRIC, hand_built_result

NOTEBOOK = b'{"cells": []}'
KEYS_ONE = Keys(execution="e1", scoring="s1")


def rubric_at(
    folder: Path, text: str = CONV_DIMS_RUBRIC, files: dict[str, bytes] | None = None
) -> LoadedRubric:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        (folder / name).write_bytes(content)
    path = folder / "conv-dims.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rubric(path)


def keys_of(loaded: LoadedRubric, submission: bytes = NOTEBOOK, **overrides: object) -> tuple[str, str]:
    settings = Overrides(**overrides)  # type: ignore[arg-type]
    return execution_key(submission, (), loaded, settings), scoring_key(loaded)


# --- the keys -------------------------------------------------------------------------------------


def test_the_keys_are_hex_digests_that_repeat_for_the_same_inputs(conv_dims_rubric: Path) -> None:
    first = keys_of(load_rubric(conv_dims_rubric))
    again = keys_of(load_rubric(conv_dims_rubric))
    assert first == again and all(len(key) == 64 and int(key, 16) >= 0 for key in first)


def test_a_scoring_change_moves_only_the_scoring_key(tmp_path: Path) -> None:
    before = keys_of(rubric_at(tmp_path / "a"))
    points = keys_of(rubric_at(tmp_path / "b", CONV_DIMS_RUBRIC.replace("points: 3", "points: 4")))
    expected = keys_of(
        rubric_at(tmp_path / "c", CONV_DIMS_RUBRIC.replace("total_params: 80", "total_params: 81"))
    )
    for changed in (points, expected):
        assert changed[0] == before[0] and changed[1] != before[1]


def test_an_execution_change_moves_the_execution_key(tmp_path: Path) -> None:
    before = keys_of(rubric_at(tmp_path / "a"))
    limits = keys_of(
        rubric_at(tmp_path / "b", CONV_DIMS_RUBRIC.replace("cell_timeout: 120", "cell_timeout: 60"))
    )
    assert limits[0] != before[0] and limits[1] == before[1]
    loaded = rubric_at(tmp_path / "a")
    assert keys_of(loaded, b'{"cells": [1]}')[0] != before[0], "the submission's bytes"
    assert keys_of(loaded, limits=LimitOverrides(timeout=5))[0] != before[0], "a command-line limit"
    assert keys_of(loaded, sandbox="off")[0] != before[0], "the sandbox setting"
    beside = execution_key(NOTEBOOK, (("data.csv", b"1,2"),), loaded, Overrides())
    assert beside != before[0], "a file beside the submission"
    assert beside != execution_key(NOTEBOOK, (("data.csv", b"1,3"),), loaded, Overrides())


def test_a_handed_out_files_bytes_are_part_of_the_execution_key(tmp_path: Path) -> None:
    text = CONV_DIMS_RUBRIC.replace("checks:", "files: [train.npz]\nchecks:", 1)
    one = keys_of(rubric_at(tmp_path / "a", text, {"train.npz": b"one"}))
    two = keys_of(rubric_at(tmp_path / "b", text, {"train.npz": b"two"}))
    missing = keys_of(rubric_at(tmp_path / "c", text))
    assert len({one[0], two[0], missing[0]}) == 3 and one[1] == two[1] == missing[1]


# --- results, keys and kept executions on disk ---------------------------------------------------


def execution(*models: StoredModel) -> Execution:
    run = RunFacts(duration_s=1.0, device="CPU", sandboxed=True, failing_cells=(), cells=())
    return Execution(
        submission="ann.ipynb", run=run, probe=None, models=models, kernel_setup=KernelSetup(seed=1)
    )


MODEL = StoredModel(variable="model", file="model.keras", sha256="0" * 64, size=5)


def test_a_saved_result_is_read_back_with_its_keys_and_what_ran(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    assert store.stored_keys("ann") is None and store.execution("ann") is None and store.kept() == 0
    kept = execution(MODEL)
    store.save_result(
        "ann",
        KEYS_ONE,
        hand_built_result(submission="ann.ipynb").to_json(),
        kept,
        [("models/model.keras", b"bytes")],
    )
    assert store.stored_keys("ann") == KEYS_ONE and store.kept() == 1
    found = store.execution("ann")
    assert found is not None
    assert found[0] == kept and found[1] == tmp_path / ARTIFACTS / "ann"
    assert (found[1] / "model.keras").read_bytes() == b"bytes", "model files are kept by their base name"
    assert (tmp_path / "ann.json").is_file() and (tmp_path / "ann.html").is_file()
    assert not list(tmp_path.rglob("*.partial")), "every write is atomic"
    assert [(e.stem, e.submission, e.failure) for e in store.entries()] == [("ann", "ann.ipynb", None)]


def test_a_kept_execution_without_its_model_file_or_readable_facts_is_not_reused(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    result = hand_built_result(submission="ann.ipynb").to_json()
    store.save_result("ann", KEYS_ONE, result, execution(MODEL), [])
    assert store.execution("ann") is None, "the model file is missing"
    store.save_result("bob", KEYS_ONE, result, execution(), [])
    assert store.execution("bob") is not None
    (tmp_path / ARTIFACTS / "bob" / EXECUTION_FILE).write_text("{", encoding="utf-8")
    assert store.execution("bob") is None


def test_a_key_without_a_readable_result_beside_it_means_no_result(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_result("ann", KEYS_ONE, hand_built_result().to_json())
    (tmp_path / "ann.json").write_text("not json", encoding="utf-8")
    assert store.stored_keys("ann") is None
    store.save_result("bob", KEYS_ONE, hand_built_result().to_json())
    (tmp_path / KEYS / "bob.key").write_text("{}", encoding="utf-8")
    assert store.stored_keys("bob") is None


def test_an_unmeasured_result_withholds_its_scoring_key(
    tmp_path: Path, grade_result: Callable[..., GradeResult]
) -> None:
    store = ResultStore(tmp_path)
    result = grade_result(notes=(unmeasured.note("the inspector timed out"),))
    store.save_result("ann", KEYS_ONE, result.to_json())
    assert store.stored_keys("ann") == Keys(execution="e1", scoring="")


# --- error rows ------------------------------------------------------------------------------------


def test_a_failure_replaces_the_students_result_key_and_kept_execution(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_result("ann", KEYS_ONE, hand_built_result(submission="ann.ipynb").to_json(), execution(), [])
    failure = grader_failure("ann", "ann.ipynb", "its worker process died")
    store.save_failure("ann", failure)
    assert Failure.model_validate_json((tmp_path / "ann.error.json").read_text(encoding="utf-8")) == failure
    for gone in ("ann.json", "ann.html", f"{KEYS}/ann.key", f"{ARTIFACTS}/ann"):
        assert not (tmp_path / gone).exists(), gone
    assert store.stored_keys("ann") is None and store.kept() == 0
    assert [(e.stem, e.failure) for e in store.entries()] == [("ann", failure)]


def test_a_later_result_removes_the_error_row(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_failure("ann", grader_failure("ann", "ann.ipynb", "x"))
    store.save_result("ann", KEYS_ONE, hand_built_result(submission="ann.ipynb").to_json())
    assert not (tmp_path / "ann.error.json").exists()
    assert [e.failure for e in store.entries()] == [None]


def test_the_class_is_every_readable_row_in_the_folder_sorted_by_stem(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_result("cat", KEYS_ONE, hand_built_result(submission="cat.ipynb").to_json())
    store.save_failure("ann", grader_failure("ann", "ann.py", "x"))
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    (tmp_path / "gradebook.json").write_text(json.dumps({"not": "a result"}), encoding="utf-8")
    assert [(e.stem, e.submission) for e in store.entries()] == [("ann", "ann.py"), ("cat", "cat.ipynb")]
