"""The class outputs of a batch: gradebook.csv, junit.xml, Gradescope results.json, index.html, similarity.csv,
and with a roster canvas.csv and moodle.csv.

Each is rendered from the canonical `<stem>.json` files on disk (a `GradeResult` each) and the
failure rows of students who could not be graded, never from live objects, so no output can
say anything the per-student JSON does not. What the JSON cannot know is the class's business and
is applied here, beside the raw score: who each submission belongs to (`grader.outputs.roster`), whether
it came in late (`grader.rubric.late`, from the file's modification time) and which submissions look
alike (`grader.outputs.similarity`).
"""

from __future__ import annotations

import json
import re
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.errors import GradingError
from grader.grading import unmeasured
from grader.outputs import csvfile, similarity
from grader.outputs.exports import Assignment, StudentGrades, write_canvas, write_moodle
from grader.outputs.roster import Roster, RosterMatch, RosterStudent, match_roster
from grader.render import pages, visibility
from grader.result import Failure, GradeResult
from grader.rubric.late import Lateness, LatePolicy, assess

HISTOGRAM_BINS = 10
COMMON_FAILURES = 10
NUMBERS = re.compile(r"\d[\d,.]*")
NAMES_IN_A_NOTICE = 5
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUBMITTED_AT = Path(".keys") / "submitted-at.json"
ROSTER_COLUMNS = ("id", "name", "email", "section")
LATE_COLUMNS = ("submitted", "late_days", "penalty", "penalised_total")


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
    graded: GradeResult | None = None

    @property
    def unmeasured(self) -> str | None:
        """Why the grader could not measure this result (its grade is then left empty); None when it could."""
        return unmeasured.reason_of(self.result)

    @property
    def status(self) -> str:
        """`graded`, `unmeasured` (the grader failed to measure it: no grade) or `error` (not graded)."""
        if self.result is None:
            return "error"
        return unmeasured.STATUS if self.unmeasured is not None else "graded"


@dataclass(frozen=True)
class Column:
    """One check across the class; labelled `exercise:id` when the batch mixes exercises."""

    exercise: str
    check_id: str
    label: str


@dataclass(frozen=True)
class ClassContext:
    """What the class outputs know beyond each student's JSON: owners, lateness, look-alikes."""

    roster: Roster | None = None
    match: RosterMatch | None = None
    lateness: Mapping[str, Lateness] | None = None
    similar: tuple[similarity.SimilarPair, ...] = ()

    def owner(self, stem: str) -> RosterStudent | None:
        return self.match.by_stem.get(stem) if self.match is not None else None

    def late(self, stem: str) -> Lateness | None:
        return (self.lateness or {}).get(stem)


@dataclass(frozen=True)
class ClassOutputs:
    """The files written, and the lines the terminal summary adds (roster, late, similar)."""

    paths: dict[str, Path]
    notices: tuple[str, ...]


def write_class_outputs(
    out_dir: Path,
    entries: Sequence[BatchEntry],
    *,
    roster: Roster | None = None,
    late: LatePolicy | None = None,
    submitted_at: Mapping[str, float] | None = None,
    starter_code: Sequence[str] = (),
) -> ClassOutputs:
    """Every class output from the JSON on disk.

    `roster` adds its columns to the gradebook and writes canvas.csv and moodle.csv; `late` (the
    command line's due date and penalty, over each rubric's `late:`) is judged against
    `submitted_at`, each submission's modification time, kept in the out folder for students
    graded by an earlier run; `starter_code` is the starter notebook's cells, set aside when
    comparing code (default: the exercise's `exercises/<id>/starter.ipynb` beside the rubrics).
    """
    rows = load_rows(out_dir, entries)
    columns = check_columns(rows)
    times = record_submission_times(out_dir, submitted_at or {}, {row.stem for row in rows})
    similar, trouble = look_alikes(rows, starter_code)
    context = ClassContext(
        roster=roster,
        match=match_roster(roster, [(row.stem, row.submission) for row in rows]) if roster else None,
        lateness=lateness_of(rows, late or LatePolicy(), times),
        similar=similar,
    )
    paths = {
        "gradebook": out_dir / "gradebook.csv",
        "junit": out_dir / "junit.xml",
        "gradescope": out_dir / "gradescope",
        "index": out_dir / "index.html",
        "similarity": out_dir / "similarity.csv",
    }
    write_csv(rows, columns, paths["gradebook"], context)
    write_junit(rows, paths["junit"])
    write_gradescope(rows, paths["gradescope"])
    write_similarity(context.similar, paths["similarity"])
    if roster is not None and context.match is not None:
        paths["canvas"] = out_dir / "canvas.csv"
        paths["moodle"] = out_dir / "moodle.csv"
        assignments, grades = lms_grades(rows, context)
        write_canvas(paths["canvas"], assignments, grades)
        write_moodle(paths["moodle"], assignments, grades)
    paths["index"].write_text(render_index(rows, columns, context), encoding="utf-8")
    return ClassOutputs(paths=paths, notices=(*notices(rows, context), *trouble))


def look_alikes(
    rows: Sequence[Row], starter_code: Sequence[str]
) -> tuple[tuple[similarity.SimilarPair, ...], tuple[str, ...]]:
    """The similarity flags, or none and a line saying why: flags must never cost the class its gradebook."""
    try:
        graded = [(row.stem, row.graded) for row in rows if row.graded is not None]
        return similarity.find_similar(graded, starters_for(rows, starter_code)), ()
    except Exception as exc:
        return (), (
            f"similar: submissions were not compared: the grader failed ({type(exc).__name__}: {exc}); "
            "this is a bug in the grader, please report it",
        )


def load_rows(out_dir: Path, entries: Sequence[BatchEntry]) -> list[Row]:
    rows = []
    for entry in entries:
        result = validated = None
        if entry.failure is None:
            validated = GradeResult.from_file(out_dir / f"{entry.stem}.json")
            result = json.loads(validated.model_dump_json())
        rows.append(Row(entry.stem, entry.submission, result, entry.failure, validated))
    return rows


def record_submission_times(
    out_dir: Path, observed: Mapping[str, float], stems: set[str]
) -> dict[str, datetime]:
    """This run's modification times, merged into those kept from earlier runs (the folder is the class)."""
    path = out_dir / SUBMITTED_AT
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        kept = {str(k): float(v) for k, v in kept.items()} if isinstance(kept, dict) else {}
    except (OSError, ValueError, TypeError):
        kept = {}
    merged = {**kept, **observed}
    if merged != kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        partial.replace(path)
    return {stem: datetime.fromtimestamp(when).astimezone() for stem, when in merged.items() if stem in stems}


def lateness_of(rows: Sequence[Row], late: LatePolicy, times: Mapping[str, datetime]) -> dict[str, Lateness]:
    """Each submission's lateness under the command line's policy over its rubric's `late:`."""
    rubric_policies: dict[str, LatePolicy | None] = {}
    found = {}
    for row in rows:
        label = row.result["rubric"] if row.result is not None else None
        if label is not None and label not in rubric_policies:
            rubric_policies[label] = rubric_late_policy(Path(label))
        policy = late.over(rubric_policies.get(label) if label else None)
        if row.stem in times and (lateness := assess(policy, times[row.stem])) is not None:
            found[row.stem] = lateness
    return found


def rubric_late_policy(path: Path) -> LatePolicy | None:
    """The `late:` of the rubric a result names, or None when it has none or can no longer be read."""
    from grader.rubric.model import load_rubric

    try:
        late = load_rubric(path).rubric.late
    except GradingError:
        return None
    return LatePolicy(due=late.due, penalty=late.penalty) if late is not None else None


def starters_for(rows: Sequence[Row], starter_code: Sequence[str]) -> dict[str, Sequence[str]]:
    """Exercise id -> the starter cells: `--starter`, else `exercises/<id>/starter.ipynb` beside the rubrics."""
    from grader.grading.submission import load_submission

    starters: dict[str, Sequence[str]] = {}
    for row in rows:
        if row.graded is None or row.graded.exercise in starters:
            continue
        exercise = row.graded.exercise
        starters[exercise] = starter_code
        candidate = Path(row.graded.rubric).parent.parent / "exercises" / exercise / "starter.ipynb"
        if not starter_code and candidate.is_file():
            try:
                starters[exercise] = [cell.source for cell in load_submission(candidate).cells]
            except GradingError:
                continue
    return starters


def check_columns(rows: Sequence[Row]) -> list[Column]:
    seen: dict[tuple[str, str], None] = {}
    for row in rows:
        if row.result is not None:
            for check in row.result["checks"]:
                seen.setdefault((row.result["exercise"], check["id"]), None)
    mixed = len({exercise for exercise, _ in seen}) > 1
    return [Column(e, c, f"{e}:{c}" if mixed else c) for e, c in seen]


def _check(row: Row, column: Column) -> dict[str, Any] | None:
    """The row's check in `column`; None where it has none, or was not measured (it says nothing of the class)."""
    if row.result is None or row.result["exercise"] != column.exercise or row.unmeasured is not None:
        return None
    return next((c for c in row.result["checks"] if c["id"] == column.check_id), None)


def write_csv(
    rows: Sequence[Row], columns: Sequence[Column], path: Path, context: ClassContext | None = None
) -> None:
    """One row per student, one column per check (its points), the total; failures say why.

    With a roster: its columns, and a `missing` row for each student with no submission. With a
    due date: when each file was submitted, days late, the penalty and the penalised total beside
    the raw one.
    """
    context = context or ClassContext()
    roster_columns = list(ROSTER_COLUMNS) if context.match is not None else []
    late_columns = list(LATE_COLUMNS) if context.lateness else []
    header = ["student", "submission", "exercise", "status", *roster_columns]
    header += [*(c.label for c in columns), "total", "max_score", *late_columns, "error"]
    lines: list[list[csvfile.Cell]] = []
    for row in rows:
        points: list[csvfile.Cell] = [(_check(row, c) or {}).get("points", "") for c in columns]
        total: float | str
        if row.result is not None and row.unmeasured is not None:
            exercise, error = row.result["exercise"], f"not measured: {row.unmeasured}"
            total, max_score = "", row.result["max_score"]
            points = [""] * len(columns)
        elif row.result is not None:
            exercise, error = row.result["exercise"], ""
            total, max_score = row.result["score"], row.result["max_score"]
        else:
            assert row.failure is not None
            exercise, error = "", row.failure.message
            total, max_score = 0, ""
        owner = _roster_values(context.owner(row.stem)) if roster_columns else []
        late = _late_values(context.late(row.stem), total) if late_columns else []
        lines.append(
            [row.stem, row.submission, exercise, row.status, *owner, *points, total, max_score, *late, error]
        )
    for student in context.match.missing if context.match is not None else ():
        lines.append(
            [student.submission, "", "", "missing", *_roster_values(student)]
            + [""] * (len(columns) + 2 + len(late_columns) + 1)
        )
    csvfile.write_csv(path, header, lines)


def _roster_values(student: RosterStudent | None) -> list[csvfile.Cell]:
    return [student.id, student.name, student.email, student.section] if student else ["", "", "", ""]


def _late_values(lateness: Lateness | None, total: float | str) -> list[Any]:
    if lateness is None or isinstance(total, str):
        return ["", "", "", total]
    return [
        lateness.submitted.isoformat(timespec="seconds"),
        lateness.days,
        f"{100 * lateness.fraction:g}%",
        lateness.penalised(total),
    ]


def final_score(row: Row, context: ClassContext) -> float | None:
    """The score a student gets for a row: the raw score less any late penalty; 0 for a file that
    could not be read; None when the grader, not the student, failed (nothing to report), whether it
    could not grade the submission at all or could not measure its model (`unmeasured`)."""
    if row.result is not None and row.unmeasured is not None:
        return None
    if row.result is not None:
        score = float(row.result["score"])
        lateness = context.late(row.stem)
        return lateness.penalised(score) if lateness is not None else score
    if row.failure is not None and row.failure.kind == "submission":
        return 0.0
    return None


def lms_grades(rows: Sequence[Row], context: ClassContext) -> tuple[list[Assignment], list[StudentGrades]]:
    """One assignment per exercise, and each roster student's grade in it (their best submission's)."""
    assignments: dict[str, Assignment] = {}
    for row in rows:
        if row.result is not None and row.result["exercise"] not in assignments:
            r = row.result
            assignments[r["exercise"]] = Assignment(r["exercise"], r["title"], float(r["max_score"]))
    best: dict[int, dict[str, float]] = {}
    for row in rows:
        owner = context.owner(row.stem)
        score = final_score(row, context)
        exercise = row.result["exercise"] if row.result is not None else _only(assignments)
        if owner is None or score is None or exercise is None:
            continue
        scores = best.setdefault(owner.line, {})
        scores[exercise] = max(score, scores.get(exercise, score))
    students = context.roster.students if context.roster is not None else ()
    grades = [StudentGrades(s, best[s.line]) for s in students if s.line in best]
    return list(assignments.values()), grades


def _only(assignments: Mapping[str, Assignment]) -> str | None:
    """The exercise an ungradable file was for, when the class has one exercise (it cannot tell us)."""
    return next(iter(assignments)) if len(assignments) == 1 else None


def write_similarity(pairs: Sequence[similarity.SimilarPair], path: Path) -> None:
    csvfile.write_csv(
        path,
        ["student_a", "student_b", "kind", "score", "detail"],
        ([pair.student_a, pair.student_b, pair.kind, pair.score, pair.detail] for pair in pairs),
    )


def _names(values: Sequence[str]) -> str:
    shown = ", ".join(values[:NAMES_IN_A_NOTICE])
    return shown + (f" and {len(values) - NAMES_IN_A_NOTICE} more" if len(values) > NAMES_IN_A_NOTICE else "")


def notices(rows: Sequence[Row], context: ClassContext) -> tuple[str, ...]:
    """The terminal's lines about the roster, late submissions and similar pairs (none when nothing to say)."""
    lines = []
    if context.roster is not None and context.match is not None:
        match, students = context.match, context.roster.students
        matched = len(students) - len(match.missing)
        line = f"roster {context.roster.path.name}: {matched} of {len(students)} students have a submission"
        if match.unmatched:
            line += f"; {len(match.unmatched)} submission(s) match no student: {_names(match.unmatched)}"
        if match.missing:
            line += (
                f"; {len(match.missing)} student(s) have none: {_names([s.label() for s in match.missing])}"
            )
        lines.append(line)
    unmeasured_rows = [row for row in rows if row.unmeasured is not None]
    if unmeasured_rows:
        lines.append(
            f"unmeasured: the grader could not measure {len(unmeasured_rows)} submission(s), whose grade is "
            f"left empty in every export (not 0): {_names([row.stem for row in unmeasured_rows])}; "
            "see index.html and the error column of gradebook.csv, then regrade them or grade them by hand"
        )
    late = [(stem, lateness) for stem, lateness in sorted((context.lateness or {}).items()) if lateness.late]
    if late:
        described = [f"{stem} ({lateness.describe()})" for stem, lateness in late]
        lines.append(f"late: {len(late)} submission(s) after the due date: {_names(described)}")
    if context.similar:
        pairs = [f"{p.student_a} & {p.student_b} ({p.kind})" for p in context.similar]
        lines.append(f"similar: {len(pairs)} pair(s) to review in similarity.csv: {_names(pairs)}")
    return tuple(lines)


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
            score = "" if row.unmeasured is not None else f"{result['score']:g}/{result['max_score']:g}"
            for name, value in (
                ("exercise", result["exercise"]),
                ("status", row.status),
                ("score", score),
                ("device", result["run"]["device"]),
            ):
                ET.SubElement(properties, "property", name=name, value=_xml_text(str(value)))
            if row.unmeasured is not None:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=_xml_text(f"{result['exercise']}.{row.stem}"),
                    name="measured",
                )
                ET.SubElement(
                    case,
                    "error",
                    message=_xml_text(f"not measured: {row.unmeasured}"),
                    type=unmeasured.STATUS,
                )
                counts.update(tests=1, errors=1)
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
    """`gradescope/<stem>/results.json` in Gradescope's autograder format (see docs/batch.md).

    Each check's visibility becomes its test's (`grader.render.visibility.GRADESCOPE`), and the top-level
    output, which every student sees, says only the visible checks' score when some are hidden.
    """
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
    if row.unmeasured is not None:
        return unmeasured_gradescope(result, row.unmeasured)
    withheld = visibility.withheld_count(result["checks"])
    if withheld:
        shown, maximum = visibility.visible_score(result["checks"])
        output = (
            f"{result['title']}: {shown:g}/{maximum:g} on the visible checks; "
            f"{withheld} check(s) hidden until grading"
        )
    else:
        output = f"{result['title']}: {result['score']:g}/{result['max_score']:g}"
    results: dict[str, Any] = {
        "score": result["score"],
        "max_score": result["max_score"],
        "execution_time": round(result["run"]["duration_s"]),
        "output": output,
        "tests": [
            {
                "name": check["id"] + (f": {check['description']}" if check.get("description") else ""),
                "number": str(number),
                "score": check["points"],
                "max_score": check["max_points"],
                "status": "passed" if check["status"] == "pass" else "failed",
                "output": check["message"],
                "visibility": visibility.GRADESCOPE[check.get("visibility", "visible")],
            }
            for number, check in enumerate(result["checks"], start=1)
        ],
    }
    board = gradescope_leaderboard(result)
    if board:
        results["leaderboard"] = board
    return results


def unmeasured_gradescope(result: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """A results.json with no score at all: Gradescope must not show, or export, the grader's failure as a 0.

    Gradescope takes the submission's score from `score`, or else from its tests' scores; with
    neither, it records no autograder score, and the instructor, told by `extra_data` and the
    class outputs, grades it by hand or regrades it.
    """
    return {
        "output": (
            f"{result['title']}: not graded yet: the grader could not measure your model ({reason}). "
            "This is the grader's failure, not your submission's; your instructor will grade it."
        ),
        "tests": [],
        "extra_data": {"status": unmeasured.STATUS, "reason": reason},
    }


def gradescope_leaderboard(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One leaderboard column per visible accuracy check: the held-out accuracy (0 when not evaluated).

    A hidden accuracy check gets none: a leaderboard is shown to every student at once.
    """
    checks = [c for c in result["checks"] if c["kind"] == "accuracy" and visibility.is_shown(c)]
    return [
        {
            "name": "Accuracy" if len(checks) == 1 else f"Accuracy: {check['id']}",
            "value": float((check.get("metrics") or {}).get("accuracy") or 0.0),
        }
        for check in checks
    ]


def score_histogram(rows: Sequence[Row]) -> list[tuple[str, int]]:
    """How many graded students scored in each tenth of the maximum (100% falls in the last bin)."""
    counts = [0] * HISTOGRAM_BINS
    for row in rows:
        if row.result is not None and row.unmeasured is None and row.result["max_score"]:
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
    """The mistakes most students made, grouped so that the same mistake counts once per student.

    A layer check's mistakes are grouped by layer and attribute ("layer 1, kernel_size"), not by
    message, since the message quotes each student's own numbers, and shapes and counts that only
    follow from an earlier difference are left out; other checks by their message with its numbers
    blanked (shown as the first student's message); ungradable submissions by their message
    without the file name.
    """
    counts: Counter[tuple[str, str]] = Counter()
    shown: dict[tuple[str, str], str] = {}
    for row in rows:
        found: dict[tuple[str, str], str] = {}
        if row.failure is not None:
            message = row.failure.message.replace(row.submission, "<file>")
            found[("could not be graded", NUMBERS.sub("N", message))] = message
        for column in columns:
            check = _check(row, column)
            if check is not None and check["status"] != "pass":
                for mistake, example in _mistakes(check):
                    found[(column.label, mistake)] = example
        counts.update(found.keys())
        for grouped, example in found.items():
            shown.setdefault(grouped, example)
    return [
        (n, label, shown[(label, mistake)]) for (label, mistake), n in counts.most_common(COMMON_FAILURES)
    ]


DERIVED_ATTRIBUTES = frozenset({"output_shape", "params"})


def _mistakes(check: dict[str, Any]) -> list[tuple[str, str]]:
    """What went wrong in one failed check: (words the same for every student who made that mistake, as shown).

    A layer's output shape and parameter count follow from the layers before it, so after the first
    differing row they differ for that reason alone (valid padding on layer 1 changes every shape
    after it); only the first differing row's shape and count are a mistake of their own.
    """
    rows = [row for row in check.get("layer_rows") or [] if row["status"] != "match"]
    if not rows:
        return [(NUMBERS.sub("N", check["message"]), check["message"])]
    mistakes: list[str] = []
    for index, row in enumerate(rows):
        where = f"layer {row['position']}"
        if row["status"] == "missing":
            mistakes.append(f"{where}: missing {row['expected']['type']}")
        elif row["status"] == "extra":
            kind = "operation" if row["actual"].get("kind") == "op" else "layer"
            mistakes.append(f"{where}: extra {row['actual']['type']} {kind}")
        else:
            attributes = [difference.split(" ", 1)[0] for difference in row["differences"]]
            mistakes += [
                f"{where}, {attribute}"
                for attribute in attributes
                if index == 0 or attribute not in DERIVED_ATTRIBUTES
            ]
    return [(mistake, mistake) for mistake in mistakes]


def render_index(rows: Sequence[Row], columns: Sequence[Column], context: ClassContext | None = None) -> str:
    context = context or ClassContext()
    env = pages.environment()
    graded = [r.result for r in rows if r.result is not None and r.unmeasured is None]
    percents = [100 * r["score"] / r["max_score"] for r in graded if r["max_score"]]
    students: list[dict[str, Any]] = [
        {
            "stem": row.stem,
            "submission": row.submission,
            "result": row.result,
            "failure": row.failure,
            "unmeasured": row.unmeasured,
            "statuses": [(_check(row, c) or {}).get("status") for c in columns],
            "owner": context.owner(row.stem),
            "late": context.late(row.stem),
        }
        for row in rows
    ]
    late = [s for s in students if s["late"] is not None and s["late"].late]
    roster = None
    if context.roster is not None and context.match is not None:
        roster = {
            "file": context.roster.path.name,
            "size": len(context.roster.students),
            "unmatched": [s for s in students if s["stem"] in context.match.unmatched],
            "missing": context.match.missing,
        }
    return env.get_template("index.html.j2").render(
        students=students,
        columns=columns,
        histogram=score_histogram(rows),
        rates=pass_rates(rows, columns),
        failures=common_failures(rows, columns),
        graded=len(graded),
        unmeasured=[s for s in students if s["unmeasured"] is not None],
        failed=sum(1 for row in rows if row.result is None),
        mean=statistics.fmean(percents) if percents else None,
        median=statistics.median(percents) if percents else None,
        exercises=sorted({r["exercise"] for r in graded}),
        roster=roster,
        late=late,
        with_late=bool(context.lateness),
        similar=context.similar,
        thresholds={
            "cosine": similarity.WEIGHTS_COSINE_MIN,
            "jaccard": similarity.CODE_JACCARD_MIN,
            "shingle": similarity.SHINGLE_TOKENS,
        },
    )
