"""`LimitOverrides` is `Limits` with every field optional: a new limit cannot miss its command-line option."""

from __future__ import annotations

from typing import Optional

from grader.grading.grade import Overrides
from grader.rubric.limits import InspectorLimits, LimitOverrides, Limits


def test_overrides_have_every_limit_in_order_and_optional() -> None:
    assert list(LimitOverrides.model_fields) == list(Limits.model_fields)
    for name, field in Limits.model_fields.items():
        override = LimitOverrides.model_fields[name]
        assert override.annotation == Optional[field.annotation], name  # noqa: UP045
        assert override.default is None, name


def test_overrides_serialise_as_before_so_batch_keys_do_not_change() -> None:
    """The execution key hashes `Overrides.model_dump_json()`: the same JSON keeps every kept result unchanged."""
    assert LimitOverrides(timeout=5).model_dump_json() == (
        '{"timeout":5.0,"cell_timeout":null,"memory_mb":null,"processes":null,"output_kb":null,'
        '"disk_mb":null,"gpu_memory_mb":null,"grader_timeout":null,"grader_memory_mb":null}'
    )
    assert Overrides().limits == LimitOverrides()


def test_one_field_is_replaced_and_merged_over_the_rubric() -> None:
    overrides = LimitOverrides(memory_mb=2048).model_copy(update={"gpu_memory_mb": 512})
    merged = Limits(timeout=60).merged(overrides)
    assert (merged.timeout, merged.memory_mb, merged.gpu_memory_mb) == (60, 2048, 512)


def test_inspector_limits_are_the_values_it_always_ran_under() -> None:
    bounds = InspectorLimits()
    assert (bounds.start_timeout_s, bounds.processes, bounds.tmp_mb) == (180.0, 1024, 2048)
