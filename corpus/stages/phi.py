"""The `phi` stage's config and plan. Its block, `PhiScrub`, lives with the scrubber in `medmix.corpus.phi.step`,
because the readers of stage 00 share its settings: sources in the stage's domains that are not de-identified
are scrubbed as they are read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from medmix.corpus.stages.base import Phase, StageContext
from medmix.schema import Domain, Fraction, Strict


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


def plan(config: PhiStage, ctx: StageContext) -> list[Phase]:
    from medmix.corpus.phi.step import PhiScrub  # the scrubber's imports, for builds that have this stage

    return ctx.one_phase(PhiScrub(ctx.directory, ctx.kind, ctx.phi, sources=phi_sources(config, ctx.sources)[1]))
