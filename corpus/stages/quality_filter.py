"""Quality filters, with settings per domain: datatrove's Gopher, C4 and FineWeb heuristics. Web-text
defaults would throw away real clinical notes, which are terse, all-caps and list-like, so each domain has
its own profile (`DEFAULT_QUALITY_PROFILES`, measured in the README).
"""

from __future__ import annotations

import inspect
from typing import Literal

from datatrove.data import Document
from pydantic import Field, field_validator

from medmix.corpus.books import Removal
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Domain, Strict


def quality_filter_classes() -> dict:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {"gopher_quality": GopherQualityFilter, "gopher_repetition": GopherRepetitionFilter,
            "c4": C4QualityFilter, "fineweb": FineWebQualityFilter}


# Measured on the shared samples (README, "Quality filter keep rates"). Literature and clinical text
# skip the web-only rules: C4's terminal-punctuation line filter strips headings and list-like notes,
# and Gopher's minimum length and stop-word rules drop short, abbreviated clinical notes.
DEFAULT_QUALITY_PROFILES: dict[str, dict] = {
    "general": {
        "gopher_quality": {},
        "gopher_repetition": {},
        "c4": {"filter_no_terminal_punct": False},
        "fineweb": {},
    },
    "biomedical": {
        "gopher_quality": {"min_doc_words": 20, "max_non_alpha_words_ratio": 0.6},
        # n-gram repetition rules drop real abstracts that repeat their topic's terms; keep boilerplate checks
        "gopher_repetition": {"top_n_grams": [], "dup_n_grams": []},
    },
    "clinical": {
        "gopher_quality": {"min_doc_words": 3, "min_avg_word_length": 2, "max_symbol_word_ratio": 0.5,
                           "max_ellipsis_lines_ratio": None,
                           "max_bullet_lines_ratio": None, "max_non_alpha_words_ratio": 0.4,
                           "min_stop_words": None},
        "gopher_repetition": {"dup_line_frac": 0.6, "dup_line_char_frac": 0.5, "dup_para_frac": 0.6,
                              "dup_para_char_frac": 0.5, "top_n_grams": [], "dup_n_grams": []},
    },
}


def check_filter_parameters(domain: str, profile: dict) -> None:
    """Fail at recipe load, naming the key, when a profile passes a parameter a datatrove filter does not take."""
    classes = quality_filter_classes()
    for name, params in profile.items():
        if params is None:
            continue
        accepted = set(inspect.signature(classes[name].__init__).parameters) - {"self", "exclusion_writer"}
        if unknown := sorted(set(params) - accepted):
            raise ValueError(f"{domain} -> {name}: unknown parameters {unknown}; accepted: {sorted(accepted)}")


class QualityFilter(DocumentStep):
    """Runs the domain's datatrove heuristics in order; the first that rejects names the removal reason."""

    name = "✨ Quality filters"
    slug = "quality_filter"

    def __init__(self, stage_dir, stage: str, profiles: dict[str, dict]):
        super().__init__(stage_dir, stage)
        self.profiles = profiles
        self.filters: dict[str, list] = {}

    def prepare(self) -> None:
        classes = quality_filter_classes()
        self.filters = {
            domain: [(name, classes[name](**params)) for name, params in profile.items() if params is not None]
            for domain, profile in self.profiles.items()
        }

    def process(self, doc: Document) -> Document | Removal:
        for name, heuristic in self.filters.get(doc.metadata.get("domain", ""), []):
            verdict = heuristic.filter(doc)
            keep, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
            if not keep:
                return Removal(f"{name}:{reason or 'rejected'}")
        return doc


class QualityProfile(Strict):
    """datatrove's heuristic filters for one domain: parameters for each, or null to skip it."""

    gopher_quality: dict | None = None
    gopher_repetition: dict | None = None
    c4: dict | None = None
    fineweb: dict | None = None


class QualityFilterStage(Strict):
    """`profiles` override the defaults per domain and per filter: given parameters replace the default
    ones of that filter, `null` switches a filter off, and everything not mentioned keeps its default."""

    kind: Literal["quality_filter"]
    profiles: dict[Domain, QualityProfile] = Field(
        default_factory=lambda: {domain: QualityProfile(**profile) for domain, profile in DEFAULT_QUALITY_PROFILES.items()})

    @field_validator("profiles", mode="before")
    @classmethod
    def over_defaults(cls, profiles: dict) -> dict:
        merged = {domain: dict(profile) for domain, profile in DEFAULT_QUALITY_PROFILES.items()}
        for domain, overrides in (profiles or {}).items():
            if not isinstance(overrides, dict):
                return profiles  # not a mapping: let the schema report it
            target = merged.setdefault(domain, {})
            for name, params in overrides.items():
                target[name] = None if params is None else {**(target.get(name) or {}), **params}
        return merged

    @field_validator("profiles")
    @classmethod
    def known_parameters(cls, profiles: dict[str, QualityProfile]) -> dict[str, QualityProfile]:
        for domain, profile in profiles.items():
            check_filter_parameters(domain, profile.model_dump())
        return profiles


def plan(config: QualityFilterStage, ctx: StageContext) -> list[Phase]:
    profiles = {domain: profile.model_dump() for domain, profile in config.profiles.items()}
    return ctx.one_phase(QualityFilter(ctx.directory, ctx.kind, profiles))
