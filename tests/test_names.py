"""Report names: one per submission, whatever the students call their files.

A stem names a student's `<stem>.json`, `.html`, `.error.json`, `.keys/<stem>.key` and
`gradescope/<stem>/`: two submissions with one stem overwrite each other's reports, and the class
loses a student without a word. The mapping is checked as a property over generated file sets
(distinct even case-insensitively and after Unicode normalisation, safe as a file name,
deterministic, readable where nothing collides), on the collisions seen in real classes, and
through the real `grade batch`.
"""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.batch.discovery import _unique_stems, discover
from tests.conftest import examples, run_grade

BASE = Path("/class")
NAME_LIMIT_BYTES = 255
LONGEST_OUTPUT_SUFFIX = ".error.json.partial"
CLASS_OUTPUTS = ("index", "gradebook", "junit", "gradescope")
TRICKY = (
    "alice",
    "Alice",
    "ALICE",
    "week1__alice",
    "week1",
    "index",
    "Index",
    "gradebook",
    "junit",
    "gradescope",
    "x.error",
    "x.ERROR",
    "con",
    "josé",
    "jose\u0301",
    "straße",
    "STRASSE",
    "ﬁle",
    "file",
    "K",
    "\u212a",
    "a～b",
    "a~b",
    "a_b",
    ".hidden",
    "-rf",
    " ",
    "..",
    "a\0b",
    "evil\u202egnp",
    "line\nbreak",
    "[/x]",
    "é" * 120,
)
part = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet="aAbB_-. ~é\u0301ßİı\u212aＡ～\0\u202e/\\:", min_size=1, max_size=8),
    st.text(min_size=1, max_size=40),
)
relative_path = st.tuples(st.lists(part, max_size=2), part, st.sampled_from((".ipynb", ".py"))).map(
    lambda t: BASE.joinpath(*t[0], t[1] + t[2])
)
file_sets = st.lists(relative_path, min_size=1, max_size=12).map(lambda paths: sorted(set(paths)))


def folds(stem: str) -> dict[str, str]:
    """The ways file systems and people compare names."""
    return {
        "exact": stem,
        "lower": stem.lower(),
        "casefold": stem.casefold(),
        "NFC casefold": unicodedata.normalize("NFC", stem).casefold(),
        "NFD casefold": unicodedata.normalize("NFD", stem).casefold(),
        "NFKC casefold": unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", stem).casefold()),
    }


@settings(max_examples=examples(400), deadline=None)
@given(file_sets)
def test_every_file_set_gets_distinct_safe_deterministic_stems(files: list[Path]) -> None:
    stems = [found.stem for found in _unique_stems(files, BASE)]

    assert [found.path for found in _unique_stems(files, BASE)] == files
    for way in folds(""):
        compared = [folds(stem)[way] for stem in stems]
        assert len(set(compared)) == len(files), f"two stems are equal compared {way}: {stems}"
    for stem in stems:
        assert stem and "/" not in stem and "\\" not in stem and "\0" not in stem, stem
        assert not stem.startswith((".", "-", " ")), stem
        assert len((stem + LONGEST_OUTPUT_SUFFIX).encode()) <= NAME_LIMIT_BYTES, stem
        assert all(unicodedata.category(c)[0] != "C" for c in stem), ascii(stem)
        assert stem.casefold() not in CLASS_OUTPUTS and not stem.casefold().endswith(".error"), stem

    shuffled = files[:]
    random.Random(len(files)).shuffle(shuffled)
    again = {found.path: found.stem for found in _unique_stems(shuffled, BASE)}
    assert [again[path] for path in files] == stems


plain_part = st.one_of(
    st.sampled_from(("alice", "Alice", "week1", "week1__alice", "index", "con", "bob")),
    st.text(alphabet="abAB1_", min_size=1, max_size=3),
)
plain_file_sets = st.lists(
    st.tuples(st.lists(plain_part, max_size=2), plain_part, st.sampled_from((".ipynb", ".py"))).map(
        lambda t: BASE.joinpath(*t[0], t[1] + t[2])
    ),
    min_size=1,
    max_size=12,
).map(lambda paths: sorted(set(paths)))


@settings(max_examples=examples(200), deadline=None)
@given(plain_file_sets)
def test_a_plain_name_that_collides_with_nothing_is_kept_as_it_is(files: list[Path]) -> None:
    wanted = {path: "__".join((*path.relative_to(BASE).parts[:-1], path.stem)) for path in files}
    taken = [stem.casefold() for stem in wanted.values()]
    for found in _unique_stems(files, BASE):
        stem = wanted[found.path]
        if taken.count(stem.casefold()) == 1 and stem.casefold() not in (*CLASS_OUTPUTS, "con"):
            assert found.stem == stem
        else:
            assert found.stem.startswith(stem + "~")


@pytest.mark.parametrize(
    ("names", "readable"),
    [
        (("week1/alice.py", "week1__alice.py"), "week1__alice"),
        (("alice.ipynb", "alice.py"), "alice"),
        (("Carol.py", "carol.py"), "Carol"),
        (("josé.py", "jose\u0301.py"), "josé"),
        (("index.ipynb",), "index"),
        (("x.error.ipynb",), "x.error"),
    ],
)
def test_colliding_names_keep_their_readable_part_and_differ_after_it(
    names: tuple[str, ...], readable: str
) -> None:
    stems = [found.stem for found in _unique_stems(sorted(BASE / name for name in names), BASE)]
    assert len({stem.casefold() for stem in stems}) == len(names)
    for stem in stems:
        assert stem.casefold().startswith(readable.casefold() + "~"), stem


def test_discover_names_every_file_of_a_class_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "week1").mkdir(parents=True)
    for name in ("week1/alice.py", "week1__alice.py", "alice.py", "alice.ipynb", "Carol.py", "carol.py"):
        (folder / name).write_text("x = 1\n", encoding="utf-8")
    found = discover(str(folder), tmp_path / "reports")
    assert len(found) == 6
    assert len({item.stem.casefold() for item in found}) == 6


# --- through the real `grade batch` ---------------------------------------------------------------

POOL_SCRIPT = """# grader: exercise=pool-dims
# %%
from keras.models import Sequential
from keras.layers import MaxPooling2D
model = Sequential([MaxPooling2D(pool_size=2, strides=2, input_shape=(100, 100, 15))])
pool_height = {height}
pool_depth = 15
"""
COLLIDING_CLASS = {
    "week1/alice.py": 50,
    "week1__alice.py": 49,
    "Carol.py": 48,
    "carol.py": 47,
    "josé.py": 46,
    "jose\u0301.py": 45,
}


@pytest.mark.slow
def test_students_whose_names_collide_each_get_their_own_report_and_gradebook_row(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "week1").mkdir(parents=True)
    for name, height in COLLIDING_CLASS.items():
        (folder / name).write_text(POOL_SCRIPT.format(height=height), encoding="utf-8")
    out = tmp_path / "reports"

    done = run_grade("batch", folder, "-j", "2", "--out", out, out_dir=out, timeout=400)

    assert done.returncode == 0, done.stderr
    assert "6 submissions: 6 graded" in done.stdout
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        students = [row["student"] for row in csv.DictReader(handle)]
    assert len(set(students)) == 6, students
    heights = []
    for stem in students:
        result = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
        assert (out / f"{stem}.html").is_file()
        message = next(c["message"] for c in result["checks"] if c["id"] == "height-answer")
        heights.append(int(message.split("=")[1].split(",")[0]))
    assert sorted(heights) == sorted(COLLIDING_CLASS.values())
