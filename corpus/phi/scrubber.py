"""The PHI scrubber: presidio's `AnalyzerEngine` running medmix's recognizers, plus what presidio leaves to us.

What is added around presidio:
- chunking: texts of any length, cut into overlapping chunks (spaCy refuses more than 1,000,000
  characters) so that PHI at a chunk boundary is seen whole by one of the two chunks;
- propagation: a name or place found once by its context ("Dr. Healey") is redacted wherever else
  the same word appears in the document ("healey aware");
- known identifiers: values a hospital lists for the patient (`known.py`), found in that patient's notes;
- merging: overlapping finds become one span, labelled by the longest find (the more specific label
  on a tie: an SSN is an SSN, not an ID).

Nothing here logs or raises with document text: callers get spans and counts by label only.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex as re

from medmix.corpus.phi.context import STOP, tokenize
from medmix.corpus.phi.known import KnownIdentifiers
from medmix.corpus.phi.lexicon import load_lexicon
from medmix.corpus.phi.presidio_offline import DEFAULT_SPACY_MODEL, offline_tldextract
from medmix.corpus.phi.recognizers import ClinicalRecognizer
from medmix.corpus.phi.spans import Span
from medmix.corpus.phi.tagger import DEFAULT_THRESHOLD

PROPAGATED = {"NAME", "LOCATION"}
SPACY_LABELS = {"PERSON": "NAME", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}


# when finds overlap, the more specific label names the merged span
SPECIFIC = {"SSN": 3, "EMAIL": 3, "URL": 3, "IP": 3, "PHONE": 2, "ADDRESS": 2, "AGE": 2, "DATE": 1}


@dataclass(frozen=True)
class ScrubberSettings:
    """How the engine is built.

    - `model`: a CRF trained by `medmix phi-train`; None is the one medmix ships;
    - `threshold`: the tagger redacts a token whose PHI probability reaches it (lower: more recall);
    - `tagger`, `context_rules`: which detectors join the shape rules (both, by default);
    - `ner_model` adds spaCy NER (slower, and less precise: see benchmarks/README.md).
    """

    model: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    tagger: bool = True
    context_rules: bool = True
    ner_model: str | None = None
    chunk_chars: int = 100_000
    overlap_chars: int = 2_000


def build_analyzer(settings: ScrubberSettings):
    """presidio's AnalyzerEngine with an explicit NLP engine (never a download) and medmix's recognizers."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine

    offline_tldextract()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(ClinicalRecognizer(settings.model, settings.threshold, settings.tagger,
                                               settings.context_rules))
    if settings.ner_model:
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": settings.ner_model}])
        registry.add_recognizer(SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]))
    else:
        engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": DEFAULT_SPACY_MODEL}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def chunk_bounds(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """`[(start, end)]` covering `range(length)`, each chunk overlapping the next by `overlap` characters."""
    if length <= size:
        return [(0, length)]
    bounds, start = [], 0
    while True:
        end = min(start + size, length)
        bounds.append((start, end))
        if end == length:
            return bounds
        start = end - overlap


def _range_of_same_kind(last: list, span: Span, text: str) -> bool:
    """"6/30-7/2": two finds of one label joined by a hyphen are one span."""
    return last[2] == span.label and span.start == last[1] + 1 and text[last[1]] == "-"


def _rank(span: Span) -> tuple[int, int]:
    return SPECIFIC.get(span.label, 0), span.end - span.start


def merge(spans: list[Span], text: str) -> list[Span]:
    """Overlapping or touching spans become one, as do hyphenated ranges. The label is the most specific
    find's (an SSN that the tagger calls an ID stays an SSN), then the longest's."""
    merged: list[list] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and (span.start <= merged[-1][1] or _range_of_same_kind(merged[-1], span, text)):
            last = merged[-1]
            if _rank(span) > last[3]:
                last[2], last[3] = span.label, _rank(span)
            last[1] = max(last[1], span.end)
        else:
            merged.append([span.start, span.end, span.label, _rank(span)])
    out = []
    for start, end, label, _ in merged:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append(Span(start, end, label))
    return out


class PhiScrubber:
    """Finds PHI spans in a text; `replace.py` turns them into tags or surrogates."""

    def __init__(self, settings: ScrubberSettings = ScrubberSettings(), known: KnownIdentifiers | None = None):
        self.settings, self.known = settings, known
        self.analyzer = build_analyzer(settings)
        self.lexicon = load_lexicon()

    def _analyze(self, text: str) -> list[Span]:
        found = self.analyzer.analyze(text=text, language="en")
        return [Span(r.start, r.end, SPACY_LABELS.get(r.entity_type, r.entity_type)) for r in found]

    def find(self, text: str, patient: str | None = None) -> list[Span]:
        """PHI spans in `text`; `patient` selects the known identifiers to look for, if any are loaded."""
        spans: list[Span] = []
        for start, end in chunk_bounds(len(text), self.settings.chunk_chars, self.settings.overlap_chars):
            spans += [Span(s.start + start, s.end + start, s.label) for s in self._analyze(text[start:end])]
        if self.known is not None:
            spans += self.known.spans(text, patient)
        spans += self._propagate(text, spans)
        return merge(spans, text)

    def _distinctive(self, word: str) -> bool:
        """Worth redacting wherever it appears: a name or place, not a word that a rule caught by accident.
        One false find must not spread through the document, so common, clinical and short words stay out."""
        lexicon = self.lexicon
        if len(word) < 3 or not word.isalpha() or word in STOP or word in lexicon.clinical or lexicon.zipf(word) >= 4.0:
            return False
        if lexicon.is_name(word):
            return lexicon.name_dominant(word)
        return word in lexicon.places or len(word) > 4 and lexicon.zipf(word) < 2.5 and not lexicon.misspelt_word(word)

    def _propagate(self, text: str, spans: list[Span]) -> list[Span]:
        """Every other occurrence of a word that a name or place rule found somewhere in the document."""
        terms: dict[str, str] = {}
        for span in spans:
            if span.label not in PROPAGATED:
                continue
            for token in tokenize(text[span.start:span.end]):
                if self._distinctive(token.word):
                    terms.setdefault(token.word, span.label)
        if not terms:
            return []
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.I)
        return [Span(m.start(), m.end(), terms[m.group().lower()]) for m in pattern.finditer(text)]
