"""`grade ci init`: the workflow it writes is YAML GitHub can read, and every `grade` command in it is valid.

The workflow is parsed back; its `grade` commands go through the real command line's parser (the group,
then the subcommand, as `grade` would parse them); its grade step runs in bash against a stand-in `grade`
that exits with a chosen code, to see which exit codes fail the job under each `--fail-on`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from ruamel.yaml import YAML

from grader.cli import main
from grader.outputs.ci_workflow import WorkflowOptions, requirement, workflow

GRADE = ".venv/bin/grade"


def init(tmp_path: Path, *args: str) -> tuple[click.testing.Result, Path]:
    out = tmp_path / ".github" / "workflows" / "grade.yml"
    result = CliRunner().invoke(main, ["ci", "init", "--out", str(out), *args])
    return result, out


def load(text: str) -> dict[str, Any]:
    loaded = YAML(typ="safe").load(text)
    assert isinstance(loaded, dict)
    return loaded


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["jobs"]["grade"]["steps"])


def step(document: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in steps(document) if s.get("name") == name or s.get("uses", "").startswith(name)]
    assert len(found) == 1, (
        f"no single step {name!r} in {[s.get('name', s.get('uses')) for s in steps(document)]}"
    )
    return found[0]


def grade_commands(document: dict[str, Any]) -> list[list[str]]:
    """Every `grade ...` command in the workflow's shell steps, split as bash would split it."""
    commands = []
    for each in steps(document):
        for line in str(each.get("run", "")).splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] in (GRADE, "grade"):
                commands.append(words[1:])
    return commands


def parse_grade(args: list[str]) -> click.Context:
    """Parse `grade ARGS` the way the command line does, down to the subcommand; raise what it would raise."""
    with main.make_context("grade", list(args)) as group:
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 9.0 puts them in args
            warnings.simplefilter("ignore", DeprecationWarning)
            words = [*group.protected_args, *group.args]
        name, command, rest = main.resolve_command(group, words)
        assert command is not None and name is not None
        return command.make_context(name, rest, parent=group)


OPTION_SETS = [
    (),
    ("--gpu",),
    ("--rubric", "rubrics/conv-dims.yaml", "--fail-on", "never"),
    ("--gpu", "--submissions", "week 3/subs", "--reports", "out/week3", "--fail-on", "failed-check"),
    ("--grader", "git+https://github.com/example/grader@v0.1.0", "--rubrics", "course-rubrics"),
    ("--grader", "grader==0.1.0", "--python", "3.12"),
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: " ".join(o) or "defaults")
def test_every_grade_command_in_the_workflow_is_a_valid_invocation(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    result, out = init(tmp_path, *options)
    assert result.exit_code == 0, result.output
    document = load(out.read_text(encoding="utf-8"))
    commands = grade_commands(document)
    assert len(commands) == 1
    context = parse_grade(commands[0])
    assert context.command.name == "batch"
    assert context.params["require_sandbox"] is True
    if "--gpu" in options:
        assert context.params["gpus"] == "all"
    if "--submissions" in options:
        assert context.params["target"] == "week 3/subs"
        assert context.params["out_dir"] == Path("out/week3")
    if "--rubric" in options:
        assert context.params["rubric_path"] == Path("rubrics/conv-dims.yaml")


def test_the_validator_refuses_what_grade_would_refuse() -> None:
    """The check above is real: a misspelt option or a bad value is a usage error here, as for `grade`."""
    with pytest.raises(click.UsageError):
        parse_grade(["batch", "submissions", "--gpu", "all"])
    with pytest.raises(click.BadParameter):
        parse_grade(["batch", "submissions", "--executor", "kubernetes"])
    assert parse_grade(["batch", "submissions", "--gpus", "all"]).params["gpus"] == "all"


def test_cpu_workflow_installs_the_cpu_build_on_a_hosted_runner_and_uploads_the_reports(
    tmp_path: Path,
) -> None:
    result, out = init(tmp_path)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    document = load(out.read_text(encoding="utf-8"))
    assert set(document["on"]) == {"workflow_dispatch", "push"}
    assert document["on"]["push"]["paths"] == ["submissions/**", "rubrics/**"]
    job = document["jobs"]["grade"]
    assert job["runs-on"] == "ubuntu-24.04"
    assert job["permissions"] == {"contents": "read", "checks": "write"}
    uses = [s["uses"].split("@")[0] for s in steps(document) if "uses" in s]
    assert uses == [
        "actions/checkout",
        "actions/setup-python",
        "actions/cache",
        "mikepenz/action-junit-report",
        "actions/upload-artifact",
    ]
    assert step(document, "actions/setup-python")["with"] == {"python-version": "3.11"}
    assert "apt-get install -y -qq bubblewrap" in step(document, "Sandbox (bubblewrap)")["run"]
    install = step(document, "Install the grader (TensorFlow's CPU build)")["run"]
    assert "python -m venv .venv" in install
    assert "-c constraints.txt" in install
    assert install.rstrip().endswith("$constraints '.[cpu]'")
    assert not any("nvidia-smi" in str(s.get("run", "")) for s in steps(document))
    upload = step(document, "Upload reports")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["reports/", "!reports/.keys/"]
    junit = step(document, "Publish JUnit results")["with"]
    assert junit["report_paths"] == "reports/junit.xml"
    assert junit["fail_on_failure"] is False
    assert step(document, "actions/cache")["with"]["path"] == "reports"


def test_gpu_workflow_runs_on_the_gpu_runner_with_the_cuda_build(tmp_path: Path) -> None:
    result, out = init(tmp_path, "--gpu")
    assert result.exit_code == 0, result.output
    document = load(out.read_text(encoding="utf-8"))
    assert document["jobs"]["grade"]["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert step(document, "GPU")["run"].split("#")[0].split() == ["nvidia-smi", "-L"]
    install = step(document, "Install the grader (TensorFlow's GPU build)")["run"]
    assert "python3.11 -m venv .venv" in install
    assert install.rstrip().endswith("'.[gpu]'")
    assert "[cpu]" not in install
    assert not any(s.get("uses", "").startswith("actions/setup-python") for s in steps(document))
    assert grade_commands(document)[0][-2:] == ["--gpus", "all"]


def run_grade_step(tmp_path: Path, document: dict[str, Any], exit_code: int) -> tuple[int, str]:
    """The grade step's script in bash, with a stand-in `.venv/bin/grade` that exits `exit_code`."""
    fake = tmp_path / ".venv" / "bin" / "grade"
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    fake.chmod(0o755)
    output = tmp_path / "github_output"
    output.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(
        ["bash", "-e", "-c", step(document, "Grade")["run"]], cwd=tmp_path, env=env, check=False, timeout=60
    )
    return done.returncode, output.read_text()


@pytest.mark.parametrize(
    ("fail_on", "batch_exit", "job_exit", "junit_fails"),
    [
        ("error", 0, 0, False),
        ("error", 5, 5, False),
        ("error", 3, 3, False),
        ("never", 5, 0, False),
        ("failed-check", 0, 0, True),
        ("failed-check", 6, 6, True),
    ],
)
def test_fail_on_decides_which_outcomes_fail_the_job(
    tmp_path: Path, fail_on: str, batch_exit: int, job_exit: int, junit_fails: bool
) -> None:
    result, out = init(tmp_path, "--fail-on", fail_on)
    assert result.exit_code == 0, result.output
    document = load(out.read_text(encoding="utf-8"))
    code, recorded = run_grade_step(tmp_path, document, batch_exit)
    assert code == job_exit
    assert recorded == f"exit_code={batch_exit}\n"
    assert step(document, "Publish JUnit results")["with"]["fail_on_failure"] is junit_fails


def test_an_existing_workflow_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / ".github" / "workflows" / "grade.yml"
    out.parent.mkdir(parents=True)
    out.write_text("name: mine\n")
    result, _ = init(tmp_path)
    assert result.exit_code == 2
    assert "exists; --force overwrites it" in result.output
    assert out.read_text() == "name: mine\n"
    result, _ = init(tmp_path, "--force", "--gpu")
    assert result.exit_code == 0, result.output
    assert load(out.read_text())["jobs"]["grade"]["runs-on"] == ["self-hosted", "linux", "gpu"]


def test_dash_writes_to_standard_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ci", "init", "--out", "-"])
    assert result.exit_code == 0
    assert load(result.stdout) == load(workflow(WorkflowOptions()))
    assert not (tmp_path / ".github").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--submissions", "subs'; rm -rf ~; echo '"),
        ("--reports", "."),
        ("--python", "latest"),
        ("--grader", "a\nb"),
        ("--fail-on", "sometimes"),
    ],
)
def test_values_that_cannot_be_written_safely_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    result, out = init(tmp_path, *args)
    assert result.exit_code == 2
    assert not out.exists()


def test_a_folder_with_shell_and_yaml_characters_stays_one_argument(tmp_path: Path) -> None:
    result, out = init(tmp_path, "--submissions", "week #3: $HOME & co", "--reports", "out: [a]")
    assert result.exit_code == 0, result.output
    document = load(out.read_text(encoding="utf-8"))
    context = parse_grade(grade_commands(document)[0])
    assert context.params["target"] == "week #3: $HOME & co"
    assert context.params["out_dir"] == Path("out: [a]")
    assert step(document, "actions/cache")["with"]["path"] == "out: [a]"
    assert (
        step(document, "Publish JUnit results")["if"] == "always() && hashFiles('out: [a]/junit.xml') != ''"
    )
    assert document["on"]["push"]["paths"][0] == "week #3: $HOME & co/**"


@pytest.mark.parametrize(
    ("grader", "extra", "expected_name", "expected_url", "expected_specifier"),
    [
        (
            "git+https://github.com/example/grader@v0.1.0",
            "gpu",
            "grader",
            "git+https://github.com/example/grader@v0.1.0",
            "",
        ),
        ("grader==0.1.0", "cpu", "grader", None, "==0.1.0"),
        ("grader>=0.1,<0.2", "gpu", "grader", None, "<0.2,>=0.1"),
    ],
)
def test_the_grader_requirement_is_one_pip_reads_with_the_extra(
    grader: str, extra: str, expected_name: str, expected_url: str | None, expected_specifier: str
) -> None:
    parsed = Requirement(requirement(grader, extra))
    assert parsed.name == expected_name
    assert parsed.extras == {extra}
    assert parsed.url == expected_url
    assert str(parsed.specifier) == expected_specifier


def test_a_path_gets_the_extra_as_pip_spells_it_for_paths() -> None:
    assert requirement(".", "cpu") == ".[cpu]"
    assert requirement("./vendor/grader/", "gpu") == "./vendor/grader[gpu]"
