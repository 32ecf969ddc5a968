"""`grade ci init`: write the GitHub Actions workflow that grades a class (see docs/ci.md)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click


@click.group("ci")
def ci_group() -> None:
    """Continuous integration: a workflow that grades the class on every push."""


@ci_group.command("init")
@click.option(
    "--gpu",
    is_flag=True,
    help="Run on a self-hosted runner labelled gpu (NVIDIA driver, bubblewrap), install TensorFlow's CUDA "
    "build and grade with --gpus all; default: a GitHub-hosted Ubuntu runner and the CPU build.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path(".github/workflows/grade.yml"),
    show_default=True,
    help="Where to write the workflow (- for standard output).",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option(
    "--submissions",
    default="submissions",
    show_default=True,
    help="The folder (or quoted glob) of submissions in the course repository.",
)
@click.option("--reports", default="reports", show_default=True, help="grade batch's --out: the artifact.")
@click.option("--rubric", help="One rubric for every submission (default: each submission names its own).")
@click.option(
    "--rubrics", default="rubrics", show_default=True, help="Where submissions' exercises are looked up."
)
@click.option(
    "--grader",
    default=".",
    show_default=True,
    help="What pip installs the grader from: a path in the repository (a clone of the grader: then its "
    "constraints.txt pins every version), a URL (git+https://...@v0.1.0) or a requirement (grader==0.1.0).",
)
@click.option("--python", default="3.11", show_default=True, help="Python version of the grading venv.")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "failed-check", "never"]),
    default="error",
    show_default=True,
    help="When the job fails: error = when grade batch exits non-zero (bad rubric, no submissions, grader "
    "failure, no sandbox; never for a score); failed-check = also when a student fails a check; never.",
)
def ci_init(
    gpu: bool,
    out: Path,
    force: bool,
    submissions: str,
    reports: str,
    rubric: str | None,
    rubrics: str,
    grader: str,
    python: str,
    fail_on: str,
) -> None:
    """Write a GitHub Actions workflow that installs the grader, grades the class and uploads the reports."""
    from grader.outputs.ci_workflow import FailOn, WorkflowOptions, requirement, workflow

    try:
        options = WorkflowOptions(
            gpu=gpu,
            submissions=submissions,
            reports=reports,
            rubric=rubric,
            rubrics=rubrics,
            grader=grader,
            python=python,
            fail_on=cast("FailOn", fail_on),
        )
        requirement(grader, "cpu")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    text = workflow(options)
    if str(out) == "-":
        click.echo(text, nl=False)
        return
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; --force overwrites it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    runner = "a self-hosted GPU runner" if gpu else "a GitHub-hosted runner"
    click.echo(f"wrote {out}: grades {submissions} on {runner}; commit it to run on the next push", err=True)
