"""Reading a submission: a Jupyter notebook or a Python script, as a list of code cells.

Everything that makes a file ungradable (not JSON, an old nbformat, another language, binary
bytes) is found here, before a kernel starts, and reported as a `SubmissionError` with a fix.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

import nbformat
from pydantic import BaseModel, ConfigDict

from grader.errors import SubmissionError
from grader.text import clean

SCRIPT_CELL_MARKER = re.compile(r"^#\s*%%")
SCRIPT_EXERCISE_TAG = re.compile(r"^#\s*grader:\s*exercise\s*=\s*([A-Za-z0-9._-]+)\s*$", re.MULTILINE)
MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Cell(BaseModel):
    """A code cell. `first_line` is its first line in the original file (scripts) or 1 (notebooks)."""

    model_config = ConfigDict(frozen=True)

    number: int
    source: str
    first_line: int = 1


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    kind: Literal["notebook", "script"]
    cells: tuple[Cell, ...]
    exercise: str | None

    @property
    def stem(self) -> str:
        return self.path.stem


def load_submission(path: Path) -> Submission:
    if path.is_symlink():
        raise SubmissionError(
            f"{path}: is a symbolic link; a submission is read only as a regular file",
            hint="submit the notebook or script itself, not a link to it",
        )
    if not path.exists():
        raise SubmissionError(f"{path}: no such file", hint="check the path of the submission")
    if path.is_dir():
        raise SubmissionError(f"{path}: is a folder", hint="to grade a whole folder use `grade batch`")
    if path.suffix not in (".ipynb", ".py"):
        raise SubmissionError(
            f"{path}: cannot grade a {path.suffix or 'suffix-less'} file",
            hint="submit a Jupyter notebook (.ipynb) or a Python script (.py)",
        )
    raw = read_regular_file(path)
    if not raw.strip():
        raise SubmissionError(f"{path}: the file is empty", hint="was the notebook saved before submitting?")
    if len(raw) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(
            f"{path}: the file is over the {MAX_SUBMISSION_BYTES // 2**20} MiB limit",
            hint="clear the notebook's outputs (Cell > All Output > Clear) and submit again",
        )
    if b"\x00" in raw[:8192]:
        raise SubmissionError(f"{path}: this is a binary file, not a notebook or a script")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(
            f"{path}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    return _load_notebook(path, text) if path.suffix == ".ipynb" else _load_script(path, text)


def read_regular_file(path: Path, limit: int = MAX_SUBMISSION_BYTES) -> bytes:
    """The file's bytes, up to one past `limit`, read only if it is a regular file.

    The name is a student's: it is opened without following a last-component link and without
    blocking (a FIFO would hang the grader), and checked to be a regular file on the descriptor
    actually read, so nothing can be swapped in between the check and the read.
    """
    try:
        descriptor = os.open(path, READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SubmissionError(
                f"{path}: is a symbolic link; a submission is read only as a regular file",
                hint="submit the notebook or script itself, not a link to it",
            ) from None
        raise SubmissionError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise SubmissionError(
                f"{path}: is not a regular file (a pipe, a device or a socket)",
                hint="submit the notebook or script itself",
            )
        os.set_blocking(descriptor, True)
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read(limit + 1)
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read the file ({exc.strerror})") from None
    finally:
        os.close(descriptor)


def _load_notebook(path: Path, text: str) -> Submission:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"{path}:{exc.lineno}:{exc.colno}: not a valid notebook: broken JSON ({exc.msg})",
            hint="open it in Jupyter; if it does not open, restore it from a checkpoint (File > Revert)",
        ) from None
    if not isinstance(data, dict) or ("cells" not in data and "worksheets" not in data):
        raise SubmissionError(f"{path}: JSON, but not a Jupyter notebook (no `cells`)")
    major = data.get("nbformat")
    if major != 4:
        raise SubmissionError(
            f"{path}: notebook format {major} is not supported (need 4)",
            hint=f"convert it: jupyter nbconvert --to notebook --nbformat 4 {path.name}",
        )
    try:
        notebook = nbformat.from_dict(data)
        nbformat.validate(notebook)
    except Exception as exc:
        message = str(exc).splitlines()[0]
        raise SubmissionError(
            f"{path}: not a valid nbformat 4 notebook ({message})", hint="open and re-save it in Jupyter"
        ) from None
    language = _notebook_language(notebook)
    if language and language.lower() != "python":
        raise SubmissionError(
            f"{path}: the notebook's kernel is {language!r}; this exercise needs Python",
            hint="choose Kernel > Change kernel > Python 3, save, and submit again",
        )
    cells = tuple(
        Cell(number=number, source=_source(cell))
        for number, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1)
    )
    if not any(cell.source.strip() for cell in cells):
        raise SubmissionError(
            f"{path}: the notebook has no code to run", hint="was the right file submitted?"
        )
    exercise = notebook.metadata.get("grader", {}).get("exercise")
    return Submission(
        path=path, kind="notebook", cells=cells, exercise=exercise if isinstance(exercise, str) else None
    )


def _notebook_language(notebook: Any) -> str | None:
    kernelspec = notebook.metadata.get("kernelspec", {})
    info = notebook.metadata.get("language_info", {})
    return kernelspec.get("language") or info.get("name")


def _source(cell: Any) -> str:
    source = cell.source
    return clean("".join(source) if isinstance(source, list) else str(source))


def _load_script(path: Path, text: str) -> Submission:
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if SCRIPT_CELL_MARKER.match(line)]
    bounds = [0, *starts] if not starts or starts[0] != 0 else starts
    cells = []
    for number, (start, end) in enumerate(zip(bounds, [*bounds[1:], len(lines)], strict=True), start=1):
        source = "".join(lines[start:end])
        cells.append(Cell(number=number, source=source, first_line=start + 1))
    cells = [c for c in cells if c.source.strip()]
    if not cells:
        raise SubmissionError(f"{path}: the script has no code to run")
    _check_script_compiles(path, text)
    renumbered = tuple(c.model_copy(update={"number": n}) for n, c in enumerate(cells, start=1))
    match = SCRIPT_EXERCISE_TAG.search(text)
    return Submission(path=path, kind="script", cells=renumbered, exercise=match.group(1) if match else None)


def _check_script_compiles(path: Path, text: str) -> None:
    """A script Python cannot compile runs no line at all, so it is unreadable, not a failing cell.

    IPython's `%magic` and `!shell` lines are valid in a kernel, so they are translated first.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        ast.parse(TransformerManager().transform_cell(text), filename=str(path))
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno or 1}:{exc.offset or 1}"
        line = (exc.text or "").strip()[:200]
        raise SubmissionError(
            f"{where}: the script does not compile: {exc.msg}" + (f"\n    {line}" if line else ""),
            hint="run it with `python -m py_compile` and fix the line shown",
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SubmissionError(f"{path}: the script does not compile: {type(exc).__name__}: {exc}") from None
