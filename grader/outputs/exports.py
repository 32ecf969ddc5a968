"""Grades in the CSV formats learning management systems import: Canvas and Moodle.

Written beside gradebook.csv when `grade batch` has a roster, one row per roster student who has a
grade, one column per assignment (an exercise, named by its rubric's title). Students with no
submission are left out rather than written as blanks or zeros, so an import never overwrites a
grade entered by hand (an extension, an excused student); they are listed in index.html instead.
Likewise a student whose only submissions have no grade (could not be graded, not measured) has an
empty cell, never a 0, and is listed by the batch.

Canvas (Grades > Import), as its importer reads the file (instructure/canvas-lms,
app/models/gradebook_importer.rb): a header `Student, ID, SIS User ID, SIS Login ID, Section`
followed by one column per assignment, titled `<title>` (Canvas matches an existing assignment of
that title, or creates one) or `<title> (<assignment id>)`; a row whose first cell is `Points
Possible` sets each assignment's points. Canvas finds each student by `ID` (its own user id), then
`SIS User ID`, then `SIS Login ID`, then the name in `Student`. A roster that is Canvas's own
gradebook export keeps each of these in its column, and they are written back where they came
from; otherwise the roster's id is the school's student number, not Canvas's internal user id, so
it goes in `SIS User ID` and `ID` stays empty (a school number that happened to equal another
user's Canvas id would grade the wrong student), and `SIS Login ID` holds the login, else the email.

Moodle (Grades > Import > CSV file, grade/import/csv): any header; on import one column is mapped
to identify the user (`ID number` -> useridnumber or `Email address` -> useremail) and each grade
column to a grade item (or a new one). A row whose user Moodle cannot find aborts the whole
import, so only students with an id number or an email are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.outputs.csvfile import Cell, write_csv
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


def points(value: float) -> int | float:
    """At most two decimals (the precision Canvas keeps), written as a number: 6.33, 8, 0, -0.5."""
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


def column_titles(assignments: Sequence[Assignment]) -> list[str]:
    """Each assignment's title, with its exercise id added where two exercises share a title."""
    titles = [a.title for a in assignments]
    return [f"{a.title} [{a.exercise}]" if titles.count(a.title) > 1 else a.title for a in assignments]


def write_canvas(path: Path, assignments: Sequence[Assignment], grades: Sequence[StudentGrades]) -> None:
    header = [*CANVAS_STUDENT_COLUMNS, *column_titles(assignments)]
    possible: list[Cell] = [CANVAS_POINTS_POSSIBLE, *[""] * (len(CANVAS_STUDENT_COLUMNS) - 1)]
    rows: list[list[Cell]] = [possible + [points(a.points_possible) for a in assignments]]
    for graded in grades:
        student = graded.student
        rows.append(
            [
                student.name,
                student.canvas_id,
                student.id,
                student.login or student.email,
                student.section,
                *_cells(assignments, graded),
            ]
        )
    write_csv(path, header, rows)


def write_moodle(path: Path, assignments: Sequence[Assignment], grades: Sequence[StudentGrades]) -> None:
    rows: list[list[Cell]] = [
        [graded.student.id, graded.student.email, graded.student.name, *_cells(assignments, graded)]
        for graded in grades
        if graded.student.id or graded.student.email
    ]
    write_csv(path, [*MOODLE_COLUMNS, *column_titles(assignments)], rows)


def _cells(assignments: Sequence[Assignment], graded: StudentGrades) -> list[Cell]:
    """The student's grade per assignment; empty where there is none (not graded, or not measured)."""
    return [points(graded.scores[a.exercise]) if a.exercise in graded.scores else "" for a in assignments]
