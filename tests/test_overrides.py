"""The instructor's overrides file: validated line by line, applied to every class output, never to the results.

Real result JSON and reports on disk, the real class outputs and the real `grade batch` command;
the overrides file is parsed back out of gradebook.csv, junit.xml, results.json and the report.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.outputs.gradebook import BatchEntry, write_class_outputs
from grader.outputs.overrides import OverridesError
from grader.render.report import write_reports
from tests.test_one_score import result

HEADER = "student,check,points,max_points,comment,by,at\n"


def class_on_disk(out: Path, *, hidden: bool = False) -> list[BatchEntry]:
    out.mkdir(parents=True, exist_ok=True)
    for stem, conv in (("alice", 2.0), ("bob", 3.0)):
        write_reports(result(f"{stem}.ipynb", conv, 1, hidden=hidden), out, stem)
    return [BatchEntry("alice", "alice.ipynb"), BatchEntry("bob", "bob.ipynb")]


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_an_override_and_manual_points_reach_every_output_and_survive_a_rescore(tmp_path: Path) -> None:
    entries = class_on_disk(tmp_path)
    (tmp_path / "overrides.csv").write_text(
        HEADER + "alice,conv-layer,3,,regrade: padding same is fine,ta-kim,2026-12-03\n"
        "alice,manual:essay,4,5,clear argument,prof,\n",
        encoding="utf-8",
    )
    write_class_outputs(tmp_path, entries)
    rows = gradebook(tmp_path)
    alice = rows["alice"]
    assert (alice["conv-layer"], alice["manual:essay"], alice["total"]) == ("3.0", "4.0", "3.0")
    assert (alice["final"], alice["final_max"]) == ("8.0", "10.0")
    assert "conv-layer 2→3 (regrade: padding same is fine; ta-kim 2026-12-03)" in alice["overrides"]
    assert (rows["bob"]["final"], rows["bob"]["manual:essay"]) == ("4.0", ""), "bob's essay is not entered: 0"
    suite = next(s for s in ET.parse(tmp_path / "junit.xml").getroot() if s.get("name") == "alice")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["score"] == "8/10"
    assert "overridden from 2" in ET.tostring(suite, encoding="unicode")
    results = json.loads((tmp_path / "gradescope" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 8.0 and [t["name"] for t in results["tests"]][-1] == "manual:essay"
    assert "the grader gave 2" in results["tests"][0]["output"]
    page = (tmp_path / "alice.html").read_text(encoding="utf-8")
    assert 'data-final="8.0"' in page and "regrade: padding same is fine" in page
    assert json.loads((tmp_path / "alice.json").read_text(encoding="utf-8"))["score"] == 3.0, (
        "the result is the machine's"
    )

    # a re-run rewrites the result and its report (a rescore); the override still applies, once
    write_reports(result("alice.ipynb", 1.5, 1), tmp_path, "alice")
    write_class_outputs(tmp_path, entries)
    write_class_outputs(tmp_path, entries)
    assert (gradebook(tmp_path)["alice"]["final"], gradebook(tmp_path)["alice"]["total"]) == ("8.0", "2.5")
    page = (tmp_path / "alice.html").read_text(encoding="utf-8")
    assert page.count('id="final-score"') == 1 and 'data-final="8.0"' in page


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("mallory,conv-layer,1,,,,", "unknown student 'mallory'"),
        ("bob,conv-layers,1,,,,", "unknown check 'conv-layers' for bob"),
        ("bob,conv-layer,4,,,,", "4 points for conv-layer is out of range 0..3"),
        ("bob,size,-1,,,,", "-1 points for size is out of range 0..2"),
        ("bob,manual:essay,6,5,,,", "6 points for manual:essay is out of range 0..5"),
        ("bob,manual:essay,2,4,,,", "manual:essay is out of 4 here but 5 at"),
        ("alice,conv-layer,2,,,,", "alice conv-layer is already set at"),
    ],
)
def test_a_bad_line_is_named_with_its_file_and_line(tmp_path: Path, line: str, said: str) -> None:
    entries = class_on_disk(tmp_path)
    path = tmp_path / "overrides.csv"
    path.write_text(
        HEADER + "alice,conv-layer,3,,,,\nalice,manual:essay,1,5,,,\n" + line + "\n", encoding="utf-8"
    )
    with pytest.raises(OverridesError) as raised:
        write_class_outputs(tmp_path, entries)
    assert f"{path}:4: {said}" in raised.value.message
    assert "nothing is regraded" in raised.value.hint
    assert not (tmp_path / "gradebook.csv").exists(), "no output is written with a wrong override"


def test_the_batch_refuses_an_unreadable_overrides_file_before_grading(tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    bad = tmp_path / "overrides.csv"
    bad.write_text(HEADER + "alice,conv-layer,three,,,,\n", encoding="utf-8")
    ran = CliRunner().invoke(
        main, ["batch", str(tmp_path / "subs"), "--overrides", str(bad), "--out", str(tmp_path / "out")]
    )
    assert ran.exit_code == 2, ran.output
    said = "".join(ran.output.split())  # the terminal wraps long paths
    assert "".join(f"{bad}:2: points 'three' is not a number".split()) in said
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_a_hostile_comment_cannot_forge_the_report_or_leak_a_hidden_check(tmp_path: Path) -> None:
    entries = class_on_disk(tmp_path, hidden=True)
    forged = "<!--/final-score--><script>alert(1)</script>"
    (tmp_path / "overrides.csv").write_text(HEADER + f'alice,size,0,,"{forged}",ta,\n', encoding="utf-8")
    write_class_outputs(tmp_path, entries)
    page = (tmp_path / "alice.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and page.count("<!--/final-score-->") == 1
    results = json.loads((tmp_path / "gradescope" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert "score" not in results, "a withheld check keeps the total (and so its points) hidden"
    size = next(t for t in results["tests"] if t["name"].startswith("size"))
    assert (size["score"], size["visibility"]) == (0, "after_published")
    assert "2/3 on the visible checks" in results["output"]
