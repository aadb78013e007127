"""Compile a recipe into stage plans: for each stage its folder and its phases, then the shard build.

Stage 00 reads every source (and scrubs those that are not de-identified); PubMed update semantics come
next when a source is PubMed XML; then the recipe's own stages, each planned by its kind's module
(`medmix.corpus.stages`); then tokenize, mix, pack and manifests (`medmix.tokenize.steps`). Each stage
reads the previous stage's `kept/` folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from medmix.corpus.phi.replace import read_secret, secret_fingerprint
from medmix.corpus.readers import PubmedVersions, reader_for
from medmix.corpus.recipe import Recipe, resolve_path
from medmix.corpus.stages import plan_stage
from medmix.corpus.stages.base import Phase, StageContext, read_kept
from medmix.corpus.stages.phi import PhiSettings, phi_sources
from medmix.rundir import RunDir, StageDir
from medmix.tokenize.steps import PackShards, PlanMix, ShardSettings, TokenizeDocuments, WriteManifests


@dataclass
class StagePlan:
    """One stage: its folder and its phases (most stages have one); the last phase writes `kept/`."""

    name: str
    stage: StageDir | None  # None for the shard build, which keeps no documents
    phases: list[Phase]


def phi_settings(recipe: Recipe) -> PhiSettings | None:
    """The recipe's phi stage as tasks get it. With surrogates, the secret must be set now, when the build
    starts (a `SecretError` otherwise); it is read here only to be fingerprinted, and each task reads it
    again for itself."""
    stage = next((stage for stage in recipe.stages if stage.kind == "phi"), None)
    if stage is None:
        return None
    stage = stage.model_copy(update={key: resolve_path(recipe, value) for key in ("model", "known_identifiers")
                                     if (value := getattr(stage, key))})
    if stage.replacement != "surrogates":
        return PhiSettings(stage)
    return PhiSettings(stage, secret_fingerprint(read_secret(stage.secret_env)))


def plan_stages(recipe: Recipe, run: RunDir, inputs: dict[str, list[str]], phi: PhiSettings | None) -> list[StagePlan]:
    """Every stage of the build in order, the shard build last."""
    at_read = set(phi_sources(phi.stage, recipe.sources)[0]) if phi else set()
    stages: list[tuple[str, object]] = [("read", None)]
    if any(s.format == "pubmed_xml" for s in recipe.sources):
        stages.append(("pubmed_versions", None))
    stages += [(stage.kind, stage) for stage in recipe.stages]

    plans: list[StagePlan] = []
    for index, (kind, config) in enumerate(stages):
        ctx = StageContext(kind, run.stage(index, kind), run.stage_logs(index, kind),
                           plans[-1].stage.kept if plans else None, recipe.executor.tasks, recipe.sources,
                           lambda path: resolve_path(recipe, path), phi)
        if kind == "read":
            readers = [reader_for(source, inputs[source.name], ctx.directory, kind,
                                  phi if source.name in at_read else None) for source in recipe.sources]
            phases = [Phase(kind, [*readers, ctx.write_kept()], ctx.logs / kind)]
        elif kind == "pubmed_versions":
            pubmed = [s.name for s in recipe.sources if s.format == "pubmed_xml"]
            phases = ctx.one_phase(PubmedVersions(ctx.directory, kind, plans[0].stage.path, pubmed))
        else:
            phases = plan_stage(config, ctx)
        plans.append(StagePlan(kind, ctx.stage, phases))
    plans.append(shard_plan(recipe, run, plans[-1].stage.kept))
    return plans


def shard_settings(recipe: Recipe, run: RunDir) -> ShardSettings:
    return ShardSettings(
        run=run, tokenizer_path=resolve_path(recipe, recipe.tokenizer.path),
        seq_len=recipe.shards.seq_len, sequences_per_shard=recipe.shards.sequences_per_shard,
        bos=recipe.tokenizer.bos, eos=recipe.tokenizer.eos, seed=recipe.seed,
        validation_fraction=recipe.mix.validation_fraction, total_tokens=recipe.mix.total_tokens,
        shares=recipe.mix.shares, max_repeats=recipe.mix.max_repeats, on_shortfall=recipe.mix.on_shortfall,
        sources=tuple(s.name for s in recipe.sources), domains={s.name: s.domain for s in recipe.sources})


def shard_plan(recipe: Recipe, run: RunDir, cleaned) -> StagePlan:
    """Tokenize, mix, pack and describe: the four phases after the last cleaning stage (`medmix.tokenize`)."""
    settings = shard_settings(recipe, run)
    logs = run.shard_logs
    return StagePlan("shards", None, phases=[
        Phase("tokenize", [read_kept(cleaned), TokenizeDocuments(settings)], logs / "tokenize"),
        Phase("mix", [PlanMix(settings)], logs / "mix", tasks=1),
        Phase("pack", [PackShards(settings)], logs / "pack"),
        Phase("manifests", [WriteManifests(settings)], logs / "manifests", tasks=1),
    ])
