"""A semester's class, end to end: issue 21's "Done when", through the real `grade batch` command.

A class of 15 hands in the lesson's CIFAR-10 CNN (copies of the samples in submissions/, which
grade in seconds) in Canvas's shapes: a folder per student named after their SIS login, and one
file as Canvas's *Download Submissions* names it (`kimjane_LATE_48220_7010_hw3.ipynb`), attributed
by Canvas's user id. The roster is a Canvas gradebook export (its `Points Possible` row and Test
Student included) with a `Submitted At` and an `Extension` column; `course.yaml` holds the roster,
a due date in Europe/Berlin, a per-day penalty, the rubric and a small cell time limit; the out
folder holds an `overrides.csv` with one regrade. Among the students: an unreadable upload (broken
JSON), a notebook that loops forever after building its model (stopped: time ran out), one
extension, late work by one hour to three days, a time that is late only in the course's zone,
and a student without an SIS user id (Moodle cannot find them: left out of moodle.csv).

`grade batch CLASS --out OUT -j 2` grades it from the course file alone, and every class output is
parsed back: gradebook.csv, junit.xml, canvas.csv, moodle.csv, final-scores.json, every
Gradescope results.json, each student's report and their `feedback/<stem>.html`. Each says the
final score reckoned here by hand, or no grade for the unreadable upload. Then the class is copied
as a clone would be (every file time "now"; the originals are dated 2020) and graded again into a
fresh out folder holding only what ran the first time (each student's result, its key in `.keys/`
and `.artifacts/`): every student is scored again from it (`--rescore`, no kernel: what ran does not
depend on file times) and every class output is written anew from the clone's files: the same final
scores. `%grade` under nbclient is tested in tests/test_magic.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GRADE, REPO
from tests.test_roster import canvas_import

TITLE = "A CNN for CIFAR-10"
MAX = 8.0
SAMPLES = REPO / "submissions"
OLD = 1_577_836_800  # 2020-01-01T00:00Z: the originals' file times; a clone's are "now"


# login, (name, Canvas ID, SIS User ID, section), sample, submitted at, extension, final score
CLASS: list[tuple[str, tuple[str, str, str, str], str, str, str, float | None]] = [
    ("aliddell", ("Liddell, Alice", "48211", "S1001", "CS 101 A"), "alice", "2026-12-01T20:00:00+01:00", "", 8),
    ("bstone", ("Stone, Bob", "48212", "S1002", "CS 101 B"), "wrong-kernel-size", "2026-12-01T12:00:00Z", "", 6.33),
    # 10 h late: one started day, 10 %
    ("cray", ("Ray, Carol", "48213", "S1003", "CS 101 A"), "valid-padding", "2026-12-02T10:00:00+01:00", "", 4.5),
    # 2 days 12 h late: three started days, 30 %
    ("dli", ("Li, Dan", "48214", "S1004", "CS 101 B"), "alice", "2026-12-04T12:00:00+01:00", "", 5.6),
    # 18 h after the due date, within a 2-day extension
    ("eking", ("King, Eve", "48215", "S1005", "CS 101 A"), "alice", "2026-12-02T18:00:00+01:00", "2d", 8),
    # broken JSON: no grade anywhere
    ("fmoss", ("Moss, Frank", "48216", "S1006", "CS 101 B"), "broken", "2026-12-01T21:00:00+01:00", "", None),
    # builds the model, then loops forever: stopped by the cell time limit; its score is what ran
    ("gpark", ("Park, Grace", "48217", "S1007", "CS 101 A"), "loop", "2026-12-01T22:00:00+01:00", "", 8),
    # override architecture 5.33 -> 6 (size 0, output 1: 7), 1 day 9 h late: 20 % -> 5.6
    ("hcho", ("Cho, Hana", "48218", "S1008", "CS 101 B"), "wrong-kernel-size", "2026-12-03T09:00:00+01:00", "", 5.6),
    ("ijones", ("Jones, Ivan", "48219", "S1009", "CS 101 A"), "valid-padding", "2026-12-01T23:00:00+01:00", "", 5),
    # Canvas's download name, `LATE` and its user id; 31 minutes late: 10 %
    ("jkim", ("Kim, Jane", "48220", "S1010", "CS 101 B"), "canvas-alice", "2026-12-02T00:30:00+01:00", "", 7.2),
    ("klee", ("Lee, Kai", "48221", "S1011", "CS 101 A"), "alice", "2026-11-30T09:15:00+01:00", "", 8),
    # 23:30 UTC is 00:30 in Berlin: late in the course's zone, on time in UTC
    ("lmoore", ("Moore, Liam", "48222", "S1012", "CS 101 B"), "alice", "2026-12-01T23:30:00Z", "", 7.2),
    ("mnash", ("Nash, Mia", "48223", "S1013", "CS 101 A"), "wrong-kernel-size", "2026-12-01T08:00:00+01:00", "", 6.33),
    # no SIS user id: Canvas finds them by its ID, Moodle cannot (left out of moodle.csv)
    ("nowen", ("Owen, Nia", "48224", "", "CS 101 B"), "alice", "2026-12-01T10:00:00+01:00", "", 8),
    # 16:00 in New York is 22:00 in Berlin: on time
    ("opatel", ("Patel, Omar", "48225", "S1015", "CS 101 A"), "alice", "2026-12-01T16:00:00-05:00", "", 8),
]  # fmt: skip
CANVAS_FILE = "kimjane_LATE_48220_7010_hw3.ipynb"

COURSE = f"""\
roster: canvas-export.csv
timezone: Europe/Berlin
due: 2026-12-01T23:59
late_penalty: 10%/day
late_from: recorded
rubric: {REPO / "rubrics" / "cifar10-cnn.yaml"}
limits: {{cell_timeout: 20, timeout: 120}}
"""
OVERRIDES = (
    "student,check,points,max_points,comment,by,at\n"
    "hcho,architecture,6,,regrade: a kernel of 3 was allowed in the lab,ta-kim,2026-12-05\n"
)


def stem_of(login: str) -> str:
    return CANVAS_FILE.removesuffix(".ipynb") if login == "jkim" else f"{login}__hw3"


def canvas_export() -> str:
    """A Canvas gradebook export (Grades > Export > CSV) with the LMS's submission times and extensions added."""
    quoted = lambda cells: ",".join(f'"{c}"' for c in cells) + "\r\n"  # noqa: E731
    text = quoted(
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW3: A CNN for CIFAR-10 (90012)",
         "Submitted At", "Extension", "Current Score", "Final Score"]
    )  # fmt: skip
    text += quoted(["    Points Possible", "", "", "", "", "8.00", "", "", "(read only)", "(read only)"])
    for login, (name, canvas_id, sis, section), _, submitted, extension, _ in CLASS:
        text += quoted([name, canvas_id, sis, login, section, "", submitted, extension, "", ""])
    text += quoted(["Student, Test", "48299", "", "8f2e7c", "CS 101 A", "", "", "", "", ""])
    return text


def loop_notebook() -> str:
    """alice.ipynb with a last cell that never ends: the model exists before time runs out."""
    notebook = json.loads((SAMPLES / "alice.ipynb").read_text(encoding="utf-8"))
    notebook["cells"].append(
        {"cell_type": "code", "execution_count": None, "id": "f0reve40", "metadata": {}, "outputs": [],
         "source": ["while True:\n", "    pass\n"]}
    )  # fmt: skip
    return json.dumps(notebook, indent=1)


def write_class(root: Path) -> Path:
    """The course folder: course.yaml, the Canvas export and `hw3/`, the submissions, all dated 2020."""
    root.mkdir()
    (root / "course.yaml").write_text(COURSE, encoding="utf-8")
    (root / "canvas-export.csv").write_text(canvas_export(), encoding="utf-8")
    batch = root / "hw3"
    batch.mkdir()
    for login, _, sample, *_ in CLASS:
        if sample == "canvas-alice":
            shutil.copyfile(SAMPLES / "alice.ipynb", batch / CANVAS_FILE)
            continue
        folder = batch / login
        folder.mkdir()
        target = folder / "hw3.ipynb"
        if sample == "broken":
            target.write_text('{"cells": [{"cell_type": "code", "source": "model = ', encoding="utf-8")
        elif sample == "loop":
            target.write_text(loop_notebook(), encoding="utf-8")
        else:
            shutil.copyfile(SAMPLES / f"{sample}.ipynb", target)
    for path in root.rglob("*"):
        os.utime(path, (OLD, OLD))
    return batch


def clone(root: Path, to: Path) -> Path:
    """A copy as `git clone` or an unzip makes it: same bytes, every file time "now"."""
    shutil.copytree(root, to, copy_function=shutil.copyfile)
    return to / "hw3"


def run_batch(batch: Path, out: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The real `grade batch` entry point, options from course.yaml; `overrides.csv` kept in the out folder."""
    out.mkdir(exist_ok=True)
    (out / "overrides.csv").write_text(OVERRIDES, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [str(GRADE), "batch", str(batch), "--out", str(out), "-j", "2", *options],
        cwd=batch.parent.parent,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    return done, time.monotonic() - started


def what_ran(out: Path, to: Path) -> Path:
    """A fresh out folder holding only what a rescore reads: each student's result and key, and what
    ran (`.artifacts/`); no report page, no feedback, no class output nor its state: the next batch
    writes them."""
    shutil.copytree(out / ".artifacts", to / ".artifacts")
    (to / ".keys").mkdir()
    for login, *_ in CLASS:
        stem = stem_of(login)
        for kept, copy in (
            (out / f"{stem}.json", to / f"{stem}.json"),
            (out / ".keys" / f"{stem}.key", to / ".keys" / f"{stem}.key"),
        ):
            if kept.is_file():
                shutil.copyfile(kept, copy)
    return to


def number(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_back(out: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each student's final score as every output says it, and the problems found on the way."""
    problems: list[str] = []
    said: dict[str, dict[str, Any]] = {stem_of(login): {} for login, *_ in CLASS}
    login_of = {stem_of(login): login for login, *_ in CLASS}

    gradebook = {row["student"]: row for row in read_csv(out / "gradebook.csv")}
    if set(gradebook) != set(said):
        problems.append(f"gradebook.csv students {sorted(gradebook)} are not the class {sorted(said)}")
    for stem, row in gradebook.items():
        if stem not in said:
            continue
        said[stem]["gradebook final"] = number(row.get("final"))
        said[stem]["gradebook penalised_total"] = number(row.get("penalised_total"))
        said[stem]["status"] = row["status"]
        said[stem]["stopped"] = row.get("stopped", "")
        said[stem]["total"] = number(row["total"])
        said[stem]["id"] = row.get("id", "")
        said[stem]["late_days"] = row.get("late_days", "")

    for suite in ET.parse(out / "junit.xml").getroot().iter("testsuite"):
        name = suite.get("name", "")
        if name not in said:
            problems.append(f"junit.xml has a suite {name!r} for no student")
            continue
        score = next((p.get("value") for p in suite.iter("property") if p.get("name") == "score"), None)
        said[name]["junit"] = number((score or "").split("/")[0])
        said[name]["junit errors"] = [e.get("type") for e in suite.iter("error")]

    scores = json.loads((out / "final-scores.json").read_text(encoding="utf-8"))
    canvas = {row["SIS Login ID"]: row for row in read_csv(out / "canvas.csv")}
    moodle = {row["ID number"]: row for row in read_csv(out / "moodle.csv")}
    sis_of = {login: sis for login, (_, _, sis, _), *_ in CLASS}
    for stem in said:
        login = login_of[stem]
        said[stem]["final-scores.json"] = scores.get(stem, {}).get("final", "absent")
        said[stem]["final-scores.json status"] = scores.get(stem, {}).get("status", "absent")
        said[stem]["canvas"] = number(canvas[login][TITLE]) if login in canvas else None
        if sis_of[login]:
            said[stem]["moodle"] = number(moodle[sis_of[login]][TITLE]) if sis_of[login] in moodle else None
        results_path = out / "gradescope" / stem / "results.json"
        if not results_path.is_file():
            problems.append(f"{stem}: no gradescope/{stem}/results.json")
        else:
            results = json.loads(results_path.read_text(encoding="utf-8"))
            said[stem]["gradescope"] = results
        report = out / f"{stem}.html"
        if report.is_file():
            found = re.search(r'data-final="([^"]*)"', report.read_text(encoding="utf-8"))
            said[stem]["report"] = number(found.group(1)) if found else "no final-score block"
        feedback = out / "feedback" / f"{stem}.html"
        if not feedback.is_file():
            problems.append(f"{stem}: no feedback/{stem}.html (student view)")
        else:
            page = feedback.read_text(encoding="utf-8")
            found = re.search(r'data-final="([^"]*)"', page)
            title = re.search(r"<title>([^<]*)</title>", page)
            said[stem]["feedback"] = (
                number(found.group(1))
                if found
                else f"no final-score block (its title: {title.group(1) if title else ''!r})"
            )
    return said, problems


def check_class(out: Path) -> tuple[dict[str, float | None], list[str]]:
    """Every output against the hand reckoning: stem -> final score, and every problem found."""
    said, problems = read_back(out)
    for login, (_, _, sis, _), sample, _, _, want in CLASS:
        stem = stem_of(login)
        got = said[stem]
        if sample == "broken":
            if got.get("status") != "error":
                problems.append(f"{stem}: gradebook status {got.get('status')!r}, want 'error'")
            for output in (
                "gradebook final",
                "gradebook penalised_total",
                "total",
                "junit",
                "canvas",
                "moodle",
            ):
                if got.get(output) is not None:
                    problems.append(f"{stem} (unreadable): {output} says {got[output]!r}, want no grade")
            if got["final-scores.json"] not in (None, "absent"):
                problems.append(f"{stem} (unreadable): final-scores.json final {got['final-scores.json']!r}")
            if not got.get("junit errors"):
                problems.append(f"{stem} (unreadable): junit.xml has no <error> for it")
            if "report" in got and got["report"] is not None:
                problems.append(f"{stem} (unreadable): its report says {got['report']!r}")
            results = got.get("gradescope", {})
            # docs/batch.md, Gradescope: a submission that could not be graded gets score 0, no tests
            if results.get("tests") != [] or not results.get("output"):
                problems.append(f"{stem} (unreadable): results.json {results!r}")
            if isinstance(got.get("feedback"), float):
                problems.append(f"{stem} (unreadable): feedback page says {got['feedback']!r}")
            continue
        if got.get("status") != "graded":
            problems.append(f"{stem}: gradebook status {got.get('status')!r}, want 'graded'")
        if sample == "loop" and got.get("stopped") != "timeout":
            problems.append(f"{stem}: gradebook stopped {got.get('stopped')!r}, want 'timeout'")
        if sample != "loop" and got.get("stopped"):
            problems.append(f"{stem}: gradebook stopped {got.get('stopped')!r}, want ''")
        if got.get("id") != sis:
            problems.append(f"{stem}: gradebook id {got.get('id')!r}, want the SIS User ID {sis!r}")
        results = got.get("gradescope", {})
        outputs = {
            key: got.get(key)
            for key in ("gradebook final", "junit", "final-scores.json", "canvas", "report", "feedback")
        }
        if sis:
            outputs["moodle"] = got.get("moodle")
        elif "moodle" in got:
            problems.append(f"{stem}: no SIS User ID nor email, yet in moodle.csv")
        outputs["gradescope score"] = results.get("score", "absent (no check is withheld)")
        outputs["gradescope tests"] = round(sum(t["score"] for t in results.get("tests", [])), 2)
        for output, value in outputs.items():
            if want is not None and value != pytest.approx(want, abs=1e-9):
                problems.append(f"{stem}: {output} says {value!r}, want {want}")
        if got.get("final-scores.json status") != "graded":
            problems.append(f"{stem}: final-scores.json status {got.get('final-scores.json status')!r}")
    late = {login: said[stem_of(login)].get("late_days") for login in ("eking", "dli", "lmoore")}
    if late["eking"] not in ("", "0") or late["dli"] != "3" or late["lmoore"] != "1":
        problems.append(f"late_days: {late} (want eking on time by extension, dli 3, lmoore 1)")
    return {stem: got["final-scores.json"] for stem, got in said.items()}, problems


def check_lms_formats(out: Path) -> None:
    """canvas.csv is Canvas's import format with Canvas's ids written back; moodle.csv as documented."""
    with (out / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        raw = list(csv.reader(handle))
    assert raw[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", TITLE], raw[0]
    assert raw[1] == ["Points Possible", "", "", "", "", "8"], raw[1]
    rows = {row[3]: row for row in raw[2:]}
    graded = {login: info for login, info, sample, *_ in CLASS if sample != "broken"}
    assert set(graded) <= set(rows), "every graded student has a row"
    for login, (name, canvas_id, sis, section) in graded.items():
        assert rows[login][:5] == [name, canvas_id, sis, login, section], "written back as Canvas exported"
    assert "8f2e7c" not in rows, "Canvas's Test Student is no student"
    assert rows.get("fmoss", ["", "", "", "", "", ""])[5] == "", "no grade is an empty cell, never 0"
    imported = canvas_import(out / "canvas.csv")
    assert imported["assignments"] == [TITLE] and imported["points"] == {TITLE: "8"}
    assert {f"id:{info[1]}" for info in graded.values()} <= set(imported["students"]), (
        "Canvas finds each student by its own id"
    )

    with (out / "moodle.csv").open(newline="", encoding="utf-8") as handle:
        moodle = list(csv.reader(handle))
    assert moodle[0] == ["ID number", "Email address", "Name", TITLE], moodle[0]
    by_id = {row[0]: row for row in moodle[1:]}
    for name, _, sis, _ in graded.values():
        if sis:
            assert by_id[sis][:3] == [sis, "", name]
    assert all(row[0] or row[1] for row in moodle[1:]), "Moodle abandons an import on a row it cannot match"
    assert "" not in by_id and len(moodle) - 1 <= len(CLASS) - 1


@pytest.mark.slow
def test_a_semester_class_graded_from_a_course_file_has_one_score_everywhere(tmp_path: Path) -> None:
    root = tmp_path / "course"
    batch = write_class(root)
    assert len(list(batch.rglob("*.ipynb"))) == len(CLASS)

    out = tmp_path / "reports"
    done, wall = run_batch(batch, out)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    print(f"\nfirst batch: {len(CLASS)} submissions, -j 2, wall time {wall:.1f} s")
    print("  " + done.stdout.strip())
    print(f"  wrote {len(written)} files: " + ", ".join(written))
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"options from {root / 'course.yaml'}" in done.stderr, done.stderr[-2000:]
    assert "Europe/Berlin" in done.stderr, "the course's zone is said"
    for stem in map(stem_of, (login for login, *_ in CLASS)):
        assert (out / "feedback" / f"{stem}.html").is_file(), f"{stem} has a student-view report"
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        f"{stem_of(login)}.html" for login, *_ in CLASS
    ), "feedback/ holds exactly the class"

    first, problems = check_class(out)
    check_lms_formats(out)

    cloned = clone(root, tmp_path / "clone")
    now = time.time()
    assert all(abs(p.stat().st_mtime - now) < 600 for p in cloned.rglob("*.ipynb")), "a clone's times are now"
    out2 = what_ran(out, tmp_path / "reports-clone")
    again, wall2 = run_batch(cloned, out2, "--rescore")
    print(f"clone batch (rescored from what ran): wall time {wall2:.1f} s")
    print("  " + again.stdout.strip())
    assert again.returncode == 0, again.stderr[-4000:]
    graded = len(CLASS) - 1
    assert f"{len(CLASS)} submissions: 0 graded, {graded} rescored, 0 unchanged, 1 could not be graded" in (
        again.stdout
    ), "the clone is the same class: every readable submission is scored again from what ran"
    second, problems_again = check_class(out2)
    assert second == first, "a clone whose file times are all now gives the same grades"
    assert read_csv(out2 / "canvas.csv") == read_csv(out / "canvas.csv")
    assert read_csv(out2 / "moodle.csv") == read_csv(out / "moodle.csv")
    assert problems_again == problems, "the clone's outputs say what the original's say"
    assert not problems, "\n".join(problems)
