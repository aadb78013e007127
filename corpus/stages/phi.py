"""The `phi` stage: its config, the settings its tasks get, its block (`PhiScrub`) and its plan.

The readers of stage 00 share these settings: sources in the stage's domains that are not de-identified
are scrubbed as they are read (`task_redactor`), so their raw text is never written. The stage itself is
then the residual check of the de-identified sources. The scrubber (presidio, the tagger) is imported
only inside the tasks that scrub.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from datatrove.data import Document, DocumentsPipeline
from pydantic import Field, model_validator

from medmix.corpus.books import Removal
from medmix.corpus.phi.redactor import Redactor
from medmix.corpus.phi.replace import SecretError, Surrogates, read_secret
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Domain, Fraction, Strict

if TYPE_CHECKING:
    from medmix.corpus.phi.scrubber import PhiScrubber


class PhiStage(Strict):
    """PHI scrubbing (`medmix.corpus.phi`). Sources in `domains` that are not de-identified are scrubbed as they
    are read, so their raw text is never written; de-identified ones (MIMIC) are scrubbed by the stage itself
    by default, as a residual check: their placeholders stay, and PHI that slipped through is caught."""

    kind: Literal["phi"]
    domains: list[Domain] = ["clinical"]
    check_deidentified: bool = Field(True, description="also scrub sources marked deidentified (residual check)")
    replacement: Literal["tags", "surrogates"] = "tags"
    secret_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="surrogates: the environment variable that holds the key for name choice and date shifts")
    patient_key: str = Field("subject_id", description="metadata key that identifies the patient (date shift)")
    ner_model: str | None = Field(None, description="add spaCy NER with this installed model (slower)")
    model: str | None = Field(None, description="PHI tagger trained by `medmix phi-train`; default: the bundled one")
    tagger: bool = Field(True, description="run the learned tagger beside the rules (off: twice the speed and fewer "
                                            "false alarms on nursing notes, lower recall on other text; README)")
    threshold: Fraction | None = Field(
        None, description="the tagger redacts a token whose PHI probability reaches this (lower: more recall); "
                          "default: the scrubber's (0.15)")
    known_identifiers: str | None = Field(
        None, description="CSV or parquet of each patient's names, MRNs, addresses, phones, keyed by patient_key: "
                          "every listed value is redacted in that patient's notes")

    @model_validator(mode="before")
    @classmethod
    def no_secret_in_the_recipe(cls, raw):
        if isinstance(raw, dict) and "secret" in raw:
            raise ValueError("a `secret` in the recipe would be copied into the run directory; put it in an "
                             "environment variable and name that variable in `secret_env`")
        return raw

    @model_validator(mode="after")
    def surrogates_need_a_secret(self) -> PhiStage:
        if self.replacement == "surrogates" and not self.secret_env:
            raise ValueError("replacement 'surrogates' needs `secret_env`, the environment variable that holds "
                             "the secret (e.g. MEDMIX_PHI_SECRET)")
        return self


def phi_sources(config: PhiStage, sources: list) -> tuple[list[str], list[str]]:
    """The sources that the phi stage's settings scrub as they are read (those in its domains that are not
    de-identified: their raw text must never be written), and those that the phi stage itself scrubs (the
    de-identified ones, as a residual check, unless `check_deidentified` is off). No source is in both."""
    covered = [source for source in sources if source.domain in config.domains]
    at_read = [source.name for source in covered if not source.deidentified]
    residual = [source.name for source in covered if source.deidentified and config.check_deidentified]
    return at_read, residual


def stage_scrubber(stage: PhiStage) -> PhiScrubber:
    """The scrubber that the recipe's phi stage asks for. This is the one place where recipe settings become
    scrubber settings, for the read stage and the phi stage alike, so a new setting plugs in here once."""
    # a heavy import (presidio, the tagger): only tasks that scrub pay for it
    from medmix.corpus.phi.known import KnownIdentifiers
    from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings

    settings = ScrubberSettings(ner_model=stage.ner_model, model=stage.model, tagger=stage.tagger)
    if stage.threshold is not None:
        settings = replace(settings, threshold=stage.threshold)
    known = KnownIdentifiers.load(stage.known_identifiers, stage.patient_key) if stage.known_identifiers else None
    return PhiScrubber(settings, known)


@dataclass(frozen=True)
class PhiSettings:
    """What a task needs to scrub as the recipe says. Steps carry it to the workers, and datatrove writes the
    steps' attributes into the run directory (`executor.json`), so it names the secret's environment
    variable and holds the secret's fingerprint, never the secret itself."""

    stage: PhiStage
    secret_fingerprint: str | None = None


# what a task's redactor imports: presidio (which imports torch and transformers, 5-7 s, though medmix uses
# neither) and the lexicons
REDACTOR_IMPORTS = ("presidio_analyzer", "wordfreq")


def task_redactor(settings: PhiSettings) -> Redactor:
    """A task's redactor, built in the worker: the secret is read here from the environment, and must be
    the one the build started with (a Slurm node or a Ray cluster may have another)."""
    stage = settings.stage
    if stage.replacement != "surrogates":
        return Redactor(stage_scrubber(stage), None, stage.patient_key)
    surrogates = Surrogates(read_secret(stage.secret_env))
    if surrogates.fingerprint != settings.secret_fingerprint:
        raise SecretError(f"the secret in {stage.secret_env} is not the one this build was started with")
    return Redactor(stage_scrubber(stage), surrogates, stage.patient_key)


class PhiScrub(DocumentStep):
    """The `phi` stage: scrubs the documents of `sources` (the de-identified ones, as a residual check; the
    others were scrubbed as they were read) and passes every other document through. It removes none."""

    name = "🩺 PHI scrub"
    slug = "phi"
    task_imports = REDACTOR_IMPORTS

    def __init__(self, stage_dir: str | Path, stage: str, settings: PhiSettings, sources: list[str]):
        super().__init__(stage_dir, stage)
        self.settings = settings
        self.sources = sorted(sources)

    def prepare(self) -> None:
        self.redactor = task_redactor(self.settings)

    def process(self, doc: Document) -> Document | Removal:
        return self.redactor.scrub(doc) if doc.metadata.get("source") in self.sources else doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from super().run(data, rank, world_size)
        self.redactor.write_counts(self.stage_dir, self.slug, rank)


def plan(config: PhiStage, ctx: StageContext) -> list[Phase]:
    return ctx.one_phase(PhiScrub(ctx.directory, ctx.kind, ctx.phi, sources=phi_sources(config, ctx.sources)[1]))
