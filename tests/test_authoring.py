"""`grade rubric ...`: drafting, linting, self-testing, listing and the schema, through the real CLI.

The self-tests grade real notebooks in real kernels, so every committed rubric is proven against
its solution and its examples; the tutorial in docs/authoring.md is run command by command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.authoring import new as authoring
from grader.grading import migration
from grader.grading.submission import Cell
from grader.rubric.data import CourseDataset
from tests.conftest import GRADE, REPO, GradeRunner, write_notebook

TUTORIAL = REPO / "docs" / "authoring.md"
TUTORIAL_EXERCISE = "digits-mlp"
FENCE = re.compile(r"^```(?P<lang>\w+)(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


# --- schema and list --------------------------------------------------------------------------


def test_schema_command_matches_the_committed_schema(grade_cli: GradeRunner) -> None:
    done = grade_cli("rubric", "schema")
    assert done.returncode == 0, done.stderr
    committed = (REPO / "docs" / "rubric.schema.json").read_text(encoding="utf-8")
    assert done.stdout == committed, (
        "docs/rubric.schema.json is stale: run `grade rubric schema > docs/rubric.schema.json`"
    )


def test_every_committed_rubric_points_its_modeline_at_the_schema() -> None:
    for path in sorted((REPO / "rubrics").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../docs/rubric.schema.json", path


def test_list_shows_each_rubric_with_its_title_and_points(grade_cli: GradeRunner, tmp_path: Path) -> None:
    shutil.copy(REPO / "rubrics" / "conv-dims.yaml", tmp_path / "conv-dims.yaml")
    (tmp_path / "broken.yaml").write_text("exercise: broken\ntitle: t\n", encoding="utf-8")
    done = grade_cli("rubric", "list", "--rubrics", tmp_path)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "conv-dims" in line)
    assert "Dimensionality of a convolutional layer" in row
    assert re.search(r"│\s+3\s+│\s+5\s+│\s+1\s+│", row), row
    broken = next(line for line in done.stdout.splitlines() if "broken" in line)
    assert "invalid" in broken


def test_list_of_the_project_names_every_rubric(grade_cli: GradeRunner) -> None:
    done = grade_cli("rubric", "list")
    assert done.returncode == 0, done.stderr
    for path in (REPO / "rubrics").glob("*.yaml"):
        assert path.stem in done.stdout


# --- check ------------------------------------------------------------------------------------


STAND_IN_RUBRICS = frozenset(
    {"transfer-learning", "bottleneck-features", "conv-visualization", "transfer-learning-vgg16"}
)
"""Rubrics whose course files and weights are not committed: exercises/transfer-learning/make_standins.py
writes stand-ins for them, and tests/test_transfer_learning.py grades their notebooks with those."""


def test_check_accepts_the_committed_rubrics_strictly(grade_cli: GradeRunner) -> None:
    paths = sorted((REPO / "rubrics").glob("*.yaml"))
    rubrics = [str(p.relative_to(REPO)) for p in paths if p.stem not in STAND_IN_RUBRICS]
    done = grade_cli("rubric", "check", "--strict", *rubrics)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok rubrics/") == len(rubrics)
    assert "warning" not in done.stdout


def test_the_stand_in_rubrics_check_with_their_data_elsewhere_and_not_without(grade_cli: GradeRunner) -> None:
    rubrics = [f"rubrics/{stem}.yaml" for stem in sorted(STAND_IN_RUBRICS)]
    elsewhere = grade_cli("rubric", "check", "--data-elsewhere", *rubrics)
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    assert elsewhere.stdout.count("ok rubrics/") == len(rubrics)
    assert "does not exist" in elsewhere.stdout and "error" not in elsewhere.stdout
    missing = grade_cli("rubric", "check", "rubrics/transfer-learning.yaml")
    assert missing.returncode == 3
    assert "data/transfer-learning" in missing.stdout


def test_check_reports_an_invalid_rubric_with_line_and_column_and_exits_3(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("exercise: x\ntitle: t\nchecks:\n  - id: a\n    points: 1\n    totl_params: 3\n")
    good = tmp_path / "good.yaml"
    shutil.copy(REPO / "rubrics" / "pool-dims.yaml", good)
    good.write_text(good.read_text().split("examples:")[0])
    done = grade_cli("rubric", "check", bad, good)
    assert done.returncode == 3
    assert f"{bad}:6:5: checks[0].totl_params: unknown key" in done.stdout
    assert f"ok {good}" in done.stdout


CONTRADICTIONS = """\
exercise: contradictions
title: Numbers that disagree with the lesson
model: {input_shape: [32, 32, 3]}
checks:
  - id: architecture
    points: 0
    layers:
      - {type: Conv2D, filters: 16, kernel_size: 2, padding: same, output_shape: [32, 32, 16], params: 192}
      - {type: MaxPooling2D, pool_size: 2, output_shape: [15, 15, 16]}
      - {type: Flatten}
      - {type: Dense, units: 10, params: 40970}
  - id: size
    points: 0
    total_params: 1000
  - id: output
    points: 0
    output_shape: [5]
solution: missing/solution.ipynb
examples:
  - {path: missing/student.ipynb, score: 0}
"""


def test_check_warns_about_numbers_that_contradict_the_formulas(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    rubric = tmp_path / "contradictions.yaml"
    rubric.write_text(CONTRADICTIONS, encoding="utf-8")
    done = grade_cli("rubric", "check", rubric)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    expected = [
        f"{rubric}:8:96: warning: layer 1 (Conv2D): params 192 contradicts the lesson's formula, "
        "which gives 208 = 16·2·2·3 + 16 from input (32, 32, 3)",
        f"{rubric}:9:44: warning: layer 2 (MaxPooling2D): output_shape (15, 15, 16) contradicts the "
        "lesson's formula, which gives (16, 16, 16) from input (32, 32, 16)",
        f"{rubric}:11:34: warning: layer 4 (Dense): params 40,970 contradicts the lesson's formula, "
        "which gives 36,010 = 10·3600 + 10 from input (3600,)",
        f"{rubric}:4:1: warning: the checks' points sum to zero, so every submission scores 0/0",
        f"{rubric}:18:1: warning: 'missing/solution.ipynb' does not exist (paths are relative to the rubric's folder)",
        f"{rubric}:20:6: warning: 'missing/student.ipynb' does not exist (paths are relative to the rubric's folder)",
        f"{rubric}:17:5: warning: output_shape (5,) differs from the last layer of `architecture` ((10,))",
    ]
    for line in expected:
        assert line in lines, f"missing: {line}\n--- got:\n{done.stdout}"
    assert f"ok {rubric}: 3 checks, 0 points, {len(expected)} warning(s)" in done.stdout
    strict = grade_cli("rubric", "check", "--strict", rubric)
    assert strict.returncode == 3
    assert "rejected (--strict)" in strict.stdout


def test_check_compares_total_params_with_the_sum_of_the_layers(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    rubric = tmp_path / "total.yaml"
    text = (REPO / "rubrics" / "cifar10-cnn.yaml").read_text(encoding="utf-8").split("examples:")[0]
    rubric.write_text(text.replace("total_params: 528054", "total_params: 528000"), encoding="utf-8")
    done = grade_cli("rubric", "check", rubric)
    assert done.returncode == 0
    assert "total_params 528,000 differs from the sum of the params of `architecture`'s layers (528,054)" in (
        done.stdout
    )


# --- new --------------------------------------------------------------------------------------


def test_new_will_not_overwrite_without_force(grade_cli: GradeRunner, tmp_path: Path) -> None:
    existing = tmp_path / "keep.yaml"
    existing.write_text("# mine\n", encoding="utf-8")
    done = grade_cli("rubric", "new", "--from", "exercises/conv-dims/solution.ipynb", "--out", existing)
    assert done.returncode == 2
    assert "pass --force" in done.stderr
    assert existing.read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.slow
def test_new_refuses_a_solution_without_a_model(grade: GradeRunner, tmp_path: Path) -> None:
    solution = write_notebook(tmp_path / "solution.ipynb", "answer = 42")
    done = grade("rubric", "new", "--from", solution)
    assert done.returncode == 4
    assert "defines no Keras model" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_new_measures_accuracy_and_suggests_tiers_that_the_solution_passes(
    grade: GradeRunner, tmp_path: Path
) -> None:
    solution = write_notebook(
        tmp_path / "solution.ipynb",
        "import keras\n"
        "model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),\n"
        "                          keras.layers.Dense(10, activation='softmax')])",
        exercise="tiny-digits",
    )
    out = tmp_path / "rubrics" / "tiny-digits.yaml"
    data = REPO / "rubrics" / "data" / "digits-test.npz"
    done = grade(
        "rubric", "new", "--from", solution, "--data", f"npz:{data}", "--rescale", "0.0625", "--out", out
    )
    assert done.returncode == 0, done.stderr
    assert "accuracy 0." in done.stderr and "on 360 images" in done.stderr
    text = out.read_text(encoding="utf-8")
    assert "# The solution scored 0." in text
    assert "preprocess: {rescale: 0.0625}" in text
    assert re.search(r"tiers: \[\{min: [0-9.]+, points: 3\}", text), text
    assert text.count("solution: ../solution.ipynb") == 1
    checked = grade("rubric", "check", "--strict", out)
    assert checked.returncode == 0, checked.stdout
    tested = grade("rubric", "test", out)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASS solution" in tested.stdout


def test_new_rejects_an_unknown_data_source(grade_cli: GradeRunner) -> None:
    done = grade_cli("rubric", "new", "--from", "exercises/conv-dims/solution.ipynb", "--data", "ftp:digits")
    assert done.returncode == 2
    assert "expected npz:PATH, sklearn:NAME or keras:NAME" in done.stderr


def test_a_dataset_option_reads_like_the_rubrics_datasets_key() -> None:
    assert authoring.parse_datasets(("cifar10:train=5000,test=1000", "mnist")) == (
        ("cifar10", CourseDataset(train=5000, test=1000)),
        ("mnist", CourseDataset()),
    )
    assert authoring.parse_dataset("fashion_mnist:npz=data/f.npz,seed=2") == (
        "fashion_mnist",
        CourseDataset(npz="data/f.npz", seed=2),
    )
    for bad, why in [
        ("imagenet", "unknown data set 'imagenet'; expected one of mnist, fashion_mnist, cifar10, cifar100"),
        ("cifar10:train=lots", "train: Input should be a valid integer"),
        ("cifar10:train=0", "train: Input should be greater than 0"),
        ("cifar10:size=5", "'size=5' is not KEY=VALUE with KEY one of train, test, seed, npz"),
        ("cifar10:train", "'train' is not KEY=VALUE"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            authoring.parse_dataset(bad)
    with pytest.raises(ValueError, match="cifar10 given more than once"):
        authoring.parse_datasets(("cifar10", "cifar10:train=5"))


def test_a_datasets_npz_is_written_relative_to_the_rubric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sets = authoring.parse_datasets(("mnist:npz=course/mnist.npz,train=50", "cifar10"))
    written = authoring._datasets_yaml(sets, tmp_path / "rubrics")
    assert {name: dict(spec) for name, spec in written.items()} == {
        "mnist": {"npz": "../course/mnist.npz", "train": 50},
        "cifar10": {},
    }


def test_the_keras2_layer_is_on_when_asked_or_when_the_scan_finds_keras2_idioms() -> None:
    legacy = migration.scan([Cell(number=1, source="from keras.utils import np_utils")])
    modern = migration.scan([Cell(number=1, source="from keras.utils import to_categorical")])
    assert legacy and not modern
    assert authoring.choose_compat(None, legacy) == "keras2"
    assert authoring.choose_compat(None, modern) is None
    assert authoring.choose_compat("keras2", modern) == "keras2"
    assert authoring.choose_compat("none", legacy) is None


def test_new_rejects_a_bad_dataset_option_before_running_anything(grade_cli: GradeRunner) -> None:
    done = grade_cli(
        "rubric", "new", "--from", "exercises/conv-dims/solution.ipynb", "--dataset", "cifar10:n=5"
    )
    assert done.returncode == 2
    assert "'n=5' is not KEY=VALUE" in done.stderr and "--dataset" in done.stderr


COURSE_SOLUTION = (
    "from keras.datasets import cifar10\n\n"
    "# load the pre-shuffled train and test data\n"
    "(x_train, y_train), (x_test, y_test) = cifar10.load_data()",
    "from keras.utils import np_utils\n\ny_train = np_utils.to_categorical(y_train, 10)",
    "from keras.models import Sequential\n"
    "from keras.layers.core import Dense, Flatten\n\n"
    "model = Sequential()\n"
    "model.add(Flatten(input_shape=x_train.shape[1:]))\n"
    "model.add(Dense(10, activation='softmax'))\n"
    "model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])\n"
    "hist = model.fit(x_train / 255, y_train, batch_size=32, nb_epoch=20, verbose=2)",
)


@pytest.fixture(scope="module")
def course_solution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solution as the 2017 course wrote it: `cifar10.load_data()` and Keras 2 idioms."""
    folder = tmp_path_factory.mktemp("cifar10-tiny")
    return write_notebook(folder / "solution.ipynb", *COURSE_SOLUTION, exercise="cifar10-tiny")


@pytest.mark.slow
def test_new_measures_a_keras2_course_notebook_with_its_data_set_offline(
    grade: GradeRunner, course_solution: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rubrics" / "cifar10-tiny.yaml"
    done = grade(
        "rubric", "new", "--from", course_solution, "--dataset", "cifar10:train=200,test=50",
        "--max-epochs", "1", "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the solution uses Keras 2 idioms (keras.utils.np_utils in cell 2, line 1, and " in done.stderr
    assert "the rubric says `compat: keras2`" in done.stderr
    text = out.read_text(encoding="utf-8")
    assert "\ncompat: keras2 # the solution is written for Keras 2\n" in text
    assert "\ntraining: {max_epochs: 1} # caps every fit call" in text
    assert "\n  cifar10: {train: 200, test: 50}\n" in text
    assert "- {type: Dense, units: 10, activation: softmax, output_shape: [10], params: 30730}" in text
    checked = grade("rubric", "check", "--strict", out)
    assert checked.returncode == 0, checked.stdout
    tested = grade("rubric", "test", out)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASS solution" in tested.stdout


@pytest.mark.slow
def test_new_says_which_option_a_course_notebook_needs(grade: GradeRunner, course_solution: Path) -> None:
    no_data = grade("rubric", "new", "--from", course_solution)
    assert no_data.returncode == 4
    assert "the solution's cell 1 did not run cleanly (Exception: URL fetch failure" in no_data.stderr
    assert "pass --dataset cifar10" in " ".join(no_data.stderr.split())
    no_layer = grade("rubric", "new", "--from", course_solution, "--dataset", "cifar10", "--compat", "none")
    assert no_layer.returncode == 4
    assert "the solution's cell 2 did not run cleanly" in no_layer.stderr
    assert "Pass --compat keras2" in " ".join(no_layer.stderr.split())


def test_check_warns_about_tiers_out_of_order_and_an_unreachable_full_mark(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    rubric = tmp_path / "tiers.yaml"
    rubric.write_text(
        "exercise: t\ntitle: t\nchecks:\n  - id: accuracy\n    points: 4\n    accuracy:\n"
        "      data: {sklearn: digits}\n      tiers: [{min: 0.5, points: 1}, {min: 0.9, points: 3}]\n"
    )
    done = grade_cli("rubric", "check", rubric)
    assert done.returncode == 0
    assert f"{rubric}:8:7: warning: tiers are listed out of order (min 0.5, 0.9)" in done.stdout
    assert "the top tier gives 3 of the check's 4 points" in done.stdout


# --- test -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_self_test_reports_every_difference_and_exits_1(grade: GradeRunner, tmp_path: Path) -> None:
    text = (REPO / "rubrics" / "pool-dims.yaml").read_text(encoding="utf-8").split("examples:")[0]
    text += (
        f"solution: {REPO / 'exercises' / 'pool-dims' / 'solution.ipynb'}\n"
        "examples:\n"
        f"  - path: {REPO / 'submissions' / 'pool-dims-script.py'}\n"
        "    score: 4\n"
        "    statuses: {height-answer: fail}\n"
    )
    rubric = tmp_path / "pool-dims.yaml"
    rubric.write_text(text, encoding="utf-8")
    done = grade("rubric", "test", rubric)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PASS solution" in done.stdout
    assert "FAIL example" in done.stdout
    assert "score 5, expected 4" in done.stdout
    assert "height-answer: pass, expected fail" in done.stdout


def test_self_test_without_a_solution_is_a_rubric_error(grade_cli: GradeRunner, tmp_path: Path) -> None:
    rubric = tmp_path / "orphan.yaml"
    rubric.write_text("exercise: orphan\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n")
    done = grade_cli("rubric", "test", rubric)
    assert done.returncode == 3
    assert "no reference solution for 'orphan'" in done.stderr
    assert "solution: PATH" in done.stderr


def test_an_example_must_expect_something_and_name_real_checks(
    grade_cli: GradeRunner, tmp_path: Path
) -> None:
    head = "exercise: x\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\nexamples:\n"
    vague = tmp_path / "vague.yaml"
    vague.write_text(head + "  - {path: s.ipynb}\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(head + "  - {path: s.ipynb, statuses: {b: pass}}\n")
    done = grade_cli("rubric", "check", vague, unknown)
    assert done.returncode == 3
    assert f"{vague}:6:5: examples[0]: an example needs `score`, `statuses` or both" in done.stdout
    assert "example 's.ipynb' names unknown check id(s) b; the checks are a" in done.stdout


SELF_TESTED = sorted(
    path.relative_to(REPO).as_posix()
    for path in (REPO / "rubrics").glob("*.yaml")
    # The tutorial test below runs `grade rubric test` on a byte-identical copy of this one; the
    # stand-in rubrics' notebooks are graded in tests/test_transfer_learning.py with their stand-ins.
    if path.stem != TUTORIAL_EXERCISE and path.stem not in STAND_IN_RUBRICS
)


@pytest.mark.slow
@pytest.mark.parametrize("rubric", SELF_TESTED)
def test_every_committed_rubric_passes_its_self_test(grade: GradeRunner, rubric: str) -> None:
    done = grade("rubric", "test", rubric)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS solution" in done.stdout
    assert "FAIL" not in done.stdout


# --- the tutorial -----------------------------------------------------------------------------


def tutorial_steps() -> list[tuple[str, str, str]]:
    """("run", command, expected output) and ("write", path, text), in the order of the doc."""
    steps: list[tuple[str, str, str]] = []
    for fence in FENCE.finditer(TUTORIAL.read_text(encoding="utf-8")):
        if fence["lang"] == "console":
            command, output = None, []
            for line in fence["body"].splitlines():
                if line.startswith("$ "):
                    if command is not None:
                        steps.append(("run", command, "\n".join(output)))
                    command, output = line[2:], []
                else:
                    output.append(line)
            if command is not None:
                steps.append(("run", command, "\n".join(output)))
        elif fence["lang"] == "yaml" and (title := re.search(r'title="([^"]+)"', fence["info"])):
            steps.append(("write", title[1], fence["body"]))
    return steps


def test_the_tutorial_has_the_steps_it_promises() -> None:
    commands = [step[1] for step in tutorial_steps() if step[0] == "run"]
    assert commands == [
        "grade rubric new --from exercises/digits-mlp/solution.ipynb --out rubrics/digits-mlp.yaml",
        "grade rubric check rubrics/digits-mlp.yaml",
        "grade rubric test rubrics/digits-mlp.yaml",
        "grade rubric list",
    ]
    written = {step[1]: step[2] for step in tutorial_steps() if step[0] == "write"}
    committed = (REPO / "rubrics" / f"{TUTORIAL_EXERCISE}.yaml").read_text(encoding="utf-8")
    assert written == {f"rubrics/{TUTORIAL_EXERCISE}.yaml": committed}


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    """Run the doc's commands in a copy of the project that has no rubrics yet."""
    project = tmp_path / "project"
    for folder in ("exercises", "submissions", "docs"):
        shutil.copytree(REPO / folder, project / folder)
    (project / "rubrics").mkdir()
    drafts: dict[str, str] = {}
    for kind, target, content in tutorial_steps():
        if kind == "write":
            drafts[target] = (project / target).read_text(encoding="utf-8")
            (project / target).write_text(content, encoding="utf-8")
            continue
        argv = shlex.split(target)
        assert argv[0] == "grade"
        done = subprocess.run(
            [str(GRADE), *argv[1:]],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )
        assert done.returncode == 0, f"$ {target}\n{done.stdout}{done.stderr}"
        printed = [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]
        for line in content.splitlines():
            assert line.rstrip() in printed, f"$ {target}: the doc shows {line!r}; it printed:\n{printed}"
    draft = drafts[f"rubrics/{TUTORIAL_EXERCISE}.yaml"]
    assert draft.startswith("# yaml-language-server: $schema=../docs/rubric.schema.json\n")
    assert _layer_lines(draft) == _layer_lines(
        (REPO / "rubrics" / f"{TUTORIAL_EXERCISE}.yaml").read_text(encoding="utf-8")
    ), "the hand-edited rubric's layers should be exactly the ones measured from the solution"


def _layer_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("- {type:")]
