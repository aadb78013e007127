"""Scores for a PHI detector against gold spans, as `medmix phi-eval` reports them.

- strict recall: share of gold spans whose every non-space character is redacted;
- lenient recall: share of gold spans that overlap a redaction at all;
- recall per gold category (strict);
- character precision: share of redacted non-space characters that lie inside gold PHI.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from medmix.corpus.phi.gold import AnnotatedNote, Span


@dataclass
class Scores:
    spans: int = 0
    strict: int = 0
    lenient: int = 0
    redacted_chars: int = 0
    redacted_gold_chars: int = 0
    per_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

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
            strict = all(predicted[i] for i in chars)
            scores.spans += 1
            scores.strict += strict
            scores.lenient += any(predicted[i] for i in range(span.start, min(span.end, len(note.text))))
            scores.per_category[span.label][0] += strict
            scores.per_category[span.label][1] += 1
        for index, character in enumerate(note.text):
            if predicted[index] and not character.isspace():
                scores.redacted_chars += 1
                scores.redacted_gold_chars += gold[index]
    return scores
