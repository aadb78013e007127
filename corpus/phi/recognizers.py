"""medmix's PHI detectors as one presidio recognizer, so they plug into presidio's `AnalyzerEngine` like any other.

It needs none of presidio's NLP artifacts: it tokenizes for itself, which is what lets the engine run
without a spaCy pipeline. spaCy NER can still be added through `ScrubberSettings.ner_model`.

What it returns is the union of
- the shape rules (`patterns.py`): dates, phone and record numbers, addresses, e-mail, URLs, ages over 89;
- the learned tagger (`tagger.py`), which reads the rules' finds as features, at the settings' threshold;
- the context rules for names and places (`context.py`), when `context_rules` is on.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult

from medmix.corpus.phi.tagger import Observer, PhiTagger

LABELS = ["PLACEHOLDER", "NAME", "LOCATION", "HOSPITAL", "ADDRESS", "ORGANIZATION", "DATE", "AGE",
          "PHONE", "EMAIL", "SSN", "ID", "URL", "IP", "REDACTED"]
SCORE = 0.85  # medmix redacts whatever any detector finds, so scores rank nothing


def shape_label(shapes: list[tuple[int, int, str]], start: int, end: int) -> str | None:
    """The label of a shape rule's find overlapping `start:end`: a pattern that saw "MRN 84421907" knows
    better than the tagger what kind of number it is."""
    return next((label for s, e, label in shapes if s < end and start < e), None)


class ClinicalRecognizer(EntityRecognizer):
    def __init__(self, model: str | None, threshold: float, tagger: bool, context_rules: bool):
        self.model, self.threshold, self.use_tagger, self.context_rules = model, threshold, tagger, context_rules
        super().__init__(supported_entities=LABELS, name="medmix-clinical")

    def load(self) -> None:
        self.tagger = PhiTagger(self.model, self.threshold) if self.use_tagger else None
        self.observer = Observer(self.tagger, features=self.use_tagger)

    def analyze(self, text, entities, nlp_artifacts=None):
        observation = self.observer.observe(text)
        spans = list(observation.shape_spans)
        if self.context_rules:
            spans += observation.context_spans
        if self.tagger is not None:
            spans += [(start, end, shape_label(observation.shape_spans, start, end) or label)
                      for start, end, label in self.tagger.spans(observation)]
        return [RecognizerResult(label, start, end, SCORE) for start, end, label in spans
                if entities is None or label in entities]
