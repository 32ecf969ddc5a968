"""Grades in the CSV formats learning management systems import: Canvas and Moodle.

Written beside gradebook.csv when `grade batch` has a roster, one row per roster student who has a
grade, one column per assignment (an exercise, named by its rubric's title). Students with no
submission are left out rather than written as blanks or zeros, so an import never overwrites a
grade entered by hand (an extension, an excused student); they are listed in index.html instead.

Canvas (Grades > Import), as its importer reads the file (instructure/canvas-lms,
app/models/gradebook_importer.rb): a header `Student, ID, SIS User ID, SIS Login ID, Section`
followed by one column per assignment, titled `<title>` (Canvas matches an existing assignment of
that title, or creates one) or `<title> (<assignment id>)`; a row whose first cell is `Points
Possible` sets each assignment's points. Canvas finds each student by `ID` (its own user id), then
`SIS User ID`, then `SIS Login ID`, then the name in `Student`. The roster's id is the school's
student number, not Canvas's internal user id, so it goes in `SIS User ID` and `ID` stays empty
(a school number that happened to equal another user's Canvas id would grade the wrong student).

Moodle (Grades > Import > CSV file, grade/import/csv): any header; on import one column is mapped
to identify the user (`ID number` -> useridnumber or `Email address` -> useremail) and each grade
column to a grade item (or a new one). A row whose user Moodle cannot find aborts the whole
import, so only students with an id number or an email are written.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.outputs.roster import RosterStudent

CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_POSSIBLE = "Points Possible"
MOODLE_COLUMNS = ("ID number", "Email address", "Name")


@dataclass(frozen=True)
class Assignment:
    """One gradebook column of the LMS: an exercise, its title and its points."""

    exercise: str
    title: str
    points_possible: float


@dataclass(frozen=True)
class StudentGrades:
    """A roster student's grade per exercise id (already penalised when late); missing: not graded."""

    student: RosterStudent
    scores: Mapping[str, float]


def points(value: float) -> str:
    """At most two decimals (the precision Canvas keeps) and no trailing zeros: 6.33, 8, 0."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def column_titles(assignments: Sequence[Assignment]) -> list[str]:
    """Each assignment's title, with its exercise id added where two exercises share a title."""
    titles = [a.title for a in assignments]
    return [f"{a.title} [{a.exercise}]" if titles.count(a.title) > 1 else a.title for a in assignments]


def write_canvas(path: Path, assignments: Sequence[Assignment], grades: Sequence[StudentGrades]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_STUDENT_COLUMNS, *column_titles(assignments)])
        writer.writerow(
            [CANVAS_POINTS_POSSIBLE, *[""] * (len(CANVAS_STUDENT_COLUMNS) - 1)]
            + [points(a.points_possible) for a in assignments]
        )
        for graded in grades:
            student = graded.student
            cells = [
                points(graded.scores[a.exercise]) if a.exercise in graded.scores else "" for a in assignments
            ]
            writer.writerow([student.name, "", student.id, student.email, student.section, *cells])


def write_moodle(path: Path, assignments: Sequence[Assignment], grades: Sequence[StudentGrades]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*MOODLE_COLUMNS, *column_titles(assignments)])
        for graded in grades:
            student = graded.student
            if not (student.id or student.email):
                continue
            cells = [
                points(graded.scores[a.exercise]) if a.exercise in graded.scores else "" for a in assignments
            ]
            writer.writerow([student.id, student.email, student.name, *cells])
