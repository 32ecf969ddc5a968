"""`%grade`: a self-check inside a running notebook, with no restart and no re-run.

```
%load_ext grader
%grade                      # the exercise in the notebook's metadata (grader.exercise); the notebook is
                            # found under a Jupyter server, VS Code, nbclient or Colab (see notebook_path)
%grade cifar10-cnn          # looked up as cifar10-cnn.yaml in student/, rubrics/ or the notebook's folder
%grade --rubric student/cifar10-cnn.yaml
```

The live kernel's models are saved exactly as the grader's probe saves them after a student's
cells (`grader.inside.kernel.probe`, called here in-process: in the student's own Jupyter the grader is
importable), the saved files are accepted as the grader accepts a kernel's leftovers
(`grader.grading.artifacts`), and they are measured and evaluated in a separate process, the inspector
(`grader.grading.inspector`), under bubblewrap where it is installed. The checks are the rubric's, scored
by the same code as a grade (`grader.grading.grade.score_execution`); the display is the student view
(`grader.render.visibility`): hidden checks say only "hidden until grading". The result is marked a
self-check, not a grade: the student's own kernel is not sandboxed, and the rubric is the one the
student has.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GradingError

if TYPE_CHECKING:
    from grader.result import GradeResult
    from grader.rubric.model import LoadedRubric

RUBRIC_FOLDERS = ("student", "rubrics", ".")
NOTE = "self-check in the running kernel: the models and variables as they are now, without re-running the notebook"


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext grader` registers `%grade`."""
    ipython.register_magic_function(grade_magic, magic_kind="line", magic_name="grade")


def grade_magic(line: str) -> None:
    """%grade [EXERCISE] [--rubric PATH] [--rubrics DIR]: check the running notebook's models against a rubric."""
    from IPython import get_ipython
    from IPython.core.error import UsageError
    from IPython.display import display

    from grader.render.visibility import render_fragment

    arguments = parse_line(line)
    shell = get_ipython()
    notebook = notebook_path(shell.user_ns if shell is not None else {})
    try:
        loaded = resolve(arguments, notebook)
        result = self_check(loaded, notebook.name if notebook else "this notebook")
    except GradingError as exc:
        raise UsageError(exc.message + (f"\nhint: {exc.hint}" if exc.hint else "")) from None
    shown = json.loads(result.to_json())
    display(
        {"text/html": render_fragment(shown, student_view=True), "text/plain": text_summary(result)}, raw=True
    )


def parse_line(line: str) -> dict[str, str | None]:
    """The magic's arguments; a `UsageError` (shown without a traceback) for anything else."""
    import argparse
    import shlex

    from IPython.core.error import UsageError

    parser = argparse.ArgumentParser(prog="%grade", add_help=False, exit_on_error=False)
    parser.add_argument("exercise", nargs="?")
    parser.add_argument("--rubric")
    parser.add_argument("--rubrics")
    try:
        parsed, unknown = parser.parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"%grade: {exc}; usage: %grade [EXERCISE] [--rubric PATH] [--rubrics DIR]") from None
    if unknown:
        raise UsageError(
            f"%grade: unknown argument(s) {' '.join(unknown)}; usage: %grade [EXERCISE] [--rubric PATH]"
        )
    return {"exercise": parsed.exercise, "rubric": parsed.rubric, "rubrics": parsed.rubrics}


NOTEBOOK_NAMES = ("__session__", "__vsc_ipynb_file__")
"""Where frontends put the notebook's path in the kernel's namespace: Jupyter's server (`__session__`),
VS Code (`__vsc_ipynb_file__`)."""


def notebook_path(user_ns: dict[str, Any], folder: Path | None = None) -> Path | None:
    """The notebook this kernel runs, from whatever the frontend says, else the one notebook in its folder.

    Jupyter's server and VS Code name it in the namespace, jupyter_server 2 in `JPY_SESSION_NAME`;
    nbclient (and Colab) name nothing, but run the kernel in the notebook's folder: a single
    notebook there, or a single one that names an exercise, is the one.
    """
    named = [user_ns.get(name) for name in NOTEBOOK_NAMES] + [os.environ.get("JPY_SESSION_NAME")]
    for candidate in named:
        if isinstance(candidate, str) and candidate.endswith(".ipynb") and Path(candidate).is_file():
            return Path(candidate)
    return _only_notebook(folder or Path.cwd())


def _only_notebook(folder: Path) -> Path | None:
    from grader.grading.submission import load_submission

    try:
        notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())
    except OSError:
        return None
    if len(notebooks) == 1:
        return notebooks[0]
    naming = []
    for notebook in notebooks[:50]:
        try:
            if load_submission(notebook).exercise is not None:
                naming.append(notebook)
        except GradingError:
            continue
    return naming[0] if len(naming) == 1 else None


def resolve(arguments: dict[str, str | None], notebook: Path | None) -> LoadedRubric:
    """The rubric: `--rubric`, else the exercise (given, or the notebook's metadata) in the rubric folders."""
    from grader.errors import RubricError
    from grader.grading.submission import load_submission
    from grader.rubric.model import load_rubric

    if arguments["rubric"]:
        return load_rubric(Path(arguments["rubric"]).expanduser())
    exercise = arguments["exercise"]
    if exercise is None and notebook is not None:
        exercise = load_submission(notebook).exercise
    if exercise is None:
        found = (
            f"{notebook.name} names none (metadata grader.exercise)"
            if notebook
            else ("this kernel did not say which notebook it runs")
        )
        raise RubricError(
            f"which exercise? {found}",
            hint="name it: %grade EXERCISE (e.g. %grade cifar10-cnn), or %grade --rubric PATH/TO/RUBRIC.yaml",
        )
    bases = [Path.cwd(), *([notebook.parent] if notebook else [])]
    folders = (
        [Path(arguments["rubrics"])]
        if arguments["rubrics"]
        else [b / f for b in bases for f in RUBRIC_FOLDERS]
    )
    for folder in folders:
        for suffix in (".yaml", ".yml"):
            if (folder / f"{exercise}{suffix}").is_file():
                return load_rubric(folder / f"{exercise}{suffix}")
    looked = ", ".join(str(f) for f in dict.fromkeys(folders))
    raise RubricError(
        f"no rubric for exercise {exercise!r} (looked in {looked})", hint="%grade --rubric PATH"
    )


def self_check(loaded: LoadedRubric, submission: str) -> GradeResult:
    """Save this kernel's models as the probe does, and score them in the inspector: a `GradeResult`."""
    from grader.grading import artifacts, grade
    from grader.grading.probe import manifest_from_output
    from grader.inside.kernel import probe
    from grader.result import KernelSetup, RunFacts
    from grader.sandbox import bwrap

    rubric = loaded.rubric
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grader-selfcheck-") as workspace:
        folder = Path(workspace) / "artifacts"
        (folder / "probe").mkdir(parents=True)
        kept = Path(workspace) / "kept"
        input_shape = list(rubric.model.input_shape) if rubric.model.input_shape else None
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            probe.save_models_and_facts(str(folder / "probe"), list(rubric.variables), input_shape)
        manifest = manifest_from_output(printed.getvalue())
        accepted = artifacts.collect(folder, "probe", kept, manifest)
        run = RunFacts(
            duration_s=round(time.monotonic() - began, 3),
            device=accepted.facts.device if accepted.facts else "CPU",
            sandboxed=False,
            failing_cells=(),
            cells=(),
            notes=(NOTE,),
        )
        execution = grade.Execution(
            submission=submission,
            run=run,
            probe=accepted.facts,
            models=tuple(
                grade.StoredModel(variable=m.variable, file=m.path.name, sha256=m.sha256, size=m.size)
                for m in accepted.models.values()
            ),
            notes=accepted.refusals,
            kernel_setup=KernelSetup(seed=rubric.seed),
        )
        result = grade.score_execution(
            execution, loaded, kept, sandboxed_inspector=bwrap.bwrap_problem() is None
        )
    duration = round(time.monotonic() - began, 3)
    return result.model_copy(
        update={"self_check": True, "run": result.run.model_copy(update={"duration_s": duration})}
    )


def text_summary(result: GradeResult) -> str:
    """The terminal summary in student view, for frontends that show no HTML."""
    from rich.console import Console

    from grader.render.report import print_summary

    buffer = io.StringIO()
    print_summary(
        result,
        (),
        Console(file=buffer, width=100, color_system=None, highlight=False, force_jupyter=False),
        student_view=True,
    )
    return buffer.getvalue()
