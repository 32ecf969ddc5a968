"""The `grade` command line.

`grade SUBMISSION` grades one notebook or script; subcommands (`grade rubric ...`) sit beside it.
A `GradingError` becomes a short message and its documented exit code; any other exception is a
grader bug, reported in one paragraph with exit code 5, never a raw traceback.

Each command group has its own module, named as the command is typed (`grade batch` in `batch.py`,
`grade rubric ...` in `rubric.py`, `grade SUBMISSION` in `grade_one.py`), so that a command is found
by its name; what they all share is in `shared.py`, and this module only assembles them.
"""

from __future__ import annotations

import click

from grader import __version__
from grader.cli.batch import grade_batch
from grader.cli.ci import ci_group
from grader.cli.grade_one import grade_one
from grader.cli.gradescope import gradescope_group
from grader.cli.release import grade_release
from grader.cli.rubric import rubric_group
from grader.cli.shared import EXIT_CODES, DefaultCommandGroup

__all__ = ["main"]


@click.group(
    cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES
)
@click.version_option(__version__, prog_name="grade")
def main() -> None:
    """Grade Keras exercises: run a submission in a sandboxed kernel, measure its model, write feedback.

    \b
    grade submissions/alice.ipynb            grade one notebook or .py script
    grade SUBMISSION --help                   options for grading one submission
    """


main.add_command(grade_one)
main.add_command(rubric_group)
main.add_command(grade_batch)
main.add_command(gradescope_group)
main.add_command(grade_release)
main.add_command(ci_group)
