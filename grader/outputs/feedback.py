"""What a class gets back: `feedback/<stem>.html`, one student-view page per student, and its release.

The `<stem>.html` beside each result is the instructor's full view: every check, hidden ones
included, with the expected values their messages quote. Handing those out would hand out the
answers, so a batch also writes `feedback/`, a folder with one page per student that shows what
the student view shows (`grader.render.visibility`): hidden and after_due checks are a row with
their id and nothing else, and the score is that of the visible checks. The folder is the one
thing to hand back, whole.

Releasing (`grade release OUT`) re-renders the folder with the after_due checks shown, once every
student's due date has passed (the batch's `--due`, a course file's per-exercise `due:`, or the
rubric's `late.due`, read in the course's zone); before then it refuses unless told `--now`.
Hidden checks stay hidden after release: they are the instructor's, not the student's. Whether a
folder is released is recorded in the out folder (`.keys/feedback.json`, never in `feedback/`), so
that a later batch (a regrade) renders released pages again instead of taking the answers back.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import ExitCode, GradingError
from grader.outputs.gradebook import BatchEntry, rubric_late_policy
from grader.result import Failure
from grader.rubric.late import LatePolicy, parse_zone, zone_name

FEEDBACK_DIR = "feedback"
STATE_FILE = Path(".keys") / "feedback.json"


class ReleaseError(GradingError):
    """Release refused: before the due date without `--now`, or no batch in the folder (a usage error)."""

    exit_code = ExitCode.USAGE


class FeedbackDue(BaseModel):
    """Where a student's due date comes from, first that says one: `--due`, the course file's, the rubric's."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    late: LatePolicy = LatePolicy()
    by_exercise: dict[str, datetime] = {}
    timezone: str = "UTC"

    def of(self, result: Mapping[str, Any], rubric_dues: dict[str, datetime | None]) -> datetime | None:
        """This result's due date, aware, in the course's zone; None when no one set one."""
        if self.late.due is not None:
            due: datetime | None = self.late.due
        elif str(result.get("exercise")) in self.by_exercise:
            due = self.by_exercise[str(result["exercise"])]
        else:
            label = str(result.get("rubric") or "")
            if label and label not in rubric_dues:
                policy = rubric_late_policy(Path(label))
                rubric_dues[label] = policy.due if policy is not None else None
            due = rubric_dues.get(label)
        if due is None:
            return None
        zone = parse_zone(self.timezone)
        return LatePolicy(due=due).in_zone(zone).due


class FeedbackState(BaseModel):
    """What `feedback/` was rendered for: each student's due date, the zone, and when it was released."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    due: dict[str, datetime | None] = {}
    released_at: datetime | None = None


class HandedBack(BaseModel):
    """The folder to hand back and what is in it."""

    model_config = ConfigDict(frozen=True)

    folder: Path
    files: tuple[Path, ...]
    released_at: datetime | None

    def notice(self) -> str:
        if self.released_at is not None:
            return (
                f"feedback: {len(self.files)} student page(s) in {self.folder}, released "
                "(after_due checks shown); hand back that folder"
            )
        return (
            f"feedback: {len(self.files)} student page(s) in {self.folder} (hidden and after_due checks "
            "withheld); `grade release` shows after_due checks once the due date has passed"
        )


def read_state(out_dir: Path) -> FeedbackState | None:
    """The out folder's feedback state, or None where no batch wrote one (or it cannot be read)."""
    try:
        return FeedbackState.model_validate_json((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return None


def write_feedback(out_dir: Path, entries: Sequence[BatchEntry], due: FeedbackDue) -> HandedBack:
    """Render `feedback/` for the batch's students, released if the folder already was."""
    before = read_state(out_dir)
    rubric_dues: dict[str, datetime | None] = {}
    dues: dict[str, datetime | None] = {}
    for entry in entries:
        result = _result(out_dir, entry)
        if result is not None:  # an error row has no checks to release, so no due date to wait for
            dues[entry.stem] = due.of(result, rubric_dues)
    state = FeedbackState(
        timezone=due.timezone, due=dues, released_at=before.released_at if before is not None else None
    )
    handed = render_feedback(out_dir, entries, released=state.released_at)
    _save_state(out_dir, state)
    return handed


def release(
    out_dir: Path, entries: Sequence[BatchEntry], *, now: datetime | None = None, early: bool = False
) -> HandedBack:
    """Re-render `feedback/` with after_due checks shown; `ReleaseError` before a due date unless `early`."""
    state = read_state(out_dir)
    if state is None:
        raise ReleaseError(
            f"{out_dir}: no batch feedback to release", hint="run `grade batch ... --out OUT` first"
        )
    moment = now or datetime.now(UTC)
    zone = parse_zone(state.timezone)
    unknown = sorted(stem for stem, due in state.due.items() if due is None)
    pending = {stem: due for stem, due in state.due.items() if due is not None and due > moment}
    if not early and (pending or unknown):
        if pending:
            latest = max(pending.values()).astimezone(zone)
            why = (
                f"{len(pending)} student(s) are not yet past their due date (the last is "
                f"{latest:%Y-%m-%d %H:%M} {zone_name(zone)}; now is {moment.astimezone(zone):%Y-%m-%d %H:%M})"
            )
        else:
            why = f"no due date is known for {len(unknown)} student(s) ({', '.join(unknown[:5])})"
        raise ReleaseError(
            f"not released: {why}",
            hint="release after the due date, or give --now to release anyway",
        )
    handed = render_feedback(out_dir, entries, released=moment)
    _save_state(out_dir, state.model_copy(update={"released_at": moment}))
    return handed


def render_feedback(out_dir: Path, entries: Sequence[BatchEntry], *, released: datetime | None) -> HandedBack:
    """One page per student in `feedback/`, and no other page: a student no longer in the class loses theirs."""
    from grader.render.report import render_html

    folder = out_dir / FEEDBACK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for entry in entries:
        if Path(entry.stem).name != entry.stem or entry.stem.startswith("."):
            continue  # stems are made safe upstream; a page never lands outside the folder
        result = _result(out_dir, entry)
        if result is not None:
            shown = released_view(result) if released else result
            page = with_class_final_score(
                render_html(shown, student_view=True), shown, out_dir / f"{entry.stem}.html"
            )
        elif entry.failure is not None:
            page = failure_page(entry.failure)
        else:
            continue
        path = folder / f"{entry.stem}.html"
        _atomic_write(path, page)
        written.append(path)
    for stale in folder.glob("*.html"):
        if stale not in written:
            with contextlib.suppress(OSError):
                stale.unlink()
    return HandedBack(folder=folder, files=tuple(written), released_at=released)


def with_class_final_score(page: str, shown: Mapping[str, Any], report: Path) -> str:
    """The student's page with the final score the class outputs wrote into their full report.

    The final score (late penalty, overrides, manual points) is what the LMS gets, so the page a
    student is handed back says it too. Only where the page withholds no check: a total over every
    check would tell a student how their hidden checks went.
    """
    from grader.render.report import final_block_of, with_final_block
    from grader.render.visibility import withheld_count

    if withheld_count(shown["checks"]):
        return page
    try:
        block = final_block_of(report.read_text(encoding="utf-8"))
    except OSError:
        return page
    return with_final_block(page, block) if block is not None else page


def released_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result as the student may see it after the due date: after_due checks become visible, hidden stay hidden."""
    checks = [
        {**check, "visibility": "visible"} if check.get("visibility") == "after_due" else dict(check)
        for check in result["checks"]
    ]
    return {**result, "checks": checks}


def failure_page(failure: Failure) -> str:
    """The page of a student who could not be graded: why, and what to do (every word escaped)."""
    hint = f"<p><b>What to do:</b> {html.escape(failure.hint)}</p>" if failure.hint else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(failure.submission)}: not graded</title></head><body>"
        f"<h1>{html.escape(failure.submission)}: not graded</h1>"
        f"<p>{html.escape(failure.message)}</p>{hint}</body></html>\n"
    )


def _result(out_dir: Path, entry: BatchEntry) -> dict[str, Any] | None:
    if entry.failure is not None:
        return None
    try:
        loaded = json.loads((out_dir / f"{entry.stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) and isinstance(loaded.get("checks"), list) else None


def _save_state(out_dir: Path, state: FeedbackState) -> None:
    _atomic_write(out_dir / STATE_FILE, state.model_dump_json(indent=1) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
