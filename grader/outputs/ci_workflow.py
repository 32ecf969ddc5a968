"""The GitHub Actions workflow `grade ci init` writes: install the grader, `grade batch` a class, keep the reports.

The text is written out line by line rather than dumped from a mapping, so that the file an instructor
copies keeps its comments and its order; the tests parse it back and check every `grade` command in it
against the command line itself. Everything an option puts into a shell line is quoted for the shell.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Literal

FailOn = Literal["error", "failed-check", "never"]

HOSTED_RUNNER = "ubuntu-24.04"
GPU_RUNNER = ("self-hosted", "linux", "gpu")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$")
_UNSAFE = re.compile(r"[\x00-\x1f'\x7f]")


@dataclass(frozen=True)
class WorkflowOptions:
    """What the instructor chose; every field has the default `grade ci init` gives it."""

    gpu: bool = False
    submissions: str = "submissions"
    reports: str = "reports"
    rubric: str | None = None
    rubrics: str = "rubrics"
    grader: str = "."
    python: str = "3.11"
    fail_on: FailOn = "error"
    timeout_minutes: int = 120

    def __post_init__(self) -> None:
        for name in ("submissions", "reports", "rubric", "rubrics", "grader", "python"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or _UNSAFE.search(value)):
                raise ValueError(f"{name} {value!r}: empty, or holds a quote or a control character")
        if not re.fullmatch(r"3\.\d+", self.python):
            raise ValueError(f"python {self.python!r}: give a version such as 3.11")
        if self.reports.strip("/") in ("", "."):
            raise ValueError("reports must be a folder of its own, not the repository's root")


def requirement(grader: str, extra: str) -> str:
    """The pip requirement for the grader from `grader` (a path, a URL or a requirement) with `extra`."""
    if "://" in grader or grader.startswith("git+"):
        return f"grader[{extra}] @ {grader}"
    if grader.startswith((".", "/", "~")):
        return f"{grader.rstrip('/') or '/'}[{extra}]"
    match = _NAME.match(grader)
    if match is None:
        raise ValueError(f"grader {grader!r}: not a path, a URL or a requirement")
    name, rest = match.groups()
    return f"{name}[{extra}]{rest}"


def grade_command(options: WorkflowOptions) -> list[str]:
    """The `grade batch` command line the workflow runs (without the program's path)."""
    args = ["batch", options.submissions, "--out", options.reports, "--require-sandbox"]
    if options.rubric is not None:
        args += ["--rubric", options.rubric]
    else:
        args += ["--rubrics", options.rubrics]
    if options.gpu:
        args += ["--gpus", "all"]
    return args


def _glob(path: str) -> str:
    return path.strip("/").removeprefix("./") + "/**"


def workflow(options: WorkflowOptions) -> str:
    """The workflow's YAML text."""
    build = "gpu" if options.gpu else "cpu"
    watched = [_glob(options.submissions), _glob(options.rubrics)]
    if options.rubric is not None:
        watched.append(options.rubric.removeprefix("./"))
    paths = ", ".join(json.dumps(p) for p in watched)
    runs_on = f"[{', '.join(GPU_RUNNER)}]" if options.gpu else HOSTED_RUNNER
    python = f"python{options.python}" if options.gpu else "python"
    install = shlex.quote(requirement(options.grader, build))
    grade = shlex.join([".venv/bin/grade", *grade_command(options)])
    ends = {
        "error": "exit $code",
        "failed-check": "exit $code",
        "never": "exit 0   # --fail-on never: the exit code is in the job summary, the job passes",
    }[options.fail_on]
    reports = options.reports.rstrip("/")
    lines = [
        "# Written by `grade ci init`: grades every submission with `grade batch` and keeps the reports",
        "# (per-student HTML and JSON, gradebook.csv, junit.xml, index.html, gradescope/) as an artifact.",
        f"# Runner: {'self-hosted, labelled gpu, with the NVIDIA driver and bubblewrap' if options.gpu else 'GitHub-hosted Ubuntu'}.",
        f"# The job fails {_fails(options.fail_on)}.",
        "# See docs/ci.md in the grader.",
        "name: grade",
        "",
        "on:",
        "  workflow_dispatch:",
        "  push:",
        f"    paths: [{paths}]",
        "",
        "concurrency:",
        "  group: grade-${{ github.ref }}",
        "  cancel-in-progress: false",
        "",
        "jobs:",
        "  grade:",
        f"    runs-on: {runs_on}",
        f"    timeout-minutes: {options.timeout_minutes}",
        "    permissions:",
        "      contents: read",
        "      checks: write          # for the JUnit check run",
        "    steps:",
        "      - uses: actions/checkout@v4",
        "",
    ]
    if options.gpu:
        lines += [
            "      - name: GPU",
            "        run: nvidia-smi -L   # fails here, not hours later, on a runner with no GPU",
            "",
        ]
    else:
        lines += [
            "      - uses: actions/setup-python@v5",
            "        with:",
            f'          python-version: "{options.python}"',
            "",
            "      - name: Sandbox (bubblewrap)",
            "        run: |",
            "          sudo apt-get update -qq",
            "          sudo apt-get install -y -qq bubblewrap",
            "          # Ubuntu 24.04's AppArmor refuses the unprivileged user namespaces bubblewrap needs",
            "          sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 || true",
            "",
        ]
    lines += [
        f"      - name: Install the grader (TensorFlow's {build.upper()} build)",
        "        run: |",
        f"          {python} -m venv .venv",
        "          .venv/bin/python -m pip install -q --upgrade pip",
        "          # a clone of the grader pins every version in constraints.txt",
        '          constraints=""; if [ -f constraints.txt ]; then constraints="-c constraints.txt"; fi',
        f"          .venv/bin/python -m pip install -q $constraints {install}",
        "",
        "      # Results of unchanged submissions are reused, so a push that adds a few grades only those.",
        "      - name: Restore earlier results",
        "        uses: actions/cache@v4",
        "        with:",
        f"          path: {json.dumps(reports)}",
        "          key: reports-${{ github.ref_name }}-${{ github.sha }}",
        "          restore-keys: reports-${{ github.ref_name }}-",
        "",
        "      - name: Grade",
        "        id: grade",
        "        run: |",
        "          set +e",
        f"          {grade}",
        "          code=$?",
        '          echo "exit_code=$code" >> "$GITHUB_OUTPUT"',
        f"          {ends}",
        "",
        "      - name: Publish JUnit results",
        f"        if: {_present(reports + '/junit.xml')}",
        "        uses: mikepenz/action-junit-report@v4",
        "        with:",
        f"          report_paths: {json.dumps(reports + '/junit.xml')}",
        "          check_name: grading",
        f"          fail_on_failure: {'true' if options.fail_on == 'failed-check' else 'false'}",
        "          include_passed: true",
        "",
        "      - name: Class summary",
        f"        if: {_present(reports + '/gradebook.csv')}",
        "        run: |",
        "          {",
        '            echo "## Grading: exit code ${{ steps.grade.outputs.exit_code }}"',
        "            echo",
        "            echo '```'",
        f"            column -s, -t < {shlex.quote(reports + '/gradebook.csv')} | head -200",
        "            echo '```'",
        '          } >> "$GITHUB_STEP_SUMMARY"',
        "",
        "      - name: Upload reports",
        "        if: always()",
        "        uses: actions/upload-artifact@v4",
        "        with:",
        "          name: grading-reports-${{ github.run_number }}",
        "          path: |",
        f"            {reports}/",
        f"            !{reports}/.keys/",
        "          retention-days: 30",
        "          if-no-files-found: warn",
    ]
    return "\n".join(lines) + "\n"


def _present(path: str) -> str:
    """A step's `if:` for "always, once `path` exists", quoted so that any folder name stays one YAML scalar."""
    return json.dumps(f"always() && hashFiles('{path}') != ''")


def _fails(fail_on: FailOn) -> str:
    return {
        "error": "when grade batch does (bad rubric, no submissions, grader failure, no sandbox), never for a score",
        "failed-check": "when grade batch does, and when any student fails a check",
        "never": "never: grade batch's exit code is in the job summary",
    }[fail_on]
