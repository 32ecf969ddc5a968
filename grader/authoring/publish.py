"""`grade rubric publish`: the rubric a student may have before the deadline.

An instructor's rubric holds the answers (a check's `params`, `output_shape`, `equals`,
`total_params` are the expected values) and names the held-out data, so handing it out would
hand out the grade. The student rubric keeps what a student may see:

- a visible check with `reveal: true`, whole, when everything it `requires:` is published whole
  too (a self-check then grades it exactly as the grade will);
- any other visible layers or variable check, reduced to what needs no answer: each layer's
  type (the order of layers the exercise asks for), or that the variable is defined; a
  self-check shows its verdict as "partly checked", with no points;
- nothing else of the other checks: hidden and after_due checks, and visible checks that require
  one (`grader.rubric.gating`: their points would tell the hidden outcome), with only their ids,
  so that a self-check shows "hidden until grading"; accuracy checks (the held-out data never
  leaves the instructor) and visible total_params/output_shape checks not published whole (they
  cannot run without their answer) are listed under `student.withheld`.

Descriptions are kept only on revealed checks, since they often state the answer; so are the
rubric's description, its reference solution and its examples left out. What the notebook itself
reads (`files:`, `assets:`, a `datasets:` `.npz`) was handed out already and is copied beside the
student rubric. The `student:` block marks the result: grading with it is a self-check.

The Gradescope package (`grader.outputs.gradescope`) reuses `rubric_inputs` and `relocated` to carry the
whole rubric, with its data, into a zip.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML

from grader.errors import RubricError
from grader.result import Visibility
from grader.rubric import gating
from grader.rubric.model import CheckSpec, LoadedRubric, Rubric, parse_rubric

KEPT_KEYS = ("exercise", "title", "model", "limits", "compat", "seed", "training", "late", "weights")
"""Top-level keys copied as the instructor wrote them: none of them holds an answer or the held-out data."""


@dataclass(frozen=True)
class Input:
    """A file or folder a rubric reads, as the rubric names it and where it is."""

    key: str
    name: str
    source: Path
    held_out: bool = False


@dataclass
class Published:
    """A student rubric: its text, the files to copy beside it, and what was left out."""

    text: str
    rubric: Rubric
    copies: list[tuple[Path, str]] = field(default_factory=list)
    revealed: list[str] = field(default_factory=list)
    without_answers: list[str] = field(default_factory=list)
    withheld: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{len(self.revealed)} check(s) with their answers"]
        if self.without_answers:
            parts.append(f"{len(self.without_answers)} without them ({', '.join(self.without_answers)})")
        for reason, ids in self.withheld.items():
            parts.append(f"{len(ids)} withheld, {WHY[reason]} ({', '.join(ids)})")
        if self.copies:
            parts.append(f"copied {', '.join(name for _, name in self.copies)}")
        return "; ".join(parts)


WHY = {"hidden": "hidden", "answer": "needing their answer", "data": "needing the held-out data"}


def rubric_inputs(loaded: LoadedRubric) -> list[Input]:
    """Every file or folder the rubric names, relative to it: what the notebook reads, and the held-out data."""
    rubric, base = loaded.rubric, loaded.path.parent
    found = [Input("files", name, base / name) for name in rubric.files]
    found += [Input("assets", asset.source, base / asset.source) for asset in rubric.assets]
    found += [Input("datasets", spec.npz, base / spec.npz) for spec in rubric.datasets.values() if spec.npz]
    found += [
        Input("accuracy", check.accuracy.data.npz, base / check.accuracy.data.npz, held_out=True)
        for check in rubric.checks
        if check.accuracy is not None and check.accuracy.data.npz is not None
    ]
    return found


def relocated(name: str, taken: dict[str, str]) -> str:
    """Where a file the rubric names goes beside a copy of the rubric: the same relative path when it is
    inside the rubric's folder, else `outside/<name>` (numbered when two names collide)."""
    if name in taken:
        return taken[name]
    path = PurePosixPath(name)
    inside = not path.is_absolute() and ".." not in path.parts and str(path) not in ("", ".")
    target = str(path) if inside else f"outside/{path.name}"
    stem, number = target, 1
    while target in taken.values():
        number += 1
        target = f"{stem}-{number}"
    taken[name] = target
    return target


def plain_yaml(value: Any) -> Any:
    """ruamel's round-trip nodes as plain dicts and lists: no comment of the instructor's travels with them."""
    if isinstance(value, dict):
        return {str(k): plain_yaml(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_yaml(v) for v in value]
    return value


def raw_rubric(loaded: LoadedRubric) -> dict[str, Any]:
    """The rubric's YAML as the instructor wrote it (dates and rules in their own spelling), without comments."""
    data = YAML(typ="rt").load(loaded.path.read_text(encoding="utf-8"))
    return plain_yaml(data) if isinstance(data, dict) else {}


def rewrite_paths(data: dict[str, Any], rename: Callable[[str], str]) -> None:
    """Point every path the rubric names (files, assets, datasets, held-out npz) at `rename(path)`."""
    data["files"] = [rename(name) for name in data.get("files") or []]
    for asset in data.get("assets") or []:
        asset.setdefault("target", PurePosixPath(asset["source"]).name)
        asset["source"] = rename(asset["source"])
    for spec in (data.get("datasets") or {}).values():
        if spec.get("npz"):
            spec["npz"] = rename(spec["npz"])
    for check in data.get("checks") or []:
        source = (check.get("accuracy") or {}).get("data") or {}
        if source.get("npz"):
            source["npz"] = rename(source["npz"])
    for key in ("files", "assets", "datasets"):
        if not data.get(key):
            data.pop(key, None)


def dump_yaml(data: dict[str, Any], header: str = "") -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = None
    yaml.width = 110
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return header + buffer.getvalue()


def publish(loaded: LoadedRubric, out: Path) -> Published:
    """The student rubric of `loaded`, to be written at `out` (see the module docstring)."""
    rubric = loaded.rubric
    if rubric.student is not None:
        raise RubricError(
            f"{loaded.path}: this is already a student rubric (published from {rubric.student.source})",
            hint="publish the instructor's rubric",
        )
    published = Published(text="", rubric=rubric)
    checks: list[dict[str, Any]] = []
    withheld: list[dict[str, Any]] = []
    released = gating.effective_visibility(rubric.checks)
    whole: set[str] = set()
    for spec in rubric.checks:
        entry, reason = _student_check(spec, released[spec.id], whole)
        if _whole(spec, released[spec.id], whole):
            whole.add(spec.id)
        if entry is not None:
            checks.append(entry)
            (published.revealed if spec.id in whole else published.without_answers).append(spec.id)
        if reason is not None:
            withheld.append(
                {
                    "id": spec.id,
                    "reason": reason,
                    **({} if reason == "hidden" else {"points": _number(spec.points)}),
                }
            )
            published.withheld.setdefault(reason, []).append(spec.id)
    if not checks:
        raise RubricError(
            f"{loaded.path}: nothing a student can check: every check is hidden or needs its answer or the "
            "held-out data",
            hint="mark a layers or variable check visible, or any visible check `reveal: true`",
        )
    raw = raw_rubric(loaded)
    data: dict[str, Any] = {key: raw[key] for key in KEPT_KEYS if key in raw}
    data["checks"] = checks
    for key in ("files", "assets", "datasets"):
        if key in raw:
            data[key] = raw[key]
    taken: dict[str, str] = {}
    handed_out = [item for item in rubric_inputs(loaded) if not item.held_out]
    missing = [item for item in handed_out if not item.source.exists()]
    if missing:
        raise RubricError(
            f"{loaded.path}: the rubric names file(s) that do not exist: "
            + ", ".join(f"{item.key}: {item.name}" for item in missing),
            hint="paths are relative to the rubric file",
        )
    rewrite_paths(data, lambda name: relocated(name, taken))
    published.copies = [(item.source, taken[item.name]) for item in handed_out]
    data["student"] = {
        "source": loaded.path.name,
        "withheld": withheld,
        "without_answers": published.without_answers,
    }
    header = (
        f"# Student rubric for {rubric.exercise}, published from {loaded.path.name} by `grade rubric publish`.\n"
        "# It holds what a student may see before the deadline: no hidden checks, no held-out data, and\n"
        "# expected values only where the instructor revealed them. Checking with it is not a grade:\n"
        f"#   grade my-notebook.ipynb --rubric {out.name}\n"
        f"#   or in the notebook: %load_ext grader, then %grade --rubric {out.name}\n"
    )
    published.text = dump_yaml(data, header)
    published.rubric = parse_rubric(published.text, source=str(out))
    return published


def _student_check(
    spec: CheckSpec, released: Visibility, whole: set[str]
) -> tuple[dict[str, Any] | None, str | None]:
    """A check as the student rubric holds it (or None), and why it is withheld (or None).

    `released` is the check's effective visibility (`grader.rubric.gating`): a visible check that
    requires a hidden one is withheld as hidden. `whole` holds the checks published whole so far;
    a revealed check that requires another is published whole only when those are too, since a
    self-check could not otherwise tell whether it gives points.
    """
    if released != "visible":
        return None, "hidden"
    if spec.accuracy is not None:
        return None, "data"
    if _whole(spec, released, whole):
        dumped = spec.model_dump(mode="json", exclude_defaults=True, exclude={"reveal", "visibility"})
        return {**dumped, "points": _number(spec.points)}, None
    entry: dict[str, Any] = {"id": spec.id, "points": _number(spec.points)}
    if not spec.partial:
        entry["partial"] = False
    if spec.layers is not None:
        entry["layers"] = [{"type": layer.type} for layer in spec.layers]
        if spec.accept:
            entry["accept"] = list(spec.accept)
        return entry, None
    if spec.variable is not None:
        entry["variable"] = {"name": spec.variable.name}
        return entry, None
    return None, "answer"


def _whole(spec: CheckSpec, released: Visibility, whole: set[str]) -> bool:
    """Whether the check is published with its answers and everything it requires: a self-check grades it exactly."""
    return (
        spec.reveal
        and released == "visible"
        and spec.accuracy is None
        and all(required in whole for required in spec.requires)
    )


def _number(value: float) -> float | int:
    """3 rather than 3.0: the student rubric reads like one written by hand."""
    return int(value) if float(value).is_integer() else value


def write_published(published: Published, out: Path) -> None:
    """Write the student rubric and copy beside it the files the notebook reads."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for source, name in published.copies:
        target = out.parent / name
        if target.resolve() == source.resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target)
    out.write_text(published.text, encoding="utf-8")
