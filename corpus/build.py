"""`medmix build`: plan the recipe's stages, record the run's identity, and run every phase in order.

The run directory's layout is `medmix.rundir.RunDir`; the plan is `medmix.corpus.plan`; the executors
are datatrove's (`medmix.corpus.executors`). A re-run skips the tasks that datatrove marked complete, so
an interrupted build resumes where it stopped and a finished one does nothing.

No PHI and no secret in a run directory: sources that the phi stage covers and that are not de-identified
are scrubbed in stage 00 as they are read, so neither their kept documents nor their quarantines are
ever written unscrubbed; the surrogate secret is read from its environment variable inside each task,
and only its fingerprint is recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# loguru, which datatrove logs with, prints the values of local variables in tracebacks ("diagnose"), so a
# failed task would write document text into its log. loguru reads this default when it is first imported:
# here (unless something imported it earlier) and in every task process, which inherits the environment.
os.environ.setdefault("LOGURU_DIAGNOSE", "NO")

from medmix.corpus.executors import (
    LostTask,
    connect_ray,
    last_error,
    make_executor,
    preload_task_modules,
    stderr_to,
    watch_completions,
)
from medmix.corpus.identity import IdentityError, record_identity
from medmix.corpus.phi.replace import SecretError
from medmix.corpus.plan import StagePlan, phi_settings, plan_stages
from medmix.corpus.recipe import Recipe
from medmix.corpus.slurm import SlurmError, cancel, queued_jobs, record_submission, stale_jobs
from medmix.corpus.stages.base import Phase
from medmix.rundir import RunDir, completed_tasks


class BuildError(RuntimeError):
    """A build that cannot start or a stage that did not finish; the message says why and where to look."""


def build(recipe: Recipe, run_dir: Path | RunDir, progress=None, force_restart: bool = False) -> list[StagePlan]:
    """Run every stage of the recipe into `run_dir` (or submit them, on Slurm). Returns the stage plans.

    `progress`, if given, is a `rich.progress.Progress` that gets one bar per phase. `force_restart` first
    removes what an earlier build wrote into the run directory, instead of resuming it.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    if others := run.foreign_entries():
        raise BuildError(f"{run.root} holds files that a build did not write ({', '.join(others[:3])}): a build writes "
                         "stages/, logs/, tokens/ and more there, and --force-restart removes them; choose a new or "
                         "empty output_dir")
    if force_restart and run.is_run():
        run.clear()
    try:
        phi = phi_settings(recipe)
        inputs = record_identity(recipe, run, phi)
    except (SecretError, IdentityError) as error:
        raise BuildError(str(error)) from None
    plans = plan_stages(recipe, run, inputs, phi)
    for plan in plans:
        if plan.stage is not None:
            plan.stage.kept.mkdir(parents=True, exist_ok=True)

    if recipe.executor.kind == "slurm":
        submit_to_slurm(recipe, run, plans)
        return plans

    if recipe.executor.kind == "ray":
        connect_ray(recipe.executor.address)
    else:
        preload_task_modules(step for _, phase in phases_of(plans) for step in phase.pipeline)
    with stderr_to(run.console_log):
        for plan, phase in phases_of(plans):
            run_phase(recipe, plan, phase, progress)
    return plans


def submit_to_slurm(recipe: Recipe, run: RunDir, plans: list[StagePlan]) -> None:
    """Submit every phase as a job array, each waiting on the one before. Stale jobs of an earlier submission
    (their chain broke, so they can never start) are cancelled first; live ones stop the build, since a
    second chain would race them. The ids go to `logs/slurm_jobs.json`."""
    try:
        queued = queued_jobs(run)
    except SlurmError as error:
        raise BuildError(str(error)) from None
    stale = stale_jobs(queued)
    if live := [job.job_id for job in queued if job not in stale]:
        raise BuildError(f"{len(live)} Slurm jobs of an earlier submission of {run} are still queued or running "
                         f"({', '.join(live)}); wait for them (`medmix status {run}`), or cancel them with "
                         f"`scancel {' '.join(live)}` and build again")
    cancel(stale)
    executors, executor = [], None
    for plan, phase in phases_of(plans):
        executor = make_executor(recipe.executor, phase, job_name(recipe, plan, phase), depends=executor)
        executors.append((phase, executor))
    executor.run()  # submits the whole chain; phases whose tasks are all complete are skipped (job id -1)
    record_submission(run, {run.phase_key(phase.logs): str(e.job_id) for phase, e in executors
                            if e.job_id not in (None, -1)}, [job.job_id for job in stale])


def phases_of(plans: list[StagePlan]) -> Iterator[tuple[StagePlan, Phase]]:
    return ((plan, phase) for plan in plans for phase in plan.phases)


def job_name(recipe: Recipe, plan: StagePlan, phase: Phase) -> str:
    return f"medmix-{recipe.name}-{plan.name}" + (f"-{phase.name}" if phase.name != plan.name else "")


def run_phase(recipe: Recipe, plan: StagePlan, phase: Phase, progress) -> None:
    """Run one phase to its end, with a progress bar; a phase with unfinished tasks fails the build."""
    executor = make_executor(recipe.executor, phase, job_name(recipe, plan, phase), depends=None)
    tasks = phase.tasks or recipe.executor.tasks
    label = plan.name if phase.name == plan.name else f"{plan.name}: {phase.name}"
    bar = progress.add_task(label, total=tasks) if progress is not None else None
    update = (lambda done: progress.update(bar, completed=done)) if progress is not None else (lambda done: None)
    try:
        with watch_completions(phase, update):
            executor.run()
    except LostTask as error:
        raise BuildError(f"{label}: {error}; run `medmix build` again to resume (finished tasks are kept); "
                         f"task logs are in {phase.logs / 'logs'}") from None
    except Exception as error:
        raise BuildError(f"{label} failed: {type(error).__name__}: {error}; "
                         f"task logs are in {phase.logs / 'logs'}") from error
    if (done := completed_tasks(phase.logs)) < tasks:
        raise BuildError(f"{label}: only {done}/{tasks} tasks completed{last_error(phase.logs)}; "
                         f"task logs are in {phase.logs / 'logs'}")
