"""A class roster: who the students are, and which submission is whose.

`grade batch --roster roster.csv` reads a CSV with a `submission` column (the file stem of a
student's submission, or the name of their folder when each student hands in a folder) and, as
available, `id`, `name`, `email`, `section`, and for the late rule `submitted_at`, `extension` and
`excused`. Headers are matched case-insensitively and in the spellings spreadsheets and LMS
exports use (`Student ID`, `student_id`, `E-mail Address`, ...); other columns are ignored. A
Canvas gradebook export (`Student, ID, SIS User ID, SIS Login ID, Section, ...`) is read as one:
Canvas's own user id, the SIS user id and the login each keep their column, so canvas.csv can
write them back where Canvas looks for them. A roster that cannot be read stops the batch before
anything is graded (exit code 2), with the file, the line and the fix, since grading a class
against the wrong roster wastes an hour of kernels.

Attribution trusts what the student did not choose before what they did (see `match_roster`): the
instructor's exact path, then the folder, then an LMS's id in the name it gave the file, and the
file name only for a file lying loose in the batch's folder. A file whose name points at another
student than its folder is ambiguous and credited to no one; submissions that match no student,
students with no submission and students with several are all reported.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from grader.errors import ExitCode, GradingError
from grader.rubric.late import Extension, parse_extension, parse_instant

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
    "submitted_at": (
        "submitted_at",
        "submission_time",
        "submitted",
        "submitted_on",
        "submission_date",
        "time_submitted",
    ),
    "extension": ("extension", "extended_due", "extended_due_date", "extension_due"),
    "excused": ("excused", "exempt", "exemption"),
}
CANVAS_HEADER = ("student", "id", "sis_user_id")
CANVAS_TEST_STUDENT = ("student, test", "test student")
CANVAS_DOWNLOAD = re.compile(r"^[^_]+_(?:late_)?(\d+)_\d+_", re.IGNORECASE)
EXCUSED_YES = frozenset(("1", "y", "yes", "true", "x", "ex", "excused"))
EXCUSED_NO = frozenset(("", "0", "n", "no", "false"))
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
    canvas_id: str = ""
    login: str = ""
    submitted_at: datetime | None = None
    extension: Extension | None = None
    excused: bool = False
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
    canvas: bool = False


@dataclass(frozen=True)
class Handed:
    """One submission as attribution sees it: its report stem and its path below the batch's folder."""

    stem: str
    relative: tuple[str, ...]

    @classmethod
    def from_stem(cls, stem: str, file_name: str) -> Handed:
        """A submission known only by its stem and file name (graded by an earlier run): folders from the stem."""
        return cls(stem, (*stem.split("__")[:-1], file_name))


@dataclass(frozen=True)
class RosterMatch:
    """Which submission (by stem) is whose, the submissions that match no student, those that point at
    two students or none reliably (`ambiguous`: stem -> why), and who handed nothing in."""

    by_stem: Mapping[str, RosterStudent]
    unmatched: tuple[str, ...]
    missing: tuple[RosterStudent, ...]
    ambiguous: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def submissions_of(self, student: RosterStudent) -> tuple[str, ...]:
        return tuple(stem for stem, owner in self.by_stem.items() if owner.line == student.line)

    def several(self) -> tuple[tuple[RosterStudent, tuple[str, ...]], ...]:
        """Students credited with more than one submission, and those submissions: never merged silently."""
        owners: dict[int, RosterStudent] = {}
        stems: dict[int, list[str]] = {}
        for stem, owner in self.by_stem.items():
            owners[owner.line] = owner
            stems.setdefault(owner.line, []).append(stem)
        return tuple((owners[line], tuple(found)) for line, found in stems.items() if len(found) > 1)


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
    students, canvas = _parse(text, path)
    if not students:
        raise RosterError(f"{path}: the roster has a header but no students", hint=roster_format_hint())
    return Roster(path=path, students=tuple(students), canvas=canvas)


def roster_format_hint() -> str:
    return (
        "a CSV with a header row: submission (file stem or folder name, required), id, name, email, "
        "section, submitted_at, extension, excused (or a Canvas gradebook export); see docs/batch.md"
    )


def _delimiter(first_line: str) -> str:
    """Comma, or the semicolon or tab a spreadsheet in some locales writes instead."""
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _parse(text: str, path: Path) -> tuple[list[RosterStudent], bool]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True)
    header: list[str] | None = None
    columns: dict[str, int] = {}
    first_last: tuple[int, int] | None = None
    canvas = False
    students: list[RosterStudent] = []
    seen: dict[str, RosterStudent] = {}
    seen_ids: dict[tuple[str, str], RosterStudent] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                columns, first_last, canvas = _columns(header, path, line)
                continue
            if canvas and _canvas_extra_row(row, columns):
                continue
            student = _student(row, header, columns, first_last, path, line)
            if student.key in seen:
                raise RosterError(
                    f"{path}:{line}: submission {student.submission!r} is already on line "
                    f"{seen[student.key].line}; each submission belongs to one student",
                    hint="remove the duplicate row, or give each student their own submission name",
                )
            for kind, value in (("id", student.id), ("Canvas ID", student.canvas_id)):
                if value and (kind, value) in seen_ids:
                    raise RosterError(
                        f"{path}:{line}: {kind} {value!r} is already on line {seen_ids[(kind, value)].line}",
                        hint="a student is listed twice; keep one row per student",
                    )
            seen[student.key] = student
            for kind, value in (("id", student.id), ("Canvas ID", student.canvas_id)):
                if value:
                    seen_ids[(kind, value)] = student
            students.append(student)
    except csv.Error as exc:
        raise RosterError(
            f"{path}:{reader.line_num}: not valid CSV ({exc})",
            hint="a value with a comma or a line break must be in double quotes",
        ) from None
    return students, canvas


def _canvas_extra_row(row: Sequence[str], columns: Mapping[str, int]) -> bool:
    """Canvas's `Points Possible` and muted rows, and its Test Student: in every export, never a student."""
    first = row[0].strip().casefold() if row else ""
    canvas_id = row[columns["canvas_id"]].strip() if columns["canvas_id"] < len(row) else ""
    return first == "points possible" or first in CANVAS_TEST_STUDENT or not canvas_id


def _columns(
    header: Sequence[str], path: Path, line: int
) -> tuple[dict[str, int], tuple[int, int] | None, bool]:
    """Field -> column index, each field taken from its most specific header spelling; is it Canvas's export."""
    keys = [header_key(h) for h in header]
    columns: dict[str, int] = {}
    for field, aliases in FIELD_ALIASES.items():
        found = next((keys.index(alias) for alias in aliases if alias in keys), None)
        if found is not None:
            columns[field] = found
    canvas = all(key in keys for key in CANVAS_HEADER)
    if canvas:
        # Canvas's `ID` is its own user id, not the school's: `SIS User ID` is the student number.
        columns["canvas_id"] = keys.index("id")
        columns["id"] = keys.index("sis_user_id")
        columns["name"] = keys.index("student")
        if "sis_login_id" in keys:
            columns["login"] = keys.index("sis_login_id")
    if "submission" not in columns and not canvas:
        listed = ", ".join(repr(h.strip()) for h in header)
        raise RosterError(
            f"{path}:{line}: no submission column (the header has {listed})",
            hint="add a `submission` column holding each student's file stem or folder name; "
            "also accepted: " + ", ".join(FIELD_ALIASES["submission"][1:]),
        )
    first = next((keys.index(a) for a in FIRST_NAME if a in keys), None)
    last = next((keys.index(a) for a in LAST_NAME if a in keys), None)
    first_last = (first, last) if "name" not in columns and first is not None and last is not None else None
    return columns, first_last, canvas


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
    if not fields.get("submission") and "canvas_id" in columns:
        fields["submission"] = fields.get("login") or fields["canvas_id"]
    if not fields["submission"]:
        who = fields.get("name") or fields.get("id") or fields.get("email") or "this student"
        column = header[columns["submission"]].strip()
        raise RosterError(
            f"{path}:{line}: no submission for {who} (column {column!r} is empty)",
            hint="give the file stem or folder name of the student's submission",
        )
    late = _late_fields(
        fields.pop("submitted_at", ""), fields.pop("extension", ""), fields.pop("excused", ""), path, line
    )
    return RosterStudent.model_validate({"line": line, **fields, **late})


def _late_fields(
    submitted_at: str, extension: str, excused: str, path: Path, line: int
) -> dict[str, datetime | Extension | bool | None]:
    """The roster's late columns, each checked: a time without an offset is refused, never guessed."""
    fields: dict[str, datetime | Extension | bool | None] = {}
    for column, text, parse in (
        ("submitted_at", submitted_at, parse_instant),
        ("extension", extension, parse_extension),
    ):
        try:
            fields[column] = parse(text) if text else None
        except ValueError as exc:
            raise RosterError(
                f"{path}:{line}: {column}: {exc}",
                hint="write a time as the LMS recorded it, with its offset (+01:00, or Z for UTC)",
            ) from None
    flag = excused.strip().casefold()
    if flag not in EXCUSED_YES | EXCUSED_NO:
        raise RosterError(
            f"{path}:{line}: excused: {excused!r} is neither yes nor no",
            hint="write yes (or 1, x, excused) for an excused student and leave it empty otherwise",
        )
    fields["excused"] = flag in EXCUSED_YES
    return fields


def canvas_user_id(name: str) -> str | None:
    """Canvas's user id in the name its *Download Submissions* gives a file (`smithjane_12345_678_hw3.ipynb`).

    Canvas writes `<name>_[LATE_]<user id>_<submission id>_<the student's file name>`: the first
    number is Canvas's, whatever the student called their file.
    """
    found = CANVAS_DOWNLOAD.match(name)
    return found.group(1) if found else None


def match_roster(roster: Roster, submissions: Iterable[Handed]) -> RosterMatch:
    """Pair each submission with its student, trusting what the student did not choose first.

    A submission belongs to the student whose roster value is, in this order: its whole stem or path
    (`week1/carol`), one of its folders, outermost first (`alice` for `alice/hw3.ipynb`), or whose
    Canvas user id is in the name Canvas gave the file or folder (`smithjane_12345_678_hw3.ipynb`).
    Only a file lying directly in the batch's folder is attributed by its own name (`alice.ipynb`).
    A file whose name points at another roster student than its folder (or its Canvas id) is
    ambiguous, as is one in a folder that is nobody's but named after a student: credited to no one
    and reported. Comparison ignores case.
    """
    by_key = {student.key: student for student in roster.students}
    by_canvas = {s.canvas_id: s for s in roster.students if s.canvas_id}

    def named(part: str) -> RosterStudent | None:
        return by_key.get(match_key(part))

    def lms(part: str) -> RosterStudent | None:
        user = canvas_user_id(part)
        return by_canvas.get(user) if user is not None else None

    by_stem: dict[str, RosterStudent] = {}
    unmatched: list[str] = []
    ambiguous: dict[str, str] = {}
    for handed in submissions:
        folders, file_name = handed.relative[:-1], handed.relative[-1]
        exact = named(handed.stem) or named("/".join(handed.relative))
        by_folder = next((s for s in map(named, folders) if s is not None), None)
        by_lms = next((s for s in map(lms, handed.relative) if s is not None), None)
        by_name = named(file_name) or named(CANVAS_DOWNLOAD.sub("", file_name))
        trusted = exact or by_folder or by_lms
        conflict = _conflict(exact, by_folder, by_lms, by_name, folders)
        if conflict:
            ambiguous[handed.stem] = conflict
        elif trusted is not None:
            by_stem[handed.stem] = trusted
        elif by_name is not None and not folders:
            by_stem[handed.stem] = by_name
        else:
            unmatched.append(handed.stem)
    claimed = {student.line for student in by_stem.values()}
    missing = tuple(student for student in roster.students if student.line not in claimed)
    return RosterMatch(by_stem=by_stem, unmatched=tuple(unmatched), missing=missing, ambiguous=ambiguous)


def _conflict(
    exact: RosterStudent | None,
    by_folder: RosterStudent | None,
    by_lms: RosterStudent | None,
    by_name: RosterStudent | None,
    folders: Sequence[str],
) -> str:
    """Why a submission cannot be credited to anyone, or "" when nothing it says disagrees."""
    if exact is not None:
        return ""
    if by_folder is not None and by_lms is not None and by_folder.line != by_lms.line:
        return f"its folder is {by_folder.label()}'s but Canvas's id in its name is {by_lms.label()}'s"
    trusted = by_folder or by_lms
    if trusted is not None and by_name is not None and by_name.line != trusted.line:
        where = "its folder" if by_folder is not None else "Canvas's id in its name"
        return f"its file name points at {by_name.label()} but {where} at {trusted.label()}"
    if trusted is None and by_name is not None and folders:
        return (
            f"its file name points at {by_name.label()}, but it is in folder {'/'.join(folders)!r}, "
            "which is no roster student's; a file name alone is the student's choice"
        )
    return ""


TIMES_STUDENT = ("student", *FIELD_ALIASES["submission"], "id", "student_id", "sis_user_id", "email")


def read_submission_times(path: Path) -> dict[str, datetime]:
    """`--submissions-times FILE`: a CSV of `student` (or `submission`) and `submitted_at` as an LMS recorded them.

    Keyed by `match_key` of the student value (a roster submission, id, login or email, or a
    submission's stem); every time needs its offset. Errors name the file, the line and the fix.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(
            f"{path}: file not found", hint="check the path given to --submissions-times"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True)
    times: dict[str, datetime] = {}
    columns: tuple[int, int] | None = None
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                keys = [header_key(cell) for cell in row]
                who = next((keys.index(a) for a in TIMES_STUDENT if a in keys), None)
                when = next((keys.index(a) for a in FIELD_ALIASES["submitted_at"] if a in keys), None)
                if who is None or when is None:
                    raise RosterError(
                        f"{path}:{line}: the header needs a student (or submission) and a submitted_at column",
                        hint="write a header `student,submitted_at` and one row per submission",
                    )
                columns = (who, when)
                continue
            student = row[columns[0]].strip() if columns[0] < len(row) else ""
            value = row[columns[1]].strip() if columns[1] < len(row) else ""
            if not student:
                raise RosterError(f"{path}:{line}: no student", hint="give each row a student or submission")
            try:
                times[match_key(student)] = parse_instant(value)
            except ValueError as exc:
                raise RosterError(
                    f"{path}:{line}: submitted_at: {exc}",
                    hint="write a time as the LMS recorded it, with its offset (+01:00, or Z for UTC)",
                ) from None
    except csv.Error as exc:
        raise RosterError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if columns is None:
        raise RosterError(f"{path}: the file is empty", hint="write a header `student,submitted_at`")
    return times
