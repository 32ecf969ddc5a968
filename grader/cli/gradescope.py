"""`grade gradescope ...`: `build` runs on the instructor's machine, `run` inside the zip it built, on Gradescope."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from grader.cli.shared import out_option, overrides_options, reports_errors

if TYPE_CHECKING:
    from grader.grading.grade import Overrides
    from grader.outputs.gradescope import OutputFormat


OUTPUT_FORMAT_OPTION = click.option(
    "--output-format",
    type=click.Choice(["html", "md", "text"]),
    default="html",
    show_default=True,
    help="How the feedback every student sees (results.json's top-level output) is written.",
)


@click.group("gradescope")
def gradescope_group() -> None:
    """Gradescope: build an autograder zip for a rubric; grade inside it."""


@gradescope_group.command("build")
@click.argument("rubric", type=click.Path(path_type=Path))
@out_option(Path("autograder.zip"), "The zip to upload to Gradescope.", name="out")
@OUTPUT_FORMAT_OPTION
@click.option(
    "--require-sandbox",
    is_flag=True,
    help="Grade only under bubblewrap: without it every submission gets a 'sandbox' error instead of a grade.",
)
@reports_errors
def gradescope_build(rubric: Path, out: Path, output_format: str, require_sandbox: bool) -> None:
    """Write an autograder zip: setup.sh, run_autograder, the grader as a wheel, the rubric and its data."""
    from grader.outputs import gradescope
    from grader.rubric.model import load_rubric

    built = gradescope.build(load_rubric(rubric), out, cast("OutputFormat", output_format), require_sandbox)
    click.echo(f"wrote {out}: {built.summary()}", err=True)


@gradescope_group.command("run")
@click.option("--rubric", "rubric_path", required=True, type=click.Path(path_type=Path))
@click.option(
    "--submission",
    "submission_dir",
    type=click.Path(path_type=Path),
    default=Path("/autograder/submission"),
    show_default=True,
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    default=Path("/autograder/results/results.json"),
    show_default=True,
)
@OUTPUT_FORMAT_OPTION
@overrides_options
@reports_errors
def gradescope_run(
    rubric_path: Path, submission_dir: Path, results_path: Path, output_format: str, overrides: Overrides
) -> None:
    """Grade the one submission in a folder into Gradescope's results.json (what run_autograder calls).

    results.json is written whatever happens, so this exits 0 once it is.
    """
    from grader.outputs import gradescope

    chosen = cast("OutputFormat", output_format)
    results = gradescope.grade_for_gradescope(rubric_path, submission_dir, results_path, chosen, overrides)
    click.echo(f"wrote {results_path}: {results.get('score', 0):g}", err=True)
