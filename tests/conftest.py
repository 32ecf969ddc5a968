"""Shared fixtures: the real `grade` command, run as a subprocess from the repository root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
GRADE = Path(sys.executable).parent / "grade"


@dataclass(frozen=True)
class Graded:
    """One run of the `grade` command: its exit code, its output and the JSON it wrote (if any)."""

    returncode: int
    stdout: str
    stderr: str
    out_dir: Path
    stem: str

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.out_dir / f"{self.stem}.json").read_text())

    @property
    def html(self) -> str:
        return (self.out_dir / f"{self.stem}.html").read_text()

    def check(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.result["checks"] if c["id"] == check_id)


GradeRunner = Callable[..., Graded]


def run_grade(
    *args: str | Path,
    out_dir: Path,
    cwd: Path = REPO,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> Graded:
    command = [str(GRADE), *map(str, args)]
    grading_one = bool(args) and not str(args[0]).startswith("-") and str(args[0]) not in ("rubric", "batch")
    if grading_one and not any(str(a).startswith("--out") for a in args):
        command += ["--out", str(out_dir)]
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )
    stem = Path(str(args[0])).stem if args else ""
    return Graded(done.returncode, done.stdout, done.stderr, out_dir, stem)


@pytest.fixture
def grade(tmp_path: Path) -> GradeRunner:
    """Run `grade ARGS... --out <tmp>` from the repository root."""

    def runner(
        *args: str | Path, cwd: Path = REPO, timeout: float = 600, env: dict[str, str] | None = None
    ) -> Graded:
        return run_grade(*args, out_dir=tmp_path / "reports", cwd=cwd, timeout=timeout, env=env)

    return runner


def write_notebook(path: Path, *cells: str, exercise: str | None = None, **metadata: Any) -> Path:
    """A real nbformat-4 notebook with the given code cells."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata.update(
        {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    if exercise:
        notebook.metadata["grader"] = {"exercise": exercise}
    notebook.metadata.update(metadata)
    nbformat.write(notebook, str(path))
    return path
