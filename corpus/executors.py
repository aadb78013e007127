"""Running phases on datatrove's executors (local, Slurm, Ray), and watching them from outside.

medmix schedules nothing itself: each phase becomes one datatrove executor, and on Slurm the phases
are chained by job dependencies. Progress and failures are read from what datatrove writes in the
phase's logging folder (completion markers, task logs), so the same code watches every executor.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import multiprocess
from datatrove.executor import LocalPipelineExecutor
from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep

from medmix.corpus.recipe import LocalExecutor, RayExecutor, SlurmExecutor
from medmix.corpus.stages.base import Phase
from medmix.rundir import completed_tasks


class LostTask(RuntimeError):
    """A task process that ended without finishing its task: killed (by the kernel for lack of memory, or by
    hand) or crashed. datatrove's pool would wait for its result forever."""


class WatchedLocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor, whose task processes write their pid to `<logs>/pids/<rank>` as they start,
    so that `watch_completions` can tell a task still running from one whose process is gone."""

    def _launch_run_for_rank(self, rank: int, ranks_q, completed=None, completed_lock=None):
        with self.logging_dir.open(f"pids/{rank:05d}", "w") as handle:
            handle.write(str(os.getpid()))
        return super()._launch_run_for_rank(rank, ranks_q, completed, completed_lock)


def lost_tasks(phase_logs: Path) -> list[int]:
    """Ranks whose process wrote its pid and is gone, though datatrove never marked the task complete."""
    lost = []
    for pid_file in sorted((phase_logs / "pids").glob("*")):
        if (phase_logs / "completions" / pid_file.name).exists():
            continue
        try:
            os.kill(int(pid_file.read_text()), 0)
        except ProcessLookupError:
            lost.append(int(pid_file.name))
        except (ValueError, PermissionError):  # a pid not written yet, or another user's process: not ours to judge
            continue
    return lost


def make_executor(config: LocalExecutor | SlurmExecutor | RayExecutor, phase: Phase, job_name: str,
                  depends: PipelineExecutor | None) -> PipelineExecutor:
    common = dict(pipeline=phase.pipeline, tasks=phase.tasks or config.tasks, logging_dir=str(phase.logs))
    if config.kind == "local":
        return WatchedLocalExecutor(**common, workers=config.workers or -1)
    if config.kind == "ray":
        from datatrove.executor.ray import RayPipelineExecutor

        return RayPipelineExecutor(**common, workers=config.workers or -1, cpus_per_task=config.cpus_per_task,
                                   mem_per_cpu_gb=config.mem_per_cpu_gb)
    from datatrove.executor.slurm import SlurmPipelineExecutor

    # datatrove writes its own --qos after sbatch_args (default "normal"), so a qos given there goes to its
    # parameter instead; an empty qos leaves the directive out, for clusters without QOS
    sbatch_args = {key: value for key, value in config.sbatch_args.items() if key != "qos"}
    return SlurmPipelineExecutor(
        **common, depends=depends, partition=config.partition, time=config.time,
        cpus_per_task=config.cpus_per_task, mem_per_cpu_gb=config.mem_per_cpu_gb, workers=config.workers or -1,
        job_name=job_name, sbatch_args=sbatch_args, qos=config.sbatch_args.get("qos", "normal"),
        venv_path=config.venv or str(Path(sys.prefix) / "bin" / "activate"),
        slurm_logs_folder=str(phase.logs / "slurm"),
    )


# pyarrow imports pandas (0.6 s) the first time it builds an array from Python objects, as every task's books do
# when they are written
EVERY_TASK_IMPORTS = ("pandas",)
TASK_IMPORTS_ENV = "MEDMIX_TASK_IMPORTS"  # read by medmix.corpus.task_server, in the fork server


def preload_task_modules(steps: Iterable[PipelineStep]) -> None:
    """Have the fork server import what these steps' tasks import, before it forks a local task process.

    datatrove's local executor forks each phase's task processes from a fork server: a process of its own,
    started at the first pooled phase, that lives as long as this one. A server that imported nothing forks
    children that import datatrove, pandas, polars, the encoders or presidio (which imports torch and
    transformers: 5-7 s) again in every task of every phase; forked from a server that has them, a task
    starts at once (an empty 2-task phase: 0.6 s before, 0.09 s after). Each step's module is preloaded,
    with the libraries it names in its `task_imports` (those its task imports as it runs), and the
    program's main module (the server's default), which each task would otherwise run again.

    What the server holds is fixed when it starts, at the first pooled phase of this process: its
    environment, its stderr, and this list (a later call changes nothing). `medmix build` runs one build per
    process. The server is no longer a process that imported nothing: some of these libraries start threads
    at import (OpenBLAS, polars), which a forked child does not inherit; the tests and the demo run with it.
    A module that fails to import, with any error, is left to the tasks (`medmix.corpus.task_server`).
    """
    steps = list(steps)
    modules = {type(step).__module__ for step in steps} | set(EVERY_TASK_IMPORTS)
    modules |= {name for step in steps for name in getattr(step, "task_imports", ())}
    os.environ[TASK_IMPORTS_ENV] = ",".join(sorted(modules))
    multiprocess.set_forkserver_preload(["__main__", "medmix.corpus.task_server"])


def ray_worker_setup() -> None:
    """Runs in every Ray worker before it starts. datatrove's Ray actor runs each task in a `multiprocess`
    pool; forked from an actor full of Ray's threads, a child can inherit a held lock and hang forever
    (we saw it happen). A fork server forks from a clean single-threaded process instead."""
    multiprocess.set_start_method("forkserver", force=True)


RAY_RUNTIME_ENV = {"worker_process_setup_hook": "medmix.corpus.executors.ray_worker_setup"}


def connect_ray(address: str | None) -> None:
    """Join the Ray cluster at `address` (or start a local one), unless the caller initialised Ray already."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, runtime_env=RAY_RUNTIME_ENV)


@contextmanager
def watch_completions(phase: Phase, on_change: Callable[[int], None], interval: float = 0.3) -> Iterator[None]:
    """Report the phase's completed task count from a background thread, whatever executor runs it; and on the
    local executor, stop the phase with `LostTask` when a task's process is gone before its task finished."""
    stop, lost = threading.Event(), []
    shutil.rmtree(phase.logs / "pids", ignore_errors=True)  # an earlier run's processes are gone, and done with
    in_main_thread = threading.current_thread() is threading.main_thread()  # where a signal handler can be set

    def poll() -> None:
        while not stop.wait(interval):
            on_change(completed_tasks(phase.logs))
            if in_main_thread and not lost:
                lost.extend(lost_tasks(phase.logs))
                if lost:
                    os.kill(os.getpid(), signal.SIGUSR1)  # wakes the main thread, which waits on the pool

    def stop_phase(signum, frame) -> None:
        raise LostTask(f"the process of task {', '.join(map(str, lost))} ended before its task did (killed, for "
                       "example for lack of memory, or crashed)")

    previous = signal.signal(signal.SIGUSR1, stop_phase) if in_main_thread else None
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
        on_change(completed_tasks(phase.logs))


def last_error(phase_logs: Path) -> str:
    """The last exception line that a failed task logged, so the user sees why without opening the logs."""
    lines = [line for path in sorted((phase_logs / "logs").glob("*.log"))
             for line in path.read_text(errors="replace").splitlines() if "Error: " in line]
    return f": {lines[-1].strip()}" if lines else ""


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send this process's and its workers' stderr (datatrove's task logs) to a file while progress bars draw."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
