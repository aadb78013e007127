"""Compile a recipe into datatrove pipelines, one per stage, and run them on the recipe's executor.

Run directory layout:

    RUN_DIR/recipe.json                       the validated recipe this run was built from
    RUN_DIR/inputs.json                       every source's resolved input files
    RUN_DIR/stages/NN_<stage>/kept/           documents that left the stage, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<stage>/removed/<step>/ quarantined records with their reason, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<stage>/ledger/         per-task accounting, <step>-<rank>.parquet
    RUN_DIR/logs/NN_<stage>/                  datatrove's logs, stats and completion markers

Each stage reads the previous stage's `kept/` folder. A re-run skips the tasks that datatrove marked
complete, so an interrupted build resumes where it stopped and a finished one does nothing.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from medmix.corpus.readers import PubmedVersions, reader_for
from medmix.corpus.steps import LengthFilter
from medmix.recipe import Recipe, RecipeError, resolve_inputs


class BuildError(RuntimeError):
    """A stage did not finish; the message says which tasks and where their logs are."""


@dataclass
class StagePlan:
    """One stage: a datatrove pipeline with its folder for outputs and its folder for logs."""

    name: str
    directory: Path
    logs: Path
    pipeline: list[PipelineStep]

    @property
    def kept(self) -> Path:
        return self.directory / "kept"


def stage_dirs(run_dir: Path) -> list[Path]:
    """The stage folders of a run, in pipeline order."""
    return sorted(p for p in (run_dir / "stages").glob("[0-9][0-9]_*") if p.is_dir())


def recipe_stage_steps(stage, directory: Path) -> list[PipelineStep]:
    """The medmix blocks that one recipe stage compiles to."""
    if stage.kind == "length_filter":
        return [LengthFilter(directory, stage.kind, min_chars=stage.min_chars, max_chars=stage.max_chars)]
    raise RecipeError(f"stage kind '{stage.kind}' has no implementation")  # the schema admits only known kinds


def plan_stages(recipe: Recipe, run_dir: Path, inputs: dict[str, list[str]]) -> list[StagePlan]:
    """Stage 00 reads every source; PubMed update semantics come next; then the recipe's own stages."""
    named_steps: list[tuple[str, Callable[[Path], list[PipelineStep]]]] = [
        ("read", lambda d: [reader_for(source, inputs[source.name], d, "read") for source in recipe.sources]),
    ]
    pubmed_sources = [s.name for s in recipe.sources if s.format == "pubmed_xml"]
    if pubmed_sources:
        read_dir = run_dir / "stages" / "00_read"
        named_steps.append(("pubmed_versions", lambda d: [PubmedVersions(d, "pubmed_versions", read_dir,
                                                                         pubmed_sources)]))
    for stage in recipe.stages:
        named_steps.append((stage.kind, lambda d, stage=stage: recipe_stage_steps(stage, d)))

    plans: list[StagePlan] = []
    for index, (name, make_steps) in enumerate(named_steps):
        directory = run_dir / "stages" / f"{index:02d}_{name}"
        pipeline = [] if not plans else [JsonlReader(str(plans[-1].kept), glob_pattern="*.jsonl.gz",
                                                     add_file_path=False)]
        pipeline += make_steps(directory)
        pipeline.append(JsonlWriter(str(directory / "kept"), output_filename="${rank}.jsonl.gz"))
        plans.append(StagePlan(name, directory, run_dir / "logs" / f"{index:02d}_{name}", pipeline))
    return plans


def make_executor(recipe: Recipe, plan: StagePlan, depends: PipelineExecutor | None) -> PipelineExecutor:
    config = recipe.executor
    common = dict(pipeline=plan.pipeline, tasks=config.tasks, logging_dir=str(plan.logs))
    if config.kind == "local":
        return LocalPipelineExecutor(**common, workers=config.workers or -1)
    if config.kind == "ray":
        from datatrove.executor.ray import RayPipelineExecutor

        return RayPipelineExecutor(**common, workers=config.workers or -1, cpus_per_task=config.cpus_per_task,
                                   mem_per_cpu_gb=config.mem_per_cpu_gb)
    from datatrove.executor.slurm import SlurmPipelineExecutor

    return SlurmPipelineExecutor(
        **common, depends=depends, partition=config.partition, time=config.time,
        cpus_per_task=config.cpus_per_task, mem_per_cpu_gb=config.mem_per_cpu_gb, workers=config.workers or -1,
        job_name=f"medmix-{recipe.name}-{plan.name}", sbatch_args=config.sbatch_args,
        venv_path=config.venv or str(Path(sys.prefix) / "bin" / "activate"),
        slurm_logs_folder=str(plan.logs / "slurm"),
    )


def prepare_run_dir(recipe: Recipe, run_dir: Path) -> dict[str, list[str]]:
    """Record what this run is built from; refuse to resume a run dir built from something else."""
    inputs = resolve_inputs(recipe)
    # output_dir is left out: a run dir may be moved or copied and still resume
    identity = {"recipe.json": recipe.model_dump(mode="json", exclude={"output_dir"}), "inputs.json": inputs}
    for filename, content in identity.items():
        path = run_dir / filename
        if path.exists() and json.loads(path.read_text()) != content:
            raise BuildError(f"{run_dir} was built from a different {filename.split('.')[0]}; "
                             "use a fresh output_dir to build this one")
    run_dir.mkdir(parents=True, exist_ok=True)
    for filename, content in identity.items():
        (run_dir / filename).write_text(json.dumps(content, indent=1))
    return inputs


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


def completed_tasks(logs: Path) -> int:
    """Tasks that datatrove marked complete in a stage's logging folder."""
    completions = logs / "completions"
    return len(list(completions.iterdir())) if completions.is_dir() else 0


@contextmanager
def watch_completions(plan: StagePlan, on_change: Callable[[int], None], interval: float = 0.3) -> Iterator[None]:
    """Report the stage's completed task count from a background thread, whatever executor runs it."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            on_change(completed_tasks(plan.logs))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        on_change(completed_tasks(plan.logs))


def build(recipe: Recipe, run_dir: Path, progress=None) -> list[StagePlan]:
    """Run every stage of the recipe into `run_dir` (or submit them, on Slurm). Returns the stage plans.

    `progress`, if given, is a `rich.progress.Progress` that gets one bar per stage.
    """
    run_dir = Path(run_dir)
    inputs = prepare_run_dir(recipe, run_dir)
    plans = plan_stages(recipe, run_dir, inputs)
    for plan in plans:
        plan.kept.mkdir(parents=True, exist_ok=True)

    if recipe.executor.kind == "slurm":
        executor = None
        for plan in plans:
            executor = make_executor(recipe, plan, depends=executor)
        executor.run()  # submits the whole chain, each stage's job array depending on the previous one
        return plans

    if recipe.executor.kind == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=recipe.executor.address, include_dashboard=False)

    with stderr_to(run_dir / "logs" / "console.log"):
        for plan in plans:
            run_stage(recipe, plan, progress)
    return plans


def run_stage(recipe: Recipe, plan: StagePlan, progress) -> None:
    executor = make_executor(recipe, plan, depends=None)
    tasks = recipe.executor.tasks
    bar = progress.add_task(plan.name, total=tasks) if progress is not None else None
    update = (lambda done: progress.update(bar, completed=done)) if progress is not None else (lambda done: None)
    try:
        with watch_completions(plan, update):
            executor.run()
    except Exception as error:
        raise BuildError(f"stage '{plan.name}' failed: {type(error).__name__}: {error}; "
                         f"task logs are in {plan.logs / 'logs'}") from error
    if (done := completed_tasks(plan.logs)) < tasks:
        raise BuildError(f"stage '{plan.name}': only {done}/{tasks} tasks completed; "
                         f"task logs are in {plan.logs / 'logs'}")
