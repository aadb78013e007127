"""Benchmark decontamination: corpus documents that overlap an evaluation item are removed (or flagged).

Each benchmark's test items are split into segments (question, each option, each context, the long
answer) and indexed two ways:
- long n-grams: a document sharing a word 13-gram with a segment matches (8-grams for questions too
  short for 13). N-grams that occur in several items are boilerplate ("which of the following is the
  most likely cause of this patient's ...") and are left out of the index, or they would flag
  every teaching case;
- containment: the share of an item's 5-gram shingles found in the document. A lightly edited copy of a
  question still contains most of them, while an unrelated text contains almost none. A document that
  is a near-copy of an item (high MinHash similarity) contains it too.
Each removal names the benchmark item it matched, e.g. `benchmark:pubmedqa` with detail `item 21645374`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from datatrove.data import Document
from pydantic import Field

from medmix.benchmarks import BenchmarkItem, BenchmarkSet, load_items
from medmix.corpus.books import Removal
from medmix.corpus.minhash import shingles_of_words, words
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Strict

NGRAM = 13  # the n-gram a document must share with a segment
SHORT_NGRAM = 8  # the n-gram for questions shorter than NGRAM
CONTAINMENT = 0.3  # share of an item's CONTAINMENT_NGRAM shingles that a document must contain
CONTAINMENT_NGRAM = 5
MIN_CONTAINMENT_SHINGLES = 8  # items with fewer shingles are matched by their n-grams only
BOILERPLATE_ITEMS = 3  # an n-gram found in more items than this says nothing about any one of them


class DecontaminateStage(Strict):
    kind: Literal["decontaminate"]
    benchmarks: list[BenchmarkSet] = Field(min_length=1)
    ngram: Annotated[int, Field(ge=SHORT_NGRAM + 1)] = NGRAM
    containment: Annotated[float, Field(gt=0, le=1)] = Field(
        CONTAINMENT, description="share of an item's 5-grams that a document must contain to match it")
    action: Literal["remove", "flag"] = "remove"


class HashIndex:
    """Sorted n-gram hashes with the item each came from; n-grams of more than BOILERPLATE_ITEMS items dropped."""

    def __init__(self, hashes: list[np.ndarray], owners: list[np.ndarray]):
        values = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
        items = np.concatenate(owners) if owners else np.empty(0, np.int64)
        pairs = np.unique(np.stack([values, items.astype(np.uint64)], axis=1), axis=0) if len(values) else \
            np.empty((0, 2), np.uint64)
        distinct, first, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
        keep = counts <= BOILERPLATE_ITEMS
        self.hashes, self.owners = distinct[keep], pairs[first[keep], 1].astype(np.int64)
        kept_pairs = np.isin(pairs[:, 0], self.hashes)
        self.per_item = pairs[kept_pairs, 1].astype(np.int64)  # one entry per indexed (n-gram, item)

    def owners_of(self, values: np.ndarray) -> np.ndarray:
        """The item of each value found in the index."""
        if not len(self.hashes) or not len(values):
            return np.empty(0, np.int64)
        positions = np.minimum(np.searchsorted(self.hashes, values), len(self.hashes) - 1)
        return self.owners[positions[self.hashes[positions] == values]]


class BenchmarkIndex:
    """Long n-grams and 5-gram containment over all benchmark items."""

    def __init__(self, items: list[BenchmarkItem], ngram: int, containment: float):
        self.items, self.ngram, self.containment = items, ngram, containment
        long, short, shingled = ([], []), ([], []), ([], [])
        for index, item in enumerate(items):
            for number, segment in enumerate(item.segments):
                tokens = words(segment)
                is_option = number > 0 and len(tokens) < SHORT_NGRAM  # short answer options are generic
                for (hashes, owners), n, wanted in ((long, ngram, len(tokens) >= ngram),
                                                    (short, SHORT_NGRAM, SHORT_NGRAM <= len(tokens) < ngram),
                                                    (shingled, CONTAINMENT_NGRAM, not is_option)):
                    if wanted and tokens:
                        values = np.unique(shingles_of_words(tokens, n))
                        hashes.append(values)
                        owners.append(np.full(len(values), index, dtype=np.int64))
        self.long, self.short, self.shingles = HashIndex(*long), HashIndex(*short), HashIndex(*shingled)
        self.sizes = np.bincount(self.shingles.per_item, minlength=len(items))  # indexed 5-grams per item

    def match(self, text: str) -> tuple[BenchmarkItem, str] | None:
        """The first item this text overlaps, and how; None for a clean text."""
        tokens = words(text)
        for index, n in ((self.long, self.ngram), (self.short, SHORT_NGRAM)):
            if len(tokens) >= n and len(hits := index.owners_of(shingles_of_words(tokens, n))):
                return self.items[int(hits.min())], f"shares a {n}-gram"
        hits = self.shingles.owners_of(np.unique(shingles_of_words(tokens, CONTAINMENT_NGRAM)))
        if len(hits):
            found = np.bincount(hits, minlength=len(self.items))
            share = np.divide(found, self.sizes, out=np.zeros(len(self.items)), where=self.sizes > 0)
            share[self.sizes < MIN_CONTAINMENT_SHINGLES] = 0
            best = int(np.argmax(share))
            if share[best] >= self.containment:
                return self.items[best], f"contains {share[best]:.0%} of its 5-grams"
        return None


class Decontaminate(DocumentStep):
    """Removes (or, with action `flag`, marks) documents that overlap a benchmark test item."""

    name = "🧪 Decontaminate"
    slug = "decontaminate"

    def __init__(self, stage_dir, stage: str, benchmarks: list[BenchmarkSet], ngram: int = NGRAM, containment: float = CONTAINMENT,
                 action: str = "remove"):
        super().__init__(stage_dir, stage)
        self.benchmarks, self.ngram, self.containment, self.action = benchmarks, ngram, containment, action
        self.index: BenchmarkIndex | None = None

    def prepare(self) -> None:
        if self.index is None:  # built once per worker process
            items = [item for benchmark in self.benchmarks for item in load_items(benchmark)]
            self.index = BenchmarkIndex(items, self.ngram, self.containment)

    def process(self, doc: Document) -> Document | Removal:
        found = self.index.match(doc.text)
        if found is None:
            return doc
        item, how = found
        if self.action == "flag":
            doc.metadata["contamination"] = {"benchmark": item.benchmark, "item": item.item_id, "how": how}
            return doc
        return Removal(f"benchmark:{item.benchmark}", f"item {item.item_id}: {how}")


def plan(config: DecontaminateStage, ctx: StageContext) -> list[Phase]:
    benchmarks = [benchmark.model_copy(update={"path": ctx.resolve(benchmark.path),
                                               "split_ids": benchmark.split_ids and ctx.resolve(benchmark.split_ids)})
                  for benchmark in config.benchmarks]
    return ctx.one_phase(Decontaminate(ctx.directory, ctx.kind, benchmarks=benchmarks, ngram=config.ngram,
                                       containment=config.containment, action=config.action))
