"""Scores for a PHI detector against gold spans, as `medmix phi-eval` reports them.

- alnum recall: share of gold spans whose every letter and digit is redacted: the privacy-relevant
  form of strict recall, since gold spans sometimes take in a neighbouring full stop or bracket;
- strict recall: share of gold spans whose every non-space character is redacted;
- lenient recall: share of gold spans that overlap a redaction at all;
- recall per gold category (alnum);
- character precision: share of redacted non-space characters that lie inside gold PHI.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from medmix.corpus.phi.gold import AnnotatedNote
from medmix.corpus.phi.spans import Span


@dataclass
class Scores:
    spans: int = 0
    alnum: int = 0
    strict: int = 0
    lenient: int = 0
    redacted_chars: int = 0
    redacted_gold_chars: int = 0
    per_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def alnum_recall(self) -> float:
        return self.alnum / self.spans if self.spans else 1.0

    @property
    def strict_recall(self) -> float:
        return self.strict / self.spans if self.spans else 1.0

    @property
    def lenient_recall(self) -> float:
        return self.lenient / self.spans if self.spans else 1.0

    @property
    def char_precision(self) -> float:
        return self.redacted_gold_chars / self.redacted_chars if self.redacted_chars else 1.0

    def category_recall(self) -> dict[str, tuple[float, int]]:
        return {label: (hit / total, total) for label, (hit, total) in sorted(self.per_category.items())}

    def summary(self) -> dict[str, float]:
        return {"alnum_recall": self.alnum_recall, "strict_recall": self.strict_recall,
                "lenient_recall": self.lenient_recall, "char_precision": self.char_precision}


def covered(text: str, spans: list[Span]) -> list[bool]:
    mask = [False] * len(text)
    for span in spans:
        for index in range(max(span.start, 0), min(span.end, len(text))):
            mask[index] = True
    return mask


def score(notes: list[AnnotatedNote], predictions: dict[str, list[Span]]) -> Scores:
    scores = Scores()
    for note in notes:
        predicted = covered(note.text, predictions.get(note.id, []))
        gold = covered(note.text, note.spans)
        for span in note.spans:
            chars = [i for i in range(span.start, min(span.end, len(note.text))) if not note.text[i].isspace()]
            alnum = all(predicted[i] for i in chars if note.text[i].isalnum())
            scores.spans += 1
            scores.alnum += alnum
            scores.strict += all(predicted[i] for i in chars)
            scores.lenient += any(predicted[i] for i in range(span.start, min(span.end, len(note.text))))
            scores.per_category[span.label][0] += alnum
            scores.per_category[span.label][1] += 1
        for index, character in enumerate(note.text):
            if predicted[index] and not character.isspace():
                scores.redacted_chars += 1
                scores.redacted_gold_chars += gold[index]
    return scores


@dataclass
class Evaluation:
    notes: int
    scores: Scores
    kb_per_second: float


def evaluate(scrubber, sets: dict[str, list[AnnotatedNote]]) -> dict[str, Evaluation]:
    """Score `scrubber` on each named set of annotated notes, timing its `find` calls."""
    results = {}
    for name, notes in sets.items():
        started = time.perf_counter()
        predictions = {note.id: scrubber.find(note.text) for note in notes}
        seconds = time.perf_counter() - started
        chars = sum(len(note.text) for note in notes)
        results[name] = Evaluation(len(notes), score(notes, predictions), chars / max(seconds, 1e-9) / 1e3)
    return results
