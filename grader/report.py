"""Rendering a `GradeResult`: the canonical JSON, the HTML feedback page, the terminal summary.

The HTML is rendered from the JSON (not from live objects), so the page can never say anything
the canonical result does not. It is self-contained: inline CSS, no scripts, no external assets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from grader.formulas import format_shape
from grader.result import GradeResult

STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "skipped": "yellow"}
STATUS_MARK = {"pass": "✔", "fail": "✘", "error": "!", "skipped": "–"}


def write_reports(result: GradeResult, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.json` and `<stem>.html`; the HTML is rendered from the JSON just written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    json_path.write_text(result.to_json(), encoding="utf-8")
    html_path.write_text(render_html(json.loads(json_path.read_text(encoding="utf-8"))), encoding="utf-8")
    return json_path, html_path


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("grader", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shape"] = lambda s: (
        format_shape(s) if isinstance(s, list | tuple) else ("?" if s is None else s)
    )
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v
    env.filters["pts"] = lambda v: f"{v:g}"
    env.filters["attrs"] = _attributes
    env.filters["differing"] = lambda differences: {d.split(" ", 1)[0] for d in differences}
    env.filters["confusion_png"] = lambda confusion: _plots().confusion_matrix_uri(confusion)
    env.filters["curves_png"] = lambda history: _plots().training_curves_uri(history)
    return env


def _plots() -> Any:
    """matplotlib is imported only when a report has pictures to draw."""
    from grader import plots

    return plots


def _attributes(view: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not view:
        return []
    hidden = {"type", "name", "output_shape", "params"}
    return [
        (k, format_shape(v) if isinstance(v, list) else str(v)) for k, v in view.items() if k not in hidden
    ]


def render_html(result: dict[str, Any]) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(r=result, mark=STATUS_MARK)


def print_summary(result: GradeResult, paths: tuple[Path, ...], console: Console) -> None:
    """One screen: the score, one line per check, the cells that failed, where the report is."""
    ratio = result.score / result.max_score if result.max_score else 0.0
    colour = "green" if ratio >= 0.999 else ("yellow" if ratio >= 0.5 else "red")
    console.print(
        f"[bold]{result.title}[/bold] ({result.exercise}) · {result.submission}: "
        f"[bold {colour}]{result.score:g} / {result.max_score:g}[/bold {colour}]"
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("why", overflow="fold")
    for check in result.checks:
        style = STATUS_STYLE[check.status]
        table.add_row(
            f"[{style}]{STATUS_MARK[check.status]}[/{style}]",
            check.id,
            f"{check.points:g}/{check.max_points:g}",
            check.message,
        )
    console.print(table)
    for cell in result.run.cells:
        if cell.status in ("ok", "skipped"):
            continue
        detail = f"{cell.error_name}: {cell.error_value}" if cell.error_name else (cell.hint or cell.status)
        console.print(
            f"[red]cell {cell.number}[/red] ({cell.status}): {detail}", markup=True, highlight=False
        )
    skipped = [c.number for c in result.run.cells if c.status == "skipped"]
    if skipped:
        console.print(f"[yellow]cells not run:[/yellow] {', '.join(map(str, skipped))}")
    for note in (*result.run.notes, *result.notes):
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if result.migration:
        layer = result.kernel_setup.compat if result.kernel_setup else None
        console.print(
            f"[yellow]Keras 2:[/yellow] {len(result.migration)} legacy idiom(s) in the source"
            + (f", run through the {layer} compatibility layer" if layer else "")
            + "; the report lists each with its Keras 3 spelling",
            highlight=False,
        )
    sandbox = "sandboxed" if result.run.sandboxed else "[yellow]NOT sandboxed[/yellow]"
    console.print(f"ran in {result.run.duration_s:.1f} s on {result.run.device}, {sandbox}")
    for path in paths:
        console.print(f"report: {path}", highlight=False)
