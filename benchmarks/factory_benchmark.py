"""Kernels forked from the warm template (grader.sandbox.factory) against kernels launched today's way.

For each round, alternately (so that load from elsewhere falls on both alike), one kernel of
each kind with the same recipe (sandboxed, own uid, Keras imported at start):

- latency: from `launch` to the kernel answering (`kernels.wait_until_ready`);
- CPU until it answered: user + system time of the kernel's process tree (and of what it
  started and reaped), plus, for a forked kernel, what the template spent forking it; the
  grader process's own CPU for the start is printed apart (the same code for both);
- memory: PSS of the kernel's tree when it answers, and after a cell that builds, fits and
  saves a small CNN (the cell's wall time too);
- then `--alive` kernels of each kind at once, idle after the same cell: the PSS of all of them
  (with the template, for forked ones), which is what a machine must hold.

    .venv/bin/python benchmarks/factory_benchmark.py [--rounds 5] [--alive 4]

Needs root, bubblewrap and a writable memory cgroup (what `grader.sandbox.factory.factory_problem` checks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import psutil

from grader.rubric import limits
from grader.sandbox import factory, kernels

RECIPE = kernels.KernelRecipe(sandboxed=True, own_uid=True, limits=limits.Limits(), import_keras=True)
CELL = """
import keras, numpy as np
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, activation='relu'),
    keras.layers.MaxPooling2D(), keras.layers.Conv2D(32, 3, activation='relu'), keras.layers.MaxPooling2D(),
    keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')])
model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(np.random.rand(512, 28, 28, 1), np.random.randint(0, 10, 512), epochs=2, batch_size=64, verbose=0)
model.save('model.keras')
print('ok')
"""
MIB = 1024 * 1024


@dataclass
class Start:
    kind: str
    latency_s: float
    cpu_s: float
    grader_cpu_s: float
    pss_ready: int
    uss_ready: int
    cell_s: float
    again_s: float
    pss_after: int
    uss_after: int


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def rollup(processes: list[psutil.Process], *fields: str) -> int:
    """The sum of `fields` of /proc/PID/smaps_rollup over `processes`, in bytes."""
    total = 0
    for process in processes:
        try:
            with open(f"/proc/{process.pid}/smaps_rollup") as lines:
                total += sum(int(line.split()[1]) * 1024 for line in lines if line.split(":")[0] in fields)
        except OSError:
            continue
    return total


def pss(processes: list[psutil.Process]) -> int:
    """Proportional set size: shared pages split among the processes that map them (sums to what is used)."""
    return rollup(processes, "Pss")


def uss(processes: list[psutil.Process]) -> int:
    """Pages no other process maps: what the kernel costs beyond what it shares (with the template)."""
    return rollup(processes, "Private_Clean", "Private_Dirty")


async def run_cell(kernel: kernels.StartedKernel, code: str) -> None:
    msg_id = kernel.client.execute(code)
    while True:
        try:
            message = await kernel.client.get_iopub_msg(timeout=300)
        except Empty:
            raise TimeoutError("the cell did not finish") from None
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "error":
            raise RuntimeError(message["content"]["evalue"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return


async def start(kind: str, folder: Path) -> kernels.StartedKernel:
    kernel = await (factory.fork_kernel(RECIPE, folder) if kind == "fork" else kernels.launch(RECIPE, folder))
    await kernels.wait_until_ready(kernel, 300)
    return kernel


async def one(kind: str, template: factory.Factory) -> Start:
    folder = Path(tempfile.mkdtemp(prefix=f"grader-bench-{kind}-"))
    template_process = psutil.Process(template.pid)
    template_before = cpu([template_process])
    grader_before = time.process_time()
    began = time.perf_counter()
    kernel = await start(kind, folder)
    latency = time.perf_counter() - began
    grader_cpu = time.process_time() - grader_before
    assert kernel.pid is not None
    processes = tree(kernel.pid)
    used = cpu(processes) + (cpu([template_process]) - template_before if kind == "fork" else 0.0)
    ready_pss, ready_uss = pss(processes), uss(processes)
    began = time.perf_counter()
    await run_cell(kernel, CELL)
    cell_s = time.perf_counter() - began
    began = time.perf_counter()
    await run_cell(kernel, CELL)
    again_s = time.perf_counter() - began
    after = tree(kernel.pid)
    after_pss, after_uss = pss(after), uss(after)
    await retire(kernel)
    shutil.rmtree(folder, ignore_errors=True)
    return Start(kind, latency, used, grader_cpu, ready_pss, ready_uss, cell_s, again_s, after_pss, after_uss)


async def retire(kernel: kernels.StartedKernel) -> None:
    """Shut the kernel down and make sure its memory cgroup is gone (it may take more than a second to empty)."""
    await kernels.shut_down(kernel)
    deadline = time.monotonic() + 20
    while kernel.cgroup is not None and kernel.cgroup.folder.exists() and time.monotonic() < deadline:
        kernel.cgroup.remove()


async def alive_at_once(kind: str, count: int, template: factory.Factory) -> int:
    """PSS of `count` idle kernels (after the cell), held at once; with the template for forked ones."""
    folders = [Path(tempfile.mkdtemp(prefix=f"grader-bench-{kind}-")) for _ in range(count)]
    started: list[kernels.StartedKernel] = []
    try:
        for folder in folders:
            # (A process has two kernel uids, alternating: here, unlike in a batch, two kernels share each.)
            kernel = await start(kind, folder)
            started.append(kernel)
            await run_cell(kernel, CELL)
        processes = [p for kernel in started if kernel.pid is not None for p in tree(kernel.pid)]
        if kind == "fork":
            processes.append(psutil.Process(template.pid))
        return pss(processes)
    finally:
        for kernel in started:
            await retire(kernel)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def main(rounds: int, alive: int) -> None:
    began = time.perf_counter()
    template = factory.process_factory()
    state = template.wait_ready()
    ready_s = time.perf_counter() - began
    template_process = psutil.Process(template.pid)
    print(
        f"template: ready in {ready_s:.1f} s (imports {state['import_s']:.1f} s), "
        f"{cpu([template_process]):.1f} s CPU, RSS {template_process.memory_info().rss / MIB:.0f} MB, "
        f"PSS {pss([template_process]) / MIB:.0f} MB, {state['threads']} threads, {state['modules']} modules"
    )
    results: list[Start] = []
    for index in range(rounds):
        for kind in ("fork", "launch") if index % 2 == 0 else ("launch", "fork"):
            result = await one(kind, template)
            results.append(result)
            print(
                f"  round {index + 1} {kind:6}  ready {result.latency_s:6.2f} s  CPU {result.cpu_s:5.2f} s  "
                f"grader CPU {result.grader_cpu_s:4.2f} s  PSS/USS ready {result.pss_ready / MIB:4.0f}/"
                f"{result.uss_ready / MIB:3.0f} MB  cell {result.cell_s:5.2f} s, again {result.again_s:5.2f} s  "
                f"PSS/USS after {result.pss_after / MIB:4.0f}/{result.uss_after / MIB:3.0f} MB"
            )
    print(f"\nmedians of {rounds} rounds (load average {os.getloadavg()[0]:.1f})")
    columns = {
        "ready s": ("latency_s", 1),
        "CPU s": ("cpu_s", 1),
        "grader CPU s": ("grader_cpu_s", 1),
        "PSS ready MB": ("pss_ready", MIB),
        "USS ready MB": ("uss_ready", MIB),
        "cell s": ("cell_s", 1),
        "again s": ("again_s", 1),
        "PSS after MB": ("pss_after", MIB),
        "USS after MB": ("uss_after", MIB),
    }
    print(f"{'':8}" + "".join(f"{name:>14}" for name in columns))
    for kind in ("launch", "fork"):
        mine = [r for r in results if r.kind == kind]
        row = []
        for field, scale in columns.values():
            value = median([getattr(r, field) / scale for r in mine])
            row.append(f"{value:14.2f}" if scale == 1 else f"{value:14.0f}")
        print(f"{kind:8}" + "".join(row))
    if alive:
        for kind in ("launch", "fork"):
            total = await alive_at_once(kind, alive, template)
            extra = " (template included)" if kind == "fork" else ""
            print(f"{alive} idle {kind} kernels at once: PSS {total / MIB:.0f} MB{extra}")
    print(
        f"template after all: PSS {pss([template_process]) / MIB:.0f} MB, threads {template_process.num_threads()}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--alive", type=int, default=4)
    options = parser.parse_args()
    if (problem := factory.factory_problem()) is not None:
        sys.exit(f"the factory cannot run here: {problem}")
    try:
        kernels.run_on_loop(main(options.rounds, options.alive))
    finally:
        factory.close_shared()
