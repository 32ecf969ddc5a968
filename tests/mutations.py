"""The mutation table: per style notebook (exercises/styles/), three single mistakes a student makes.

Each mistake is one exact substitution in the reference solution's source (it must occur exactly
once in the notebook), and says which row of the rubric's `architecture` check it must cost (the
1-based `position` of the rubric's layer list) and which setting that row must name: the key the
row's differences name (`units`, `kernel_size`, `padding`, ...), or `type` for a layer that is
missing. A fair grade charges that one row and no other: the layers after a changed one see other
shapes, and that is a consequence, not a second mistake.

`mutant(style, mistake)` writes the mutated notebook; tests/test_public_styles.py grades them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STYLES = REPO / "exercises" / "styles"


@dataclass(frozen=True)
class Mistake:
    name: str
    old: str
    new: str
    row: int  # 1-based position in the rubric's `layers:` list
    setting: str  # the setting the charged row must name; `type` for a missing layer
    missing: bool = False  # the row's layer is gone (status `missing`), not changed (`mismatch`)


@dataclass(frozen=True)
class Style:
    name: str  # the folder under exercises/styles/, and rubrics/styles-<name>.yaml
    idiom: str  # the public teaching style it is written in
    mistakes: tuple[Mistake, Mistake, Mistake]

    @property
    def exercise(self) -> str:
        return f"styles-{self.name}"

    @property
    def solution(self) -> Path:
        return STYLES / self.name / "solution.ipynb"

    @property
    def rubric(self) -> Path:
        return REPO / "rubrics" / f"{self.exercise}.yaml"


TABLE: tuple[Style, ...] = (
    Style(
        "tfnn-mlp",
        "DeepLearning.AI lab: tf.keras, activation=tf.nn.relu / tf.nn.softmax, tf.keras.Input in the list",
        (
            Mistake(
                "units-64-to-48",
                "Dense(64, activation=tf.nn.relu)",
                "Dense(48, activation=tf.nn.relu)",
                2,
                "units",
            ),
            Mistake(
                "relu-to-tanh",
                "Dense(32, activation=tf.nn.relu)",
                "Dense(32, activation=tf.nn.tanh)",
                3,
                "activation",
            ),
            Mistake(
                "softmax-to-sigmoid",
                "Dense(10, activation=tf.nn.softmax)",
                "Dense(10, activation=tf.nn.sigmoid)",
                4,
                "activation",
            ),
        ),
    ),
    Style(
        "tfdocs-cnn",
        "TensorFlow tutorial: from tensorflow.keras import layers, models; model.add; input_shape=; logits",
        (
            Mistake(
                "kernel-3-to-5",
                "layers.Conv2D(16, (3, 3), activation='relu')",
                "layers.Conv2D(16, (5, 5), activation='relu')",
                3,
                "kernel_size",
            ),
            Mistake(
                "missing-second-pooling",
                "model.add(layers.Conv2D(16, (3, 3), activation='relu'))\nmodel.add(layers.MaxPooling2D((2, 2)))",
                "model.add(layers.Conv2D(16, (3, 3), activation='relu'))",
                4,
                "type",
                missing=True,
            ),
            Mistake(
                "units-32-to-16",
                "layers.Dense(32, activation='relu')",
                "layers.Dense(16, activation='relu')",
                6,
                "units",
            ),
        ),
    ),
    Style(
        "functional-cnn",
        "Deep Learning with Python, 3rd ed.: import keras; keras.Input; layers called on tensors; keras.Model",
        (
            Mistake(
                "padding-valid-to-same",
                'kernel_size=3, activation="relu")(inputs)',
                'kernel_size=3, padding="same", activation="relu")(inputs)',
                1,
                "padding",
            ),
            Mistake("pool-2-to-3", "MaxPooling2D(pool_size=2)", "MaxPooling2D(pool_size=3)", 2, "pool_size"),
            Mistake("filters-16-to-24", "Conv2D(filters=16,", "Conv2D(filters=24,", 3, "filters"),
        ),
    ),
    Style(
        "keras3-convnet",
        "keras.io example, Keras 3 era: import keras; keras.Sequential([keras.Input(...), ...]); one-hot labels",
        (
            Mistake(
                "kernel-3-to-5",
                "layers.Conv2D(8, kernel_size=(3, 3)",
                "layers.Conv2D(8, kernel_size=(5, 5)",
                1,
                "kernel_size",
            ),
            Mistake(
                "missing-first-pooling",
                'activation="relu"),\n        layers.MaxPooling2D(pool_size=(2, 2)),\n        layers.Conv2D(16',
                'activation="relu"),\n        layers.Conv2D(16',
                2,
                "type",
                missing=True,
            ),
            Mistake("dropout-half-to-quarter", "layers.Dropout(0.5)", "layers.Dropout(0.25)", 6, "rate"),
        ),
    ),
    Style(
        "tfkeras-mlp",
        "TensorFlow basic classification: tf.keras.Sequential, Flatten(input_shape=...), logits, a probability model",
        (
            Mistake(
                "units-96-to-64", "Dense(96, activation='relu')", "Dense(64, activation='relu')", 2, "units"
            ),
            Mistake(
                "relu-to-sigmoid",
                "Dense(96, activation='relu')",
                "Dense(96, activation='sigmoid')",
                2,
                "activation",
            ),
            Mistake(
                "logits-to-softmax",
                "tf.keras.layers.Dense(10)\n",
                "tf.keras.layers.Dense(10, activation='softmax')\n",
                3,
                "activation",
            ),
        ),
    ),
)

HONEST_PAIR = (STYLES / "honest" / "student-list.ipynb", STYLES / "honest" / "student-add.ipynb")
"""Two students' own notebooks for styles-keras3-convnet: the reference's network in two other spellings."""


def apply(notebook: dict, mistake: Mistake) -> dict:
    """The notebook with `mistake` made: its `old` text, found exactly once in one code cell, replaced."""
    hits = []
    for index, cell in enumerate(notebook["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and mistake.old in source:
            hits.append((index, source, source.count(mistake.old)))
    if len(hits) != 1 or hits[0][2] != 1:
        raise ValueError(f"{mistake.name}: {mistake.old!r} must occur exactly once, found {hits}")
    index, source, _ = hits[0]
    mutated = json.loads(json.dumps(notebook))
    mutated["cells"][index]["source"] = source.replace(mistake.old, mistake.new)
    return mutated


def mutant(style: Style, mistake: Mistake, folder: Path) -> Path:
    """Writes `<style>--<mistake>.ipynb` into `folder` (its exercise metadata kept) and returns its path."""
    notebook = json.loads(style.solution.read_text(encoding="utf-8"))
    path = folder / f"{style.name}--{mistake.name}.ipynb"
    path.write_text(json.dumps(apply(notebook, mistake), indent=1), encoding="utf-8")
    return path
