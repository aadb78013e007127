"""Compile a recipe into datatrove pipelines, one per stage, and run them on the recipe's executor.

Run directory layout:

    RUN_DIR/recipe.json                       the validated recipe this run was built from
    RUN_DIR/inputs.json                       every source's resolved input files
    RUN_DIR/tokenizer.json                    the tokenizer's path and sha256
    RUN_DIR/phi_secret.json                   with surrogates: the secret's variable and keyed fingerprint
    RUN_DIR/stages/NN_<stage>/kept/           documents that left the stage, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<stage>/removed/<step>/ quarantined records with their reason, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<stage>/ledger/         per-task accounting, <step>-<rank>.parquet
    RUN_DIR/stages/NN_dedup/work/             dedup's signatures, buckets, clusters and decisions
    RUN_DIR/logs/NN_<stage>/<phase>/          datatrove's logs, stats and completion markers

Each stage reads the previous stage's `kept/` folder. A re-run skips the tasks that datatrove marked
complete, so an interrupted build resumes where it stopped and a finished one does nothing.

No PHI and no secret in a run directory: sources that the phi stage covers and that are not de-identified
are scrubbed in stage 00 as they are read, so neither their kept documents nor their quarantines are
ever written unscrubbed; the surrogate secret is read from its environment variable inside each task,
and only its fingerprint is recorded.
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

# loguru, which datatrove logs with, prints the values of local variables in tracebacks ("diagnose"), so a
# failed task would write document text into its log. loguru reads this default when it is first imported:
# here (unless something imported it earlier) and in every task process, which inherits the environment.
os.environ.setdefault("LOGURU_DIAGNOSE", "NO")

from datatrove.executor import LocalPipelineExecutor
from datatrove.executor.base import PipelineExecutor

from medmix.corpus.phi.replace import SecretError, read_secret, secret_fingerprint
from medmix.corpus.phi.step import PhiSettings
from medmix.corpus.readers import PubmedVersions, reader_for
from medmix.corpus.recipe import Recipe, resolve_inputs, resolve_path
from medmix.corpus.stages import plan_stage
from medmix.corpus.stages.base import Phase, StageContext, read_kept
from medmix.corpus.stages.phi import PhiStage, phi_sources
from medmix.corpus.stderr import stderr_to
from medmix.tokenize.steps import PackShards, PlanMix, ShardSettings, TokenizeDocuments, WriteManifests
from medmix.tokenize.tokenizer import file_sha256


class BuildError(RuntimeError):
    """A stage did not finish; the message says which tasks and where their logs are."""


@dataclass
class StagePlan:
    """One stage: its phases (most stages have one) and its folder; the last phase writes `kept/`."""

    name: str
    directory: Path
    phases: list[Phase]
    documents: bool = True  # a cleaning stage, writing kept/ documents (the shard build is not)

    @property
    def kept(self) -> Path:
        return self.directory / "kept"


def stage_dirs(run_dir: Path) -> list[Path]:
    """The stage folders of a run, in pipeline order."""
    return sorted(p for p in (run_dir / "stages").glob("[0-9][0-9]_*") if p.is_dir())


def phi_settings(recipe: Recipe) -> PhiSettings | None:
    """The recipe's phi stage as tasks get it. With surrogates, the secret must be set now, when the build
    starts; it is read here only to be fingerprinted, and each task reads it again for itself."""
    stage = next((stage for stage in recipe.stages if stage.kind == "phi"), None)
    if stage is None:
        return None
    stage = stage.model_copy(update={key: resolve_path(recipe, value) for key in ("model", "known_identifiers")
                                     if (value := getattr(stage, key))})
    if stage.replacement != "surrogates":
        return PhiSettings(stage)
    try:
        return PhiSettings(stage, secret_fingerprint(read_secret(stage.secret_env)))
    except SecretError as error:
        raise BuildError(str(error)) from None


def plan_stages(recipe: Recipe, run_dir: Path, inputs: dict[str, list[str]],
                phi: PhiSettings | None) -> list[StagePlan]:
    """Stage 00 reads every source (and scrubs those that are not de-identified); PubMed update semantics
    come next; then the recipe's own stages, each planned by its kind's module; then the shards."""
    at_read = set(phi_sources(phi.stage, recipe.sources)[0]) if phi else set()
    stages: list[tuple[str, object]] = [("read", None)]
    if any(s.format == "pubmed_xml" for s in recipe.sources):
        stages.append(("pubmed_versions", None))
    stages += [(stage.kind, stage) for stage in recipe.stages]

    plans: list[StagePlan] = []
    for index, (kind, config) in enumerate(stages):
        ctx = StageContext(kind, run_dir / "stages" / f"{index:02d}_{kind}", run_dir / "logs" / f"{index:02d}_{kind}",
                           plans[-1].kept if plans else None, recipe.executor.tasks, recipe.sources,
                           lambda path: resolve_path(recipe, path), phi)
        if kind == "read":
            readers = [reader_for(source, inputs[source.name], ctx.directory, kind,
                                  phi if source.name in at_read else None) for source in recipe.sources]
            phases = [Phase(kind, [*readers, ctx.write_kept()], ctx.logs / kind)]
        elif kind == "pubmed_versions":
            pubmed = [s.name for s in recipe.sources if s.format == "pubmed_xml"]
            phases = ctx.one_phase(PubmedVersions(ctx.directory, kind, run_dir / "stages" / "00_read", pubmed))
        else:
            phases = plan_stage(config, ctx)
        plans.append(StagePlan(kind, ctx.directory, phases))
    plans.append(shard_plan(recipe, run_dir, plans[-1].kept))
    return plans


def shard_plan(recipe: Recipe, run_dir: Path, cleaned: Path) -> StagePlan:
    """Tokenize, mix, pack and describe: the four phases after the last cleaning stage (`medmix.tokenize`)."""
    settings = ShardSettings(
        run_dir=run_dir, tokenizer_path=resolve_path(recipe, recipe.tokenizer.path),
        seq_len=recipe.shards.seq_len, sequences_per_shard=recipe.shards.sequences_per_shard,
        bos=recipe.tokenizer.bos, eos=recipe.tokenizer.eos, seed=recipe.seed,
        validation_fraction=recipe.mix.validation_fraction, total_tokens=recipe.mix.total_tokens,
        shares=recipe.mix.shares, max_repeats=recipe.mix.max_repeats, on_shortfall=recipe.mix.on_shortfall,
        sources=tuple(s.name for s in recipe.sources), domains={s.name: s.domain for s in recipe.sources})
    logs = run_dir / "logs" / "shards"
    return StagePlan("shards", run_dir / "shards", documents=False, phases=[
        Phase("tokenize", [read_kept(cleaned), TokenizeDocuments(settings)], logs / "tokenize"),
        Phase("mix", [PlanMix(settings)], logs / "mix", tasks=1),
        Phase("pack", [PackShards(settings)], logs / "pack"),
        Phase("manifests", [WriteManifests(settings)], logs / "manifests", tasks=1),
    ])


def make_executor(recipe: Recipe, phase: Phase, job_name: str, depends: PipelineExecutor | None) -> PipelineExecutor:
    config = recipe.executor
    common = dict(pipeline=phase.pipeline, tasks=phase.tasks or config.tasks, logging_dir=str(phase.logs))
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
        job_name=job_name, sbatch_args=config.sbatch_args,
        venv_path=config.venv or str(Path(sys.prefix) / "bin" / "activate"),
        slurm_logs_folder=str(phase.logs / "slurm"),
    )


def tokenizer_identity(recipe: Recipe) -> dict:
    """The tokenizer by content: a file replaced under the same path must not be mixed into a resumed build."""
    path = Path(resolve_path(recipe, recipe.tokenizer.path))
    return {"path": str(path), "sha256": file_sha256(path) if path.is_file() else None}


def phi_files(stage: PhiStage) -> dict:
    """The PHI tagger (the bundled one by content alone, as its path differs between installs) and the
    known-identifiers file, by sha256."""
    from medmix.corpus.phi.tagger import bundled_model

    files = {"model": {"path": stage.model or "bundled", "sha256": file_sha256(Path(stage.model or bundled_model()))}}
    if stage.known_identifiers:
        files["known_identifiers"] = {"path": stage.known_identifiers,
                                      "sha256": file_sha256(Path(stage.known_identifiers))}
    return files


def prepare_run_dir(recipe: Recipe, run_dir: Path, phi: PhiSettings | None) -> dict[str, list[str]]:
    """Record what this run is built from; refuse to resume a run dir built from something else."""
    inputs = resolve_inputs(recipe)
    # output_dir is left out: a run dir may be moved or copied and still resume
    identity = {"recipe.json": recipe.model_dump(mode="json", exclude={"output_dir"}), "inputs.json": inputs,
                "tokenizer.json": tokenizer_identity(recipe)}
    if phi:  # the tagger and the identifier list by content: a replaced file must not mix into a resumed run
        identity["phi_files.json"] = phi_files(phi.stage)
    if phi and phi.secret_fingerprint:  # a resumed run must not mix surrogates made with two keys
        identity["phi_secret.json"] = {"secret_env": phi.stage.secret_env, "fingerprint": phi.secret_fingerprint}
    for filename, content in identity.items():
        path = run_dir / filename
        if path.exists() and json.loads(path.read_text()) != content:
            if filename == "phi_secret.json":
                raise BuildError(f"{run_dir} was built with another surrogate secret than the one in "
                                 f"{phi.stage.secret_env}; set the secret it was built with, or use a fresh output_dir")
            raise BuildError(f"{run_dir} was built from a different {filename.split('.')[0]}; "
                             "use a fresh output_dir to build this one")
    run_dir.mkdir(parents=True, exist_ok=True)
    for filename, content in identity.items():
        (run_dir / filename).write_text(json.dumps(content, indent=1))
    return inputs


def completed_tasks(logs: Path) -> int:
    """Tasks that datatrove marked complete in a stage's logging folder."""
    completions = logs / "completions"
    return len(list(completions.iterdir())) if completions.is_dir() else 0


@contextmanager
def watch_completions(phase: Phase, on_change: Callable[[int], None], interval: float = 0.3) -> Iterator[None]:
    """Report the phase's completed task count from a background thread, whatever executor runs it."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            on_change(completed_tasks(phase.logs))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        on_change(completed_tasks(phase.logs))


def build(recipe: Recipe, run_dir: Path, progress=None) -> list[StagePlan]:
    """Run every stage of the recipe into `run_dir` (or submit them, on Slurm). Returns the stage plans.

    `progress`, if given, is a `rich.progress.Progress` that gets one bar per stage.
    """
    run_dir = Path(run_dir)
    phi = phi_settings(recipe)
    inputs = prepare_run_dir(recipe, run_dir, phi)
    plans = plan_stages(recipe, run_dir, inputs, phi)
    for plan in plans:
        if plan.documents:
            plan.kept.mkdir(parents=True, exist_ok=True)

    if recipe.executor.kind == "slurm":
        executor = None
        for plan, phase in phases_of(plans):
            executor = make_executor(recipe, phase, job_name(recipe, plan, phase), depends=executor)
        executor.run()  # submits the whole chain, each phase's job array depending on the previous one
        return plans

    if recipe.executor.kind == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=recipe.executor.address, include_dashboard=False, runtime_env=RAY_RUNTIME_ENV)

    with stderr_to(run_dir / "logs" / "console.log"):
        for plan, phase in phases_of(plans):
            run_phase(recipe, plan, phase, progress)
    return plans


def ray_worker_setup() -> None:
    """Runs in every Ray worker before it starts. datatrove's Ray actor runs each task in a `multiprocess`
    pool; forked from an actor full of Ray's threads, a child can inherit a held lock and hang forever
    (we saw it happen). A fork server forks from a clean single-threaded process instead."""
    import multiprocess

    multiprocess.set_start_method("forkserver", force=True)


RAY_RUNTIME_ENV = {"worker_process_setup_hook": "medmix.corpus.build.ray_worker_setup"}


def phases_of(plans: list[StagePlan]) -> Iterator[tuple[StagePlan, Phase]]:
    return ((plan, phase) for plan in plans for phase in plan.phases)


def job_name(recipe: Recipe, plan: StagePlan, phase: Phase) -> str:
    return f"medmix-{recipe.name}-{plan.name}" + (f"-{phase.name}" if phase.name != plan.name else "")


def run_phase(recipe: Recipe, plan: StagePlan, phase: Phase, progress) -> None:
    executor = make_executor(recipe, phase, job_name(recipe, plan, phase), depends=None)
    tasks = phase.tasks or recipe.executor.tasks
    label = plan.name if phase.name == plan.name else f"{plan.name}: {phase.name}"
    bar = progress.add_task(label, total=tasks) if progress is not None else None
    update = (lambda done: progress.update(bar, completed=done)) if progress is not None else (lambda done: None)
    try:
        with watch_completions(phase, update):
            executor.run()
    except Exception as error:
        raise BuildError(f"{label} failed: {type(error).__name__}: {error}; "
                         f"task logs are in {phase.logs / 'logs'}") from error
    if (done := completed_tasks(phase.logs)) < tasks:
        raise BuildError(f"{label}: only {done}/{tasks} tasks completed{last_error(phase.logs)}; "
                         f"task logs are in {phase.logs / 'logs'}")


def last_error(logs: Path) -> str:
    """The last exception line that a failed task logged, so the user sees why without opening the logs."""
    lines = [line for path in sorted((logs / "logs").glob("*.log"))
             for line in path.read_text(errors="replace").splitlines() if "Error: " in line]
    return f": {lines[-1].strip()}" if lines else ""
