"""Kernel lifetimes (grader.sandbox.kernels) that no grade goes through end to end."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from grader.rubric import limits
from grader.sandbox import kernels

pytestmark = pytest.mark.slow


def test_a_kernel_shut_down_right_after_launch_leaves_no_thread_dying_with_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spare kernel that is not taken, or a batch interrupted while a kernel starts, is shut down
    before jupyter_client's heartbeat thread has opened its socket; before the fix that thread died
    with `ZMQError: Too many open files` printed on the worker's stderr."""
    died: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(repr(args.exc_value)))
    recipe = kernels.KernelRecipe(sandboxed=False, own_uid=False, limits=limits.Limits(), import_keras=False)

    async def launch_and_shut_down(folder: Path) -> None:
        kernel = await kernels.launch(recipe, folder)
        await kernels.shut_down(kernel)
        kernels.remove(kernel)

    for attempt in range(4):
        asyncio.run(launch_and_shut_down(tmp_path / f"kernel-{attempt}"))
    assert died == []
