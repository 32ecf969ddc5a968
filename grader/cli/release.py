"""`grade release OUT`: hand back a batch's feedback, after_due checks shown, once the due date has passed.

The work is `grader.outputs.feedback.release`; this prints what to hand back: one folder, one
page per student.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from grader.cli.shared import reports_errors

RELEASE_EXIT_CODES = (
    "Exit codes: 0 released, 2 usage (before a due date without --now, a due date unknown, or no "
    "batch feedback in OUT)."
)


@click.command("release", epilog=RELEASE_EXIT_CODES)
@click.argument("out_dir", metavar="OUT", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--now",
    "early",
    is_flag=True,
    help="Release even before the due date (or where none is known): after_due checks are shown at once.",
)
@reports_errors
def grade_release(out_dir: Path, early: bool) -> None:
    """Re-render OUT/feedback/ with after_due checks shown, once every due date has passed; see docs/batch.md."""
    from grader.batch.store import ResultStore
    from grader.outputs.feedback import release
    from grader.render.report import plain

    handed = release(out_dir, ResultStore(out_dir).entries(), early=early)
    console = Console(highlight=False)
    console.print(
        plain(f"released: hand back {handed.folder}/ ({len(handed.files)} file(s), one per student)"),
        soft_wrap=True,
    )
    for path in handed.files:
        console.print(plain(f"  {path.name}"), soft_wrap=True)
