"""The recipe's stage kinds. Each lives in one module of this package, which holds its pydantic config
(defaults written once), its datatrove blocks, and `plan(config, ctx) -> list[Phase]`.

Adding a kind: write `stages/<kind>.py` and add its line to `STAGES`. Modules are imported when a kind
is first looked up, as dolma's taggers and medmix's readers are.
"""

from __future__ import annotations

from importlib import import_module

from pydantic import BaseModel

STAGES: dict[str, str] = {
    "length_filter": "medmix.corpus.stages.length_filter:LengthFilterStage",
    "normalize": "medmix.corpus.stages.normalize:NormalizeStage",
    "language_filter": "medmix.corpus.stages.language_filter:LanguageFilterStage",
    "quality_filter": "medmix.corpus.stages.quality_filter:QualityFilterStage",
    "dedup": "medmix.corpus.stages.dedup:DedupStage",
    "decontaminate": "medmix.corpus.stages.decontaminate:DecontaminateStage",
    "phi": "medmix.corpus.stages.phi:PhiStage",
}


def stage_config(kind: str) -> type[BaseModel]:
    """The config class of a kind (its `kind` field is the pydantic union's tag)."""
    module, name = STAGES[kind].split(":")
    return getattr(import_module(module), name)


def plan_stage(config: BaseModel, ctx):
    """The phases of one configured stage, from its module's `plan`."""
    return import_module(STAGES[config.kind].split(":")[0]).plan(config, ctx)
