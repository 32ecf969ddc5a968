"""What the kernel leaves behind is hostile input: `grader.grading.artifacts.collect` on crafted folders.

No kernel here: each test builds the artifacts folder a hostile kernel could leave (FIFOs,
symlinks, devices, huge or duplicated entries, a manifest that lies) and checks that collecting
it neither blocks nor follows anything, and refuses exactly what it must, with a reason.
The same attacks, made from inside a real kernel, are graded in tests/test_adversarial.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.grading import artifacts
from grader.grading.probe import ProbeManifest
from tests.conftest import examples

PROBE = "probe-0123456789abcdef"


def keras_zip(members: dict[str, bytes] | None = None) -> bytes:
    """The bytes of a zip laid out like a `.keras` file (or with the `members` given)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (
            members or {"metadata.json": b"{}", "config.json": b"{}", "model.weights.h5": b"h5"}
        ).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def write_probe(folder: Path, facts: dict[str, Any] | str, models: dict[str, bytes] | None = None) -> Path:
    """An artifacts folder as the probe writes it: facts.json and models/<name>.keras in its own folder.

    The manifest the probe would print on its output is kept beside the folder (`manifest_of`),
    so that a test can change the files afterwards, as a hook or a thread of the notebook would.
    """
    probe = folder / "artifacts" / PROBE
    (probe / "models").mkdir(parents=True, exist_ok=True)
    for name, content in (models or {}).items():
        (probe / "models" / f"{name}.keras").write_bytes(content)
    text = facts if isinstance(facts, str) else json.dumps(facts)
    (probe / "facts.json").write_text(text)
    try:
        listed = json.loads(text).get("models", [])
    except (ValueError, AttributeError):
        listed = []
    printed = [
        {key: item.get(key) for key in ("variable", "file", "bytes", "sha256")}
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, dict) and item.get("file")
    ]
    manifest = {"facts_sha256": hashlib.sha256(text.encode()).hexdigest(), "models": printed}
    (folder / "printed-manifest.json").write_text(json.dumps(manifest))
    return folder / "artifacts"


def manifest_of(artifacts_folder: Path) -> ProbeManifest | None:
    try:
        return ProbeManifest.model_validate_json(
            (artifacts_folder.parent / "printed-manifest.json").read_text()
        )
    except (OSError, ValueError):
        return None


def entry(variable: str, content: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "variable": variable,
        "class": "Sequential",
        "built": True,
        "file": f"models/{variable}.keras",
        "bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        **extra,
    }


def collect(folder: Path, tmp_path: Path) -> artifacts.Artifacts:
    """Collect on a thread, so that a test fails (instead of hanging for ever) if anything blocks."""
    found: list[artifacts.Artifacts] = []
    worker = threading.Thread(
        target=lambda: found.append(artifacts.collect(folder, PROBE, tmp_path / "snap", manifest_of(folder)))
    )
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "collecting the artifacts blocked"
    return found[0]


def test_the_probes_own_output_is_accepted_and_copied_into_the_snapshot(tmp_path: Path) -> None:
    content = keras_zip()
    folder = write_probe(tmp_path, {"models": [entry("model", content)], "device": "CPU"}, {"model": content})
    got = collect(folder, tmp_path)
    assert got.refusals == ()
    assert got.facts is not None and got.facts.models[0].variable == "model"
    copy = got.models["model"]
    assert copy.path.read_bytes() == content and copy.path.is_relative_to(tmp_path / "snap")
    assert copy.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("target", ["facts.json", "models/model.keras"])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, target: str) -> None:
    content = b"model"
    folder = write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content})
    path = folder / PROBE / target
    path.unlink()
    os.mkfifo(path)
    got = collect(folder, tmp_path)
    assert any("refused" in r and "FIFO" in r and target in r for r in got.refusals), got.refusals
    assert "model" not in got.models


@pytest.mark.parametrize("link_to", ["/dev/zero", "/etc/passwd", "/proc/self/environ"])
def test_a_symlink_is_refused_and_never_followed(tmp_path: Path, link_to: str) -> None:
    folder = write_probe(tmp_path, {"models": []})
    facts = folder / PROBE / "facts.json"
    facts.unlink()
    facts.symlink_to(link_to)
    got = collect(folder, tmp_path)
    assert got.facts is None
    assert any("facts.json" in r and "symbolic link" in r for r in got.refusals), got.refusals


def test_a_symlinked_folder_is_not_walked(tmp_path: Path) -> None:
    folder = write_probe(tmp_path, {"models": []})
    (folder / PROBE / "elsewhere").symlink_to("/etc")
    got = collect(folder, tmp_path)
    assert any("elsewhere" in r and "symbolic link" in r for r in got.refusals)
    assert not any("passwd" in r for r in got.refusals)


def test_a_variable_named_twice_refuses_the_facts(tmp_path: Path) -> None:
    """Two entries for `model`: the layer checks would measure one file, the accuracy check another."""
    honest, cheat = b"honest model", b"cheating model"
    facts = {"models": [entry("model", honest), {**entry("model", cheat), "file": "models/other.keras"}]}
    folder = write_probe(tmp_path, facts, {"model": honest, "other": cheat})
    got = collect(folder, tmp_path)
    assert got.facts is None and got.models == {}
    assert any("refused" in r and "twice" in r and "`model`" in r for r in got.refusals), got.refusals


def test_a_json_key_given_twice_refuses_the_facts(tmp_path: Path) -> None:
    text = '{"variables": {"conv_params": {"value": 1, "type": "int"}, "conv_params": {"value": 80, "type": "int"}}}'
    folder = write_probe(tmp_path, text)
    got = collect(folder, tmp_path)
    assert got.facts is None
    assert any("twice" in r and "conv_params" in r for r in got.refusals)


def test_files_the_manifest_does_not_account_for_are_refused(tmp_path: Path) -> None:
    content = keras_zip()
    folder = write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content, "planted": b"x"})
    (folder / "early.keras").write_bytes(b"planted before the probe ran")
    got = collect(folder, tmp_path)
    assert set(got.models) == {"model"}
    refused = " ".join(got.refusals)
    assert "early.keras: not written by the probe" in refused
    assert f"{PROBE}/models/planted.keras: not written by the probe" in refused


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"config.json": b"{}", "../../escape.py": b"x"}, "could have written"),
        ({"config.json": b"{}", "model.weights.h5": b"h5", "extra.pkl": b"x"}, "could have written"),
        ({"config.json": b"{}", "model.weights.h5": b"\0" * (1 << 20)}, None),
    ],
)
def test_a_crafted_keras_archive_is_refused_before_anything_unpacks_it(
    tmp_path: Path, members: dict[str, bytes], reason: str | None
) -> None:
    content = keras_zip(members)
    got = collect(write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content}), tmp_path)
    if reason is None:
        assert "model" in got.models, got.refusals
    else:
        assert got.models == {} and any(reason in r for r in got.refusals), got.refusals


def test_an_archive_that_unpacks_to_gigabytes_is_refused(tmp_path: Path) -> None:
    """A few hundred bytes of zip whose directory says gigabytes: refused from the directory, nothing unpacked.

    The member's uncompressed size is rewritten in the central directory, as a crafted file would
    say it (deflating a real gigabyte of zeros says the same, in seconds of CPU).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b"{}")
        archive.writestr("model.weights.h5", b"\0" * 1024)
    content = bytearray(buffer.getvalue())
    claimed = artifacts.MAX_MODEL_BYTES + (1 << 30)
    header = content.rindex(b"PK\x01\x02")  # the central directory entry of the last member
    content[header + 24 : header + 28] = claimed.to_bytes(4, "little")
    content = bytes(content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.getinfo("model.weights.h5").file_size == claimed
    got = collect(write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content}), tmp_path)
    assert got.models == {} and any("unpacks to" in r for r in got.refusals), got.refusals


def test_a_model_whose_bytes_differ_from_the_manifest_is_refused(tmp_path: Path) -> None:
    folder = write_probe(
        tmp_path, {"models": [entry("model", b"what the probe saved")]}, {"model": b"swapped"}
    )
    got = collect(folder, tmp_path)
    assert got.models == {}
    assert got.facts is not None and "refused" in (got.facts.models[0].error or "")
    assert any("not written by the probe" in r for r in got.refusals)


def test_a_huge_sparse_model_file_is_refused_by_size_without_reading_it(tmp_path: Path) -> None:
    folder = write_probe(tmp_path, {"models": [{**entry("model", b""), "bytes": 1 << 40}]})
    with open(folder / PROBE / "models" / "model.keras", "wb") as handle:
        handle.truncate(artifacts.MAX_MODEL_BYTES + 1)
    got = collect(folder, tmp_path)
    assert got.models == {}
    assert any("larger than" in r for r in got.refusals)


def test_oversized_facts_are_refused(tmp_path: Path) -> None:
    folder = write_probe(tmp_path, json.dumps({"errors": ["x" * 200] * 40_000}))
    got = collect(folder, tmp_path)
    assert got.facts is None and any("facts.json" in r and "larger than" in r for r in got.refusals)


def test_long_histories_are_cut_and_a_forged_device_is_dropped(tmp_path: Path) -> None:
    content = b"model"
    history = {f"metric_{i}": [0.5] * (5000 if i == 0 else 3) for i in range(5000)}
    facts = {"models": [entry("model", content, history=history)], "device": "[/bold] GPU \x1b[31m"}
    got = collect(write_probe(tmp_path, facts, {"model": content}), tmp_path)
    assert got.facts is not None
    kept = got.facts.models[0].history or {}
    assert len(kept) == 32 and len(kept["metric_0"]) == 1_000
    assert got.facts.device == "CPU"
    assert any("cut the training history" in r for r in got.refusals)
    assert any("device name" in r for r in got.refusals)


def test_too_many_entries_stop_the_walk(tmp_path: Path) -> None:
    folder = write_probe(tmp_path, {"models": []})
    spam = folder / "spam"
    spam.mkdir()
    for number in range(artifacts.MAX_ENTRIES + 10):
        (spam / f"{number}").touch()
    got = collect(folder, tmp_path)
    assert any(f"after {artifacts.MAX_ENTRIES} entries" in r for r in got.refusals)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FACT_KEYS = st.sampled_from(["models", "variables", "missing_variables", "device", "errors", "compat", "x"])


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    facts=st.dictionaries(FACT_KEYS, JSON, max_size=6)
    | st.builds(
        lambda models: {"models": models}, st.lists(st.dictionaries(st.text(max_size=10), JSON), max_size=4)
    )
    | JSON
)
def test_any_facts_json_is_accepted_or_refused_but_never_raises(tmp_path: Path, facts: Any) -> None:
    """Fuzzing: whatever JSON the kernel writes, collecting it returns; accepted facts are valid and bounded."""
    folder = tmp_path / "fuzz"
    if folder.exists():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    written = write_probe(folder, json.dumps(facts))
    got = artifacts.collect(written, PROBE, folder / "snap", manifest_of(written))
    if got.facts is None:
        assert any("facts.json" in r for r in got.refusals)
    else:
        assert len(got.facts.models) <= 100 and len(got.facts.device) <= 130


def test_facts_changed_after_the_probe_are_refused(tmp_path: Path) -> None:
    """A hook that runs after every cell rewrites facts.json once the probe is done: the printed hash disagrees."""
    content = keras_zip()
    folder = write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content})
    (folder / PROBE / "facts.json").write_text(
        json.dumps({"models": [entry("model", content)], "device": "CPU"})
    )
    got = collect(folder, tmp_path)
    assert got.facts is None and got.models == {}
    assert any("changed after the probe wrote it" in r for r in got.refusals), got.refusals


def test_a_model_swapped_with_a_matching_manifest_entry_is_still_refused(tmp_path: Path) -> None:
    """facts.json and the file both replaced consistently, after the probe printed its manifest."""
    honest, planted = keras_zip(), keras_zip({"config.json": b'{"planted": 1}', "model.weights.h5": b"x"})
    folder = write_probe(tmp_path, {"models": [entry("model", honest)]}, {"model": honest})
    printed = (folder.parent / "printed-manifest.json").read_text()
    write_probe(tmp_path, {"models": [entry("model", planted)]}, {"model": planted})
    (folder.parent / "printed-manifest.json").write_text(printed)
    got = collect(folder, tmp_path)
    assert got.models == {}, "nothing but what the probe printed is accepted"


def test_without_the_printed_manifest_nothing_is_trusted(tmp_path: Path) -> None:
    content = keras_zip()
    folder = write_probe(tmp_path, {"models": [entry("model", content)]}, {"model": content})
    (folder.parent / "printed-manifest.json").unlink()
    got = collect(folder, tmp_path)
    assert got.facts is None and any("manifest did not arrive" in r for r in got.refusals)
