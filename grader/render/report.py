"""Rendering a `GradeResult`: the canonical JSON, the HTML feedback page, the terminal summary.

The HTML is rendered from the JSON (not from live objects), so the page can never say anything
the canonical result does not. It is self-contained: inline CSS, no scripts, no external assets.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.render import pages, visibility
from grader.render.pages import STATUS_MARK
from grader.result import GradeResult
from grader.rubric.formulas import format_shape

STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "skipped": "yellow"}
DRAW_TIMEOUT_S = 60.0
MAX_PROBLEM_CHARS = 300
DRAWING = threading.Lock()
FINAL_BEGIN = "<!--final-score-->"
FINAL_END = "<!--/final-score-->"
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def write_reports(
    result: GradeResult, out_dir: Path, stem: str, *, student_view: bool = False
) -> tuple[Path, Path]:
    """Write `<stem>.json` and `<stem>.html`; the HTML is rendered from the JSON's content.

    The HTML is rendered first, from the serialised result, so that the JSON can record how long
    rendering took (`run.stages.report`); it is the only figure the page does not show. The JSON
    keeps every check; with `student_view` the HTML shows only what a student may see before
    grading (`grader.render.visibility`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    began = time.monotonic()
    html = render_html(json.loads(result.to_json()), student_view=student_view)
    stages = result.run.stages.model_copy(update={"report": round(time.monotonic() - began, 3)})
    timed = result.model_copy(update={"run": result.run.model_copy(update={"stages": stages})})
    json_path.write_text(timed.to_json(), encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    return json_path, html_path


@functools.cache
def _environment() -> Environment:
    """The report's own environment: the shared one plus its filters, built once (filters never change)."""
    env = pages.environment()
    env.filters["shape"] = lambda s: (
        format_shape(s) if isinstance(s, list | tuple) else ("?" if s is None else s)
    )
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v
    env.filters["attrs"] = _attributes
    env.filters["differing"] = lambda differences: {d.split(" ", 1)[0] for d in differences}
    env.filters["confusion_picture"] = lambda metrics: draw_within(
        "confusion matrix",
        lambda: _plots().confusion_matrix_uri(metrics["confusion"], metrics.get("other") or ()),
    )
    env.filters["curves_picture"] = lambda history: draw_within(
        "training curves", lambda: _plots().training_curves_uri(history)
    )
    return env


def _plots() -> Any:
    """matplotlib is imported only when a report has pictures to draw."""
    from grader.render import plots

    return plots


@dataclass(frozen=True)
class Picture:
    """A figure for the page, or why there is none (a sentence the page shows instead)."""

    uri: str | None
    problem: str | None = None


def draw_within(what: str, draw: Callable[[], str | None], timeout_s: float = DRAW_TIMEOUT_S) -> Picture:
    """Draw a figure in a worker thread, waiting at most `timeout_s`; never raises.

    The numbers drawn come partly from the student's kernel: whatever they make matplotlib do
    (raise, or take longer than any figure should), the report is still written, saying that
    this figure could not be drawn and why. One figure is drawn at a time (matplotlib is not
    thread-safe): a drawing that overran keeps the lock, and the figures after it time out too,
    which the reports say, rather than drawing beside it.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        with DRAWING:
            try:
                outcome["uri"] = draw()
            except Exception as exc:
                outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"draw the {what}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return Picture(
            None, f"The {what} could not be drawn within {timeout_s:g} s; its numbers are in the JSON report."
        )
    if "error" in outcome:
        error = outcome["error"]
        reason = f"{type(error).__name__}: {str(error)[:MAX_PROBLEM_CHARS]}"
        return Picture(None, f"The {what} could not be drawn ({reason}); its numbers are in the JSON report.")
    return Picture(outcome.get("uri"))


def _attributes(view: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not view:
        return []
    hidden = {"type", "name", "output_shape", "params"}
    return [
        (k, format_shape(v) if isinstance(v, list) else str(v)) for k, v in view.items() if k not in hidden
    ]


def render_html(result: dict[str, Any], *, student_view: bool = False) -> str:
    template = _environment().get_template("report.html.j2")
    shown = visibility.for_student(result) if student_view else result
    notice = visibility.self_check_notice(bool(result.get("self_check")), bool(result["run"]["sandboxed"]))
    return template.render(r=shown, mark=STATUS_MARK, self_check=notice)


def render_final_block(final: Any) -> str:
    """The report's "Final score" section for a `grader.outputs.final_score.FinalScore`, between its markers."""
    block = _environment().get_template("final_score.html.j2").render(f=final)
    return f"{FINAL_BEGIN}\n{block}{FINAL_END}"


def write_final_block(report: Path, final: Any) -> None:
    """Put the class's final score into a student's report, replacing the one an earlier batch put there.

    The report is rendered by the worker from the machine's result; the final score is the class's
    (late penalty, overrides, manual points), so the batch writes it in afterwards, between markers
    the template leaves for it. Nothing a student wrote can forge a marker: every text of theirs is
    HTML-escaped, so `<!--` never appears in it; a report without the markers (an older grader's)
    gets the block before `</body>`.
    """
    page = with_final_block(report.read_text(encoding="utf-8"), render_final_block(final))
    partial = report.with_name(report.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(report)


def with_final_block(page: str, block: str) -> str:
    """`page` with `block` (a rendered final-score section, markers included) in the place left for it."""
    start = page.find(FINAL_BEGIN)
    end = page.find(FINAL_END, start)
    if start >= 0 and end >= 0:
        return page[:start] + block + page[end + len(FINAL_END) :]
    cut = page.rfind("</body>")
    return page[:cut] + block + "\n" + page[cut:] if cut >= 0 else page + block


def final_block_of(page: str) -> str | None:
    """The final-score section the batch wrote into a report (markers included), or None if it has none."""
    start = page.find(FINAL_BEGIN)
    end = page.find(FINAL_END, start)
    if start < 0 or end < 0 or end == start + len(FINAL_BEGIN):
        return None
    return page[start : end + len(FINAL_END)]


def plain(value: object, style: str = "") -> Text:
    """Text shown on the terminal exactly as written, for anything a student or their kernel controls.

    Rich reads markup (`[/x]` raises) and emoji codes in strings, never in `Text`; and control
    characters (escape sequences that move the cursor or recolour the terminal, carriage returns,
    bidi overrides that reorder a line) and lone surrogates are shown as escapes instead of obeyed.
    """
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return Text(
        UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text), style=style
    )


def print_summary(
    result: GradeResult, paths: tuple[Path, ...], console: Console, *, student_view: bool = False
) -> None:
    """One screen: the score, one line per check, the cells that failed, where the report is.

    Every string here can come from the student (a check message quotes their answer, a cell's
    error is their exception, the device is what their kernel reported), so each is `plain`. In a
    student view a check that is not visible shows only its id and "hidden until grading", and
    the score is that of the visible checks (`grader.render.visibility`).
    """
    notice = visibility.self_check_notice(result.self_check, result.run.sandboxed)
    if notice:
        console.print(Text(notice, style="bold yellow"))
    score, maximum, after = visibility.score_line(result, student_view)
    ratio = score / maximum if maximum else 0.0
    colour = "green" if ratio >= 0.999 else ("yellow" if ratio >= 0.5 else "red")
    console.print(
        Text.assemble(
            plain(result.title, "bold"),
            " (",
            plain(result.exercise),
            ") · ",
            plain(result.submission),
            ": ",
            (f"{score:g} / {maximum:g}", f"bold {colour}"),
            after,
        )
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("why", overflow="fold")
    for check in result.checks:
        if student_view and not visibility.is_shown(check):
            table.add_row(Text("?"), plain(check.id), Text(""), Text(visibility.WITHHELD[check.visibility]))
            continue
        table.add_row(
            Text(STATUS_MARK[check.status], style=STATUS_STYLE[check.status]),
            plain(check.id),
            Text(f"{check.points:g}/{check.max_points:g}"),
            plain(check.message),
        )
    console.print(table)
    for cell in result.run.cells:
        if cell.status in ("ok", "skipped"):
            continue
        detail = f"{cell.error_name}: {cell.error_value}" if cell.error_name else (cell.hint or cell.status)
        console.print(Text.assemble((f"cell {cell.number}", "red"), f" ({cell.status}): ", plain(detail)))
    skipped = [c.number for c in result.run.cells if c.status == "skipped"]
    if skipped:
        console.print(Text.assemble(("cells not run:", "yellow"), " ", ", ".join(map(str, skipped))))
    for note in (*result.run.notes, *result.notes):
        console.print(Text.assemble(("note:", "yellow"), " ", plain(note)))
    if result.migration:
        layer = result.kernel_setup.compat if result.kernel_setup else None
        console.print(
            Text.assemble(
                ("Keras 2:", "yellow"),
                f" {len(result.migration)} legacy idiom(s) in the source",
                f", run through the {layer} compatibility layer" if layer else "",
                "; the report lists each with its Keras 3 spelling",
            )
        )
    sandbox = Text("sandboxed") if result.run.sandboxed else Text("NOT sandboxed", style="yellow")
    console.print(
        Text.assemble(f"ran in {result.run.duration_s:.1f} s on ", plain(result.run.device), ", ", sandbox)
    )
    for path in paths:
        console.print(Text.assemble("report: ", plain(path)))
