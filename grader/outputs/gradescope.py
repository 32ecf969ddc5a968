"""Gradescope: an autograder zip for a rubric (`grade gradescope build`), and grading inside it (`grade gradescope run`).

Gradescope's autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip holds `setup.sh`, run once as root to build the image, and `run_autograder`, run for each
submission with the zip's contents in `/autograder/source`, the student's files in
`/autograder/submission`, and `/autograder/results/results.json` to write. The zip built here is
self-contained apart from PyPI: the grader travels as a wheel built from this installation, the
rubric (the instructor's, hidden checks included: students never see `/autograder/source`) with
every file it reads, and the Keras cache files it needs. Both scripts take the root from
`$AUTOGRADER_ROOT` (default `/autograder`), so a test can lay out a temporary tree like it and run
`run_autograder` for real.

`grade gradescope run` always writes results.json, whatever happens (no submission, an unreadable
one, a grader failure): a Gradescope submission without it shows students only "autograder failed".
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.metadata
import io
import json
import os
import re
import stat
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from grader import __version__
from grader.authoring.publish import dump_yaml, raw_rubric, relocated, rewrite_paths, rubric_inputs
from grader.errors import GradingError, RubricError, SubmissionError
from grader.grading import course, datasets
from grader.render import visibility
from grader.rubric.model import LoadedRubric, parse_rubric

if TYPE_CHECKING:
    from grader.grading.grade import Overrides
    from grader.rubric.late import Lateness
    from grader.rubric.model import Rubric

OutputFormat = Literal["html", "md", "text"]
ROOT_VARIABLE = "AUTOGRADER_ROOT"
SUBMISSION_SUFFIXES = (".ipynb", ".py")
SKIPPED_FOLDERS = {".ipynb_checkpoints", "__pycache__", "__MACOSX"}
EXECUTABLE = 0o755
MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image (written by `grade gradescope build`):
# bubblewrap for the sandbox, a Python 3.11+ virtual environment, and the grader from the wheel in this zip
# (its dependencies, TensorFlow and Keras among them, from PyPI).
set -euo pipefail
ROOT="${{{root}:-/autograder}}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends bubblewrap
PYTHON=""
for candidate in python3.11 python3.12 python3.13; do
  if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
  apt-get install -y --no-install-recommends python3.11
  PYTHON=python3.11
fi
apt-get install -y --no-install-recommends "$PYTHON-venv" || true
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --upgrade pip
"$ROOT/venv/bin/pip" install "$SOURCE/wheels/{wheel}[cpu]"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission (written by `grade gradescope build`): it grades the notebook
# or script in $ROOT/submission with the rubric in $ROOT/source and writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${{{root}:-/autograder}}"
SOURCE="$ROOT/source"
if [ -x "$ROOT/venv/bin/grade" ]; then GRADE="$ROOT/venv/bin/grade"; else GRADE="grade"; fi
{keras_home}mkdir -p "$ROOT/results"
cd "$ROOT"
"$GRADE" gradescope run --rubric "$SOURCE/{rubric}" --submission "$ROOT/submission" \\
  --results "$ROOT/results/results.json" --output-format {output_format}{options}
"""


@dataclass
class Built:
    """What went into the zip, for the command's summary line."""

    path: Path
    entries: list[str] = field(default_factory=list)
    rubric: str = ""
    wheel: str = ""
    keras: list[str] = field(default_factory=list)

    def summary(self) -> str:
        data = [e for e in self.entries if e.startswith("rubric/") and e != self.rubric]
        parts = [f"rubric {self.rubric}", f"wheel {self.wheel}"]
        if data:
            parts.append(f"{len(data)} rubric file(s)")
        if self.keras:
            parts.append(f"Keras cache: {', '.join(self.keras)}")
        return "; ".join(parts)


def build(
    loaded: LoadedRubric, out: Path, output_format: OutputFormat = "html", require_sandbox: bool = False
) -> Built:
    """Write the autograder zip for `loaded` at `out` (see the module docstring)."""
    if loaded.rubric.student is not None:
        raise RubricError(
            f"{loaded.path}: a student rubric cannot grade (it was published from {loaded.rubric.student.source})",
            hint="build the Gradescope autograder from the instructor's rubric",
        )
    rubric_name = f"rubric/{loaded.rubric.exercise}.yaml"
    taken: dict[str, str] = {}
    data = raw_rubric(loaded)
    for key in ("solution", "examples"):
        data.pop(key, None)
    rewrite_paths(data, lambda name: relocated(name, taken))
    header = (
        f"# {loaded.path.name}, packaged by `grade gradescope build` (grader {__version__}); paths are "
        "relative to this file.\n"
    )
    text = dump_yaml(data, header)
    parse_rubric(text, source=rubric_name)
    files: list[tuple[str, Path]] = []
    for item in rubric_inputs(loaded):
        if not item.source.exists():
            raise RubricError(
                f"{loaded.path}: {item.key} names {item.name}, which does not exist (looked for {item.source})",
                hint="paths are relative to the rubric file",
            )
        files += [(f"rubric/{taken[item.name]}{suffix}", path) for suffix, path in _walk(item.source)]
    keras = keras_cache_files(loaded)
    wheel_name, wheel = build_wheel()
    built = Built(path=out, rubric=rubric_name, wheel=wheel_name, keras=sorted({n for n, _ in keras}))
    options = " --require-sandbox" if require_sandbox else ""
    keras_home = 'export KERAS_HOME="$SOURCE/keras"\n' if keras else ""
    scripts = {
        "setup.sh": SETUP_SH.format(root=ROOT_VARIABLE, wheel=wheel_name),
        "run_autograder": RUN_AUTOGRADER.format(
            root=ROOT_VARIABLE,
            keras_home=keras_home,
            rubric=rubric_name,
            output_format=output_format,
            options=options,
        ),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, script in scripts.items():
            _add_bytes(archive, name, script.encode(), EXECUTABLE)
        _add_bytes(archive, f"wheels/{wheel_name}", wheel)
        _add_bytes(archive, rubric_name, text.encode())
        for name, path in [*files, *((f"keras/{rel}", path) for rel, path in keras)]:
            archive.write(path, name)
    partial.replace(out)
    built.entries = ["setup.sh", "run_autograder", f"wheels/{wheel_name}", rubric_name]
    built.entries += [name for name, _ in files] + [f"keras/{rel}" for rel, _ in keras]
    return built


def _add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _walk(path: Path) -> list[tuple[str, Path]]:
    """A file as itself, a folder as each file in it (suffixes relative to the folder)."""
    if path.is_file():
        return [("", path)]
    return [
        (f"/{child.relative_to(path).as_posix()}", child)
        for child in sorted(path.rglob("*"))
        if child.is_file()
    ]


def keras_cache_files(loaded: LoadedRubric) -> list[tuple[str, Path]]:
    """The files of the grader's Keras cache the rubric reads, relative to the cache (`datasets/...`, `models/...`).

    A rubric's `datasets:` without an npz, an accuracy check's `keras:` source and its `weights:`
    are read from the cache, which Gradescope's image does not have, so they travel in the zip; a
    missing one is an error here rather than a failed grade for every student.
    """
    rubric = loaded.rubric
    home = datasets.keras_datasets_dir().parent
    found: list[Path] = []
    try:
        found += [course.cache_source(name) for name, spec in rubric.datasets.items() if spec.npz is None]
    except datasets.DatasetError as exc:
        raise RubricError(
            f"{loaded.path}: {exc}", hint="the zip carries the grader's Keras cache files"
        ) from None
    for check in rubric.checks:
        if check.accuracy is not None and check.accuracy.data.keras is not None:
            source = datasets.source_file(check.accuracy.data, loaded.path.parent)
            if source is None:
                raise RubricError(
                    f"{loaded.path}: check {check.id} reads Keras' {check.accuracy.data.keras} test split, which "
                    f"is not in the grader's Keras cache ({home / 'datasets'})",
                    hint="run keras.datasets.<name>.load_data() once on a machine with network",
                )
            found.append(source)
    for name in rubric.weights:
        weights = course.keras_models_dir() / name
        if not weights.is_file():
            raise RubricError(
                f"{loaded.path}: the weights {name} are not in the grader's Keras cache (looked for {weights})",
                hint="put the file there; the grader never downloads",
            )
        found.append(weights)
    files: list[tuple[str, Path]] = []
    for source in dict.fromkeys(found):
        for suffix, path in _walk(source):
            files.append((source.relative_to(home).as_posix() + suffix, path))
    return files


def build_wheel() -> tuple[str, bytes]:
    """A wheel of the installed grader package (pure Python), built in memory from its files and metadata.

    Built from the installation rather than the source tree, so it works from an installed grader
    as from a checkout, with no build backend and no network.
    """
    import grader

    distribution = importlib.metadata.distribution("grader")
    version = distribution.version
    package = Path(grader.__file__).resolve().parent
    info = f"grader-{version}.dist-info"
    entries: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            entries.append((f"grader/{path.relative_to(package).as_posix()}", path.read_bytes()))
    meta = distribution.metadata
    lines = [
        "Metadata-Version: 2.1",
        "Name: grader",
        f"Version: {version}",
        f"Summary: {(meta.get_all('Summary') or ['grader'])[0]}",
        f"Requires-Python: {(meta.get_all('Requires-Python') or ['>=3.11'])[0]}",
        *(f"Provides-Extra: {extra}" for extra in meta.get_all("Provides-Extra") or []),
        *(f"Requires-Dist: {requirement}" for requirement in distribution.requires or []),
    ]
    entries.append((f"{info}/METADATA", ("\n".join(lines) + "\n").encode()))
    entries.append(
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: grader gradescope build\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    points = distribution.read_text("entry_points.txt") or "[console_scripts]\ngrade = grader.cli:main\n"
    entries.append((f"{info}/entry_points.txt", points.encode()))
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in entries]
    entries.append((f"{info}/RECORD", ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in entries:
            _add_bytes(wheel, name, data)
    return f"grader-{version}-py3-none-any.whl", buffer.getvalue()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# ---- grading inside the autograder -----------------------------------------------------------------


def find_submission(folder: Path, exercise: str) -> Path:
    """The one notebook (or else script) in Gradescope's submission folder; `SubmissionError` if none or several.

    The folder is the student's: a link in it (to the instructor's rubric in /autograder/source,
    to anything) is never followed, a FIFO or device is never opened. The walk uses lstat only
    and does not descend into linked folders; what it refuses is named in the error when nothing
    else is left, and `load_submission` opens the file chosen without following a link.
    """
    from grader.grading.submission import load_submission

    if folder.is_symlink() or not folder.is_dir():
        raise SubmissionError(f"no submission folder at {folder}")
    found, refused = _walk_submission(folder)
    notebooks = [p for p in found if p.suffix == ".ipynb"]
    candidates = notebooks or found
    if not candidates:
        detail = f" ({'; '.join(refused)})" if refused else ""
        raise SubmissionError(
            f"no notebook (.ipynb) or script (.py) was submitted{detail}",
            hint="upload your notebook itself to Gradescope",
        )
    if len(candidates) > 1:
        matching = []
        for path in candidates:
            try:
                if load_submission(path).exercise == exercise:
                    matching.append(path)
            except GradingError:
                continue
        if len(matching) == 1:
            return matching[0]
        names = ", ".join(str(p.relative_to(folder)) for p in candidates)
        raise SubmissionError(
            f"several submissions, and not exactly one is the {exercise} exercise: {names}",
            hint="upload one notebook",
        )
    return candidates[0]


def _walk_submission(folder: Path) -> tuple[list[Path], list[str]]:
    """Regular notebook and script files under `folder` (lstat, links not followed), and what was refused."""
    found: list[Path] = []
    refused: list[str] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                continue
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                pending.append(path)
            elif path.suffix not in SUBMISSION_SUFFIXES:
                continue
            elif stat.S_ISLNK(mode):
                refused.append(f"{path.relative_to(folder)} is a link, which is not followed")
            elif not stat.S_ISREG(mode):
                refused.append(f"{path.relative_to(folder)} is not a regular file")
            else:
                found.append(path)
    return sorted(found), refused


def grade_for_gradescope(
    rubric_path: Path,
    submission_dir: Path,
    results_path: Path,
    output_format: OutputFormat,
    overrides: Overrides,
    echo: Callable[[str], object] = print,
) -> dict[str, Any]:
    """Grade the submission and write results.json, whatever happens; returns what was written."""
    from grader.grading.grade import grade_submission
    from grader.grading.submission import load_submission
    from grader.outputs.final_score import compute
    from grader.outputs.gradebook import Row, gradescope_results
    from grader.render.visibility import withheld_count
    from grader.result import Failure
    from grader.rubric.model import load_rubric

    results: dict[str, Any]
    try:
        loaded = load_rubric(rubric_path)
        path = find_submission(submission_dir, loaded.rubric.exercise)
        submission = load_submission(path)
        graded = grade_submission(submission, loaded, overrides)
        result = json.loads(graded.to_json())
        row = Row(submission.stem, path.name, result, None)
        lateness = gradescope_lateness(loaded.rubric, submission_dir.parent / METADATA_FILE)
        final = (
            compute(
                row.stem, result, row.status, lateness=lateness, withheld=withheld_count(result["checks"])
            )
            if lateness is not None
            else None
        )
        results = gradescope_results(row, final)
        if output_format != "text":
            results["output"] = feedback(result, output_format)
            results["output_format"] = output_format
            results["test_output_format"] = "text"
        echo(json.dumps(result, indent=2))
    except GradingError as exc:
        failure = Failure.from_error("submission", submission_dir.name, exc)
        results = gradescope_results(Row("submission", submission_dir.name, None, failure))
        results = _formatted_failure(results, output_format)
        echo(f"could not grade: {exc.message}")
    except Exception as exc:
        echo(traceback.format_exc())
        message = (
            f"The autograder itself failed ({type(exc).__name__}); this is not a problem with your submission. "
            "Your instructor can see the details."
        )
        results = _formatted_failure({"score": 0.0, "output": message, "tests": []}, output_format)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    partial = results_path.with_name(results_path.name + ".partial")
    partial.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, results_path)
    return results


METADATA_FILE = "submission_metadata.json"
"""Gradescope's own record of the upload, beside the submission folder (never in it: not the student's)."""
MAX_METADATA_BYTES = 1 << 20


def gradescope_lateness(rubric: Rubric, metadata: Path) -> Lateness | None:
    """How late the upload was by Gradescope's clock (`created_at`), under the rubric's `late:` penalty.

    The due date is the rubric's (a date without an offset read in UTC), else the assignment's as
    Gradescope records it. File times in the submission are the student's and are never read.
    None when the rubric sets no penalty, or the record is missing or unreadable.
    """
    from grader.rubric.late import LatePolicy, assess, in_zone, parse_instant

    if rubric.late is None or rubric.late.penalty is None:
        return None
    try:
        with metadata.open("rb") as handle:
            record = json.loads(handle.read(MAX_METADATA_BYTES))
        submitted = parse_instant(str(record["created_at"]))
        due = rubric.late.due
        if due is None:
            due = parse_instant(str(record["assignment"]["due_date"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    policy = LatePolicy(due=in_zone(due, UTC), penalty=rubric.late.penalty)
    return assess(policy, submitted, source="Gradescope")


def _formatted_failure(results: dict[str, Any], output_format: OutputFormat) -> dict[str, Any]:
    if output_format == "html":
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in str(results["output"]).splitlines())
        return {**results, "output": lines, "output_format": "html"}
    if output_format == "md":
        lines = "\n\n".join(md_escape(line) for line in str(results["output"]).splitlines())
        return {**results, "output": lines, "output_format": "md"}
    return results


def feedback(result: dict[str, Any], output_format: OutputFormat) -> str:
    """The top-level output every student sees: the student view, as an HTML fragment or Markdown."""
    if output_format == "html":
        return visibility.render_fragment(result, student_view=True)
    return markdown_summary(visibility.for_student(result))


def md_escape(value: object) -> str:
    """Text a student controls (their answers, their errors), shown as written in Markdown, on one line."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def markdown_summary(view: dict[str, Any]) -> str:
    lines = [f"**{md_escape(view['title'])}**: {view['score']:g} / {view['max_score']:g}"]
    if view.get("withheld"):
        lines[0] += f" on the visible checks; {view['withheld']} check(s) hidden until grading"
    lines += ["", "| | check | points | result |", "|---|---|---|---|"]
    lines += [_md_row(check) for check in view["checks"]]
    problems = [c for c in view["run"]["cells"] if c["status"] not in ("ok", "skipped")]
    for cell in problems:
        detail = f"{cell['error_name']}: {cell['error_value']}" if cell.get("error_name") else cell["status"]
        lines.append(f"\n- cell {cell['number']} ({cell['status']}): {md_escape(detail)}")
    return "\n".join(lines) + "\n"


def _md_row(check: dict[str, Any]) -> str:
    if check.get("withheld"):
        return f"| ? | {md_escape(check['id'])} | | *{check['withheld']}* |"
    mark = {"pass": "✔", "fail": "✘", "error": "!", "skipped": "–"}[check["status"]]
    points = f"{check['points']:g}/{check['max_points']:g}"
    return f"| {mark} | {md_escape(check['id'])} | {points} | {md_escape(check['message'])} |"
