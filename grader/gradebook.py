"""The class outputs of a batch: gradebook.csv, junit.xml, Gradescope results.json, index.html.

Each is rendered from the canonical `<stem>.json` files on disk (a `GradeResult` each) and the
failure rows of students who could not be graded, never from live objects, so no output can
say anything the per-student JSON does not.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict

from grader.errors import GradingError, RubricError, SandboxUnavailable, SubmissionError
from grader.result import GradeResult

HISTOGRAM_BINS = 10
COMMON_FAILURES = 10
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")
FailureKind = Literal["submission", "rubric", "sandbox", "grader"]


class Failure(BaseModel):
    """A student's row when their submission could not be graded at all, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stem: str
    submission: str
    kind: FailureKind
    message: str
    hint: str = ""
    exit_code: int

    @classmethod
    def from_error(cls, stem: str, submission: str, error: GradingError) -> Failure:
        kinds: tuple[tuple[type[GradingError], FailureKind], ...] = (
            (SubmissionError, "submission"),
            (RubricError, "rubric"),
            (SandboxUnavailable, "sandbox"),
        )
        kind: FailureKind = next((k for cls_, k in kinds if isinstance(error, cls_)), "grader")
        return cls(
            stem=stem,
            submission=submission,
            kind=kind,
            message=error.message,
            hint=error.hint,
            exit_code=int(error.exit_code),
        )


@dataclass(frozen=True)
class BatchEntry:
    """One student of the batch: graded (the JSON is at `<stem>.json`) or failed."""

    stem: str
    submission: str
    failure: Failure | None = None


@dataclass(frozen=True)
class Row:
    """A student's result as read back from disk: the canonical JSON as a dict, or the failure."""

    stem: str
    submission: str
    result: dict[str, Any] | None
    failure: Failure | None


@dataclass(frozen=True)
class Column:
    """One check across the class; labelled `exercise:id` when the batch mixes exercises."""

    exercise: str
    check_id: str
    label: str


def write_class_outputs(out_dir: Path, entries: Sequence[BatchEntry]) -> dict[str, Path]:
    rows = load_rows(out_dir, entries)
    columns = check_columns(rows)
    paths = {
        "gradebook": out_dir / "gradebook.csv",
        "junit": out_dir / "junit.xml",
        "gradescope": out_dir / "gradescope",
        "index": out_dir / "index.html",
    }
    write_csv(rows, columns, paths["gradebook"])
    write_junit(rows, paths["junit"])
    write_gradescope(rows, paths["gradescope"])
    paths["index"].write_text(render_index(rows, columns), encoding="utf-8")
    return paths


def load_rows(out_dir: Path, entries: Sequence[BatchEntry]) -> list[Row]:
    rows = []
    for entry in entries:
        result = None
        if entry.failure is None:
            validated = GradeResult.from_file(out_dir / f"{entry.stem}.json")
            result = json.loads(validated.model_dump_json())
        rows.append(Row(entry.stem, entry.submission, result, entry.failure))
    return rows


def check_columns(rows: Sequence[Row]) -> list[Column]:
    seen: dict[tuple[str, str], None] = {}
    for row in rows:
        if row.result is not None:
            for check in row.result["checks"]:
                seen.setdefault((row.result["exercise"], check["id"]), None)
    mixed = len({exercise for exercise, _ in seen}) > 1
    return [Column(e, c, f"{e}:{c}" if mixed else c) for e, c in seen]


def _check(row: Row, column: Column) -> dict[str, Any] | None:
    if row.result is None or row.result["exercise"] != column.exercise:
        return None
    return next((c for c in row.result["checks"] if c["id"] == column.check_id), None)


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a file named `=cmd|...` stays text)."""
    return "'" + value if value.startswith(SPREADSHEET_FORMULA) else value


def write_csv(rows: Sequence[Row], columns: Sequence[Column], path: Path) -> None:
    """One row per student, one column per check (its points), the total; failures say why."""
    header = ["student", "submission", "exercise", "status", *(c.label for c in columns)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "total", "max_score", "error"])
        for row in rows:
            points = [(_check(row, c) or {}).get("points", "") for c in columns]
            who = [_cell(row.stem), _cell(row.submission)]
            if row.result is not None:
                r = row.result
                writer.writerow([*who, r["exercise"], "graded", *points, r["score"], r["max_score"], ""])
            else:
                assert row.failure is not None
                writer.writerow([*who, "", "error", *points, 0, "", _cell(row.failure.message)])


def _xml_text(value: str) -> str:
    return XML_ILLEGAL.sub("\N{REPLACEMENT CHARACTER}", value)


def write_junit(rows: Sequence[Row], path: Path) -> None:
    """A test suite per submission, a test case per check; a failed submission is one error case."""
    root = ET.Element("testsuites", name="grader")
    totals: Counter[str] = Counter()
    for row in rows:
        suite = ET.SubElement(root, "testsuite", name=_xml_text(row.stem))
        counts: Counter[str] = Counter()
        if row.result is None:
            assert row.failure is not None
            case = ET.SubElement(suite, "testcase", classname=_xml_text(row.stem), name="grade", time="0")
            error = ET.SubElement(
                case, "error", message=_xml_text(row.failure.message), type=row.failure.kind
            )
            error.text = _xml_text(row.failure.hint)
            counts.update(tests=1, errors=1)
            suite.set("time", "0")
        else:
            result = row.result
            suite.set("time", f"{result['run']['duration_s']:.3f}")
            properties = ET.SubElement(suite, "properties")
            for name, value in (
                ("exercise", result["exercise"]),
                ("score", f"{result['score']:g}/{result['max_score']:g}"),
                ("device", result["run"]["device"]),
            ):
                ET.SubElement(properties, "property", name=name, value=_xml_text(str(value)))
            for check in result["checks"]:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=_xml_text(f"{result['exercise']}.{row.stem}"),
                    name=check["id"],
                    time="0",
                )
                counts.update(tests=1)
                detail = f"{check['points']:g}/{check['max_points']:g} points: {check['message']}"
                if check["status"] == "fail":
                    ET.SubElement(case, "failure", message=_xml_text(detail), type="fail").text = _xml_text(
                        _layer_differences(check)
                    )
                    counts.update(failures=1)
                elif check["status"] == "error":
                    ET.SubElement(case, "error", message=_xml_text(detail), type="error")
                    counts.update(errors=1)
                elif check["status"] == "skipped":
                    ET.SubElement(case, "skipped", message=_xml_text(detail))
                    counts.update(skipped=1)
        for name in ("tests", "failures", "errors", "skipped"):
            suite.set(name, str(counts[name]))
        totals.update(counts)
    for name in ("tests", "failures", "errors", "skipped"):
        root.set(name, str(totals[name]))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _layer_differences(check: dict[str, Any]) -> str:
    lines = []
    for row in check.get("layer_rows", []):
        if row["status"] != "match":
            lines.append(f"layer {row['position']} ({row['status']}): " + "; ".join(row["differences"]))
    return "\n".join(lines)


def write_gradescope(rows: Sequence[Row], folder: Path) -> None:
    """`gradescope/<stem>/results.json` in Gradescope's autograder format (see docs/batch.md)."""
    for row in rows:
        target = folder / row.stem
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(
            json.dumps(gradescope_results(row), indent=2) + "\n", encoding="utf-8"
        )


def gradescope_results(row: Row) -> dict[str, Any]:
    if row.result is None:
        assert row.failure is not None
        output = row.failure.message + (f"\nHint: {row.failure.hint}" if row.failure.hint else "")
        return {"score": 0.0, "output": output, "tests": []}
    result = row.result
    return {
        "score": result["score"],
        "max_score": result["max_score"],
        "execution_time": round(result["run"]["duration_s"]),
        "output": f"{result['title']}: {result['score']:g}/{result['max_score']:g}",
        "tests": [
            {
                "name": check["id"] + (f": {check['description']}" if check.get("description") else ""),
                "number": str(number),
                "score": check["points"],
                "max_score": check["max_points"],
                "status": "passed" if check["status"] == "pass" else "failed",
                "output": check["message"],
            }
            for number, check in enumerate(result["checks"], start=1)
        ],
    }


def score_histogram(rows: Sequence[Row]) -> list[tuple[str, int]]:
    """How many graded students scored in each tenth of the maximum (100% falls in the last bin)."""
    counts = [0] * HISTOGRAM_BINS
    for row in rows:
        if row.result is not None and row.result["max_score"]:
            ratio = row.result["score"] / row.result["max_score"]
            counts[min(HISTOGRAM_BINS - 1, max(0, int(ratio * HISTOGRAM_BINS)))] += 1
    step = 100 // HISTOGRAM_BINS
    return [(f"{i * step}–{(i + 1) * step}%", n) for i, n in enumerate(counts)]


def pass_rates(rows: Sequence[Row], columns: Sequence[Column]) -> list[dict[str, Any]]:
    rates = []
    for column in columns:
        checks = [c for c in (_check(r, column) for r in rows) if c is not None]
        passed = sum(1 for c in checks if c["status"] == "pass")
        rates.append(
            {
                "label": column.label,
                "passed": passed,
                "total": len(checks),
                "percent": 100 * passed / len(checks),
            }
        )
    return rates


def common_failures(rows: Sequence[Row], columns: Sequence[Column]) -> list[tuple[int, str, str]]:
    """The messages students most often got, for a failed check or an ungradable submission."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row.failure is not None:
            counts[("could not be graded", row.failure.message.replace(row.submission, "<file>"))] += 1
        for column in columns:
            check = _check(row, column)
            if check is not None and check["status"] != "pass":
                counts[(column.label, check["message"])] += 1
    return [(n, label, message) for (label, message), n in counts.most_common(COMMON_FAILURES)]


def render_index(rows: Sequence[Row], columns: Sequence[Column]) -> str:
    env = Environment(
        loader=PackageLoader("grader", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pts"] = lambda v: f"{v:g}"
    graded = [r.result for r in rows if r.result is not None]
    percents = [100 * r["score"] / r["max_score"] for r in graded if r["max_score"]]
    students = [
        {
            "stem": row.stem,
            "submission": row.submission,
            "result": row.result,
            "failure": row.failure,
            "statuses": [(_check(row, c) or {}).get("status") for c in columns],
        }
        for row in rows
    ]
    return env.get_template("index.html.j2").render(
        students=students,
        columns=columns,
        histogram=score_histogram(rows),
        rates=pass_rates(rows, columns),
        failures=common_failures(rows, columns),
        graded=len(graded),
        failed=len(rows) - len(graded),
        mean=statistics.fmean(percents) if percents else None,
        median=statistics.median(percents) if percents else None,
        exercises=sorted({r["exercise"] for r in graded}),
    )
