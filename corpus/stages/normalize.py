"""Text normalization: one consistent surface for every source before filters and dedup see it.

Everywhere: Unicode NFC, control characters removed, runs of spaces and blank lines collapsed.
Biomedical literature: leftover citation markers, undecoded XML entities, words hyphenated across
line breaks. Clinical notes: MIMIC's de-identification placeholders become typed tags, so the model sees
one convention (`[NAME]`, `[DATE]`, ...) instead of thousands of distinct `[** ... **]` strings.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Literal

from datatrove.data import Document
from pydantic import Field

from medmix.corpus.books import Removal
from medmix.corpus.phi.placeholders import MIMIC_PLACEHOLDER, placeholder_tag
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Strict

CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
PAGE_BREAKS = re.compile(r"[\x0b\x0c]")  # vertical tab, form feed: separators, so they become spaces
SPACES = re.compile(r"[^\S\n]+")  # whitespace runs other than newlines
SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
BLANK_LINES = re.compile(r"\n{3,}")

# [12] [1, 2] [3-5] [3–5, 9], standing apart from words: "[1,2,4]triazolo" is chemistry, not a citation.
# In parentheses only comma lists after a space, "(12, 13)": "(2)", "aged (18-65)", "t(9;22)" and
# "beta-(1,3)-glucan" are prose, genetics and chemistry.
BRACKET_CITATION = re.compile(r"\s?\[\s*\d{1,3}(?:\s*[,\u2013\u2014-]\s*\d{1,3})*\s*\](?![\w-])")
PAREN_CITATION = re.compile(r"\s\(\s*\d{1,3}(?:\s*,\s*\d{1,3})+\s*\)(?![\w-])")
ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")

BLANK = re.compile(r"_{3,}")  # MIMIC-IV and MIMIC-CXR replace every PHI span by ___


def normalize_whitespace(text: str) -> str:
    text = CONTROL.sub("", PAGE_BREAKS.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")))
    text = SPACE_AROUND_NEWLINE.sub("\n", SPACES.sub(" ", text))
    return BLANK_LINES.sub("\n\n", text).strip()


def clean_literature(text: str, citations: bool, dehyphenate: bool) -> str:
    if "&" in text:
        text = ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    if citations:
        text = PAREN_CITATION.sub("", BRACKET_CITATION.sub("", text))
    if dehyphenate:
        text = HYPHENATED.sub(r"\1", text)
    return text


def tag_placeholders(text: str, blanks_are_phi: bool) -> str:
    """MIMIC-III's [** **] always; ___ only where the source uses it for PHI (elsewhere it is a form blank)."""
    text = MIMIC_PLACEHOLDER.sub(lambda m: placeholder_tag(m.group(1)), text)
    return BLANK.sub("[REDACTED]", text) if blanks_are_phi else text


class NormalizeStage(Strict):
    """Unicode, control characters and whitespace everywhere; plus per-domain clean-ups."""

    kind: Literal["normalize"]
    unicode_form: Literal["NFC", "NFKC"] = "NFC"
    citations: bool = Field(True, description="biomedical: drop leftover citation markers like [12] or (12, 13)")
    dehyphenate: bool = Field(True, description="biomedical: join words hyphenated at line breaks")
    placeholders: bool = Field(True, description="clinical: MIMIC [** **] and ___ placeholders become typed tags")


class Normalizer(DocumentStep):
    """Normalizes text in place; it removes nothing except documents it leaves empty."""

    name = "🧹 Normalize"
    slug = "normalize"

    def __init__(self, stage_dir, stage: str, unicode_form: str = "NFC", citations: bool = True,
                 dehyphenate: bool = True, placeholders: bool = True):
        super().__init__(stage_dir, stage)
        self.unicode_form = unicode_form
        self.citations, self.dehyphenate, self.placeholders = citations, dehyphenate, placeholders

    def process(self, doc: Document) -> Document | Removal:
        text = unicodedata.normalize(self.unicode_form, doc.text)
        domain = doc.metadata.get("domain")
        if domain == "biomedical":
            text = clean_literature(text, self.citations, self.dehyphenate)
        elif domain == "clinical" and self.placeholders:
            text = tag_placeholders(text, doc.metadata.get("phi_placeholder") == "___")
        doc.text = normalize_whitespace(text)
        return doc


def plan(config: NormalizeStage, ctx: StageContext) -> list[Phase]:
    return ctx.one_phase(Normalizer(ctx.directory, ctx.kind, **config.model_dump(exclude={"kind"})))
