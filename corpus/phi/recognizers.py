"""medmix's PHI rules as presidio recognizers, so they plug into presidio's `AnalyzerEngine` like any other.

Neither needs presidio's NLP artifacts: they tokenize for themselves, which is what lets the
engine run without a spaCy pipeline (and 40 times faster than one). spaCy NER can still be added
through `ScrubberConfig.ner_model`.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult

from medmix.corpus.phi.context import ContextRules, is_cased, tokenize
from medmix.corpus.phi.lexicon import load_lexicon
from medmix.corpus.phi.patterns import find_patterns

PATTERN_LABELS = ["PLACEHOLDER", "NAME", "LOCATION", "HOSPITAL", "ADDRESS", "ORGANIZATION", "DATE", "AGE",
                  "PHONE", "EMAIL", "SSN", "ID", "URL", "IP", "REDACTED"]
SCORE = 0.85  # one score for every rule: medmix redacts what any rule finds, so scores do not rank anything


def results(spans: list[tuple[int, int, str]], wanted: list[str] | None) -> list[RecognizerResult]:
    return [RecognizerResult(label, start, end, SCORE) for start, end, label in spans
            if wanted is None or label in wanted]


class ShapeRecognizer(EntityRecognizer):
    """Dates, phone and record numbers, addresses, e-mail, URLs, IPs, ages over 89, MIMIC placeholders."""

    def __init__(self):
        super().__init__(supported_entities=PATTERN_LABELS, name="medmix-shapes")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        return results(find_patterns(text), entities)


class ContextRecognizer(EntityRecognizer):
    """Names and places, from the words around them and the lexicon."""

    def __init__(self):
        super().__init__(supported_entities=["NAME", "LOCATION"], name="medmix-context")

    def load(self) -> None:
        self.rules = ContextRules(load_lexicon())

    def analyze(self, text, entities, nlp_artifacts=None):
        tokens, cased = tokenize(text), is_cased(text)
        spans = [(s, e, "NAME") for s, e in self.rules.name_spans(tokens, cased)]
        spans += [(s, e, "LOCATION") for s, e in self.rules.place_spans(tokens, cased)]
        return results(spans, entities)
