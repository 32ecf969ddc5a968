"""The class outputs quote what they group and flag who was stopped: issue 21, item 8.

Hand-made results (the real `GradeResult` model) are written as a batch leaves them, and the
class outputs read back the way their readers would: index.html's "most common problems" must
quote every student's values, not the first student's for all; gradebook.csv and index.html must
say which runs ran out of time or memory, without touching their scores.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.outputs import gradebook
from grader.outputs.gradebook import BatchEntry
from grader.result import CellOutcome, CheckResult, Failure, GradeResult, LayerRow, RunFacts


def kernel_row(found: int) -> LayerRow:
    return LayerRow(
        position=1,
        expected={"type": "Conv2D", "kernel_size": [3, 3]},
        actual={"name": "conv2d", "type": "Conv2D", "kernel_size": [found, found]},
        status="mismatch",
        differences=(f"kernel_size ({found}, {found}), expected (3, 3)",),
    )


def result(
    stem: str,
    checks: tuple[CheckResult, ...],
    cells: tuple[CellOutcome, ...] = (),
) -> GradeResult:
    return GradeResult(
        submission=f"{stem}.ipynb",
        exercise="cnn",
        title="A CNN",
        rubric="rubrics/cnn.yaml",
        score=sum(c.points for c in checks),
        max_score=sum(c.max_points for c in checks),
        checks=checks,
        run=RunFacts(duration_s=2.0, device="CPU", sandboxed=True, failing_cells=(), cells=cells),
        grader_version="test",
    )


def layers(found: int | None) -> CheckResult:
    if found is None:
        return CheckResult(
            id="architecture", kind="layers", status="pass", points=6, max_points=6, message="ok"
        )
    return CheckResult(
        id="architecture",
        kind="layers",
        status="fail",
        points=3,
        max_points=6,
        message=f"first difference at layer 1: kernel_size ({found}, {found}), expected (3, 3)",
        layer_rows=(kernel_row(found),),
    )


def size(params: int) -> CheckResult:
    return CheckResult(
        id="size",
        kind="total_params",
        status="pass" if params == 80 else "fail",
        points=1 if params == 80 else 0,
        max_points=1,
        message=f"{params:,} parameters, expected 80",
    )


def write(out: Path, results: dict[str, GradeResult], failures: dict[str, Failure] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for stem, graded in results.items():
        (out / f"{stem}.json").write_text(graded.to_json(), encoding="utf-8")
        entries.append(BatchEntry(stem, graded.submission))
    entries += [BatchEntry(stem, f.submission, f) for stem, f in (failures or {}).items()]
    notices = gradebook.write_class_outputs(out, entries).notices
    (out / "notices.txt").write_text("\n".join(notices), encoding="utf-8")


def test_a_common_mistake_quotes_every_students_values(tmp_path: Path) -> None:
    """Twelve students got layer 1's kernel wrong: 8 with 5x5, 4 with 7x7; before, the page named the
    mistake and (for a message) the first student's numbers only, hiding that two mistakes are at play."""
    found = {f"s{n:02d}": (5 if n < 8 else 7) for n in range(12)}
    results = {stem: result(stem, (layers(k), size(80))) for stem, k in found.items()}
    results["ok"] = result("ok", (layers(None), size(80)))
    write(tmp_path, results)
    rows = gradebook.load_rows(tmp_path, [BatchEntry(stem, f"{stem}.ipynb") for stem in results])
    [common] = gradebook.common_mistakes(rows, gradebook.check_columns(rows))
    assert common.describe() == "layer 1, kernel_size: 12 students ((3, 3) → (5, 5) ×8, (3, 3) → (7, 7) ×4)"
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    problems = page.split("<h2>Most common problems</h2>")[1].split("<h2>")[0]
    assert "layer 1, kernel_size" in problems
    assert "(3, 3) → (5, 5) ×8, (3, 3) → (7, 7) ×4" in problems


def test_a_message_grouped_with_its_numbers_blanked_quotes_each_students_numbers(tmp_path: Path) -> None:
    results = {
        "ann": result("ann", (size(12_010),)),
        "ben": result("ben", (size(12_010),)),
        "cy": result("cy", (size(96),)),
    }
    failures = {
        stem: Failure(
            stem=stem,
            submission=f"{stem}.ipynb",
            kind="submission",
            message=f"{stem}.ipynb:1: broken JSON",
            exit_code=2,
        )
        for stem in ("dee", "eve")
    }
    write(tmp_path, results, failures)
    rows = gradebook.load_rows(
        tmp_path,
        [BatchEntry(s, f"{s}.ipynb") for s in results]
        + [BatchEntry(s, f.submission, f) for s, f in failures.items()],
    )
    common = {m.label: m for m in gradebook.common_mistakes(rows, gradebook.check_columns(rows))}
    assert common["size"].describe() == "N parameters, expected N: 3 students (12,010; 80 ×2, 96; 80 ×1)"
    ungradable = common["could not be graded"]
    assert (ungradable.students, ungradable.mistake, ungradable.values) == (2, "<file>:1: broken JSON", ()), (
        "the same message for every student is shown as it is, with nothing to quote"
    )


def test_a_stopped_run_keeps_its_score_and_is_flagged_in_the_gradebook_and_the_page(tmp_path: Path) -> None:
    ran = CellOutcome(number=1, source="x = 1", status="ok")
    results = {
        "slow": result("slow", (size(80),), (ran, CellOutcome(number=2, source="fit()", status="timeout"))),
        "big": result("big", (size(96),), (ran, CellOutcome(number=3, source="big()", status="memory"))),
        "fine": result("fine", (size(80),), (ran,)),
    }
    write(tmp_path, results)
    with (tmp_path / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        table = {row["student"]: row for row in reader}
        header = reader.fieldnames or []
    assert header[header.index("status") + 1] == "stopped"
    assert [
        (table[s]["status"], table[s]["stopped"], table[s]["total"]) for s in ("slow", "big", "fine")
    ] == [
        ("graded", "timeout", "1.0"),
        ("graded", "memory", "0.0"),
        ("graded", "", "1.0"),
    ], "the status and score stand; the stop is a column of its own"
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "2 stopped before the end" in page
    students = page.split("<h2>Students</h2>")[1]
    assert "stopped: time ran out in cell 2" in students
    assert "stopped: the kernel ran out of memory in cell 3" in students
    notices = (tmp_path / "notices.txt").read_text(encoding="utf-8")
    assert "stopped: 2 submission(s)" in notices and "slow (time ran out in cell 2)" in notices


def test_a_class_with_no_stopped_run_keeps_its_columns(tmp_path: Path) -> None:
    write(tmp_path, {"fine": result("fine", (size(80),))})
    header = (tmp_path / "gradebook.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "stopped" not in header
    assert "stopped" not in (tmp_path / "notices.txt").read_text(encoding="utf-8")
