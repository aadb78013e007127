"""Benchmark decontamination: corpus documents that contain a benchmark test item are removed (or flagged).

Each test item (`medmix.benchmarks`) is indexed by segment: its question, each option, each context and the
long answer. A document matches an item when it contains at least `containment` (default 0.25) of one
segment's distinct word 5-grams, and at least 4 of them (an 8-word stretch: options shorter than 8 words,
such as one-word answers, are never indexed). A question too short for that, or left with fewer than 4
specific 5-grams, matches when a document holds all its words in a row, if it can name its item
(`ShortQuestions`): PubMedQA's questions are often short article titles ("Does rugby headgear prevent
concussion?"), while MedMCQA's and MMLU's short questions are mostly sentence stems that ordinary text
completes ("Codons are composed of", "The pyruvate dehydrogenase complex"). Evidence is always a share of one item, never one shared
phrase: USMLE-style vignettes repeat long template phrases ("pulse is 82/min, respirations are 20/min, and
blood pressure is ..."), and the former rule, any shared 13-gram, removed 21% of MMLU's professional-medicine
questions as MedQA copies. An edited copy keeps much of its item: a question with one word in five replaced
keeps about a third of its 5-grams, while the closest unrelated vignette reaches 0.17 of a MedQA question
(`benchmarks/decontam_quality.py`, which chose the threshold on half of its data and reports the other).

- 5-grams found in more than three items are left out: boilerplate such as "which of the following is the
  most likely" says nothing about any one item. A 5-gram shared by two or three items counts for each.
- A long document is matched in windows of 1,000 5-grams (half overlapping), so that template phrases
  scattered over a long text do not add up to one item's share.
- The removal names the item with the highest share and the score, e.g. `benchmark:medqa` with detail
  `item 344: 50% of its question's 5-grams (61 of 121)`, or `item 17: its whole question (3 of 3 words)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from datatrove.data import Document
from pydantic import Field

from medmix.benchmarks import BenchmarkItem, BenchmarkSet, load_items
from medmix.corpus.books import Removal
from medmix.corpus.minhash import (
    SHINGLE_MULTIPLIER,
    hash_words,
    shingle_rows,
    shingles_of_hashes,
    shingles_of_words,
    words,
)
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.schema import Strict

CONTAINMENT_NGRAM = 5
CONTAINMENT = 0.25  # share of a segment's indexed 5-grams that a document must contain
MIN_SHARED = 4  # and at least this many of them: an 8-word stretch
BOILERPLATE_ITEMS = 3  # a 5-gram found in more items than this says nothing about any one of them
WINDOW = 1000  # a long document's 5-grams are matched this many at a time, windows overlapping by half
SHORT_MIN_WORDS = 4  # a question matched by all its words in a row needs at least this many
SHORT_RARE_ZIPF = 4.5  # and a word rarer in English than this, on wordfreq's Zipf scale (30 per million words)


class DecontaminateStage(Strict):
    kind: Literal["decontaminate"]
    benchmarks: list[BenchmarkSet] = Field(min_length=1)
    containment: Annotated[float, Field(gt=0, le=1)] = Field(
        CONTAINMENT, description="share of one segment's 5-grams (question, option, context) a document must contain")
    action: Literal["remove", "flag"] = "remove"


@dataclass(frozen=True)
class Match:
    """The item a document contains: the segment it holds the largest share of, and that share."""

    item: BenchmarkItem
    segment: str
    shared: int
    size: int
    whole: bool = False  # matched by all its words in a row (`shared` and `size` count words)

    @property
    def score(self) -> float:
        return self.shared / self.size

    def describe(self) -> str:
        if self.whole:
            return f"item {self.item.item_id}: its whole {self.segment} ({self.size} of {self.size} words)"
        return f"item {self.item.item_id}: {self.score:.0%} of its {self.segment}'s 5-grams ({self.shared} of {self.size})"


def names_its_item(question: str, tokens: list[str]) -> bool:
    """Whether a short question, found whole in a text, says that the text copied it: an interrogative sentence
    ("?" at its end) of at least SHORT_MIN_WORDS words, one of them rarer in English than SHORT_RARE_ZIPF.

    A stem such as "Codons are composed of" is how ordinary sentences begin, and a question made of common words
    ("Which of the following is true?", "Is it better to be big?") is on quiz pages everywhere. In the 14 MB of
    real notes, abstracts and general text of the shared samples, no MedQA, MedMCQA, MMLU or PubMedQA question
    of 4 to 7 words occurs, while 3-word ones do ("Oral mucosa is", "The coronary arteries"). Among the
    benchmarks' questions of 4 to 7 words ending in "?", the rarest word of the generic ones has a Zipf frequency
    of 4.5 or more ("Which of the following statements is false?": 4.51), and of PubMedQA's 63 titles below 4.4
    but for two ("Is the Distance Worth It?": 4.85, "Is it better to be big?": 5.67).
    """
    from wordfreq import zipf_frequency

    return (question.rstrip().endswith("?") and len(tokens) >= SHORT_MIN_WORDS
            and min(zipf_frequency(token, "en") for token in tokens) < SHORT_RARE_ZIPF)


class ShortQuestions:
    """Questions matched by all their words in a row: for each word count, the sorted hashes of those questions'
    word sequences, and their items. A question that two items share names neither, and is left out."""

    def __init__(self, questions: list[tuple[int, list[str]]]):
        by_length: dict[int, dict[int, list[int]]] = {}
        for number, tokens in questions:
            key = int(shingles_of_words(tokens, len(tokens))[0])
            by_length.setdefault(len(tokens), {}).setdefault(key, []).append(number)
        self.by_length = {}
        for length, owners in by_length.items():
            unique = sorted((key, numbers[0]) for key, numbers in owners.items() if len(numbers) == 1)
            if unique:
                self.by_length[length] = (np.array([key for key, _ in unique], dtype=np.uint64),
                                          np.array([number for _, number in unique], dtype=np.int64))

    def match(self, hashes: np.ndarray) -> tuple[int, int] | None:
        """(item number, word count) of the longest question a text holds whole, given the text's word hashes.
        The word sequences of every length are folded in one pass, one word wider each step, as
        `shingles_of_hashes` folds them, and looked up in the sorted hashes of that length."""
        found = None
        folded = hashes.copy()  # after step `width`, folded[p] is the hash of words p .. p + width - 1
        with np.errstate(over="ignore"):
            for width in range(1, min(max(self.by_length, default=0), len(hashes)) + 1):
                if width > 1:
                    folded = folded[:-1] * SHINGLE_MULTIPLIER ^ hashes[width - 1:]
                if width in self.by_length:
                    keys, numbers = self.by_length[width]
                    at = np.searchsorted(keys, folded).clip(max=len(keys) - 1)
                    if (hits := keys[at] == folded).any():
                        found = int(numbers[at[hits.argmax()]]), width
        return found


class BenchmarkIndex:
    """The distinct 5-grams of every segment of every item, sorted, each with the segments it occurs in; and the
    short questions that name their items, matched whole."""

    def __init__(self, items: list[BenchmarkItem], containment: float = CONTAINMENT):
        self.items, self.containment = items, containment
        owners, self.segment_names, texts, short_questions = [], [], [], []
        for number, item in enumerate(items):
            for name, text in item.named_segments:
                if len(tokens := words(text)) >= MIN_SHARED + CONTAINMENT_NGRAM - 1:
                    owners.append(number)
                    self.segment_names.append(name)
                    texts.append(tokens)
                elif name == "question":
                    short_questions.append((number, tokens))
        self.owner = np.array(owners, dtype=np.int64)
        values, offsets = shingle_rows(texts, CONTAINMENT_NGRAM)
        segments = np.repeat(np.arange(len(texts)), np.diff(offsets))
        pairs = np.unique(np.stack([values, segments.astype(np.uint64)], axis=1), axis=0)  # sorted by 5-gram
        per_item = np.unique(np.stack([pairs[:, 0], self.owner[pairs[:, 1].astype(np.int64)].astype(np.uint64)],
                                      axis=1), axis=0)
        distinct, items_of = np.unique(per_item[:, 0], return_counts=True)
        specific = ~np.isin(pairs[:, 0], distinct[items_of > BOILERPLATE_ITEMS])
        self.values, self.segment_of = pairs[specific, 0], pairs[specific, 1].astype(np.int64)
        self.sizes = np.bincount(self.segment_of, minlength=len(texts))  # indexed 5-grams per segment
        unmatchable = [(owners[s], texts[s]) for s in np.flatnonzero(self.sizes < MIN_SHARED)
                       if self.segment_names[s] == "question"]  # too few specific 5-grams to reach MIN_SHARED
        self.short_questions = ShortQuestions([(number, tokens) for number, tokens in short_questions + unmatchable
                                               if names_its_item(items[number].question, tokens)])

    def shared(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The segments that share any of these distinct 5-grams, and how many each shares."""
        first = np.searchsorted(self.values, values, "left")
        counts = np.searchsorted(self.values, values, "right") - first
        positions = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return np.unique(self.segment_of[positions], return_counts=True)

    def best(self, text: str) -> Match | None:
        """The segment this text holds the largest share of (at least MIN_SHARED 5-grams, or a question whole),
        whatever the share."""
        tokens = words(text)
        hashes = hash_words(tokens, len(tokens))
        values = shingles_of_hashes(hashes, np.array([len(hashes)]), CONTAINMENT_NGRAM)[0]
        best = None
        if (whole := self.short_questions.match(hashes)) is not None:
            number, length = whole
            best = Match(self.items[number], "question", length, length, whole=True)
        for start in range(0, max(len(values) - WINDOW, 0) + WINDOW // 2, WINDOW // 2):
            segments, shared = self.shared(np.unique(values[start:start + WINDOW]))
            enough = shared >= MIN_SHARED
            if not enough.any():
                continue
            segments, shared = segments[enough], shared[enough]
            top = np.lexsort((shared, shared / self.sizes[segments]))[-1]  # the highest share, then the most 5-grams
            found = Match(self.items[self.owner[segments[top]]], self.segment_names[segments[top]], int(shared[top]),
                          int(self.sizes[segments[top]]))
            if best is None or (found.score, found.shared) > (best.score, best.shared):
                best = found
        return best

    def match(self, text: str) -> Match | None:
        """The item this text contains; None for a clean text."""
        found = self.best(text)
        return found if found is not None and found.score >= self.containment else None


class Decontaminate(DocumentStep):
    """Removes (or, with action `flag`, marks) documents that overlap a benchmark test item."""

    name = "🧪 Decontaminate"
    slug = "decontaminate"

    def __init__(self, stage_dir, stage: str, benchmarks: list[BenchmarkSet], containment: float = CONTAINMENT,
                 action: str = "remove"):
        super().__init__(stage_dir, stage)
        self.benchmarks, self.containment, self.action = benchmarks, containment, action
        self.index: BenchmarkIndex | None = None

    def prepare(self) -> None:
        if self.index is None:  # built once per worker process
            items = [item for benchmark in self.benchmarks for item in load_items(benchmark)]
            self.index = BenchmarkIndex(items, self.containment)

    def process(self, doc: Document) -> Document | Removal:
        found = self.index.match(doc.text)
        if found is None:
            return doc
        if self.action == "flag":
            doc.metadata["contamination"] = {"benchmark": found.item.benchmark, "item": found.item.item_id,
                                             "segment": found.segment, "score": round(found.score, 3)}
            return doc
        return Removal(f"benchmark:{found.item.benchmark}", found.describe())


def plan(config: DecontaminateStage, ctx: StageContext) -> list[Phase]:
    benchmarks = [benchmark.model_copy(update={"path": ctx.resolve(benchmark.path),
                                               "split_ids": benchmark.split_ids and ctx.resolve(benchmark.split_ids)})
                  for benchmark in config.benchmarks]
    return ctx.one_phase(Decontaminate(ctx.directory, ctx.kind, benchmarks=benchmarks, containment=config.containment,
                                       action=config.action))
