"""A class roster: who the students are, and which submission is whose.

`grade batch --roster roster.csv` reads a CSV with a `submission` column (the file stem of a
student's submission, or the name of their folder when each student hands in a folder) and, as
available, `id`, `name`, `email` and `section`. Headers are matched case-insensitively and in the
spellings spreadsheets and LMS exports use (`Student ID`, `student_id`, `E-mail Address`, ...);
other columns are ignored. A roster that cannot be read stops the batch before anything is graded
(exit code 2), with the file, the line and the fix, since grading a class against the wrong roster
wastes an hour of kernels.

Matching is by the submission's stem, then its file name, then its folders (see `match_roster`);
submissions that match no student and students with no submission are both reported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from grader.errors import ExitCode, GradingError

SUBMISSION_SUFFIXES = (".ipynb", ".py")
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "submission": (
        "submission",
        "submission_file",
        "submission_name",
        "file",
        "filename",
        "file_name",
        "notebook",
        "stem",
        "folder",
        "directory",
        "dir",
        "username",
        "user_name",
        "login",
        "login_id",
        "github",
        "github_username",
    ),
    "id": (
        "id",
        "student_id",
        "studentid",
        "student_number",
        "student_no",
        "id_number",
        "idnumber",
        "sis_user_id",
        "sis_id",
        "matriculation_number",
        "matric_number",
    ),
    "name": ("name", "full_name", "fullname", "student_name", "student", "display_name"),
    "email": ("email", "e_mail", "email_address", "e_mail_address", "mail"),
    "section": ("section", "section_name", "group", "class", "cohort", "lab", "tutorial"),
}
FIRST_NAME = ("first_name", "firstname", "given_name", "forename")
LAST_NAME = ("last_name", "lastname", "surname", "family_name")


class RosterError(GradingError):
    """The roster given to `--roster` cannot be read: a usage error, reported before any grading."""

    exit_code = ExitCode.USAGE


class RosterStudent(BaseModel):
    """One student of the roster, and the line of the roster file they are on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submission: str
    id: str = ""
    name: str = ""
    email: str = ""
    section: str = ""
    line: int

    @property
    def key(self) -> str:
        return match_key(self.submission)

    def label(self) -> str:
        """How a person would name this student in a list: name and id, else the submission key."""
        who = self.name or self.submission
        return f"{who} ({self.id})" if self.id else who


class Roster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    students: tuple[RosterStudent, ...]


@dataclass(frozen=True)
class RosterMatch:
    """Which submission (by stem) is whose, the submissions that match no student, and who handed nothing in."""

    by_stem: Mapping[str, RosterStudent]
    unmatched: tuple[str, ...]
    missing: tuple[RosterStudent, ...]

    def submissions_of(self, student: RosterStudent) -> tuple[str, ...]:
        return tuple(stem for stem, owner in self.by_stem.items() if owner.line == student.line)


def header_key(header: str) -> str:
    """`Student ID`, `student-id` and `STUDENT_ID` all become `student_id`."""
    return re.sub(r"[^0-9a-z]+", "_", header.replace("\ufeff", "").strip().casefold()).strip("_")


def match_key(value: str) -> str:
    """A roster value or a stem part, comparable: case-folded, a path's `/` as the stem's `__`, no suffix."""
    cleaned = value.strip().replace("\\", "/").strip("/")
    path = PurePosixPath(cleaned)
    if path.suffix in SUBMISSION_SUFFIXES:
        path = path.with_suffix("")
    return "__".join(path.parts).casefold()


def read_roster(path: Path) -> Roster:
    """Read and check a roster CSV; raises `RosterError` naming the file, the line and the fix."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RosterError(f"{path}: roster file not found", hint="check the path given to --roster") from None
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RosterError(
            f"{path}:{line}: the roster is not UTF-8 text (byte {raw[exc.start]:#x})",
            hint="save it as 'CSV UTF-8' (Excel) or 'Text CSV' with UTF-8 (LibreOffice)",
        ) from None
    if not text.strip():
        raise RosterError(f"{path}: the roster is empty", hint=roster_format_hint())
    students = _parse(text, path)
    if not students:
        raise RosterError(f"{path}: the roster has a header but no students", hint=roster_format_hint())
    return Roster(path=path, students=tuple(students))


def roster_format_hint() -> str:
    return (
        "a CSV with a header row: submission (file stem or folder name, required), id, name, email, "
        "section; see docs/batch.md"
    )


def _delimiter(first_line: str) -> str:
    """Comma, or the semicolon or tab a spreadsheet in some locales writes instead."""
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _parse(text: str, path: Path) -> list[RosterStudent]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True)
    header: list[str] | None = None
    columns: dict[str, int] = {}
    first_last: tuple[int, int] | None = None
    students: list[RosterStudent] = []
    seen: dict[str, RosterStudent] = {}
    seen_ids: dict[str, RosterStudent] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                columns, first_last = _columns(header, path, line)
                continue
            student = _student(row, header, columns, first_last, path, line)
            if student.key in seen:
                raise RosterError(
                    f"{path}:{line}: submission {student.submission!r} is already on line "
                    f"{seen[student.key].line}; each submission belongs to one student",
                    hint="remove the duplicate row, or give each student their own submission name",
                )
            if student.id and student.id in seen_ids:
                raise RosterError(
                    f"{path}:{line}: id {student.id!r} is already on line {seen_ids[student.id].line}",
                    hint="a student is listed twice; keep one row per student",
                )
            seen[student.key] = student
            if student.id:
                seen_ids[student.id] = student
            students.append(student)
    except csv.Error as exc:
        raise RosterError(
            f"{path}:{reader.line_num}: not valid CSV ({exc})",
            hint="a value with a comma or a line break must be in double quotes",
        ) from None
    return students


def _columns(header: Sequence[str], path: Path, line: int) -> tuple[dict[str, int], tuple[int, int] | None]:
    """Field -> column index, each field taken from its most specific header spelling."""
    keys = [header_key(h) for h in header]
    columns: dict[str, int] = {}
    for field, aliases in FIELD_ALIASES.items():
        found = next((keys.index(alias) for alias in aliases if alias in keys), None)
        if found is not None:
            columns[field] = found
    if "submission" not in columns:
        listed = ", ".join(repr(h.strip()) for h in header)
        raise RosterError(
            f"{path}:{line}: no submission column (the header has {listed})",
            hint="add a `submission` column holding each student's file stem or folder name; "
            "also accepted: " + ", ".join(FIELD_ALIASES["submission"][1:]),
        )
    first = next((keys.index(a) for a in FIRST_NAME if a in keys), None)
    last = next((keys.index(a) for a in LAST_NAME if a in keys), None)
    first_last = (first, last) if "name" not in columns and first is not None and last is not None else None
    return columns, first_last


def _student(
    row: Sequence[str],
    header: Sequence[str],
    columns: Mapping[str, int],
    first_last: tuple[int, int] | None,
    path: Path,
    line: int,
) -> RosterStudent:
    if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
        raise RosterError(
            f"{path}:{line}: {len(row)} values but the header names {len(header)} columns",
            hint="put a value that contains the delimiter in double quotes, or add the missing header",
        )

    def value(index: int | None) -> str:
        return row[index].strip() if index is not None and index < len(row) else ""

    fields = {field: value(index) for field, index in columns.items()}
    if first_last is not None:
        fields["name"] = " ".join(part for part in (value(first_last[0]), value(first_last[1])) if part)
    if not fields["submission"]:
        who = fields.get("name") or fields.get("id") or fields.get("email") or "this student"
        column = header[columns["submission"]].strip()
        raise RosterError(
            f"{path}:{line}: no submission for {who} (column {column!r} is empty)",
            hint="give the file stem or folder name of the student's submission",
        )
    return RosterStudent(line=line, **fields)


def match_roster(roster: Roster, submissions: Iterable[tuple[str, str]]) -> RosterMatch:
    """Pair each submission (stem, file name) with its student.

    A roster value matches, in this order: the whole stem (`week1__alice`), the file name without
    its suffix (`alice` for `alice.ipynb`), or one of the folders in the stem, outermost first
    (`alice` for `alice/hw3.ipynb`, stem `alice__hw3`). Comparison ignores case.
    """
    by_key = {student.key: student for student in roster.students}
    by_stem: dict[str, RosterStudent] = {}
    unmatched: list[str] = []
    for stem, file_name in submissions:
        parts = stem.split("__")
        candidates = [stem, PurePosixPath(file_name).stem, *parts[:-1]]
        owner = next((by_key[k] for k in map(match_key, candidates) if k in by_key), None)
        if owner is None:
            unmatched.append(stem)
        else:
            by_stem[stem] = owner
    claimed = {student.line for student in by_stem.values()}
    missing = tuple(student for student in roster.students if student.line not in claimed)
    return RosterMatch(by_stem=by_stem, unmatched=tuple(unmatched), missing=missing)
