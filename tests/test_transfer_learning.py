"""Transfer learning (issue #22, item 4): a nested pretrained base as one row, the course's notebooks graded verbatim.

The fast tests hold the parts to their contracts: the rubric's `type: VGG16` rows and their
settings, the lesson's explanations of a base's settings, `scipy.misc.imresize` as SciPy had it
before 1.3 and its migration hint. The Keras tests (real models, no kernel) hold the inspector's
identification of a base by its structure (a renamed VGG-16 is one, a model called "vgg16" is
not), the vetting of a nested application's config, and `get_file` answering a real
`VGG16(weights='imagenet')` with a stand-in weights file whose hash is not ImageNet's.

The slow tests grade, through one real `grade batch`, the course's transfer_learning.ipynb,
bottleneck_features.ipynb and conv_visualization.ipynb as the course wrote them, with stand-in
course files and VGG-16 weights (exercises/transfer-learning/make_standins.py, once per session:
nothing is downloaded or committed), and the VGG-16 exercise's solution, its two wrong twins and a
hostile fake base.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.errors import RubricError
from grader.grading import migration
from grader.grading.submission import Cell
from grader.inside.kernel import idioms, keras2, records
from grader.result import CellOutcome
from grader.rubric import applications, formulas
from grader.rubric.model import parse_rubric

from .conftest import REPO, Graded, run_grade

STANDINS = REPO / "exercises" / "transfer-learning" / "make_standins.py"
COURSE_RUBRICS = ("transfer-learning", "bottleneck-features", "conv-visualization")
VGG16_EXERCISE = REPO / "exercises" / "transfer-learning-vgg16"
VGG16_NOTEBOOKS = ("solution", "trainable-base", "include-top", "fake-base")
NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_FEATURES = 14_714_688


def rubric_with(row: str) -> str:
    return textwrap.dedent(
        f"""\
        exercise: base
        title: a base row
        model: {{input_shape: [32, 32, 3]}}
        checks:
          - id: architecture
            points: 1
            layers:
              - {row}
        """
    )


# --- the rubric's base rows -------------------------------------------------------------------


def test_a_base_row_with_the_settings_a_base_has_loads() -> None:
    rubric = parse_rubric(
        rubric_with(
            "{type: VGG16, include_top: false, trainable: false, layers: 19, trainable_params: 0, "
            "non_trainable_params: 14714688, params: 14714688, output_shape: [1, 1, 512]}"
        )
    )
    (row,) = rubric.checks[0].layers or []
    assert (
        row.attributes()["include_top"] is False
        and row.attributes()["non_trainable_params"] == VGG16_FEATURES
    )


def test_a_misspelt_setting_of_a_base_names_the_nearest_one() -> None:
    with pytest.raises(RubricError) as error:
        parse_rubric(rubric_with("{type: VGG16, include_tops: false}"))
    assert "include_tops" in str(error.value) and "did you mean include_top?" in str(error.value)
    assert "keras.applications.VGG16's constructor" in str(error.value)


def test_a_layer_setting_on_a_base_row_is_refused() -> None:
    with pytest.raises(RubricError) as error:
        parse_rubric(rubric_with("{type: VGG16, filters: 64}"))
    assert "unknown key 'filters'" in str(error.value)


def test_a_misspelt_base_is_told_the_nearest_base() -> None:
    assert applications.nearest("VGG61") == "VGG16"
    assert applications.nearest("mobilenetv2") == "MobileNetV2"
    assert applications.nearest("Conv2D") is None


def test_a_misspelt_base_type_in_a_rubric_suggests_the_base() -> None:
    with pytest.raises(RubricError) as error:
        parse_rubric(rubric_with("{type: VGG61, include_top: false}"))
    assert "did you mean" in str(error.value) and "VGG16" in str(error.value)


def test_the_rubric_side_names_every_base_the_inspector_recognises() -> None:
    from grader.inside.inspector import bases

    assert set(applications.BASES) == set(bases.TABLE)
    assert {"VGG16", "VGG19", "ResNet50", "MobileNetV2", "InceptionV3"} <= set(applications.BASES)


def test_a_base_setting_is_explained_in_the_lessons_terms() -> None:
    frozen = formulas.explain_setting("VGG16", "trainable", True, False)
    assert frozen is not None and "non-trainable" in frozen and "base.trainable = False" in frozen
    top = formulas.explain_setting("VGG16", "include_top", True, False)
    assert top is not None and "fc1, fc2" in top and "removes" in top
    assert "True" in (formulas.explain_setting("ResNet50", "trainable", False, True) or "")
    assert formulas.explain_setting("Dense", "trainable", True, False) is None
    assert formulas.explain_setting("VGG16", "trainable", False, False) is None


# --- scipy.misc.imresize ----------------------------------------------------------------------


def test_imresize_takes_a_fraction_a_percentage_or_a_height_and_width() -> None:
    gray = (np.arange(100 * 200) % 251).astype(np.uint8).reshape(100, 200)
    assert keras2.imresize(gray, 0.3).shape == (30, 60)
    assert keras2.imresize(gray, 50).shape == (50, 100)
    assert keras2.imresize(gray, (7, 9)).shape == (7, 9)
    rgb = np.zeros((10, 12, 3), np.uint8)
    assert keras2.imresize(rgb, 0.5).shape == (5, 6, 3)
    assert all(keras2.imresize(gray, 0.5, interp=name).dtype == np.uint8 for name in keras2.IMRESIZE_FILTERS)


def test_imresize_byte_scales_an_array_that_is_not_uint8() -> None:
    """scipy's bytescale: the minimum becomes 0, the maximum 255, rounded half up."""
    values = np.array([[-1.0, 0.0], [0.5, 1.0]])
    assert keras2.imresize(values, 1.0, interp="nearest").tolist() == [[0, 128], [191, 255]]
    flat = np.full((4, 4), 7.5)
    assert keras2.imresize(flat, 1.0).tolist() == np.zeros((4, 4), int).tolist()


def test_imresize_refuses_what_scipy_refused() -> None:
    with pytest.raises(ValueError, match="interp"):
        keras2.imresize(np.zeros((4, 4), np.uint8), 0.5, interp="area")
    with pytest.raises(ValueError, match="suitable array shape"):
        keras2.imresize(np.zeros((4, 4, 5), np.uint8), 0.5)


@pytest.mark.filterwarnings("ignore:scipy.misc is deprecated:DeprecationWarning")
def test_the_layer_provides_imresize_and_records_each_use(monkeypatch: pytest.MonkeyPatch) -> None:
    misc = importlib.import_module("scipy.misc")
    monkeypatch.setattr(misc, "imresize", None, raising=False)
    delattr(misc, "imresize")
    monkeypatch.setattr(records, "USES", [])
    keras2._install_imresize()
    assert misc.imresize(np.zeros((10, 10), np.uint8), 0.5).shape == (5, 5)
    assert [use["idiom"] for use in records.USES] == [idioms.IMRESIZE.name]


def test_without_the_layer_imresize_is_hinted_and_its_error_explained() -> None:
    source = "import scipy.misc\nsmall_img = scipy.misc.imresize(gray_img, 0.3)\n"
    assert [hint.idiom for hint in migration.scan([Cell(number=1, source=source)])] == [idioms.IMRESIZE.name]
    imported = "from scipy.misc import imresize\n"
    assert [hint.idiom for hint in migration.scan([Cell(number=1, source=imported)])] == [
        idioms.IMRESIZE.name
    ]
    outcome = CellOutcome(
        number=1,
        source=source,
        status="error",
        error_name="AttributeError",
        error_value="module 'scipy.misc' has no attribute 'imresize'",
    )
    sentence = migration.explain(outcome)
    assert (
        sentence is not None
        and "SciPy 1.3" in sentence
        and "PIL" in sentence
        and "compat: keras2" in sentence
    )


# --- the inspector: a base told by its structure (real Keras models, no kernel) ----------------

MEASURE = """
import json, os, sys, tempfile
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from pathlib import Path
import keras
from grader.inside.inspector import measure, vetting

layers = keras.layers
folder = Path(tempfile.mkdtemp())
def head(base, name):
    model = keras.Sequential([keras.Input((32, 32, 3)), base, layers.Flatten(), layers.Dense(3)])
    model.save(folder / f"{name}.keras")
    loaded = measure.load_model(folder / f"{name}.keras")
    return [row.model_dump() for row in measure.measure(loaded, "model").layers]

renamed = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
renamed.name = "my_feature_extractor"
renamed.trainable = False
tuned = keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3))
for layer in tuned.layers[:-10]:
    layer.trainable = False
twin = keras.Sequential(
    [keras.Input((32, 32, 3))]
    + [layers.Conv2D(8, 3, padding="same", activation="relu", name=f"block1_conv{i}") for i in (1, 2)]
    + [layers.MaxPooling2D(2, name="block1_pool")],
    name="vgg16",
)
rows = {"renamed": head(renamed, "renamed"), "tuned": head(tuned, "tuned"), "twin": head(twin, "twin")}
print("ROWS " + json.dumps(rows))
"""


@pytest.fixture(scope="module")
def measured() -> dict[str, list[dict[str, Any]]]:
    """Three nested bases measured from their saved files, in a fresh process (Keras is imported there)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=600, cwd=REPO, check=False
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("ROWS ")), None)
    assert line is not None, done.stderr[-3000:]
    return dict(json.loads(line.removeprefix("ROWS ")))


@pytest.mark.slow
def test_a_renamed_frozen_vgg16_is_one_row_of_its_application(measured: dict[str, Any]) -> None:
    base, flatten, dense = measured["renamed"]
    assert (base["kind"], base["type"], base["name"]) == ("model", "VGG16", "my_feature_extractor")
    assert base["config"] == {
        "trainable": False,
        "layers": 20,
        "trainable_params": 0,
        "non_trainable_params": VGG16_FEATURES,
        "include_top": False,
        "pooling": "max",
    }
    assert base["params"] == VGG16_FEATURES and base["output_shape"] == [512]
    assert [flatten["type"], dense["type"]] == ["Flatten", "Dense"]


@pytest.mark.slow
def test_a_partly_fine_tuned_mobilenet_has_trainable_and_frozen_parameters(measured: dict[str, Any]) -> None:
    base = measured["tuned"][0]
    assert base["type"] == "MobileNetV2" and base["config"]["include_top"] is False
    config = base["config"]
    assert (
        config["trainable"] is True and config["trainable_params"] > 0 and config["non_trainable_params"] > 0
    )
    assert config["trainable_params"] + config["non_trainable_params"] == base["params"]


@pytest.mark.slow
def test_a_model_named_vgg16_with_vgg16s_first_layer_names_is_not_vgg16(measured: dict[str, Any]) -> None:
    """The hostile twin: VGG-16's name and its first block's layer names, not its structure."""
    base = measured["twin"][0]
    assert base["type"] == "Sequential" and base["name"] == "vgg16"
    assert "include_top" not in base["config"] and base["config"]["layers"] == 3


@pytest.mark.slow
def test_vetting_accepts_nested_applications_and_still_refuses_what_it_cannot_account_for(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        """
        import json, os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras
        from grader.inside.inspector import vetting
        bases = [
            keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)),
            keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)),
            keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3)),
        ]
        accepted = []
        for base in bases:
            model = keras.Sequential([keras.Input((32, 32, 3)), base, keras.layers.Flatten(), keras.layers.Dense(2)])
            vetted = vetting.vet_model_config(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))
            names = [layer["config"]["name"] for layer in vetted["config"]["layers"][1]["config"]["layers"]]
            accepted.append(names == [layer.name for layer in base.layers])
        inside = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)], name="vgg16")
        model = keras.Sequential([keras.Input((4,)), inside, keras.layers.Dense(2)])
        try:
            vetting.vet_model_config(keras.saving.serialize_keras_object(model))
            refused = ""
        except vetting.ConfigRefused as error:
            refused = str(error)
        print("VETTED " + json.dumps({"accepted": accepted, "refused": refused}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO, check=False
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("VETTED ")), None)
    assert line is not None, done.stderr[-3000:]
    found = json.loads(line.removeprefix("VETTED "))
    assert found["accepted"] == [True, True, True]
    assert "Lambda" in found["refused"]


GET_FILE = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_HOME"] = sys.argv[1]
import keras
from keras.src.utils import file_utils
from grader.inside.kernel import course

def no_network(*args, **kwargs):
    raise OSError("no network in this test")

file_utils.urlretrieve = no_network
original = file_utils.get_file
found = {}
course.install({"weights": {sys.argv[2]: os.path.join(sys.argv[1], "models", sys.argv[2])}}, keras)
base = keras.applications.vgg16.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
found["sum"] = float(base.get_layer("block1_conv1").get_weights()[0].sum())
from keras.utils import get_file
try:
    get_file("other.h5", "https://example.invalid/other.h5", cache_subdir="models")
    found["other"] = "loaded"
except Exception as error:
    found["other"] = type(error).__name__ + ": " + str(error)[:200]
file_utils.get_file = original
try:
    keras.applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    found["unpatched"] = "loaded"
except Exception as error:
    found["unpatched"] = type(error).__name__ + ": " + str(error)[:200]
print("FOUND " + json.dumps(found))
"""
"""Keras' own get_file refuses the stand-in (its hash is not ImageNet's) and downloads: here, into an error."""


def write_standins(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(STANDINS), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_real_vgg16_loads_the_instructors_weights_without_imagenets_hash(tmp_path: Path) -> None:
    """Keras checks ImageNet's hash and would download; the mounted file is used as it is, and nothing else changes."""
    home = tmp_path / "keras"
    made = write_standins(tmp_path / "course", "--weights", home / "models")
    expected = float(made.stdout.split()[-1])
    done = subprocess.run(
        [sys.executable, "-c", GET_FILE, str(home), NOTOP],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("FOUND ")), None)
    assert line is not None, done.stderr[-3000:]
    found = json.loads(line.removeprefix("FOUND "))
    assert "no network in this test" in found["unpatched"], (
        "without the patch the hash fails and Keras downloads"
    )
    assert found["sum"] == pytest.approx(expected, abs=1e-4)
    assert "no network in this test" in found["other"], (
        "a file the rubric does not list still goes to get_file"
    )


# --- the course's notebooks, verbatim, and the VGG-16 exercise, through `grade batch` --------------


@pytest.fixture(scope="module")
def graded(keras_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One batch: the course's three notebooks as the course wrote them, the VGG-16 exercise's four notebooks.

    The stand-ins are written once: the course files beside a copy of the rubrics, VGG-16's weights
    (both files, the top's fully-connected layers zeros and compressed) into the session's Keras
    cache, which every `grade` subprocess reads.
    """
    root = tmp_path_factory.mktemp("transfer")
    rubrics, students = root / "rubrics", root / "class"
    rubrics.mkdir()
    students.mkdir()
    started = time.monotonic()
    made = write_standins(rubrics / "data", "--weights", keras_cache.parent / "models", "--top")
    for name in (*COURSE_RUBRICS, "transfer-learning-vgg16"):
        shutil.copy(REPO / "rubrics" / f"{name}.yaml", rubrics)
    for name in COURSE_RUBRICS:
        shutil.copy(REPO / "exercises" / name / "solution.ipynb", students / f"{name}.ipynb")
    for name in VGG16_NOTEBOOKS:
        shutil.copy(VGG16_EXERCISE / f"{name}.ipynb", students / f"vgg16-{name}.ipynb")
    standins = time.monotonic() - started
    out = root / "out"
    run: Graded = run_grade(
        "batch", students, "--rubrics", rubrics, "--out", out, "-j", "2", out_dir=out, timeout=1800
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = {}
    for path in out.glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if "submission" in result and "checks" in result:
            results[Path(result["submission"]).stem] = result
    print(f"stand-ins {standins:.0f} s, batch of 7 notebooks {time.monotonic() - started - standins:.0f} s")
    return {"results": results, "kernel_sum": float(made.stdout.split()[-1])}


def full_marks(result: dict[str, Any]) -> bool:
    return result["score"] == result["max_score"] and all(c["status"] == "pass" for c in result["checks"])


def cells_output(result: dict[str, Any]) -> str:
    return "".join(cell["output"] for cell in result["run"]["cells"])


def uses(result: dict[str, Any]) -> set[str]:
    return {use["idiom"] for use in result["kernel_setup"]["uses"]}


def rows(result: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return next(c for c in result["checks"] if c["id"] == check)["layer_rows"]


COURSE_CELLS = {
    "transfer-learning": "a819e653ce75c522278ae84ffff19d3a123b84d560716edd682fdbf30098bbb5",
    "bottleneck-features": "f5216ba45f2a7a9f41514d27233b4eb6dcdec428dd67a49b64795e37b43dcaf3",
    "conv-visualization": "12d753f56d64c75c3308de410fb93145a33a6366568cb0f5241a03759b86d751",
}
"""SHA-256 of each course notebook's cells ([type, source] in order) at udacity/aind2-cnn@4f64fa0."""


def verbatim(exercise: str, course_path: str) -> None:
    """Our copy's cells are the course's: same kinds, same sources (outputs cleared, grader metadata added)."""
    ours = json.loads((REPO / "exercises" / exercise / "solution.ipynb").read_text(encoding="utf-8"))
    cells = [[c["cell_type"], "".join(c["source"])] for c in ours["cells"]]
    assert hashlib.sha256(json.dumps(cells).encode()).hexdigest() == COURSE_CELLS[exercise]
    assert ours["metadata"]["grader"] == {"exercise": exercise}
    assert all(not c.get("outputs") for c in ours["cells"] if c["cell_type"] == "code")
    credit = (REPO / "exercises" / exercise / "SOURCE.md").read_text(encoding="utf-8")
    assert course_path in credit and "Copyright (c) 2017 Udacity, Inc." in credit


@pytest.mark.slow
def test_the_courses_transfer_learning_notebook_gets_full_marks_verbatim(graded: dict[str, Any]) -> None:
    verbatim("transfer-learning", "transfer-learning/transfer_learning.ipynb")
    result = graded["results"]["transfer-learning"]
    assert full_marks(result), result["checks"]
    assert result["run"]["failing_cells"] == []
    assert "There are 3 total dog categories." in cells_output(result)
    assert "There are 21 total dog images." in cells_output(result)
    assert {"keras.utils.np_utils", idioms.HDF5_PATH.name} <= uses(result)
    assert not [note for note in result["notes"] if "rubric key" in note]


@pytest.mark.slow
def test_the_courses_bottleneck_features_notebook_gets_full_marks_with_stand_in_weights(
    graded: dict[str, Any],
) -> None:
    verbatim("bottleneck-features", "transfer-learning/bottleneck_features.ipynb")
    result = graded["results"]["bottleneck-features"]
    assert full_marks(result), result["checks"]
    assert result["run"]["failing_cells"] == []
    printed = cells_output(result)
    assert "(2, 224, 224, 3)" in printed and "(2, 7, 7, 512)" in printed
    assert "Total params: 138,357,544" in printed, "VGG16() is the whole network, its top included"
    assert not [note for note in result["notes"] if "rubric key" in note]


@pytest.mark.slow
def test_the_courses_conv_visualization_notebook_runs_to_the_end_and_its_conv_row_is_checked(
    graded: dict[str, Any],
) -> None:
    verbatim("conv-visualization", "conv-visualization/conv_visualization.ipynb")
    result = graded["results"]["conv-visualization"]
    assert result["run"]["failing_cells"] == []
    assert full_marks(result), result["checks"]
    (conv,) = rows(result, "conv")
    assert conv["status"] == "match" and conv["actual"]["type"] == "Conv2D"
    assert conv["actual"]["output_shape"] == [33, 45, 1] and conv["actual"]["params"] == 17
    assert {idioms.IMRESIZE.name, "keras.layers.convolutional"} <= uses(result)


@pytest.mark.slow
def test_the_vgg16_exercise_solution_gets_full_marks_with_its_base_as_one_row(graded: dict[str, Any]) -> None:
    result = graded["results"]["vgg16-solution"]
    assert full_marks(result), result["checks"]
    base, pooling, dense = rows(result, "architecture")
    assert base["status"] == "match" and base["actual"]["kind"] == "model"
    assert (base["actual"]["type"], base["actual"]["include_top"], base["actual"]["trainable"]) == (
        "VGG16",
        False,
        False,
    )
    assert [pooling["status"], dense["status"]] == ["match", "match"]


@pytest.mark.slow
def test_a_base_left_trainable_is_charged_on_that_setting_alone(graded: dict[str, Any]) -> None:
    result = graded["results"]["vgg16-trainable-base"]
    base, pooling, dense = rows(result, "architecture")
    assert base["status"] == "mismatch" and base["differences"] == ["trainable True, expected False"]
    assert [pooling["status"], dense["status"]] == ["match", "match"]
    assert {c["id"]: c["status"] for c in result["checks"]} == {
        "architecture": "fail",
        "size": "pass",
        "output": "pass",
    }
    assert result["score"] == pytest.approx(6)


@pytest.mark.slow
def test_a_base_left_trainable_is_told_what_a_frozen_base_is(graded: dict[str, Any]) -> None:
    base = rows(graded["results"]["vgg16-trainable-base"], "architecture")[0]
    assert formulas.BASE_SETTINGS_EXPLAINED["trainable"] in base["explanation"]


@pytest.mark.slow
def test_a_base_with_its_imagenet_top_is_charged_for_include_top(graded: dict[str, Any]) -> None:
    result = graded["results"]["vgg16-include-top"]
    table = rows(result, "architecture")
    assert table[0]["status"] == "mismatch" and "include_top True, expected False" in table[0]["differences"]
    assert table[0]["actual"]["type"] == "VGG16"
    assert [row["status"] for row in table].count("missing") == 1, "the pooling layer is missing"
    assert next(c for c in result["checks"] if c["id"] == "architecture")["status"] == "fail"


@pytest.mark.slow
def test_a_model_that_calls_itself_vgg16_does_not_pass_a_vgg16_row(graded: dict[str, Any]) -> None:
    result = graded["results"]["vgg16-fake-base"]
    base = rows(result, "architecture")[0]
    assert base["status"] == "mismatch" and base["differences"] == ["type Sequential, expected VGG16"]
    assert base["actual"]["name"] == "vgg16"
    assert next(c for c in result["checks"] if c["id"] == "architecture")["status"] == "fail"


@pytest.mark.slow
def test_the_bases_table_is_what_the_installed_keras_builds() -> None:
    """The inspector's table (generated by bases_build) for two bases, rebuilt from the installed Keras."""
    script = textwrap.dedent(
        """
        import json
        from grader.inside.inspector import bases, bases_build
        print("SAME " + json.dumps([bases_build.entry(name) == bases.TABLE[name] for name in ("VGG16", "MobileNetV2")]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO, check=False
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("SAME ")), None)
    assert line is not None, done.stderr[-3000:]
    assert json.loads(line.removeprefix("SAME ")) == [True, True], (
        "run `python -m grader.inside.inspector.bases_build > grader/inside/inspector/bases_table.py`"
    )
