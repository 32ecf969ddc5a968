"""Similarity flags: code normalisation and each kind of flag on results built here (fast), then the
class outputs written from real JSON files, then one real `grade batch` (slow) where a copied
notebook with renamed variables and new comments is flagged and two honest ones are not.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from grader.grading.submission import load_submission
from grader.outputs import similarity
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.similarity import code_pairs, find_similar, normalise_code
from grader.result import GradeResult
from tests.conftest import REPO, GradeRunner, run_grade, write_notebook

TWINS = REPO / "submissions" / "twins" / "similarity"
DIGITS_STARTER = REPO / "exercises" / "digits-mlp" / "starter.ipynb"

STARTER = [
    "from keras.models import Sequential\nfrom keras.layers import Conv2D\n",
    "model = Sequential()\n# TODO: add the Conv2D layer described above (remember input_shape)\n\nmodel.summary()\n",
    "conv_params = None  # TODO: the number of parameters of the layer\n"
    "conv_height = None  # TODO: the height of the layer's output\n",
]
ORIGINAL = [
    "from keras.models import Sequential\nfrom keras.layers import Conv2D\n",
    "model = Sequential()\n"
    "model.add(Conv2D(filters=16, kernel_size=2, strides=2, padding='valid',\n"
    "                 activation='relu', input_shape=(200, 200, 1)))\n"
    "model.summary()\n",
    "import math\n"
    "K, F, S, D_in, H_in = 16, 2, 2, 1, 200\n"
    "conv_params = K * F * F * D_in + K\n"
    "conv_height = math.ceil((H_in - F + 1) / S)\n"
    "print(conv_params, conv_height)\n",
]
# ORIGINAL with every helper renamed, comments and a docstring added, the layout changed.
COPY = [
    "from keras.models import Sequential\nfrom keras.layers import Conv2D   # the layer we need\n",
    "model = Sequential()\n"
    "# my convolution\n"
    "model.add(Conv2D(filters = 16,kernel_size = 2,strides = 2,padding = 'valid',activation = 'relu',"
    "input_shape = (200,200,1)))\n\n\n"
    "model.summary()\n",
    '"""Answers, worked out from the formulas."""\n'
    "import math\n"
    "n_filters, size, stride, depth, height = (16, 2, 2, 1, 200)   # from the lesson\n"
    "conv_params = n_filters*size*size*depth + n_filters\n"
    "conv_height = math.ceil( (height - size + 1) / stride )\n"
    "print(conv_params, conv_height)\n",
]
HONEST = [
    "from keras import layers, models\n",
    "model = models.Sequential([layers.Input((200, 200, 1)),\n"
    "                           layers.Conv2D(16, (2, 2), strides=(2, 2), activation='relu')])\n",
    "conv_params = 16 * (2 * 2 * 1) + 16\nconv_height = (200 - 2) // 2 + 1\n",
]
OTHER_HONEST = [
    "import keras\n",
    "model = keras.Sequential()\n"
    "model.add(keras.layers.Conv2D(16, 2, strides=2, padding='valid', activation='relu', "
    "input_shape=(200, 200, 1)))\n",
    "weights_per_filter = 2 * 2 * 1\n"
    "conv_params = 16 * weights_per_filter + 16\n"
    "conv_height = int((200 - 2 + 1) / 2 + 0.5)\n",
]


KERNEL_SEEDS = itertools.count(1000)


def result(
    cells: list[str] | None = None,
    *,
    exercise: str = "conv-dims",
    weights: str | None = None,
    sketch: tuple[float, ...] = (),
    layers: tuple[tuple[str, int], ...] = (("Conv2D", 80),),
    history: dict[str, list[float]] | None = None,
    trained: bool | None = None,
    seed: int | None = None,
    checkpoint: bool = False,
) -> GradeResult:
    """A GradeResult as `grade` writes it, with only what similarity reads filled in.

    Each result's kernel has a seed of its own, as `grade` gives each submission, unless `seed` says.
    """
    checks: list[dict[str, Any]] = []
    if history is not None:
        metrics = {
            "accuracy": 0.9,
            "samples": 10,
            "correct": 9,
            "data": "npz",
            "input_shape": [8, 8, 1],
            "per_class": [],
            "confusion": [],
            "history": history,
            "device": "CPU",
            "duration_s": 0.1,
        }
        checks.append(
            {
                "id": "accuracy",
                "kind": "accuracy",
                "status": "pass",
                "points": 1,
                "max_points": 1,
                "message": "ok",
                "metrics": metrics,
            }
        )
    events = [{"event": "trained", "detail": "trained 1 epoch(s)"}] if trained else []
    if checkpoint:
        events.append({"event": "checkpoint_loaded", "detail": "loaded the weights from model.keras"})
    setup = {"seed": next(KERNEL_SEEDS) if seed is None else seed, "training": events}
    total = sum(params for _, params in layers)
    model = {
        "variable": "model",
        "class_name": "Sequential",
        "layers": [
            {"name": f"l{i}", "type": kind, "config": {}, "output_shape": [1], "params": params}
            for i, (kind, params) in enumerate(layers)
        ],
        "total_params": total,
        "input_shape": [200, 200, 1],
        "output_shape": [100, 100, 16],
        "weights_sha256": weights,
        "weights_sketch": list(sketch),
    }
    return GradeResult.model_validate(
        {
            "submission": "x.ipynb",
            "exercise": exercise,
            "title": "Dimensionality of a convolutional layer",
            "rubric": "rubrics/conv-dims.yaml",
            "score": 1,
            "max_score": 1,
            "checks": checks,
            "run": {
                "duration_s": 1.0,
                "device": "CPU",
                "sandboxed": True,
                "failing_cells": [],
                "cells": [
                    {"number": n, "source": source, "status": "ok"} for n, source in enumerate(cells or [], 1)
                ],
            },
            "model": model,
            "grader_version": "test",
            "kernel_setup": setup,
        }
    )


def name(line: str) -> str:
    """The canonical name a normalised line begins with (`_v<hash>_`)."""
    found = re.match(r"_v[0-9a-f]{8}_", line)
    assert found, line
    return found.group(0)


def kinds(
    pairs: tuple[similarity.SimilarPair, ...] | list[similarity.SimilarPair],
) -> set[tuple[str, str, str]]:
    return {(p.student_a, p.student_b, p.kind) for p in pairs}


# --- normalising code -----------------------------------------------------------------------------


def test_renamed_variables_comments_and_layout_normalise_to_the_same_code() -> None:
    assert normalise_code(COPY) == normalise_code(ORIGINAL)
    assert normalise_code(HONEST) != normalise_code(ORIGINAL)


def test_library_names_stay_and_the_students_names_become_canonical() -> None:
    code = normalise_code(
        ["import keras\nnet = keras.layers.Dense(units=3)\nscore = net.units + len('ab')\n"]
    )
    net, score = (name(line) for line in code.lines)
    assert code.lines == (
        f"{net} = keras.layers.Dense(units=3)",
        f"{score} = {net}.units + len('ab')",
    )
    assert net != score
    assert code.anonymous == ("_ = keras.layers.Dense(units=3)", "_ = _.units + len('ab')")


def test_functions_parameters_docstrings_and_magics_are_normalised() -> None:
    first = normalise_code(
        [
            "%matplotlib inline\ndef area(side, scale=2):\n    '''Area.'''\n    return side * scale\n"
            "print(area(3, scale=4))\n"
        ]
    )
    second = normalise_code(["def surface(a, k=2):\n    return a * k  # squared\nprint(surface(3, k=4))\n"])
    assert first == second
    assert re.fullmatch(r"def _v\w{8}_\(_v\w{8}_, _v\w{8}_=2\):", first.lines[0])


def test_a_cell_that_does_not_parse_is_normalised_token_by_token() -> None:
    broken = "total = count * 2 +\nprint(total)  # never runs\n"
    renamed = "result = n * 2 +   \nprint(result)\n"
    first, second = normalise_code(["count = 1\n", broken]), normalise_code(["n = 1\n", renamed])
    assert first == second
    assert first.anonymous == ("_ = 1", "_ = _ * 2 +", "print ( _ )")
    assert normalise_code(["def f(:\n  pass\n"]).lines  # still something to compare, and no crash


def test_an_expression_nested_deeper_than_the_stack_is_normalised_by_tokens() -> None:
    for terms in (600, 5000):  # parses but is too deep to walk; too deep to parse
        first = normalise_code(["total = " + " + ".join(["1"] * terms) + "\nprint(total)\n"])
        second = normalise_code(["n = " + "+".join(["1"] * terms) + "  # sum\nprint(n)\n"])
        assert first == second
        assert first.anonymous[-1] == "print ( _ )"


def test_import_aliases_read_as_the_library_they_name() -> None:
    spellings = [
        ["import keras\nnet = keras.layers.Dense(3)\n"],
        ["import keras as K\nnet = K.layers.Dense(3)\n"],
        ["from keras import layers as L\nnet = L.Dense(3)  # the layer\n"],
        ["from keras.layers import Dense as D\nlayer = D(3)\n"],
        ["import tensorflow as tf\nnet = tf.keras.layers.Dense(3)\n"],
        ["from tensorflow.keras.layers import Dense\nnet = Dense(3)\n"],
    ]
    codes = {normalise_code(cells) for cells in spellings}
    assert len(codes) == 1
    assert codes.pop().anonymous == ("_ = keras.layers.Dense(3)",)
    # An alias cannot pass one library off as another.
    assert normalise_code(["import numpy as keras\nnet = keras.layers.Dense(3)\n"]).anonymous == (
        "_ = numpy.layers.Dense(3)",
    )


def test_reordered_cells_normalise_to_the_same_code() -> None:
    assert normalise_code([ORIGINAL[2], ORIGINAL[0], ORIGINAL[1]]) == normalise_code(ORIGINAL)
    assert normalise_code([COPY[1], COPY[2], COPY[0]]) == normalise_code(ORIGINAL)


def test_a_variable_keeps_its_name_when_unrelated_code_comes_before_it() -> None:
    """Naming by first appearance renumbered every variable after one added line; names follow their uses."""
    original = set(normalise_code(ORIGINAL).lines)
    padded = normalise_code(["seed = 42\nprint(seed)\n", *COPY])
    assert original < set(padded.lines)
    assert len(set(padded.lines) - original) == 2


def test_a_comment_or_a_string_that_mentions_seeding_is_not_seeding() -> None:
    assert similarity.seeding(result(["import keras as K\nK.utils.set_random_seed(0)\n"])).own
    assert similarity.seeding(result(["import numpy as np\nnp.random.seed(1)\n"])).own
    assert similarity.seeding(result(["import tensorflow as tf\ntf.random.set_seed(1)\n"])).own
    assert not similarity.seeding(result(["# keras.utils.set_random_seed(0)\nx = 1\n"])).own
    assert not similarity.seeding(result(["'keras.utils.set_random_seed(0)'\nx = 1\n"])).own


# --- code flags -------------------------------------------------------------------------------------


def class_of(**cells: list[str]) -> list[tuple[str, GradeResult]]:
    return [(stem, result(source)) for stem, source in cells.items()]


def test_a_copy_is_flagged_identical_and_honest_work_is_not() -> None:
    group = class_of(alice=ORIGINAL, bob=COPY, carol=HONEST, dan=OTHER_HONEST)
    pairs = code_pairs(group, STARTER)
    assert kinds(pairs) == {("alice", "bob", "code-identical")}
    assert pairs[0].score == 1.0


def sample_class() -> list[tuple[str, GradeResult]]:
    """submissions/twins/similarity: an honest pair (Sequential, functional) and a disguised copy."""
    return [
        (path.stem, result([cell.source for cell in load_submission(path).cells], exercise="digits-mlp"))
        for path in sorted(TWINS.glob("*.ipynb"))
    ]


def test_a_copy_disguised_with_aliases_and_reordered_cells_is_identical_and_honest_twins_are_not() -> None:
    starter = [cell.source for cell in load_submission(DIGITS_STARTER).cells]
    group = sample_class()
    assert [stem for stem, _ in group] == [
        "disguised-copy",
        "honest-functional",
        "honest-sequential",
        "original",
    ]
    for starter_code in (starter, ()):
        pairs = code_pairs(group, starter_code)
        assert kinds(pairs) == {("disguised-copy", "original", "code-identical")}


def test_a_nearly_identical_copy_is_flagged_similar_with_its_share() -> None:
    edited = [*COPY[:2], COPY[2].replace("print(conv_params, conv_height)", "print('answers', conv_params)")]
    pairs = code_pairs(class_of(alice=ORIGINAL, bob=edited, carol=HONEST), STARTER)
    assert kinds(pairs) == {("alice", "bob", "code-similar")}
    assert similarity.CODE_JACCARD_MIN <= pairs[0].score < 1


def test_code_the_starter_hands_out_is_not_a_reason_to_flag() -> None:
    untouched = class_of(alice=STARTER, bob=[cell.replace("# TODO", "# done?") for cell in STARTER])
    assert code_pairs(untouched, STARTER) == []
    assert kinds(code_pairs(untouched, ())) == {("alice", "bob", "code-identical")}  # unknown starter: alike


def test_lines_most_of_a_class_shares_are_set_aside() -> None:
    table = "".join(f"size_{k} = ({k} * 16 + 1) // 2\n" for k in range(20))
    shared = [*ORIGINAL, table]  # the lesson's worked answer, which the whole class typed in
    own = [
        f"note = '{' '.join(f'w{i}{letter}' for letter in 'abcdefghijklmnopqrstuvwxyz')}'\n" for i in range(6)
    ]
    six = class_of(**{f"s{i}": [*shared, own[i]] for i in range(6)})
    assert code_pairs(six, ()) == []
    # Below MIN_CLASS_FOR_COMMON nothing counts as common, and the same notebooks all look alike.
    assert len(code_pairs(six[: similarity.MIN_CLASS_FOR_COMMON - 1], ())) == 10
    # Two of the six that share code of their own beyond the common lines are flagged.
    six[1] = ("s1", result([*shared, own[1], HONEST[1]]))
    six[2] = ("s2", result([*shared, own[1], HONEST[1]]))
    assert kinds(code_pairs(six, ())) == {("s1", "s2", "code-identical")}


def test_only_submissions_of_the_same_exercise_are_compared() -> None:
    pairs = find_similar([("alice", result(ORIGINAL)), ("bob", result(COPY, exercise="pool-dims"))])
    assert pairs == ()


# --- weights and histories --------------------------------------------------------------------------


def test_identical_trained_weights_are_flagged_and_untrained_ones_are_not() -> None:
    pairs = find_similar(
        [
            ("alice", result(weights="ab" * 32, trained=True)),
            ("bob", result(weights="ab" * 32, trained=True)),
            ("carol", result(weights="cd" * 32, trained=True)),
        ]
    )
    assert kinds(pairs) == {("alice", "bob", "weights-identical")}
    untrained = find_similar([("alice", result(weights="ab" * 32)), ("bob", result(weights="ab" * 32))])
    assert untrained == ()


SELF_SEEDED = ["import keras\nkeras.utils.set_random_seed(0)  # as the lesson says\n"]


def test_identical_weights_or_histories_a_shared_seed_explains_are_not_flagged() -> None:
    """The same code with the same seed trains to the same numbers: that is no evidence of copying."""
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.75]}

    def twins(**kwargs: Any) -> tuple[similarity.SimilarPair, ...]:
        same: dict[str, Any] = {
            "weights": "ab" * 32,
            "sketch": (1.0, 2.0),
            "trained": True,
            "history": history,
        }
        return find_similar([("alice", result(**same, **kwargs)), ("bob", result(**same, **kwargs))])

    flagged = {("alice", "bob", "weights-identical"), ("alice", "bob", "history-identical")}
    assert kinds(twins()) == flagged  # each kernel its own seed, yet the same numbers
    assert twins(seed=7) == ()  # both kernels had one seed (graded before each had its own)
    assert twins(cells=SELF_SEEDED) == ()  # both notebooks seed themselves
    assert kinds(twins(seed=7, checkpoint=True)) == flagged  # loaded weights are never the seed's doing
    unrecorded = result(weights="ab" * 32, trained=True).model_copy(update={"kernel_setup": None})
    assert find_similar([("alice", unrecorded), ("bob", result(weights="ab" * 32, trained=True))]) == ()
    only_one_seeds_itself = [
        ("alice", result(SELF_SEEDED, weights="ab" * 32, trained=True)),
        ("bob", result(weights="ab" * 32, trained=True)),
    ]
    assert kinds(find_similar(only_one_seeds_itself)) == {("alice", "bob", "weights-identical")}


def test_near_identical_sketches_a_shared_seed_explains_are_not_flagged() -> None:
    group = [
        ("alice", result(weights="a" * 64, sketch=(0.5, -1.0, 2.0, 0.25), trained=True, seed=3)),
        ("bob", result(weights="b" * 64, sketch=(0.5, -1.0, 2.0, 0.26), trained=True, seed=3)),
    ]
    assert find_similar(group) == ()


def test_near_identical_weight_sketches_are_flagged_within_one_architecture() -> None:
    base = (0.5, -1.0, 2.0, 0.25)
    close = (0.5, -1.0, 2.0, 0.26)
    far = (0.5, 1.0, -2.0, 0.25)
    pairs = find_similar(
        [
            ("alice", result(weights="a" * 64, sketch=base, trained=True)),
            ("bob", result(weights="b" * 64, sketch=close, trained=True)),
            ("carol", result(weights="c" * 64, sketch=far, trained=True)),
            ("dan", result(weights="d" * 64, sketch=base, trained=True, layers=(("Dense", 80),))),
        ]
    )
    assert kinds(pairs) == {("alice", "bob", "weights-similar")}
    assert similarity.WEIGHTS_COSINE_MIN <= pairs[0].score <= 1
    assert "Conv2D 80" in pairs[0].detail


def test_identical_training_histories_of_two_epochs_or_more_are_flagged() -> None:
    history = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.75, 0.875]}
    pairs = find_similar(
        [
            ("alice", result(history=history)),
            ("bob", result(history=history)),
            ("carol", result(history={**history, "loss": [1.0, 0.5, 0.2]})),
            ("dan", result(history={"loss": [0.3]})),
            ("erin", result(history={"loss": [0.3]})),
        ]
    )
    assert kinds(pairs) == {("alice", "bob", "history-identical")}
    assert "3-epoch" in pairs[0].detail


def test_weights_most_of_a_class_shares_are_not_flagged() -> None:
    group = [(f"s{i}", result(weights="ab" * 32, trained=True)) for i in range(4)]
    group += [(f"t{i}", result(weights=f"{i}" * 64, trained=True)) for i in range(2)]
    assert find_similar(group) == ()
    assert len(find_similar(group[2:])) == 1  # in a smaller class the same two are flagged


def test_weight_sketches_close_to_most_of_the_class_are_not_flagged() -> None:
    near = [
        (f"s{i}", result(weights=f"{i}" * 64, sketch=(1.0, 2.0, 3.0 + i / 1000), trained=True))
        for i in range(4)
    ]
    apart = [(f"t{i}", result(weights=f"t{i}" * 32, sketch=(i, -1.0, 0.5), trained=True)) for i in range(2)]
    assert find_similar(near + apart) == ()
    assert len(find_similar(near[:2] + apart)) == 1  # two of four are a pair, not the class


# --- class outputs ----------------------------------------------------------------------------------


def test_similarity_csv_and_the_index_list_flagged_pairs(tmp_path: Path) -> None:
    students = {"alice": ORIGINAL, "bob": COPY, "carol": HONEST}
    for stem, cells in students.items():
        (tmp_path / f"{stem}.json").write_text(result(cells).to_json(), encoding="utf-8")
    outputs = write_class_outputs(tmp_path, [BatchEntry(stem, f"{stem}.ipynb") for stem in students])
    with (tmp_path / "similarity.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["student_a"], r["student_b"], r["kind"], r["score"]) for r in rows] == [
        ("alice", "bob", "code-identical", "1.0")
    ]
    page = (tmp_path / "index.html").read_text()
    section = page.split("<h2>Similar submissions</h2>")[1].split("<h2>")[0]
    assert 'href="alice.html">alice</a> &amp; <a href="bob.html">bob</a>' in section
    assert "carol" not in section
    assert any("similar: 1 pair(s)" in line and "alice & bob" in line for line in outputs.notices)


def test_no_pairs_still_writes_the_header_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "carol.json").write_text(result(HONEST).to_json(), encoding="utf-8")
    write_class_outputs(tmp_path, [BatchEntry("carol", "carol.ipynb")])
    assert (tmp_path / "similarity.csv").read_text().splitlines() == ["student_a,student_b,kind,score,detail"]
    assert "No similar submissions found." in (tmp_path / "index.html").read_text()


def test_a_starter_given_on_the_command_line_is_set_aside(tmp_path: Path) -> None:
    own = "print('done')\n"
    for stem in ("alice", "bob"):
        handed_in = result([*STARTER, own], exercise="no-starter-here")
        (tmp_path / f"{stem}.json").write_text(handed_in.to_json(), encoding="utf-8")
    entries = [BatchEntry(stem, f"{stem}.ipynb") for stem in ("alice", "bob")]
    write_class_outputs(tmp_path, entries)
    assert "alice,bob,code-identical" in (tmp_path / "similarity.csv").read_text()
    write_class_outputs(tmp_path, entries, starter_code=STARTER)
    assert (tmp_path / "similarity.csv").read_text().splitlines() == ["student_a,student_b,kind,score,detail"]


def test_a_starter_that_cannot_be_read_is_a_usage_error(grade_cli: GradeRunner, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "alice.ipynb", "conv_params = 80", exercise="conv-dims")
    out = tmp_path / "reports"
    done = grade_cli("batch", folder, "--starter", tmp_path / "nope.ipynb", "--out", out)
    assert done.returncode == 2, done.stderr
    assert "--starter" in done.stderr and "nope.ipynb" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "alice.json").exists()


# --- end to end -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_grade_batch_flags_a_renamed_copy_and_not_honest_work(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    for stem, cells in {"alice": ORIGINAL, "bob": COPY, "carol": HONEST, "dan": OTHER_HONEST}.items():
        write_notebook(folder / f"{stem}.ipynb", *cells, exercise="conv-dims")
    out = tmp_path / "reports"
    done = run_grade("batch", folder, "-j", "2", "--out", out, out_dir=out, timeout=500)
    assert done.returncode == 0, done.stderr
    assert "4 submissions: 4 graded" in done.stdout
    for stem in ("alice", "bob", "carol", "dan"):
        assert json.loads((out / f"{stem}.json").read_text())["exercise"] == "conv-dims", stem
    with (out / "similarity.csv").open(newline="") as handle:
        flagged = {(r["student_a"], r["student_b"], r["kind"]) for r in csv.DictReader(handle)}
    assert ("alice", "bob", "code-identical") in flagged
    assert not [flag for flag in flagged if {"carol", "dan"} & set(flag[:2])], flagged
    assert "similar: " in done.stderr and "alice & bob (code-identical)" in done.stderr
    section = (out / "index.html").read_text().split("<h2>Similar submissions</h2>")[1].split("<h2>")[0]
    assert "alice" in section and "bob" in section and "carol" not in section
    assert (REPO / "exercises" / "conv-dims" / "starter.ipynb").is_file()  # the starter set aside by default


TRAINED_RUBRIC = """\
exercise: digits-mlp
title: A multilayer perceptron for handwritten digits
model: {variable: model, input_shape: [8, 8]}
limits: {timeout: 300, cell_timeout: 120}
training: {max_epochs: 2}
checks:
  - {id: size, points: 1, total_params: 8970}
"""


@pytest.mark.slow
def test_grade_batch_flags_a_disguised_copy_and_not_honest_twins_trained_in_real_kernels(
    tmp_path: Path,
) -> None:
    """Sequential and functional twins of the lesson's model, and a copy disguised with aliases, trained."""
    folder = tmp_path / "class"
    folder.mkdir()
    for path in TWINS.glob("*.ipynb"):
        (folder / path.name).write_bytes(path.read_bytes())
    rubric = tmp_path / "digits-mlp.yaml"
    rubric.write_text(TRAINED_RUBRIC, encoding="utf-8")
    out = tmp_path / "reports"
    done = run_grade(
        "batch", folder, "--rubric", rubric, "--starter", DIGITS_STARTER, "-j", "2", "--out", out,
        out_dir=out, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    graded = {
        path.stem: json.loads((out / path.name.replace(".ipynb", ".json")).read_text())
        for path in TWINS.glob("*.ipynb")
    }
    for stem, report in graded.items():
        assert report["model"]["total_params"] == 8970, stem
        assert any(event["event"] == "trained" for event in report["kernel_setup"]["training"]), stem
    sequential, functional = graded["honest-sequential"], graded["honest-functional"]
    assert sequential["kernel_setup"]["seed"] != functional["kernel_setup"]["seed"]
    assert sequential["model"]["weights_sha256"] != functional["model"]["weights_sha256"]
    with (out / "similarity.csv").open(newline="") as handle:
        flagged = {(r["student_a"], r["student_b"], r["kind"]) for r in csv.DictReader(handle)}
    assert flagged == {("disguised-copy", "original", "code-identical")}

    # The same honest notebook graded alone gets its batch seed again, and the same trained weights.
    alone = tmp_path / "alone"
    again = run_grade(folder / "honest-sequential.ipynb", "--rubric", rubric, out_dir=alone, timeout=300)
    assert again.returncode == 0, again.stderr
    regraded = json.loads((alone / "honest-sequential.json").read_text())
    assert regraded["kernel_setup"]["seed"] == sequential["kernel_setup"]["seed"]
    assert regraded["model"]["weights_sha256"] == sequential["model"]["weights_sha256"]
