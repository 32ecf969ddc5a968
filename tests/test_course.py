"""A course's data sets, files and pretrained weights, provided offline (`grader.grading.course`).

The unit tests read the session's generated Keras cache (tests/conftest.py, `keras_cache`) through
`course.prepare_course_data` and hold each prepared file to what `keras.datasets.X.load_data()` returns: the
same keys, dtypes and shapes, and the labels still beside their own images after a subsample (the
generated images show their label in their pixels). The slow tests grade unmodified course
notebooks through the real CLI: `grade` and `grade batch` with the rubric's `datasets:`, the
download hint without it, course folders mounted read-only, MobileNetV2 weights from the cache,
a submitted checkpoint under both executors, and docs/course.md's commands as written.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.errors import RubricError
from grader.grading import course
from grader.rubric.model import parse_rubric
from grader.sandbox import bwrap

from .conftest import CACHE_SIZES, REPO, Graded, run_grade, write_notebook

KERAS_SHAPES: dict[str, dict[str, tuple[str, tuple[int, ...]]]] = {
    "mnist": {
        "x_train": ("uint8", (600, 28, 28)),
        "y_train": ("uint8", (600,)),
        "x_test": ("uint8", (200, 28, 28)),
        "y_test": ("uint8", (200,)),
    },
    "fashion_mnist": {
        "x_train": ("uint8", (300, 28, 28)),
        "y_train": ("uint8", (300,)),
        "x_test": ("uint8", (100, 28, 28)),
        "y_test": ("uint8", (100,)),
    },
    "cifar10": {
        "x_train": ("uint8", (500, 32, 32, 3)),
        "y_train": ("uint8", (500, 1)),
        "x_test": ("uint8", (200, 32, 32, 3)),
        "y_test": ("uint8", (200, 1)),
    },
    "cifar100": {
        "x_train": ("uint8", (500, 32, 32, 3)),
        "y_train": ("int64", (500, 1)),
        "y_train_coarse": ("int64", (500, 1)),
        "x_test": ("uint8", (100, 32, 32, 3)),
        "y_test": ("int64", (100, 1)),
        "y_test_coarse": ("int64", (100, 1)),
    },
}
"""What keras.datasets.X.load_data() returns (its docstrings), at the generated cache's sizes."""
GRIDS = {"mnist": (2, 5), "fashion_mnist": (5, 2), "cifar10": (2, 5), "cifar100": (10, 10)}
"""Where the generated images draw their label (tests/conftest.py, `pattern_images`)."""


def prepared(
    name: course.CourseSet, spec: course.CourseDataset | None = None, base: Path = REPO
) -> dict[str, np.ndarray]:
    """The arrays `course.prepare_course_data` mounts for one data set, read back from its file."""
    setup = course.prepare_course_data({name: spec or course.CourseDataset()}, [], [], base)
    assert setup.notes == (), setup.notes
    (mount,) = setup.mounts
    assert mount.target == f"/grader/datasets/{name}.npz"
    with np.load(mount.source, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def labels_in_pixels(images: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The label each generated image shows: the grid cell holding its bright block."""
    rows, cols = grid
    height, width = images.shape[1] // rows, images.shape[2] // cols
    gray = images.reshape(*images.shape[:3], -1).mean(axis=3)
    cells = gray[:, : rows * height, : cols * width].reshape(len(images), rows, height, cols, width)
    return cells.mean(axis=(2, 4)).reshape(len(images), -1).argmax(axis=1)


# --- course.prepare_course_data: the four data sets -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KERAS_SHAPES))
def test_each_set_is_prepared_with_the_keys_dtypes_and_shapes_keras_returns(name: str) -> None:
    arrays = prepared(name)
    assert {key: (str(a.dtype), a.shape) for key, a in arrays.items()} == KERAS_SHAPES[name]
    for split in ("train", "test"):
        shown = labels_in_pixels(arrays[f"x_{split}"], GRIDS[name])
        assert shown.tolist() == arrays[f"y_{split}"].ravel().tolist(), f"{name} {split}: labels moved"


def test_a_subsample_is_fixed_by_its_seed_keeps_labels_with_images_and_the_original_order() -> None:
    full = prepared("cifar100")
    spec = course.CourseDataset(train=50, test=20, seed=3)
    first = prepared("cifar100", spec)
    course._prepare.cache_clear()
    again = prepared("cifar100", spec)
    other = prepared("cifar100", course.CourseDataset(train=50, test=20, seed=4))
    assert {key: a.shape[0] for key, a in first.items()} == {
        "x_train": 50, "y_train": 50, "y_train_coarse": 50, "x_test": 20, "y_test": 20, "y_test_coarse": 20
    }  # fmt: skip
    assert all(np.array_equal(first[key], again[key]) for key in first)
    assert not np.array_equal(first["x_train"], other["x_train"])
    for split in ("train", "test"):
        fine, coarse = first[f"y_{split}"], first[f"y_{split}_coarse"]
        assert labels_in_pixels(first[f"x_{split}"], GRIDS["cifar100"]).tolist() == fine.ravel().tolist()
        assert (coarse == fine // 5).all(), "the generated cache's coarse label is fine // 5"
    positions = [
        next(i for i, image in enumerate(full["x_train"]) if np.array_equal(image, chosen))
        for chosen in first["x_train"]
    ]
    assert positions == sorted(positions) and len(set(positions)) == 50


def test_a_subsample_larger_than_the_set_keeps_it_whole() -> None:
    arrays = prepared("mnist", course.CourseDataset(train=60_000, test=10_000))
    assert (len(arrays["x_train"]), len(arrays["x_test"])) == CACHE_SIZES["mnist"]


def test_the_keras_3_cache_layout_is_read_before_the_older_one(
    keras_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keras 3.15 extracts CIFAR-10 into cifar-10-batches-py-target/; older Keras into cifar-10-batches-py/."""
    home = tmp_path / "keras"
    shutil.copytree(keras_cache / "cifar-10-batches-py", home / "datasets" / "cifar-10-batches-py")
    newer = home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    shutil.copytree(keras_cache / "cifar-10-batches-py", newer)
    shutil.copy(newer / "data_batch_2", newer / "data_batch_1")
    monkeypatch.setenv("KERAS_HOME", str(home))
    arrays = prepared("cifar10")
    per_batch = CACHE_SIZES["cifar10"][0] // 5
    assert np.array_equal(arrays["x_train"][:per_batch], arrays["x_train"][per_batch : 2 * per_batch])


def test_a_cifar_batch_replaced_in_place_is_read_again(
    keras_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replacing a file inside the CIFAR folder leaves the folder's own time as it was."""
    home = tmp_path / "keras"
    folder = home / "datasets" / "cifar-10-batches-py"
    shutil.copytree(keras_cache / "cifar-10-batches-py", folder)
    monkeypatch.setenv("KERAS_HOME", str(home))
    before = prepared("cifar10")
    folder_time = folder.stat().st_mtime_ns
    (folder / "data_batch_1").write_bytes((folder / "data_batch_2").read_bytes())
    os.utime(folder, ns=(folder_time, folder_time))
    after = prepared("cifar10")
    per_batch = CACHE_SIZES["cifar10"][0] // 5
    assert not np.array_equal(before["x_train"][:per_batch], before["x_train"][per_batch : 2 * per_batch])
    assert np.array_equal(after["x_train"][:per_batch], after["x_train"][per_batch : 2 * per_batch])


def test_an_instructors_npz_is_subsampled_and_keeps_its_own_arrays(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    images = np.arange(40 * 4, dtype=np.float32).reshape(40, 2, 2)
    np.savez(
        tmp_path / "data" / "mnist.npz",
        x_train=images[:30], y_train=np.arange(30), x_test=images[30:], y_test=np.arange(30, 40)
    )  # fmt: skip
    arrays = prepared("mnist", course.CourseDataset(npz="data/mnist.npz", train=12), base=tmp_path)
    assert {key: (str(a.dtype), a.shape) for key, a in arrays.items()} == {
        "x_train": ("float32", (12, 2, 2)),
        "y_train": ("int64", (12,)),
        "x_test": ("float32", (10, 2, 2)),
        "y_test": ("int64", (10,)),
    }
    assert (arrays["x_train"][:, 0, 0] == arrays["y_train"] * 4).all(), "rows stay with their labels"


def test_an_npz_without_the_four_arrays_is_a_note_naming_what_is_missing(tmp_path: Path) -> None:
    np.savez(tmp_path / "digits.npz", x=np.zeros((3, 8, 8)), y=np.arange(3))
    setup = course.prepare_course_data({"mnist": course.CourseDataset(npz="digits.npz")}, [], [], tmp_path)
    assert setup.mounts == ()
    (note,) = setup.notes
    assert "digits.npz has no array x_train, y_train, x_test, y_test" in note
    assert "(rubric key datasets.mnist)" in note and "mnist.load_data() will fail" in note


def test_each_missing_set_asset_and_weights_file_is_one_note_saying_where_the_grader_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-keras"
    monkeypatch.setenv("KERAS_HOME", str(empty))
    (tmp_path / "present.txt").write_text("here")
    weights = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    setup = course.prepare_course_data(
        {"cifar10": course.CourseDataset(train=10)},
        [course.Asset(source="data/dogImages", target="dogImages"), course.Asset(source="present.txt")],
        [weights],
        tmp_path,
    )
    assert setup.mounts == (course.Mount(tmp_path / "present.txt", "present.txt"),)
    dataset, asset, pretrained = setup.notes
    keras3, keras2 = (
        empty / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py",
        empty / "datasets" / "cifar-10-batches-py",
    )
    assert f"looked for {keras3} and {keras2}" in dataset, "both the Keras 3 and the Keras 2 cache layouts"
    assert "never downloads" in dataset and "(rubric key datasets.cifar10)" in dataset
    assert "the course file data/dogImages was not found" in asset
    assert f"looked for {tmp_path / 'data' / 'dogImages'}; rubric key assets" in asset
    assert f"the pretrained weights {weights}" in pretrained
    assert f"looked for {empty / 'models' / weights}; rubric key weights" in pretrained


@pytest.mark.parametrize("target", ["../outside", "data/../../outside", "/etc/passwd"])
def test_an_asset_target_outside_the_notebooks_folder_is_a_rubric_error(target: str) -> None:
    text = (
        "exercise: x\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n"
        f"assets:\n  - {{source: data, target: {json.dumps(target)}}}\n"
    )
    with pytest.raises(RubricError) as error:
        parse_rubric(text, source="r.yaml")
    assert "r.yaml:6:" in str(error.value) and "assets[0].target" in str(error.value)
    assert "a path inside the notebook's folder, without `..`" in str(error.value)


def test_an_asset_target_inside_the_folder_is_accepted() -> None:
    rubric = parse_rubric(
        "exercise: x\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n"
        "assets:\n  - {source: course/dogImages, target: data/dogImages}\n  - {source: features.npz}\n"
    )
    assert [(a.source, a.target) for a in rubric.assets] == [
        ("course/dogImages", "data/dogImages"),
        ("features.npz", None),
    ]


KERAS_READS = """
import sys
import numpy as np
import keras
from keras.src.datasets.cifar import load_batch

cache = sys.argv[1]
found = {}
(found["fashion_mnist/x_train"], found["fashion_mnist/y_train"]), (
    found["fashion_mnist/x_test"], found["fashion_mnist/y_test"]
) = keras.datasets.fashion_mnist.load_data()
with np.load(cache + "/mnist.npz", allow_pickle=True) as f:  # as keras.datasets.mnist reads it
    for key in ("x_train", "y_train", "x_test", "y_test"):
        found["mnist/" + key] = f[key]
# keras.datasets.cifar10.load_data() and cifar100's, less the 10,000 images per batch they assume
train = [load_batch(cache + f"/cifar-10-batches-py/data_batch_{i}") for i in range(1, 6)]
x_test, y_test = load_batch(cache + "/cifar-10-batches-py/test_batch")
found["cifar10/x_train"] = np.concatenate([x for x, _ in train]).transpose(0, 2, 3, 1)
found["cifar10/y_train"] = np.concatenate([y for _, y in train]).astype("uint8").reshape(-1, 1)
found["cifar10/x_test"] = x_test.transpose(0, 2, 3, 1)
found["cifar10/y_test"] = np.reshape(y_test, (len(y_test), 1)).astype("uint8")
for mode, suffix in (("fine", ""), ("coarse", "_coarse")):
    for split in ("train", "test"):
        x, y = load_batch(cache + f"/cifar-100-python/{split}", label_key=mode + "_labels")
        found[f"cifar100/x_{split}"] = x.transpose(0, 2, 3, 1)
        found[f"cifar100/y_{split}{suffix}"] = np.reshape(y, (len(y), 1))
np.savez(sys.argv[2], **found)
"""


@pytest.mark.slow
def test_the_generated_cache_reads_in_keras_as_the_grader_prepares_it(
    keras_cache: Path, tmp_path: Path
) -> None:
    """Keras' own readers (fashion_mnist.load_data, the CIFAR batch reader with its restricted
    unpickler) accept the generated files, and give exactly the arrays `course.prepare_course_data` mounts."""
    done = subprocess.run(
        [sys.executable, "-c", KERAS_READS, str(keras_cache), str(tmp_path / "keras.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_HOME": str(keras_cache.parent)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / "keras.npz") as keras_arrays:
        for name in KERAS_SHAPES:
            ours = prepared(name)
            for key, array in ours.items():
                theirs = keras_arrays[f"{name}/{key}"]
                assert (array.dtype, array.shape) == (theirs.dtype, theirs.shape), f"{name}/{key}"
                assert np.array_equal(array, theirs), f"{name}/{key}"


# --- through the real CLI -----------------------------------------------------------------------

MOBILENET = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
MAKE_FILES = """
import sys
import h5py
import keras
from keras.src.legacy.saving import legacy_h5_format

weights, *checkpoints = sys.argv[1:]
keras.utils.set_random_seed(7)
base = keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.35, input_shape=(96, 96, 3))
with h5py.File(weights, "w") as handle:  # the legacy HDF5 layout keras.applications' files have
    legacy_h5_format.save_weights_to_hdf5_group(handle, base)
for seed, path in enumerate(checkpoints, start=1):
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    blocks = [
        layer
        for filters in (16, 32, 64)
        for layer in (layers.Conv2D(filters, 2, padding="same", activation="relu"), layers.MaxPooling2D(2))
    ]
    keras.Sequential(
        [keras.Input((32, 32, 3)), *blocks, layers.Dropout(0.3), layers.Flatten(),
         layers.Dense(500, activation="relu"), layers.Dropout(0.4), layers.Dense(10, activation="softmax")]
    ).save(path)
print(repr(float(base.get_layer("Conv1").get_weights()[0].sum())))
"""

TRANSFER_CELLS = (
    """
    from sklearn.datasets import load_files
    from keras.utils import np_utils
    import numpy as np
    from glob import glob

    # define function to load train, test, and validation datasets
    def load_dataset(path):
        data = load_files(path)
        dog_files = np.array(data['filenames'])
        dog_targets = np_utils.to_categorical(np.array(data['target']), 3)
        return dog_files, dog_targets

    # load the training set
    train_files, train_targets = load_dataset('dogImages/train')

    # load ordered list of dog names
    dog_names = [item[20:-1] for item in sorted(glob("dogImages/train/*/"))]
    n_train_files = len(train_files)
    print('There are %d training dog images.' % n_train_files)
    """,
    """
    try:
        with open('dogImages/train/my_notes.txt', 'w') as handle:
            handle.write('mine')
        asset_writable = True
    except OSError as error:
        asset_writable = False
        print('the course files are read-only:', error)
    """,
    """
    from keras.applications.mobilenet_v2 import MobileNetV2, preprocess_input
    from keras.preprocessing import image

    base_model = MobileNetV2(weights='imagenet', include_top=False, alpha=0.35, input_shape=(96, 96, 3))
    conv1_kernel_sum = float(base_model.get_layer('Conv1').get_weights()[0].sum())

    def path_to_tensor(img_path):
        img = image.load_img(img_path, target_size=(96, 96))
        return np.expand_dims(image.img_to_array(img), axis=0)

    tensors = np.vstack([path_to_tensor(path) for path in train_files])
    image_features_shape = list(base_model.predict(preprocess_input(tensors), verbose=0).shape)
    """,
    """
    bottleneck_features = np.load('bottleneck_features/DogMobileNetData.npz')
    train_mobilenet = bottleneck_features['train']
    """,
    """
    from keras.layers import GlobalAveragePooling2D, Dense
    from keras.models import Sequential

    model = Sequential()
    model.add(GlobalAveragePooling2D(input_shape=train_mobilenet.shape[1:]))
    model.add(Dense(3, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
    model.fit(train_mobilenet, train_targets, epochs=5, batch_size=2, verbose=0)
    """,
)
TRANSFER_RUBRIC = """
exercise: dog-transfer
title: Transfer learning from MobileNetV2 on the course's dog images
model: {{variable: model}}
limits: {{timeout: 400, cell_timeout: 300}}
compat: keras2
training: {{max_epochs: 1}}
assets:
  - {{source: course/dogImages, target: dogImages}}
  - {{source: course/bottleneck_features}}
weights: [{weights}]
checks:
  - {{id: images, points: 1, variable: {{name: n_train_files, equals: 6}}}}
  - {{id: breeds, points: 1, variable: {{name: dog_names, equals: [Beagle, Corgi, Husky]}}}}
  - {{id: read-only, points: 1, variable: {{name: asset_writable, equals: false}}}}
  - {{id: pretrained, points: 1, variable: {{name: conv1_kernel_sum, equals: {kernel_sum}, tolerance: 0.0001}}}}
  - {{id: features, points: 1, variable: {{name: image_features_shape, equals: [6, 3, 3, 1280]}}}}
  - id: head
    points: 2
    layers:
      - {{type: GlobalAveragePooling2D, output_shape: [1280], params: 0}}
      - {{type: Dense, units: 3, activation: softmax, output_shape: [3], params: 3843}}
"""
ALIASES_RUBRIC = """
exercise: aliases
title: Every name a notebook may load a data set by
datasets:
  cifar100: {train: 100, test: 50}
  fashion_mnist: {}
checks:
  - {id: coarse, points: 1, variable: {name: coarse, equals: [[100, 1], int64, 19]}}
  - {id: fine, points: 1, variable: {name: fine, equals: [[50, 1], int64, true]}}
  - {id: fashion, points: 1, variable: {name: fashion, equals: [[300, 28, 28], uint8, [100]]}}
"""
ALIASES_CELLS = (
    "from tensorflow.keras.datasets import cifar100\n"
    "(x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode='coarse')\n"
    "coarse = [list(y_train.shape), str(y_train.dtype), int(y_train.max())]",
    "import keras\n"
    "(x_train, y_train), (x_test, y_test) = keras.datasets.cifar100.load_data()\n"
    "fine = [list(y_test.shape), str(y_test.dtype), bool(y_test.max() > 19)]",
    "from keras.datasets import fashion_mnist\n"
    "(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()\n"
    "fashion = [list(x_train.shape), str(x_train.dtype), [len(y_test)]]",
)


def write_course_files(folder: Path) -> None:
    """The course's hand-outs: a dogImages/train tree of JPEGs and a bottleneck-features file."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for number, breed in enumerate(("Beagle", "Corgi", "Husky"), start=1):
        breed_folder = folder / "dogImages" / "train" / f"{number:03d}.{breed}"
        breed_folder.mkdir(parents=True)
        for index in (1, 2):
            pixels = rng.integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(breed_folder / f"{breed}_{index:05d}.jpg", "JPEG")
    (folder / "bottleneck_features").mkdir()
    features = rng.normal(size=(6, 3, 3, 1280)).astype(np.float32)
    np.savez(folder / "bottleneck_features" / "DogMobileNetData.npz", train=features)


@pytest.fixture(scope="module")
def generated(keras_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """MobileNetV2's weights in the Keras cache (seeded, not ImageNet's) and two checkpoints, made by Keras."""
    folder = tmp_path_factory.mktemp("generated")
    weights = keras_cache.parent / "models" / MOBILENET
    checkpoints = [folder / "checkpoint-a.keras", folder / "checkpoint-b.keras"]
    done = subprocess.run(
        [sys.executable, "-c", MAKE_FILES, str(weights), *map(str, checkpoints)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"kernel_sum": float(done.stdout.split()[-1]), "checkpoints": checkpoints}


@pytest.fixture(scope="module")
def course_class(generated: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A class folder of course notebooks and the rubrics folder that grades them.

    cifar10-mlp and mnist-mlp: the exercises' solutions, unmodified; no-data: the CIFAR-10 one
    under a rubric without `datasets:`; transfer: dogImages, bottleneck features and MobileNetV2;
    aliases: CIFAR-100 (coarse and fine) and Fashion-MNIST, imported as tf.keras and Keras name them;
    dana/: the legacy CIFAR-10 CNN with the checkpoint its rubric names beside it.
    """
    root = tmp_path_factory.mktemp("course")
    rubrics, students = root / "rubrics", root / "class"
    rubrics.mkdir()
    (students / "dana").mkdir(parents=True)
    for name in ("cifar10-mlp", "mnist-mlp", "cifar10-cnn-dropout"):
        shutil.copy(REPO / "rubrics" / f"{name}.yaml", rubrics)
    for name in ("cifar10-mlp", "mnist-mlp"):
        shutil.copy(REPO / "exercises" / name / "solution.ipynb", students / f"{name}.ipynb")
    no_data = (REPO / "rubrics" / "cifar10-mlp.yaml").read_text(encoding="utf-8")
    no_data = no_data.replace("exercise: cifar10-mlp", "exercise: no-data")
    no_data = no_data.replace("datasets:\n  cifar10: {train: 400, test: 100}\n", "")
    assert "datasets:" not in no_data
    (rubrics / "no-data.yaml").write_text(no_data, encoding="utf-8")
    notebook = json.loads((students / "cifar10-mlp.ipynb").read_text(encoding="utf-8"))
    notebook["metadata"]["grader"]["exercise"] = "no-data"
    (students / "no-data.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    write_course_files(rubrics / "course")
    (rubrics / "dog-transfer.yaml").write_text(
        TRANSFER_RUBRIC.format(weights=MOBILENET, kernel_sum=generated["kernel_sum"]), encoding="utf-8"
    )
    write_notebook(
        students / "transfer.ipynb",
        *(textwrap.dedent(c).strip() for c in TRANSFER_CELLS),
        exercise="dog-transfer",
    )
    (rubrics / "aliases.yaml").write_text(ALIASES_RUBRIC, encoding="utf-8")
    write_notebook(students / "aliases.ipynb", *ALIASES_CELLS, exercise="aliases")
    shutil.copy(REPO / "submissions" / "legacy" / "cifar10-cnn-dropout.ipynb", students / "dana")
    shutil.copy(generated["checkpoints"][0], students / "dana" / "model.weights.best.keras")
    return {"rubrics": rubrics, "class": students, "root": root}


def batch(folder: Path, rubrics: Path, out: Path, *extra: str) -> Graded:
    return run_grade("batch", folder, "--rubrics", rubrics, "--out", out, *extra, out_dir=out, timeout=600)


def results(out: Path) -> dict[str, dict[str, Any]]:
    """Every report a batch wrote, by submission name, read now (a later run may overwrite them)."""
    found = {}
    for path in out.glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if "submission" in result and "checks" in result:
            found[result["submission"]] = result
    return found


def run_guide_command(command: str, out: Path) -> Graded:
    """One `$ ` line of docs/course.md: `grade ...`, perhaps after environment assignments."""
    argv = shlex.split(command)
    start = argv.index("grade")
    env = dict(part.split("=", 1) for part in argv[:start])
    assert not any(Path(value).exists() for value in env.values()), "the guide's empty cache must not exist"
    return run_grade(*argv[start + 1 :], out_dir=out, env=env)


@pytest.fixture(scope="module")
def graded(course_class: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """docs/course.md's commands and the MNIST MLP through `grade`, then the class through `grade batch`.

    The guide's first command grades the CIFAR-10 MLP's solution, the `grade` half of that test;
    its second empties the Keras cache, which only a kernel without network may try (bubblewrap).
    """
    out = tmp_path_factory.mktemp("reports")
    commands = [command for command, _ in guide_commands()]
    assert commands[0] == "grade exercises/cifar10-mlp/solution.ipynb"
    if bwrap.bwrap_problem() is not None:
        commands = commands[:1]
    jobs = {
        f"guide-{i}": functools.partial(run_guide_command, command, out / f"guide-{i}")
        for i, command in enumerate(commands)
    }
    jobs["mnist-mlp"] = functools.partial(
        run_grade, REPO / "exercises" / "mnist-mlp" / "solution.ipynb", out_dir=out / "mnist-mlp"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        done = {name: future.result() for name, future in futures.items()}
    local = batch(course_class["class"], course_class["rubrics"], out / "batch", "-j", "2")
    assert local.returncode == 0, local.stdout + local.stderr
    single = {"cifar10-mlp": done["guide-0"], "mnist-mlp": done["mnist-mlp"]}
    return {
        "single": {name: (run.returncode, run.stderr, run.result) for name, run in single.items()},
        "guide": [done[f"guide-{i}"] for i in range(len(commands))],
        "batch": results(out / "batch"),
        "batch_stdout": local.stdout,
        "batch_out": out / "batch",
    }


def cell(result: dict[str, Any], number: int) -> dict[str, Any]:
    return next(c for c in result["run"]["cells"] if c["number"] == number)


def full_marks(result: dict[str, Any]) -> bool:
    return result["score"] == result["max_score"] and all(c["status"] == "pass" for c in result["checks"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "load_cell", "printed"),
    [
        ("cifar10-mlp", "(x_train, y_train), (x_test, y_test) = cifar10.load_data()", "300 train samples"),
        (
            "mnist-mlp",
            "(X_train, y_train), (X_test, y_test) = mnist.load_data()",
            "training set of 500 examples",
        ),
    ],
)
def test_an_unmodified_course_notebook_gets_full_marks_with_grade_and_grade_batch(
    graded: dict[str, Any], name: str, load_cell: str, printed: str
) -> None:
    returncode, stderr, single = graded["single"][name]
    assert returncode == 0, stderr
    in_batch = graded["batch"][f"{name}.ipynb"]
    for result in (single, in_batch):
        assert full_marks(result), result["checks"]
        assert result["run"]["failing_cells"] == []
        assert printed in "".join(c["output"] for c in result["run"]["cells"])
        assert result["kernel_setup"]["compat"] == "keras2"
        assert not [note for note in result["notes"] if "rubric key" in note]
        trained = result["kernel_setup"]["training"][-1]
        assert trained["event"] == "trained" and trained["final"]["accuracy"] > 0.2, "better than chance"
    source = json.loads((REPO / "exercises" / name / "solution.ipynb").read_text(encoding="utf-8"))
    first_code = next(c for c in source["cells"] if c["cell_type"] == "code")
    assert load_cell in "".join(first_code["source"])


@pytest.mark.slow
def test_without_the_rubric_key_the_load_cell_fails_with_the_download_hint(graded: dict[str, Any]) -> None:
    result = graded["batch"]["no-data.ipynb"]
    first = cell(result, 1)
    assert first["status"] == "error"
    assert "cifar-10-python.tar.gz" in first["error_value"]
    assert "without network access" in first["hint"]
    assert "`datasets: {cifar10: {}}`" in first["hint"] and "your code need not change" in first["hint"]
    assert result["score"] < result["max_score"]


@pytest.mark.slow
def test_every_set_answers_under_every_name_it_is_imported_by(graded: dict[str, Any]) -> None:
    """`tensorflow.keras.datasets`, `keras.datasets` and `from keras.datasets import`, CIFAR-100's
    coarse labels, and a whole cached set (`fashion_mnist: {}`) as Keras returns them."""
    result = graded["batch"]["aliases.ipynb"]
    assert result["run"]["failing_cells"] == [], [c["error_value"] for c in result["run"]["cells"]]
    assert full_marks(result), [c["message"] for c in result["checks"]]


@pytest.mark.slow
def test_course_folders_are_mounted_read_only_and_weights_come_from_the_keras_cache(
    graded: dict[str, Any],
) -> None:
    """`pretrained` holds the notebook to the seeded weights written into the cache: ImageNet's
    file is not there, and a randomly initialised MobileNetV2 would sum to another number."""
    result = graded["batch"]["transfer.ipynb"]
    assert result["run"]["failing_cells"] == [], [c["error_value"] for c in result["run"]["cells"]]
    assert {c["id"]: c["status"] for c in result["checks"]} == {
        "images": "pass",
        "breeds": "pass",
        "read-only": "pass",
        "pretrained": "pass",
        "features": "pass",
        "head": "pass",
    }, [c["message"] for c in result["checks"]]
    assert "the course files are read-only" in cell(result, 2)["output"]
    assert not [note for note in result["notes"] if "rubric key" in note]


def checkpoint_used(result: dict[str, Any]) -> bool:
    setup = result["kernel_setup"]
    return setup["checkpoint_submitted"] is True and [e["event"] for e in setup["training"]] == [
        "checkpoint_loaded"
    ]


@pytest.mark.slow
def test_a_submitted_checkpoint_travels_with_its_notebook_under_the_local_pool(
    graded: dict[str, Any],
) -> None:
    dana = graded["batch"]["cifar10-cnn-dropout.ipynb"]
    assert checkpoint_used(dana), dana["kernel_setup"]
    assert full_marks(dana)
    assert "6 submissions: 6 graded, " in graded["batch_stdout"]


@pytest.mark.slow
def test_a_submitted_checkpoint_travels_with_its_notebook_to_a_ray_worker(
    course_class: dict[str, Path], graded: dict[str, Any], tmp_path: Path
) -> None:
    on_ray = batch(
        course_class["class"] / "dana", course_class["rubrics"], tmp_path / "ray", "--executor", "ray"
    )
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    dana = results(tmp_path / "ray")["cifar10-cnn-dropout.ipynb"]
    assert checkpoint_used(dana), dana["kernel_setup"]
    local = graded["batch"]["cifar10-cnn-dropout.ipynb"]
    assert dana["model"]["weights_sha256"] == local["model"]["weights_sha256"], "the same weights were loaded"


@pytest.mark.slow
def test_a_changed_checkpoint_regrades_only_its_student(
    course_class: dict[str, Path], graded: dict[str, Any], generated: dict[str, Any]
) -> None:
    shutil.copy(generated["checkpoints"][1], course_class["class"] / "dana" / "model.weights.best.keras")
    again = batch(course_class["class"], course_class["rubrics"], graded["batch_out"], "-j", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "6 submissions: 1 graded, " in again.stdout and " 5 unchanged, " in again.stdout
    before = graded["batch"]["cifar10-cnn-dropout.ipynb"]
    after = results(graded["batch_out"])["cifar10-cnn-dropout.ipynb"]
    assert checkpoint_used(after)
    assert after["model"]["weights_sha256"] != before["model"]["weights_sha256"]


# --- docs/course.md, run as written ---------------------------------------------------------------

GUIDE = REPO / "docs" / "course.md"
FENCE = re.compile(r"^```(?P<lang>\w+)(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
RUBRIC_HEAD = "exercise: x\ntitle: t\nchecks:\n  - {id: a, points: 1, output_shape: [1]}\n"


def guide_blocks() -> list[tuple[str, str, str]]:
    return [
        (m["lang"], m["info"].strip(), m["body"]) for m in FENCE.finditer(GUIDE.read_text(encoding="utf-8"))
    ]


def guide_commands() -> list[tuple[str, list[str]]]:
    """Each `$ ` command of the guide's console blocks and the lines it shows ("..." elides some)."""
    commands: list[tuple[str, list[str]]] = []
    for lang, _, body in guide_blocks():
        if lang != "console":
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif line.strip() and line.strip() != "...":
                commands[-1][1].append(line.strip())
    return commands


def test_the_guides_rubric_snippets_validate_and_quote_the_committed_rubric() -> None:
    snippets = [body for lang, info, body in guide_blocks() if lang == "yaml"]
    assert len(snippets) == 2
    for snippet in snippets:
        parse_rubric(RUBRIC_HEAD + snippet, source="docs/course.md")
    committed = (REPO / "rubrics" / "cifar10-mlp.yaml").read_text(encoding="utf-8")
    assert snippets[1] in committed
    assert [command for command, _ in guide_commands()] == [
        "grade exercises/cifar10-mlp/solution.ipynb",
        "KERAS_HOME=/srv/empty-keras grade exercises/cifar10-mlp/solution.ipynb",
    ]


@pytest.mark.slow
def test_the_guide_runs_as_written(graded: dict[str, Any]) -> None:
    """The guide's commands print what it shows, with the session's Keras cache and with an empty one."""
    if bwrap.bwrap_problem() is not None:
        pytest.skip("the missing-data example needs a kernel without network: bubblewrap")
    for (command, shown), done in zip(guide_commands(), graded["guide"], strict=True):
        assert done.returncode == 0, f"$ {command}\n{done.stdout}{done.stderr}"
        printed = " ".join((done.stdout + done.stderr).split())
        for line in shown:
            assert " ".join(line.split()) in printed, (
                f"$ {command}: the guide shows {line!r}; it printed:\n{printed}"
            )
    (hint,) = [body for lang, info, body in guide_blocks() if lang == "text" and "hint" in info]
    assert cell(graded["guide"][1].result, 1)["hint"] == hint.strip()
