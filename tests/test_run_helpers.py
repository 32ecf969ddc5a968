"""`grader.grading.run` without a kernel: what it keeps of a cell's output, and how it writes up a run.

The kernel's messages are built as nbclient receives them and handed to the real `_BoundedClient`
(output capping, framework noise); a cell's outputs as nbformat stores them go through the real
`_Runner._outcome` (hints, truncation, errors, figures) and `_Runner.result` (skipped cells, the
device, stage times). Running cells in a kernel is `tests/test_run.py` (slow).
"""

from __future__ import annotations

import asyncio
import base64
import queue
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.grading import run
from grader.grading.run import (
    _BoundedClient,
    _collect_figures,
    _collect_noise,
    _collect_output,
    _Finished,
    _png,
)
from grader.grading.submission import Cell, Submission
from grader.result import CellOutcome
from grader.rubric.limits import Limits
from grader.sandbox.kernels import KernelRecipe

TF_LOG = "2026-01-01 10:00:00.000000: I tensorflow/core/platform/cpu_feature_guard.cc:210] using AVX2\n"
PNG = base64.b64encode(run.PNG_SIGNATURE + b"\x00\x00\x00\rIHDR" + b"\x00" * 17).decode()


def message(msg_type: str, **content: Any) -> dict[str, Any]:
    """An IOPub message as nbclient hands it to `output`."""
    return {
        "msg_type": msg_type,
        "header": {"msg_type": msg_type},
        "parent_header": {"msg_id": "cell"},
        "content": content,
    }


def client(output_kb: int | None = None) -> _BoundedClient:
    bounded = _BoundedClient(nbformat.v4.new_notebook())
    bounded.reset_execution_trackers()
    bounded.clear_before_next_output = False  # as nbclient sets it when a cell starts
    if output_kb is not None:
        bounded.output_limit = output_kb * 1024
    return bounded


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def figure(encoded: str = PNG, text: str = "<Figure size 640x480 with 1 Axes>") -> dict[str, Any]:
    return {"output_type": "display_data", "data": {"image/png": encoded, "text/plain": text}, "metadata": {}}


def error(name: str = "ValueError", value: str = "bad") -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": name,
        "evalue": value,
        "traceback": ["\x1b[31mTraceback\x1b[0m", f"{name}: {value}"],
    }


# --- the output cap, as messages arrive ---------------------------------------------------------


def test_a_cells_output_is_capped_at_the_limit_and_the_rest_of_a_stream_is_cut() -> None:
    bounded, outs = client(output_kb=1), list[Any]()
    bounded.output(outs, message("stream", name="stdout", text="a" * 1000), None, 0)
    bounded.output(outs, message("stream", name="stdout", text="b" * 1000), None, 0)
    bounded.output(outs, message("stream", name="stdout", text="c" * 10), None, 0)
    assert "".join(o["text"] for o in outs) == "a" * 1000 + "b" * 24
    assert bounded.truncated == {0} and bounded.kept_bytes[0] == 1024


def test_past_the_cap_rich_output_is_dropped_but_an_error_is_always_kept() -> None:
    bounded, outs = client(output_kb=1), list[Any]()
    bounded.output(outs, message("stream", name="stdout", text="x" * 1024), None, 0)
    dropped = bounded.output(
        outs, message("display_data", data={"text/plain": "y" * 10}, metadata={}), None, 0
    )
    bounded.output(outs, message("error", ename="E", evalue="v" * 2000, traceback=[]), None, 0)
    assert dropped is None
    assert [o["output_type"] for o in outs] == ["stream", "error"]


def test_each_cell_has_its_own_allowance() -> None:
    bounded, first, second = client(output_kb=1), list[Any](), list[Any]()
    bounded.output(first, message("stream", name="stdout", text="x" * 2000), None, 0)
    bounded.output(second, message("stream", name="stdout", text="y" * 100), None, 1)
    assert second[0]["text"] == "y" * 100 and bounded.truncated == {0}


def test_framework_noise_does_not_count_against_the_cap_and_has_a_bound_of_its_own() -> None:
    bounded, outs = client(output_kb=1), list[Any]()
    for _ in range(run.NOISE_LIMIT // len(TF_LOG) + 5):
        bounded.output(outs, message("stream", name="stderr", text=TF_LOG), None, 0)
    assert len(outs) == run.NOISE_LIMIT // len(TF_LOG)
    assert bounded.kept_bytes.get(0, 0) == 0 and not bounded.truncated
    bounded.output(outs, message("stream", name="stdout", text="z" * 1024), None, 0)
    assert outs[-1]["text"] == "z" * 1024 and not bounded.truncated


# --- what is collected from a cell's outputs ----------------------------------------------------


def test_the_visible_output_leaves_out_noise_escapes_and_a_kept_figures_stand_in() -> None:
    outputs = [
        stream("\x1b[1mloss\x1b[0m 0.5\n"),
        stream(TF_LOG + "my warning\n", name="stderr"),
        figure(),
        {"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": 1},
    ]
    text, failure = _collect_output(outputs)
    assert text == "loss 0.5\nmy warning\n42\n" and failure is None
    assert _collect_noise(outputs) == TF_LOG


def test_an_error_output_is_returned_beside_the_text() -> None:
    text, failure = _collect_output([stream("before\n"), error()])
    assert text == "before\n"
    assert failure is not None and failure["ename"] == "ValueError"


def test_a_figure_is_kept_only_if_it_is_a_bounded_png() -> None:
    not_png = base64.b64encode(b"<svg onload=alert(1)>").decode()
    assert _png({"image/png": PNG}) == PNG
    assert _png({"image/png": PNG[:20] + "\n" + PNG[20:]}) == PNG, "base64 line breaks are dropped"
    assert _png({"image/png": not_png}) is None
    assert _png({"image/png": "not base64 !"}) is None
    assert _png({"image/png": "A" * (run.MAX_FIGURE_CHARS + 1)}) is None
    assert _png({"image/png": 7}) is None and _png("image/png") is None
    text, _ = _collect_output([figure(not_png, "<Figure>")])
    assert text == "<Figure>\n", "a refused figure keeps its text stand-in"


def test_figures_are_collected_up_to_the_room_left() -> None:
    outputs = [figure(), stream("x"), figure(), figure()]
    assert _collect_figures(outputs, 2) == (PNG, PNG)
    assert _collect_figures(outputs, 0) == ()


# --- a cell's outcome and the run's facts -------------------------------------------------------


def submission(count: int) -> Submission:
    cells = tuple(Cell(number=n, source=f"x = {n}", first_line=2 * n) for n in range(1, count + 1))
    return Submission(path=Path("s.py"), kind="script", cells=cells, exercise=None)


def runner(count: int = 3, **limits: Any) -> run._Runner:
    recipe = KernelRecipe(sandboxed=True, own_uid=True, limits=Limits(**limits))
    return run._Runner(submission(count), recipe)


def executed(*outputs: dict[str, Any]) -> Any:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def outcome(
    the_runner: run._Runner, cell: Any, status: str = "ok", index: int = 0, **kwargs: Any
) -> CellOutcome:
    bounded = kwargs.pop("client", client())
    limit = kwargs.pop("limit", the_runner.limits.cell_timeout)
    source = the_runner.submission.cells[index]
    return the_runner._outcome(bounded, cell, index, source, status, limit)


def test_a_cell_that_raised_is_an_error_with_its_traceback_cleaned() -> None:
    done = outcome(runner(), executed(stream("out\n"), error("KeyError", "'k\ud800'")))
    assert done.status == "error" and done.number == 1 and done.first_line == 2
    assert done.error_name == "KeyError" and done.error_value is not None and done.traceback is not None
    assert done.error_value.startswith("'k\ufffd") and "\ud800" not in done.error_value
    assert done.traceback.startswith("Traceback\nKeyError: 'k\ufffd") and "\x1b" not in done.traceback
    assert done.output == "out\n"


def test_a_timeout_says_which_limit_stopped_it() -> None:
    the_runner = runner(cell_timeout=30, timeout=100)
    per_cell = outcome(the_runner, executed(), "timeout", limit=30)
    total = outcome(the_runner, executed(), "timeout", limit=12.4)
    assert per_cell.hint is not None and "Stopped after 30 s (the per-cell time limit)" in per_cell.hint
    assert total.hint is not None and "Stopped after 12 s (the notebook's total time)" in total.hint


def test_a_kernel_that_died_or_ran_out_of_memory_is_explained() -> None:
    died = outcome(runner(), executed(), "died")
    memory = outcome(runner(memory_mb=512), executed(), "memory")
    assert died.hint is not None and "The kernel died while running this cell" in died.hint
    assert memory.hint is not None and "(The hard memory limit stopped it.)" in memory.hint


def test_truncated_output_is_marked_in_the_outcome() -> None:
    bounded = client(output_kb=1)
    bounded.truncated.add(0)
    done = outcome(runner(output_kb=1), executed(stream("x")), client=bounded)
    assert done.output_truncated and done.output == "x\n[output truncated: over 1 KB]"


def test_figures_are_bounded_per_cell_and_per_run() -> None:
    the_runner = runner(count=6)
    kept = [len(outcome(the_runner, executed(*[figure()] * 5), index=i).images) for i in range(6)]
    assert kept == [run.MAX_FIGURES_PER_CELL] * 4 + [0, 0]
    assert sum(kept) == run.MAX_FIGURES


def finished(outcomes: list[CellOutcome], **fields: Any) -> _Finished:
    values: dict[str, Any] = {"notes": ["a note"], "kernel": None, "probe_folder": None, "started": 0.0}
    return _Finished(outcomes=outcomes, **{**values, **fields})


def test_the_run_lists_every_cell_marks_unreached_ones_skipped_and_times_each_stage(tmp_path: Path) -> None:
    the_runner = runner(count=3)
    first = outcome(the_runner, executed(error()))
    done = the_runner.result(
        finished([first], stages={"kernel_start": 1.23456, "prelude": 0.5, "cells": 2.0}, prestarted=True),
        tmp_path,
    )
    facts = done.facts
    assert [(c.number, c.status) for c in facts.cells] == [(1, "error"), (2, "skipped"), (3, "skipped")]
    assert facts.cells[2].first_line == 6 and facts.failing_cells == (1,)
    assert facts.device == "unknown (the probe did not run)" and done.probe is None
    assert facts.stages.kernel_start == 1.235 and facts.stages.prelude == 0.5 and facts.stages.cells == 2.0
    assert facts.stages.kernel_prestarted and facts.stages.probe == 0.0
    assert facts.notes == ("a note",) and facts.sandboxed and facts.duration_s > 0
    refused = the_runner.result(finished([], probe_folder="probe-x"), tmp_path)
    assert refused.facts.device == "unknown (the probe's facts were refused)"


def test_an_unsandboxed_run_begins_with_a_note_saying_why() -> None:
    recipe = KernelRecipe(sandboxed=False, own_uid=False)
    begun = run._Runner(submission(1), recipe)._begin("bubblewrap is not installed")
    assert begun.notes[0] == "not sandboxed: bubblewrap is not installed" and begun.outcomes == []
    assert run._Runner(submission(1), KernelRecipe(sandboxed=True, own_uid=True))._begin(None).notes[:1] != [
        "not sandboxed: None"
    ]


def test_the_kernel_logs_tail_is_its_last_lines_or_nothing(tmp_path: Path) -> None:
    log = tmp_path / "kernel.log"
    log.write_text("one\ntwo\nthree\nfour\n")
    assert run._tail(log) == "two | three | four"
    assert run._tail(tmp_path / "missing.log") == ""


def test_only_the_abandoned_polls_empty_queue_is_silenced() -> None:
    seen: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(lambda _loop, context: seen.append(context))
        loop.default_exception_handler = lambda context: seen.append(context)  # type: ignore[method-assign]
        run._quiet_abandoned_polls(loop, {"exception": queue.Empty(), "message": "poll"})
        run._quiet_abandoned_polls(loop, {"exception": RuntimeError("real"), "message": "other"})
    finally:
        loop.close()
    assert [c["message"] for c in seen] == ["other"]


@pytest.mark.parametrize("count", [0, 2])
def test_a_run_with_no_cells_run_marks_them_all_skipped(tmp_path: Path, count: int) -> None:
    facts = runner(count=count).result(finished([]), tmp_path).facts
    assert [c.status for c in facts.cells] == ["skipped"] * count and facts.failing_cells == ()
