"""Terminal output for `grade rubric ...`: lint findings, self-test outcomes, the rubric table.

Kept apart from `authoring` so that the logic there returns values a test can assert on, and
only this module decides how they look.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.authoring.lint import LintReport
from grader.authoring.selftest import Expectation
from grader.errors import RubricError
from grader.rubric.model import find_rubrics, load_rubric


def print_lint(report: LintReport, console: Console, *, strict: bool = False) -> None:
    """One line per finding (file:line:col: severity: message), then a verdict for the file."""
    for finding in report.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        head, _, rest = str(finding).partition(f"{finding.severity}:")
        console.print(f"{escape(head)}[{colour}]{finding.severity}:[/{colour}]{escape(rest)}")
    if report.rubric is not None and not report.errors:
        warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        verdict = "[red]rejected (--strict)[/red]" if strict and report.warnings else "[green]ok[/green]"
        console.print(
            f"{verdict} {escape(str(report.path))}: {len(report.rubric.checks)} checks, "
            f"{report.rubric.max_score:g} points{warned}"
        )


def print_expectation(outcome: Expectation, console: Console) -> None:
    verdict = "[green]PASS[/green]" if outcome.passed else "[red]FAIL[/red]"
    score = (
        f"{outcome.result.score:g}/{outcome.result.max_score:g}"
        if outcome.result is not None
        else "not graded"
    )
    console.print(f"{verdict} {outcome.label} {escape(str(outcome.path))}: {score}")
    if outcome.problem:
        console.print(f"    {escape(outcome.problem)}")
    for difference in outcome.differences:
        console.print(f"    {escape(difference)}")


def rubric_table(directory: Path) -> Table:
    """Every rubric in `directory` with its exercise id, title and points; broken ones say so."""
    table = Table(title=f"Rubrics in {directory}", title_justify="left")
    for column in ("exercise", "title", "checks", "points", "examples", "file"):
        table.add_column(column, justify="right" if column in ("checks", "points", "examples") else "left")
    for stem, path in find_rubrics(directory).items():
        try:
            rubric = load_rubric(path).rubric
        except RubricError as exc:
            first = exc.message.splitlines()[0]
            table.add_row(escape(stem), f"[red]invalid: {escape(first)}[/red]", "", "", "", escape(str(path)))
            continue
        table.add_row(
            escape(rubric.exercise),
            escape(rubric.title),
            str(len(rubric.checks)),
            f"{rubric.max_score:g}",
            str(len(rubric.examples)),
            escape(str(path)),
        )
    return table
