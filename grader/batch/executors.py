"""Where a submission is graded: a pool of local worker processes, a Ray cluster, or Slurm jobs.

All run the same function, `grade_task`, on the same `Task` value and return the same
`TaskOutcome`, so a result cannot depend on where it was graded. The submission travels inside
the task as bytes (a Ray node need not see the instructor's disk); the rubric is read by its
absolute path, so every node needs the course's rubrics folder at the same place.

A worker is a long-lived process that grades many submissions: TensorFlow, which the grader
needs to load each saved model, is imported once per worker, not once per submission; a local
worker launches the next submission's kernel while it is still measuring the last one's model
(`grader.sandbox.kernels`); and the held-out data is read once per batch, here in the parent
(`hidden_data`), then memory-mapped by the local workers or put in Ray's object store. Student
code never runs in a worker; each submission gets its own sandboxed kernel (`grader.grading.run`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from queue import Empty
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from grader.batch.store import Keys, error_text, grader_failure
from grader.errors import GradingError
from grader.grading import datasets, inspector
from grader.grading.grade import Execution, Overrides, effective_limits, grade_and_keep
from grader.grading.submission import load_submission
from grader.result import Failure, GradeResult
from grader.rubric.model import LoadedRubric, load_rubric
from grader.sandbox import factory, kernels

MAX_ATTEMPTS = 2
MAX_KEPT_BYTES = 512 * 1024 * 1024
STARTED_POLL_S = 0.5


class Task(BaseModel):
    """One submission to grade, self-contained so that it can be shipped to another machine.

    `attachments` are the files that travel with it (its checkpoint): name and bytes.
    """

    model_config = ConfigDict(frozen=True)

    stem: str
    name: str
    payload: bytes
    attachments: tuple[tuple[str, bytes], ...] = ()
    rubric_path: str
    rubric_label: str
    overrides: Overrides
    keys: Keys
    gpus: bool = False
    identity: str = ""
    """What the kernel is seeded by (`prelude.submission_seed`): the stem when empty, as in a batch;
    the file's own stem for `grade rubric test`, which must grade each file as a single grade does."""


class TaskOutcome(BaseModel):
    """The canonical result JSON, or the failure; what ran, to be kept; the worker's memory, for capacity planning.

    `execution_json` and `models` (file name, bytes) are what ran, for the out folder to keep so
    that the student can be scored again without running (left out above `MAX_KEPT_BYTES`).
    """

    model_config = ConfigDict(frozen=True)

    stem: str
    submission: str
    keys: Keys
    result_json: str | None = None
    failure: Failure | None = None
    execution_json: str | None = None
    models: tuple[tuple[str, bytes], ...] = ()
    worker: str = ""
    worker_peak_mb: float = 0.0
    inspector_peak_mb: float = 0.0
    kernel_peak_mb: float = 0.0
    kernel_prestarted: bool = False
    kernel_wait_s: float | None = None
    kernel_forked: bool = False
    kernel_fallback: str | None = None
    data_reads: int = 0


def grade_task(task: Task) -> TaskOutcome:
    """Grade one submission in this worker; every problem becomes the outcome, never an exception.

    The grading itself is `grade_and_keep`, the very path of a single `grade`: only the files
    (written from the task's bytes) and the notes about the worker are the batch's own.
    """
    kernels.take_last_start()
    try:
        with tempfile.TemporaryDirectory(prefix="grader-task-") as folder:
            path = _write_task_files(task, Path(folder))
            loaded = load_rubric(Path(task.rubric_path))
            kept = Path(folder) / ".kept"
            graded = grade_and_keep(
                load_submission(path), loaded, task.overrides, kept, task.identity or task.stem
            )
            models = _kept_models(graded.execution, kept)
    except GradingError as exc:
        return _outcome(task, failure=Failure.from_error(task.stem, task.name, exc))
    except Exception as exc:
        return _outcome(task, failure=grader_failure(task.stem, task.name, error_text(exc)))
    notes = (*graded.result.notes, *_gpu_note(task, loaded))
    final = graded.result.model_copy(update={"rubric": task.rubric_label, "notes": notes})
    kept_execution = graded.execution if models is not None else None
    return _outcome(task, result=final, execution=kept_execution, models=models or ())


def _write_task_files(task: Task, folder: Path) -> Path:
    """The submission and the files that travel with it, written into `folder`; the submission's path."""
    path = folder / task.name
    path.write_bytes(task.payload)
    for name, content in task.attachments:
        (folder / Path(name).name).write_bytes(content)
    return path


def _gpu_note(task: Task, loaded: LoadedRubric) -> tuple[str, ...]:
    """Which GPU graded the task, and the cap on the kernel's share of it (nothing when the batch has no GPUs)."""
    if not task.gpus:
        return ()
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
    cap = effective_limits(loaded, task.overrides).gpu_memory_mb
    capped = f", the kernel's TensorFlow capped at {cap} MB of it" if cap else ""
    return (f"graded by a worker assigned GPU {gpu} (CUDA_VISIBLE_DEVICES={gpu}){capped}",)


def _kept_models(execution: Execution, folder: Path) -> tuple[tuple[str, bytes], ...] | None:
    """The execution's model files, to keep beside the result; None when they are too large to send back."""
    if sum(model.size for model in execution.models) > MAX_KEPT_BYTES:
        return None
    return tuple((model.file, (folder / model.file).read_bytes()) for model in execution.models)


def _outcome(
    task: Task,
    *,
    result: GradeResult | None = None,
    failure: Failure | None = None,
    execution: Execution | None = None,
    models: tuple[tuple[str, bytes], ...] = (),
) -> TaskOutcome:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = kernels.take_last_start()
    return TaskOutcome(
        stem=task.stem,
        submission=task.name,
        keys=task.keys,
        result_json=result.to_json() if result is not None else None,
        failure=failure,
        execution_json=execution.model_dump_json() if execution is not None else None,
        models=models,
        worker=f"{os.uname().nodename}:{os.getpid()}",
        worker_peak_mb=round(own, 1),
        inspector_peak_mb=inspector.peak_mb(),
        kernel_peak_mb=result.run.stages.kernel_peak_mb if result is not None else 0.0,
        kernel_prestarted=start.prestarted if start else False,
        kernel_wait_s=start.wait_s if start else None,
        kernel_forked=start.forked if start else False,
        kernel_fallback=start.fallback if start else None,
        data_reads=datasets.reads(),
    )


class TaskStarted(BaseModel):
    """A worker took a task (for the progress display: who is being graded now)."""

    model_config = ConfigDict(frozen=True)

    stem: str


class Executor(Protocol):
    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome | TaskStarted]:
        """Grade every task once, yielding each outcome as soon as it is ready (and, where known, each start)."""
        ...


def hidden_data(tasks: Sequence[Task]) -> dict[datasets.DataKey, datasets.Dataset]:
    """The held-out data of every rubric in the batch, read and prepared once here for all workers.

    A source that cannot be read is left out: each worker then tries it itself and the failure
    becomes that accuracy check's message, as in a single `grade`.
    """
    prepared: dict[datasets.DataKey, datasets.Dataset] = {}
    for rubric_path in sorted({task.rubric_path for task in tasks}):
        try:
            loaded = load_rubric(Path(rubric_path))
        except GradingError:
            continue
        for check in loaded.rubric.checks:
            if check.accuracy is None:
                continue
            spec, base = check.accuracy, loaded.path.parent
            with contextlib.suppress(datasets.DatasetError):
                prepared[datasets.key(spec.data, spec.preprocess, base)] = datasets.load(
                    spec.data, spec.preprocess, base
                )
    return prepared


_started: Any = None
_unclaimed: Any = None


def _start_worker(
    started: Any, unclaimed: Any, gpu_ids: Any, shared: list[Any], spare_kernels: bool, use_factory: bool
) -> None:
    """Pool initializer: where to announce tasks, the batch's held-out data, a GPU, the kernel factory, spares.

    `unclaimed` counts the tasks no worker has taken yet: a worker launches no spare kernel when
    none is left for it to grade. The GPU is assigned before the factory's template starts, so
    that its kernels see the same device as launched ones would.
    """
    global _started, _unclaimed
    _started, _unclaimed = started, unclaimed
    datasets.share(datasets.map_shared(shared))
    if gpu_ids is not None:
        gpu = gpu_ids.get_nowait()
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    if use_factory:
        factory.enable()
    if spare_kernels:
        kernels.keep_spares(more_work=lambda: bool(unclaimed.value > 0))


def _local_task(task: Task) -> TaskOutcome:
    _started.put(task.stem)
    with _unclaimed.get_lock():
        _unclaimed.value -= 1
    return grade_task(task)


class LocalExecutor:
    """A process pool on this machine: `workers` processes, or one per GPU, each with its own GPU.

    With `spare_kernels` each worker launches its next kernel as soon as the current one answers.

    If a worker process itself dies (not a student's kernel: those die alone), the pool is rebuilt
    and the submissions that were not finished are graded again; one that was being graded when
    the pool broke `MAX_ATTEMPTS` times becomes a grader-failure row, so it cannot stop the batch.
    """

    def __init__(
        self, workers: int, gpus: Sequence[str] = (), *, spare_kernels: bool = True, factory: bool = False
    ) -> None:
        self.spare_kernels = spare_kernels
        self.factory = factory
        self.gpus = tuple(gpus)
        self.workers = len(self.gpus) if self.gpus else max(1, workers)
        self.context = multiprocessing.get_context("spawn")

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome | TaskStarted]:
        if not tasks:
            return
        with tempfile.TemporaryDirectory(prefix="grader-batch-data-") as folder:
            shared = datasets.save_shared(hidden_data(tasks), Path(folder))
            yield from self._run(tasks, shared)

    def _run(self, tasks: Sequence[Task], shared: list[Any]) -> Iterator[TaskOutcome | TaskStarted]:
        pending = {task.stem: task for task in tasks}
        attempts: Counter[str] = Counter()
        while pending:
            started = self.context.Queue()
            unclaimed = self.context.Value("i", len(pending))
            gpu_ids = None
            if self.gpus:
                gpu_ids = self.context.Queue()
                for gpu in self.gpus:
                    gpu_ids.put(gpu)
            pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(pending)),
                mp_context=self.context,
                initializer=_start_worker,
                initargs=(started, unclaimed, gpu_ids, shared, self.spare_kernels, self.factory),
            )
            try:
                futures: dict[Future[TaskOutcome], Task] = {
                    pool.submit(_local_task, task): task for task in pending.values()
                }
                broken = False
                waiting = set(futures)
                begun: list[str] = []
                while waiting and not broken:
                    done, waiting = wait(waiting, timeout=STARTED_POLL_S, return_when=FIRST_COMPLETED)
                    for stem in _drain(started, wait_s=0):
                        begun.append(stem)
                        yield TaskStarted(stem=stem)
                    for future in done:
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        pending.pop(outcome.stem, None)
                        yield outcome
                if broken:
                    begun += _drain(started)
                    suspects = [stem for stem in begun if stem in pending] or list(pending)
                    for stem in suspects:
                        attempts[stem] += 1
                        if attempts[stem] >= MAX_ATTEMPTS:
                            task = pending.pop(stem)
                            yield _outcome(
                                task, failure=grader_failure(task.stem, task.name, "its worker process died")
                            )
            except BaseException:
                _stop_workers(pool)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
                kernels.remove_abandoned_spares()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """On Ctrl-C or SIGTERM, end the workers now rather than after their current submission.

    Their kernels die with them (bubblewrap's --die-with-parent); results already written stay.
    `ProcessPoolExecutor` has no public way to stop its workers before Python 3.14.
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()


def _drain(queue: Any, wait_s: float = 0.1) -> list[str]:
    stems = []
    while True:
        try:
            stems.append(queue.get(timeout=wait_s) if wait_s else queue.get_nowait())
        except Empty:
            return stems


def _ray_task(task: Task, shared: dict[datasets.DataKey, datasets.Dataset]) -> TaskOutcome:
    """The Ray task: the batch's data comes from the object store (shared memory on each node).

    No spare kernels here: a Ray cluster keeps idle workers alive between batches, and each would
    hold an idle kernel with TensorFlow loaded (about 0.6 GB) for as long as it lives.
    """
    datasets.share(shared)
    return grade_task(task)


class RayExecutor:
    """The same task on a Ray cluster: one CPU per submission (and one GPU with `--gpus`).

    Without an address it starts a local Ray instance inside this process (and stops it after);
    with one it joins the cluster there (`ray start --head` on one machine, `ray start
    --address=...` on the others; see docs/batch.md).
    """

    def __init__(self, address: str | None, cpus: int, gpus: Sequence[str] = ()) -> None:
        self.address = address
        self.cpus = max(1, cpus)
        self.gpus = tuple(gpus)

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        if not tasks:
            return
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            self._connect(ray)
        try:
            options: dict[str, Any] = {"num_cpus": 1, "max_retries": MAX_ATTEMPTS - 1}
            if self.gpus:
                options["num_gpus"] = 1
                options["runtime_env"] = {"env_vars": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}}
            remote = ray.remote(_ray_task).options(**options)
            shared = ray.put(hidden_data(tasks))
            refs = {remote.remote(task, shared): task for task in tasks}
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    task = refs.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        yield _outcome(
                            task,
                            failure=grader_failure(task.stem, task.name, f"Ray: {str(exc).splitlines()[0]}"),
                        )
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> None:
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
            return
        if self.gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus)
        ray.init(
            num_cpus=self.cpus,
            num_gpus=len(self.gpus),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )


def _slurm_task(task: Task, saved: list[Any]) -> TaskOutcome:
    """The Slurm job: the batch's held-out data is memory-mapped from the shared folder the parent wrote."""
    datasets.share(datasets.map_shared(saved))
    return grade_task(task)


class SlurmExecutor:
    """The same task as Slurm jobs, through submitit: the cluster universities already run.

    One job per submission, submitted as one job array (at most `parallelism` running at a time),
    each with `cpus` CPUs and `gpus` GPUs. The job folder (logs, pickled tasks and results, the
    batch's held-out data) must be on a file system the compute nodes share, like the out folder.
    Where no Slurm is installed (`srun` missing), or with `cluster="local"`, submitit's local
    executor runs the very same jobs as processes of this machine: that is how the test suite
    exercises this path.
    """

    def __init__(
        self,
        folder: Path,
        *,
        cluster: str | None = None,
        partition: str | None = None,
        cpus: int = 1,
        gpus: int = 0,
        timeout_min: int = 60,
        parallelism: int = 8,
    ) -> None:
        self.folder = folder
        self.cluster = cluster
        self.partition = partition
        self.cpus = max(1, cpus)
        self.gpus = gpus
        self.timeout_min = timeout_min
        self.parallelism = max(1, parallelism)

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        if not tasks:
            return
        import submitit

        self.folder.mkdir(parents=True, exist_ok=True)
        data_folder = Path(tempfile.mkdtemp(prefix="held-out-", dir=self.folder))
        try:
            saved = datasets.save_shared(hidden_data(tasks), data_folder)
            executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=self.cluster)
            parameters: dict[str, Any] = {
                "name": "grader",
                "timeout_min": self.timeout_min,
                "cpus_per_task": self.cpus,
                "slurm_array_parallelism": self.parallelism,
            }
            if self.gpus:
                parameters["gpus_per_node"] = self.gpus
            if self.partition:
                parameters["slurm_partition"] = self.partition
            executor.update_parameters(**parameters)
            yield from self._jobs(executor, list(tasks), saved)
        finally:
            shutil.rmtree(data_folder, ignore_errors=True)

    def _jobs(self, executor: Any, tasks: list[Task], saved: list[Any]) -> Iterator[TaskOutcome]:
        """A job array on Slurm; locally, a window of `parallelism` jobs (the local executor starts them all at once)."""
        import submitit

        if executor.cluster == "slurm":
            jobs = executor.map_array(_slurm_task, tasks, [saved] * len(tasks))
            waiting = dict(zip(jobs, tasks, strict=True))
        else:
            waiting = {}
        pending = [] if waiting else list(tasks)
        while waiting or pending:
            while pending and len(waiting) < self.parallelism:
                task = pending.pop(0)
                waiting[executor.submit(_slurm_task, task, saved)] = task
            job = next(submitit.helpers.as_completed(list(waiting)))
            task = waiting.pop(job)
            try:
                yield job.result()
            except Exception as exc:
                first = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
                yield _outcome(
                    task, failure=grader_failure(task.stem, task.name, f"Slurm job {job.job_id}: {first}")
                )
