"""The class outputs of a batch: gradebook.csv, junit.xml, Gradescope results.json, index.html, similarity.csv,
and with a roster canvas.csv and moodle.csv.

Each is rendered from the canonical `<stem>.json` files on disk (a `GradeResult` each) and the
failure rows of students who could not be graded, never from live objects, so no output can
say anything the per-student JSON does not. What the JSON cannot know is the class's business and
is applied here, beside the raw score: who each submission belongs to (`grader.outputs.roster`), whether
it came in late (`grader.rubric.late`, from a recorded submission time, a git commit, or where the
instructor asks, the file's modification time) and which submissions look alike
(`grader.outputs.similarity`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from grader.errors import GradingError
from grader.grading import stopped, unmeasured
from grader.outputs import csvfile, mistakes, overrides, similarity
from grader.outputs.exports import Assignment, StudentGrades, write_canvas, write_moodle
from grader.outputs.final_score import FinalScore, compute
from grader.outputs.roster import Handed, Roster, RosterMatch, RosterStudent, match_key, match_roster
from grader.render import pages, visibility
from grader.result import Failure, GradeResult
from grader.rubric.late import Lateness, LatePolicy, assess, zone_name

HISTOGRAM_BINS = 10
NAMES_IN_A_NOTICE = 5
FINAL_SCORES = "final-scores.json"
HAND_COLUMNS = ("overrides", "final", "final_max")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUBMITTED_AT = Path(".keys") / "submitted-at.json"
OBSERVED_FILES = {"mtime": SUBMITTED_AT, "git": Path(".keys") / "committed-at.json"}
OBSERVED_SOURCES = {"mtime": "file modification time", "git": "git commit"}
ROSTER_COLUMNS = ("id", "name", "email", "section")
LATE_COLUMNS = ("submitted", "submitted_from", "due", "late_days", "penalty", "penalised_total")
MTIME_WARNING = (
    "late: submission times are the files' modification times (--late-from mtime), which a student can "
    "set and a copy or git clone resets: check every late and on-time verdict"
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
    times: SubmissionTimes | None = None
    finals: Mapping[str, FinalScore] = dataclasses.field(default_factory=dict)

    @property
    def hand_edited(self) -> bool:
        """Whether the instructor's overrides or manual points touch any student (their columns appear then)."""
        return any(final.hand_edited for final in self.finals.values())

    def owner(self, stem: str) -> RosterStudent | None:
        return self.match.by_stem.get(stem) if self.match is not None else None

    def late(self, stem: str) -> Lateness | None:
        return (self.lateness or {}).get(stem)


@dataclass(frozen=True)
class ClassOutputs:
    """The files written, and the lines the terminal summary adds (roster, late, similar)."""

    paths: dict[str, Path]
    notices: tuple[str, ...]


@dataclass(frozen=True)
class SubmissionTimes:
    """How the class's submission times were found: the course's zone, and where each came from.

    `observed` (stem -> POSIX seconds) is read from the submissions themselves by `observed_from`
    (`git` commits, or file `mtime`s, which only an instructor's explicit `--late-from mtime` puts
    here; `none` reads nothing, not even times kept by an earlier run); `recorded` (a roster value or stem, as `match_key` makes it -> time) is what an LMS
    recorded, from `--submissions-times`, named `recorded_from`.
    """

    zone: tzinfo = UTC
    observed: Mapping[str, float] = dataclasses.field(default_factory=dict)
    observed_from: str = "mtime"
    recorded: Mapping[str, datetime] = dataclasses.field(default_factory=dict)
    recorded_from: str = ""
    untimed: tuple[str, ...] = ()


def write_class_outputs(
    out_dir: Path,
    entries: Sequence[BatchEntry],
    *,
    roster: Roster | None = None,
    late: LatePolicy | None = None,
    submitted_at: Mapping[str, float] | None = None,
    times: SubmissionTimes | None = None,
    paths: Mapping[str, tuple[str, ...]] | None = None,
    starter_code: Sequence[str] = (),
    due_by_exercise: Mapping[str, datetime] | None = None,
    overrides_file: Path | None = None,
) -> ClassOutputs:
    """Every class output from the JSON on disk.

    `roster` adds its columns to the gradebook and writes canvas.csv and moodle.csv, attributing
    each submission by `paths` (stem -> its folders and file name below the batch's folder; the stem
    where a student was graded by an earlier run); `late` (the command line's due date and penalty,
    over each rubric's `late:`) is judged against each submission's time (`times`; `submitted_at`
    is a shorthand for modification times), the roster's extensions and excused students;
    observed times are kept in the out folder for students graded by an earlier run;
    `starter_code` is the starter notebook's cells, set aside when comparing code (default: the
    exercise's `exercises/<id>/starter.ipynb` beside the rubrics). `overrides_file` (else
    `overrides.csv` in `out_dir`) holds the instructor's overrides and manual points, validated
    against the class (`OverridesError` naming each bad line) and applied here, never to the
    per-student JSON; every output takes each student's `FinalScore` from one place.
    """
    rows = load_rows(out_dir, entries)
    columns = check_columns(rows)
    times = times or SubmissionTimes(observed=submitted_at or {})
    kept = (
        record_submission_times(
            out_dir,
            times.observed,
            {row.stem for row in rows},
            times.zone,
            OBSERVED_FILES[times.observed_from],
        )
        if times.observed_from in OBSERVED_FILES
        else {}
    )
    similar, trouble = look_alikes(rows, starter_code)
    known = paths or {}
    handed = [
        Handed(row.stem, known[row.stem]) if row.stem in known else Handed.from_stem(row.stem, row.submission)
        for row in rows
    ]
    match = match_roster(roster, handed) if roster else None
    roster_name = roster.path.name if roster is not None else "roster"
    lateness, untimed = lateness_of(
        rows, late or LatePolicy(), times, kept, match, roster_name, due_by_exercise or {}
    )
    times = dataclasses.replace(times, untimed=untimed)
    finals, waiting = final_scores(rows, lateness, overrides.locate(out_dir, overrides_file), match)
    context = ClassContext(
        roster=roster, match=match, lateness=lateness, similar=similar, times=times, finals=finals
    )
    paths_out = {
        "gradebook": out_dir / "gradebook.csv",
        "junit": out_dir / "junit.xml",
        "gradescope": out_dir / "gradescope",
        "index": out_dir / "index.html",
        "similarity": out_dir / "similarity.csv",
        "final_scores": out_dir / FINAL_SCORES,
    }
    write_csv(rows, columns, paths_out["gradebook"], context)
    write_junit(rows, paths_out["junit"], context)
    write_gradescope(rows, paths_out["gradescope"], context)
    write_final_scores(out_dir, rows, context)
    write_similarity(context.similar, paths_out["similarity"])
    if roster is not None and context.match is not None:
        paths_out["canvas"] = out_dir / "canvas.csv"
        paths_out["moodle"] = out_dir / "moodle.csv"
        assignments, grades = lms_grades(rows, context)
        write_canvas(paths_out["canvas"], assignments, grades)
        write_moodle(paths_out["moodle"], assignments, grades)
    paths_out["index"].write_text(render_index(rows, columns, context), encoding="utf-8")
    return ClassOutputs(
        paths=paths_out, notices=(*notices(rows, context), *stopped_notice(rows), *waiting, *trouble)
    )


def final_scores(
    rows: Sequence[Row],
    lateness: Mapping[str, Lateness],
    overrides_path: Path | None,
    match: RosterMatch | None,
) -> tuple[dict[str, FinalScore], tuple[str, ...]]:
    """Every student's `FinalScore`, and a line per override that waits for a student with no grade yet.

    The overrides file is read and validated against this class each time (`OverridesError` for an
    unknown student or check, or points out of range), so a fix to it needs no regrading.
    """
    resolved = None
    if overrides_path is not None:
        students = overrides.class_students((row.stem, row.result, row.status == "graded") for row in rows)
        resolved = overrides.resolve(overrides.read_overrides(overrides_path), students, match)
    finals = {}
    for row in rows:
        exercise = row.result["exercise"] if row.result is not None else ""
        finals[row.stem] = compute(
            row.stem,
            row.result,
            row.status,
            lateness=lateness.get(row.stem),
            lines=resolved.by_stem.get(row.stem, ()) if resolved is not None else (),
            manual_items=resolved.manual_items.get(exercise) if resolved is not None else None,
            withheld=visibility.withheld_count(row.result["checks"]) if row.result is not None else 0,
        )
    waiting: tuple[str, ...] = ()
    if resolved is not None and resolved.waiting:
        waiting = (
            f"overrides: {len(resolved.waiting)} line(s) wait for a student with a grade: "
            + _names(list(resolved.waiting)),
        )
    return finals, waiting


def final_of(row: Row, context: ClassContext) -> FinalScore:
    """The row's `FinalScore` from the context, or (a writer called on its own) the machine's score and lateness."""
    found = context.finals.get(row.stem)
    if found is not None:
        return found
    withheld = visibility.withheld_count(row.result["checks"]) if row.result is not None else 0
    return compute(row.stem, row.result, row.status, lateness=context.late(row.stem), withheld=withheld)


def write_final_scores(out_dir: Path, rows: Sequence[Row], context: ClassContext) -> None:
    """`final-scores.json` (stem -> `FinalScore.to_json()`) and each graded student's report with its final-score block.

    The class-side record a report reads: the `<stem>.json` beside it stays the machine's result.
    """
    from grader.render.report import write_final_block

    record = {row.stem: final_of(row, context).to_json() for row in rows}
    path = out_dir / FINAL_SCORES
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    for row in rows:
        report = out_dir / f"{row.stem}.html"
        if row.result is not None and report.is_file():
            write_final_block(report, final_of(row, context))


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
    out_dir: Path,
    observed: Mapping[str, float],
    stems: set[str],
    zone: tzinfo = UTC,
    kept_in: Path = SUBMITTED_AT,
) -> dict[str, datetime]:
    """This run's observed times, merged into those kept from earlier runs (the folder is the class), in `zone`."""
    path = out_dir / kept_in
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
    return {stem: datetime.fromtimestamp(when, zone) for stem, when in merged.items() if stem in stems}


def submission_time(
    row: Row,
    owner: RosterStudent | None,
    times: SubmissionTimes,
    observed: Mapping[str, datetime],
    roster: str,
) -> tuple[datetime, str] | None:
    """When a submission came in and from where, trusted sources first: the LMS's record
    (`--submissions-times`, then the roster's `submitted_at`), then what was observed (git, mtime)."""
    keys = [match_key(row.stem)]
    if owner is not None:
        keys += [
            owner.key,
            *(match_key(v) for v in (owner.id, owner.canvas_id, owner.login, owner.email) if v),
        ]
    recorded = next((times.recorded[k] for k in keys if k in times.recorded), None)
    if recorded is not None:
        return recorded.astimezone(times.zone), f"submitted_at ({times.recorded_from})"
    if owner is not None and owner.submitted_at is not None:
        return owner.submitted_at.astimezone(times.zone), f"submitted_at ({roster}:{owner.line})"
    if row.stem in observed:
        return observed[row.stem], OBSERVED_SOURCES[times.observed_from]
    return None


def lateness_of(
    rows: Sequence[Row],
    late: LatePolicy,
    times: SubmissionTimes,
    observed: Mapping[str, datetime],
    match: RosterMatch | None = None,
    roster: str = "roster",
    due_by_exercise: Mapping[str, datetime] | None = None,
) -> tuple[dict[str, Lateness], tuple[str, ...]]:
    """Each submission's lateness under the command line's policy over its rubric's `late:` (a naive due
    date read in the course's zone), with the owner's extension or excuse; and the submissions that
    have a due date but no known time (never silently on time: they are listed)."""
    rubric_policies: dict[str, LatePolicy | None] = {}
    found = {}
    untimed = []
    for row in rows:
        label = row.result["rubric"] if row.result is not None else None
        if label is not None and label not in rubric_policies:
            rubric_policies[label] = rubric_late_policy(Path(label))
        exercise_due = (due_by_exercise or {}).get(row.result["exercise"]) if row.result is not None else None
        course = LatePolicy(due=exercise_due) if exercise_due is not None else None  # a course file's due:
        policy = late.over(course).over(rubric_policies.get(label) if label else None).in_zone(times.zone)
        if policy.due is None:
            continue
        owner = match.by_stem.get(row.stem) if match is not None else None
        when = submission_time(row, owner, times, observed, roster)
        if when is None:
            untimed.append(row.stem)
            continue
        lateness = assess(
            policy,
            when[0],
            extension=owner.extension if owner is not None else None,
            excused=owner.excused if owner is not None else False,
            source=when[1],
        )
        if lateness is not None:
            found[row.stem] = dataclasses.replace(lateness, due=lateness.due.astimezone(times.zone))
    return found, tuple(untimed)


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
    due date: when each submission came in and where that time is from, the student's own due date
    (with an extension), days late, the penalty and the penalised (final) total beside the raw one.
    A row with no grade (could not be graded, not measured) has an empty total, never 0.

    With the instructor's overrides or manual points: a check's cell is the points that count (the
    override's), a `manual:<name>` column per manual item, and `overrides` (each edit, its original
    and comment), `final` and `final_max` after the machine's `total`. The final score is always
    the `FinalScore`: `final` with hand edits, else `penalised_total` with a due date, else `total`.
    """
    context = context or ClassContext()
    roster_columns = list(ROSTER_COLUMNS) if context.match is not None else []
    late_columns = list(LATE_COLUMNS) if context.lateness or (context.times and context.times.untimed) else []
    hand = context.hand_edited
    manual_labels = sorted({m.label for final in context.finals.values() for m in final.manual})
    hand_columns = list(HAND_COLUMNS) if hand else []
    header = ["student", "submission", "exercise", "status", *roster_columns]
    header += [*(c.label for c in columns), *manual_labels, "total", "max_score", *late_columns]
    header += [*hand_columns, "error"]
    lines: list[list[csvfile.Cell]] = []
    for row in rows:
        final = final_of(row, context)
        points: list[csvfile.Cell] = [_points(row, c, final) for c in columns]
        by_label = {m.label: m.points for m in final.manual}
        manual: list[csvfile.Cell] = [
            by_label.get(label, "") if final.graded else "" for label in manual_labels
        ]
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
            total, max_score = "", ""
        owner = _roster_values(context.owner(row.stem)) if roster_columns else []
        late = _late_values(context.late(row.stem), final.final) if late_columns else []
        edits: list[csvfile.Cell] = (
            [final.describe_overrides(), _cell(final.final), _cell(final.maximum if final.graded else None)]
            if hand
            else []
        )
        start = [row.stem, row.submission, exercise, row.status, *owner, *points, *manual]
        lines.append([*start, total, max_score, *late, *edits, error])
    for student in context.match.missing if context.match is not None else ():
        lines.append(
            [student.submission, "", "", "missing", *_roster_values(student)]
            + [""] * (len(columns) + len(manual_labels) + 2 + len(late_columns) + len(hand_columns) + 1)
        )
    stopped_column(header, lines, rows)
    csvfile.write_csv(path, header, lines)


def _roster_values(student: RosterStudent | None) -> list[csvfile.Cell]:
    return [student.id, student.name, student.email, student.section] if student else ["", "", "", ""]


def _cell(value: float | None) -> csvfile.Cell:
    return "" if value is None else value


def _points(row: Row, column: Column, final: FinalScore) -> csvfile.Cell:
    """A check's points that count: the instructor's override where there is one, else the machine's."""
    check = _check(row, column)
    if check is None:
        return ""
    edited = (
        final.override_of(column.check_id)
        if row.result and row.result["exercise"] == column.exercise
        else None
    )
    return edited.points if edited is not None else check.get("points", "")


def _late_values(lateness: Lateness | None, final: float | None) -> list[Any]:
    """The late columns; `penalised_total` is the `FinalScore`'s final (empty without a grade)."""
    if lateness is None:
        return ["", "", "", "", "", _cell(final)]
    return [
        lateness.submitted.isoformat(timespec="seconds"),
        lateness.source,
        lateness.due.isoformat(timespec="seconds"),
        "excused" if lateness.excused else lateness.days,
        f"{100 * lateness.fraction:g}%",
        _cell(final),
    ]


def final_score(row: Row, context: ClassContext) -> float | None:
    """The score a student gets for a row: the raw score less any late penalty; None (no grade, left
    empty in every export and listed) when there is nothing measured to grade: a file that could not
    be read or run, a grader failure, or a model the grader could not measure (`unmeasured`). An
    unreadable upload may be the LMS's or the grader's fault as well as the student's, so a person
    decides, rather than a silent 0. It is the row's `FinalScore` (overrides, manual points, lateness)."""
    return final_of(row, context).final


def lms_grades(rows: Sequence[Row], context: ClassContext) -> tuple[list[Assignment], list[StudentGrades]]:
    """One assignment per exercise, and each roster student's grade in it (their best submission's)."""
    assignments: dict[str, Assignment] = {}
    for row in rows:
        if row.result is not None and row.result["exercise"] not in assignments:
            r = row.result
            maximum = final_of(row, context).maximum
            assignments[r["exercise"]] = Assignment(
                r["exercise"], r["title"], maximum or float(r["max_score"])
            )
    best: dict[int, dict[str, float]] = {}
    for row in rows:
        owner = context.owner(row.stem)
        score = final_score(row, context)
        if owner is None or score is None or row.result is None:
            continue
        exercise = row.result["exercise"]
        scores = best.setdefault(owner.line, {})
        scores[exercise] = max(score, scores.get(exercise, score))
    students = context.roster.students if context.roster is not None else ()
    grades = [StudentGrades(s, best[s.line]) for s in students if s.line in best]
    return list(assignments.values()), grades


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
        if match.ambiguous:
            described = [f"{stem} ({why})" for stem, why in match.ambiguous.items()]
            lines.append(
                f"roster: {len(described)} submission(s) credited to no one, since what they say of their "
                f"owner disagrees: {_names(described)}; move each into its student's folder or grade it by hand"
            )
        several = match.several()
        if several:
            described = [f"{s.label()}: {', '.join(stems)}" for s, stems in several]
            lines.append(
                f"roster: {len(several)} student(s) have several submissions (the exports take the best of "
                f"them; check which one counts): {_names(described)}"
            )
        ungraded = [row.stem for row in rows if row.result is None and context.owner(row.stem) is not None]
        if ungraded:
            lines.append(
                f"roster: {len(ungraded)} submission(s) could not be graded; their grade is left empty in "
                f"canvas.csv and moodle.csv (not 0): {_names(ungraded)}; see the error column of gradebook.csv"
            )
    unmeasured_rows = [row for row in rows if row.unmeasured is not None]
    if unmeasured_rows:
        lines.append(
            f"unmeasured: the grader could not measure {len(unmeasured_rows)} submission(s), whose grade is "
            f"left empty in every export (not 0): {_names([row.stem for row in unmeasured_rows])}; "
            "see index.html and the error column of gradebook.csv, then regrade them or grade them by hand"
        )
    times = context.times
    if times is not None and (context.lateness or times.untimed):
        sources = Counter(lateness.source for lateness in (context.lateness or {}).values())
        origins = ", ".join(f"{source} ×{n}" for source, n in sorted(sources.items())) or "none"
        lines.append(
            f"late: due dates and times in {zone_name(times.zone)} (--timezone); times from: {origins}"
        )
        if sources[OBSERVED_SOURCES["mtime"]]:
            lines.append(MTIME_WARNING)
        if times.untimed:
            lines.append(
                f"late: {len(times.untimed)} submission(s) have no known submission time, so no late rule "
                f"was applied to them: {_names(list(times.untimed))}; give a submitted_at column in the "
                "roster or --submissions-times (see docs/batch.md)"
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


def write_junit(rows: Sequence[Row], path: Path, context: ClassContext | None = None) -> None:
    """A test suite per submission, a test case per check; a failed submission is one error case.

    The suite's `score` property is the `FinalScore` (`final/max`), beside `raw_score`, `late` and
    `overrides`; an overridden check's case counts its override's points and says the machine's; a
    manual item is a case of its own.
    """
    context = context or ClassContext()
    root = ET.Element("testsuites", name="grader")
    totals: Counter[str] = Counter()
    for row in rows:
        suite = ET.SubElement(root, "testsuite", name=_xml_text(row.stem))
        counts = _junit_failure(suite, row) if row.result is None else _junit_graded(suite, row, context)
        for name in ("tests", "failures", "errors", "skipped"):
            suite.set(name, str(counts[name]))
        totals.update(counts)
    for name in ("tests", "failures", "errors", "skipped"):
        root.set(name, str(totals[name]))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _junit_failure(suite: ET.Element, row: Row) -> Counter[str]:
    """A submission that could not be graded: one error case, saying why."""
    assert row.failure is not None
    case = ET.SubElement(suite, "testcase", classname=_xml_text(row.stem), name="grade", time="0")
    error = ET.SubElement(case, "error", message=_xml_text(row.failure.message), type=row.failure.kind)
    error.text = _xml_text(row.failure.hint)
    suite.set("time", "0")
    return Counter(tests=1, errors=1)


def _junit_graded(suite: ET.Element, row: Row, context: ClassContext) -> Counter[str]:
    """A graded submission: its scores as properties, a case per check and per manual item."""
    result = row.result
    assert result is not None
    suite.set("time", f"{result['run']['duration_s']:.3f}")
    properties = ET.SubElement(suite, "properties")
    final = final_of(row, context)
    score = "" if final.final is None else f"{final.final:g}/{final.maximum or 0:g}"
    raw = "" if row.unmeasured is not None else f"{result['score']:g}/{result['max_score']:g}"
    for name, value in (
        ("exercise", result["exercise"]),
        ("status", row.status),
        ("score", score),
        ("raw_score", raw),
        ("late", final.lateness.describe() if final.lateness is not None else ""),
        ("overrides", final.describe_overrides()),
        ("device", result["run"]["device"]),
    ):
        ET.SubElement(properties, "property", name=name, value=_xml_text(str(value)))
    classname = _xml_text(f"{result['exercise']}.{row.stem}")
    counts: Counter[str] = Counter()
    if row.unmeasured is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="measured")
        ET.SubElement(
            case, "error", message=_xml_text(f"not measured: {row.unmeasured}"), type=unmeasured.STATUS
        )
        counts.update(tests=1, errors=1)
    for check in result["checks"]:
        counts.update(_junit_check(suite, classname, check, final))
    for manual in final.manual if final.graded else ():
        case = ET.SubElement(suite, "testcase", classname=classname, name=manual.label)
        counts.update(tests=1)
        got = "not entered" if manual.points is None else f"{manual.points:g}"
        text = f"{got}/{manual.max_points:g} points (manual){': ' + manual.comment if manual.comment else ''}"
        ET.SubElement(case, "system-out").text = _xml_text(text)
    return counts


def _junit_check(suite: ET.Element, classname: str, check: dict[str, Any], final: FinalScore) -> Counter[str]:
    """One check's case: its points and message, an override's note, and its failure, error or skip."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=check["id"], time="0")
    counts: Counter[str] = Counter(tests=1)
    detail = f"{check['points']:g}/{check['max_points']:g} points: {check['message']}"
    edited = final.override_of(check["id"])
    if edited is not None:
        detail = (
            f"{edited.points:g}/{edited.max_points:g} points (overridden from {edited.original:g}"
            f"{': ' + edited.comment if edited.comment else ''}); machine: {detail}"
        )
        ET.SubElement(case, "system-out").text = _xml_text(detail)
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
    return counts


def _layer_differences(check: dict[str, Any]) -> str:
    lines = []
    for row in check.get("layer_rows", []):
        if row["status"] != "match":
            lines.append(f"layer {row['position']} ({row['status']}): " + "; ".join(row["differences"]))
    return "\n".join(lines)


def write_gradescope(rows: Sequence[Row], folder: Path, context: ClassContext | None = None) -> None:
    """`gradescope/<stem>/results.json` in Gradescope's autograder format (see docs/batch.md).

    Each check's visibility becomes its test's (`grader.render.visibility.GRADESCOPE`), and the top-level
    output, which every student sees, says only the visible checks' score when some are hidden.
    """
    context = context or ClassContext()
    for row in rows:
        target = folder / row.stem
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(
            json.dumps(gradescope_results(row, final_of(row, context)), indent=2) + "\n", encoding="utf-8"
        )


def gradescope_results(row: Row, final: FinalScore | None = None) -> dict[str, Any]:
    """A result as Gradescope's results.json: one test per check, each with its check's visibility.

    While any check is withheld there is no top-level `score`: it would override the tests' total
    and show every student the hidden points (6.33 where the visible checks give 5.33, so the
    hidden outcome). Without it Gradescope takes the score from the tests, the same sum, and
    shows it as it shows the tests: the withheld ones only once released.

    `final` (default: the machine's score alone) is the class's `FinalScore`: an overridden check's
    test has the override's points and says the machine's, each manual item is a visible test, and
    a late penalty is a test of its own (negative points, out of 0) so that the tests add up to the
    final score; it is withheld with the hidden checks, since its points follow from their total.
    With nothing withheld the top-level `score` is the final score.
    """
    if row.result is None:
        assert row.failure is not None
        output = row.failure.message + (f"\nHint: {row.failure.hint}" if row.failure.hint else "")
        return {"score": 0.0, "output": output, "tests": []}
    result = row.result
    if row.unmeasured is not None:
        return unmeasured_gradescope(result, row.unmeasured)
    if final is None:
        withheld_checks = visibility.withheld_count(result["checks"])
        final = compute(row.stem, result, row.status, withheld=withheld_checks)
    withheld = visibility.withheld_count(result["checks"])
    checks = [_overridden(check, final) for check in result["checks"]]
    manual_points = sum(m.points or 0.0 for m in final.manual)
    maximum_all = final.maximum if final.maximum is not None else result["max_score"]
    if withheld:
        shown, maximum = visibility.visible_score(checks)
        shown = round(shown + manual_points, 2)
        maximum = round(maximum + sum(m.max_points for m in final.manual), 2)
        output = (
            f"{result['title']}: {shown:g}/{maximum:g} on the visible checks; "
            f"{withheld} check(s) hidden until grading"
        )
        if final.late_fraction:
            output += f"; late: {final.lateness.describe() if final.lateness else ''}, applied to the total"
    else:
        output = f"{result['title']}: {final.final:g}/{maximum_all:g}"
        if final.late_fraction or final.hand_edited:
            output += f" (the grader's {result['score']:g}/{result['max_score']:g}"
            output += f"{'; ' + final.describe_overrides() if final.hand_edited else ''}"
            output += (
                f"{'; late: ' + final.lateness.describe() if final.lateness and final.late_fraction else ''})"
            )
    tests: list[dict[str, Any]] = [
        {
            "name": check["id"] + (f": {check['description']}" if check.get("description") else ""),
            "number": str(number),
            "score": check["points"],
            "max_score": check["max_points"],
            "status": "passed" if check["status"] == "pass" else "failed",
            "output": check["message"],
            "visibility": visibility.GRADESCOPE[check.get("visibility", "visible")],
        }
        for number, check in enumerate(checks, start=1)
    ]
    for manual in final.manual:
        tests.append(
            {
                "name": manual.label,
                "number": str(len(tests) + 1),
                "score": manual.points or 0.0,
                "max_score": manual.max_points,
                "status": "passed" if manual.points == manual.max_points else "failed",
                "output": "not graded yet"
                if manual.points is None
                else f"graded by hand: {manual.comment}".rstrip(": "),
                "visibility": "visible",
            }
        )
    if final.late_fraction and final.final is not None and final.adjusted is not None:
        tests.append(
            {
                "name": "late penalty",
                "number": str(len(tests) + 1),
                "score": round(final.final - final.adjusted, 4),
                "max_score": 0.0,
                "status": "failed",
                "output": final.lateness.describe() if final.lateness is not None else "late",
                "visibility": visibility.GRADESCOPE["hidden"] if withheld else "visible",
            }
        )
    results: dict[str, Any] = {
        **({} if withheld else {"score": final.final}),
        "max_score": maximum_all,
        "execution_time": round(result["run"]["duration_s"]),
        "output": output,
        "tests": tests,
    }
    board = gradescope_leaderboard(result)
    if board:
        results["leaderboard"] = board
    return results


def _overridden(check: dict[str, Any], final: FinalScore) -> dict[str, Any]:
    """The check as a student is graded on it: the instructor's points and comment over the machine's."""
    edited = final.override_of(check["id"])
    if edited is None:
        return check
    comment = f": {edited.comment}" if edited.comment else ""
    message = f"set by your instructor to {edited.points:g} (the grader gave {edited.original:g}){comment}. {check['message']}"
    status = "pass" if edited.points >= edited.max_points else check["status"]
    return {**check, "points": edited.points, "message": message, "status": status}


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


def common_mistakes(rows: Sequence[Row], columns: Sequence[Column]) -> list[mistakes.CommonMistake]:
    """The mistakes most students made, each once per student, quoting the values it groups
    (`grader.outputs.mistakes`): failed checks of measured results, and why a submission could not
    be graded (its file name left out, so that one error reads the same for every student)."""
    return mistakes.tally(
        mistakes.of_student(
            [
                (column.label, check)
                for column in columns
                if (check := _check(row, column)) is not None and check["status"] != "pass"
            ],
            row.failure.message.replace(row.submission, "<file>") if row.failure is not None else None,
        )
        for row in rows
    )


def common_failures(rows: Sequence[Row], columns: Sequence[Column]) -> list[tuple[int, str, str]]:
    """(students, check, mistake) of `common_mistakes`, without the values each quotes."""
    return [(m.students, m.label, m.mistake) for m in common_mistakes(rows, columns)]


def stopped_column(header: list[str], lines: list[list[csvfile.Cell]], rows: Sequence[Row]) -> None:
    """gradebook.csv's `stopped` column, right after `status`, where any run was stopped (`timeout`,
    `memory`, `died`; `grader.grading.stopped`): the score stands, counting what ran, and the
    column says who was stopped. Lines past the rows (the roster's missing students) get none."""
    stops = [stopped.of_json(row.result) for row in rows]
    if not any(stops):
        return
    at = header.index("status") + 1
    header.insert(at, "stopped")
    for number, line in enumerate(lines):
        stop = stops[number] if number < len(stops) else None
        line.insert(at, stop.kind if stop is not None else "")


def stopped_notice(rows: Sequence[Row]) -> tuple[str, ...]:
    """The terminal's line naming the submissions whose run was stopped (none when no run was)."""
    described = [f"{row.stem} ({stop.describe()})" for row in rows if (stop := stopped.of_json(row.result))]
    if not described:
        return ()
    return (
        f"stopped: {len(described)} submission(s) did not run to the end; their score counts what ran "
        f"(the stopped column of gradebook.csv): {_names(described)}",
    )


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
            "final": final_of(row, context),
            "stopped": stopped.of_json(row.result),
        }
        for row in rows
    ]
    late = [
        s
        for s in students
        if s["late"] is not None and (s["late"].late or s["late"].excused or s["late"].extension is not None)
    ]
    roster = None
    if context.roster is not None and context.match is not None:
        roster = {
            "file": context.roster.path.name,
            "size": len(context.roster.students),
            "unmatched": [s for s in students if s["stem"] in context.match.unmatched],
            "missing": context.match.missing,
            "ambiguous": [
                (s, context.match.ambiguous[s["stem"]])
                for s in students
                if s["stem"] in context.match.ambiguous
            ],
            "several": context.match.several(),
            "ungraded": [s for s in students if s["owner"] is not None and s["result"] is None],
        }
    times = context.times
    timing = None
    if times is not None and (context.lateness or times.untimed):
        sources = Counter(lateness.source for lateness in (context.lateness or {}).values())
        timing = {
            "zone": zone_name(times.zone),
            "sources": sorted(sources.items()),
            "mtime": bool(sources[OBSERVED_SOURCES["mtime"]]),
            "untimed": list(times.untimed),
        }
    return env.get_template("index.html.j2").render(
        students=students,
        columns=columns,
        histogram=score_histogram(rows),
        rates=pass_rates(rows, columns),
        failures=common_mistakes(rows, columns),
        stopped=[s for s in students if s["stopped"] is not None],
        graded=len(graded),
        unmeasured=[s for s in students if s["unmeasured"] is not None],
        failed=sum(1 for row in rows if row.result is None),
        mean=statistics.fmean(percents) if percents else None,
        median=statistics.median(percents) if percents else None,
        exercises=sorted({r["exercise"] for r in graded}),
        roster=roster,
        late=late,
        with_late=timing is not None,
        timing=timing,
        mtime_warning=MTIME_WARNING,
        similar=context.similar,
        thresholds={
            "cosine": similarity.WEIGHTS_COSINE_MIN,
            "jaccard": similarity.CODE_JACCARD_MIN,
            "shingle": similarity.SHINGLE_TOKENS,
        },
    )
