"""Length filter: documents too short to teach anything, or longer than any later stage should handle."""

from __future__ import annotations

from typing import Literal

from datatrove.data import Document
from pydantic import Field, PositiveInt, model_validator

from medmix.corpus.books import Removal
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Strict


class LengthFilterStage(Strict):
    kind: Literal["length_filter"]
    min_chars: int = Field(0, ge=0)
    max_chars: PositiveInt | None = None

    @model_validator(mode="after")
    def ordered(self) -> LengthFilterStage:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars {self.max_chars} is below min_chars {self.min_chars}")
        return self


class LengthFilter(DocumentStep):
    """Drops documents shorter than `min_chars` or longer than `max_chars`, after stripping."""

    name = "📏 Length filter"
    slug = "length_filter"

    def __init__(self, stage_dir, stage: str, min_chars: int = 0, max_chars: int | None = None):
        super().__init__(stage_dir, stage)
        self.min_chars = min_chars
        self.max_chars = max_chars

    def process(self, doc: Document) -> Document | Removal:
        length = len(doc.text.strip())
        if length < self.min_chars:
            return Removal("too_short", f"{length} < {self.min_chars} characters")
        if self.max_chars is not None and length > self.max_chars:
            return Removal("too_long", f"{length} > {self.max_chars} characters")
        return doc


def plan(config: LengthFilterStage, ctx: StageContext) -> list[Phase]:
    return ctx.one_phase(LengthFilter(ctx.directory, ctx.kind, config.min_chars, config.max_chars))
