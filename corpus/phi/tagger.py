"""The learned PHI tagger: a linear-chain CRF (python-crfsuite) over tokens, fed by `features.py`.

Why a CRF: every classic de-identification system that reached about 0.98 recall paired a trained
sequence model with rules, and a CRF is the one that is small (a few MB), fast on a CPU core, and
trainable in minutes on a hospital's own annotated notes (`medmix phi-train`). Cross-validation
figures and the comparison with the rules alone are in benchmarks/README.md.

Labels are per token (`O` or the scrubber's label). A token is redacted when the model's marginal
probability that it is PHI reaches `threshold`: lower thresholds trade precision for recall.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from medmix.corpus.phi.augment import training_notes
from medmix.corpus.phi.context import ContextRules, Token, is_cased, tokenize
from medmix.corpus.phi.features import FeatureExtractor, token_labels
from medmix.corpus.phi.gold import AnnotatedNote
from medmix.corpus.phi.lexicon import load_lexicon
from medmix.corpus.phi.patterns import find_patterns
from medmix.io import atomic_path

OUTSIDE = "O"
DEFAULT_THRESHOLD = 0.15  # recall first; cross-validation figures at 0.5, 0.3 and 0.15 in benchmarks/README.md
COPIES, SYNTHETIC = 2, 400  # surrogate copies of each gold note; generated documents (see augment.py)
CRF_PARAMS = {"c1": 0.05, "c2": 0.01, "max_iterations": 150, "feature.possible_transitions": True}


def bundled_model() -> Path:
    """The model that ships with medmix (trained as its MODEL_CARD.md says)."""
    return Path(str(resources.files("medmix.corpus.phi").joinpath("model", "phi_crf.bin")))


@dataclass
class Observation:
    """What the tagger sees of one text: tokens, their features, and the rule detectors' finds."""

    tokens: list[Token]
    features: list[list[str]]
    shape_spans: list[tuple[int, int, str]]
    context_spans: list[tuple[int, int, str]]


class Observer:
    """Runs the rule detectors and builds features; shared by training and tagging so both see the same."""

    def __init__(self, tagger: PhiTagger | None = None, features: bool = True):
        """`tagger`: the model that will read the features (only features it knows are built);
        `features=False` runs the rules alone."""
        lexicon = load_lexicon()
        self.rules = ContextRules(lexicon)
        self.extractor = FeatureExtractor(lexicon, tagger.attributes if tagger else None) if features else None

    def observe(self, text: str) -> Observation:
        tokens, cased = tokenize(text), is_cased(text)
        shapes = find_patterns(text)
        context = [(s, e, "NAME") for s, e in self.rules.name_spans(tokens, cased)]
        context += [(s, e, "LOCATION") for s, e in self.rules.place_spans(tokens, cased)]
        if self.extractor is None:
            return Observation(tokens, [], shapes, context)
        rule_labels = token_labels(tokens, context + shapes)  # shapes last: a phone beats a name
        return Observation(tokens, self.extractor.sequence(tokens, cased, rule_labels), shapes, context)


def spans_from_labels(tokens: list[Token], labels: list[str]) -> list[tuple[int, int, str]]:
    """Runs of PHI tokens as `(start, end, label)`; a run never crosses a line break; its label is the
    most common among its tokens."""
    spans, run = [], []
    for token, label in zip(tokens, labels):
        if label != OUTSIDE and token.text != "\n":
            run.append((token, label))
            continue
        if run:
            spans.append(_span(run))
            run = []
    if run:
        spans.append(_span(run))
    return spans


def _span(run: list[tuple[Token, str]]) -> tuple[int, int, str]:
    label = Counter(label for _, label in run).most_common(1)[0][0]
    return run[0][0].start, run[-1][0].end, label


class PhiTagger:
    """A trained CRF; `spans()` tags one observed text."""

    def __init__(self, model_path: str | Path | None = None, threshold: float = DEFAULT_THRESHOLD):
        import pycrfsuite

        path = Path(model_path) if model_path else bundled_model()
        if not path.is_file():
            raise FileNotFoundError(f"PHI tagger model not found: {path} (train one with `medmix phi-train`)")
        self.path, self.threshold = path, threshold
        self.tagger = pycrfsuite.Tagger()
        self.tagger.open(str(path))
        self.labels = [label for label in self.tagger.labels() if label != OUTSIDE]
        self.attributes = frozenset(attribute for attribute, _ in self.tagger.info().state_features)

    def labels_of(self, observation: Observation) -> list[str]:
        tagger = self.tagger
        best = tagger.tag(observation.features)
        if self.threshold >= 0.5:
            return best  # a token whose PHI probability passes 0.5 is (nearly always) what Viterbi picks
        marginal, labels, threshold = tagger.marginal, self.labels, 1.0 - self.threshold
        tokens = observation.tokens
        for index, label in enumerate(best):  # punctuation alone is never worth a second look
            if label == OUTSIDE and tokens[index].text[0].isalnum() and marginal(OUTSIDE, index) <= threshold:
                best[index] = max(labels, key=lambda candidate: marginal(candidate, index))
        return best

    def spans(self, observation: Observation) -> list[tuple[int, int, str]]:
        if not observation.tokens:
            return []
        return spans_from_labels(observation.tokens, self.labels_of(observation))


def train_tagger(notes: list[AnnotatedNote], model_path: str | Path, params: dict | None = None,
                 progress=None) -> Path:
    """Train a CRF on annotated notes (their spans labelled with the scrubber's labels) into `model_path`.
    The file is written under a temporary name and renamed, so a crash never leaves a half model."""
    import pycrfsuite

    observer = Observer()
    trainer = pycrfsuite.Trainer(verbose=False)
    trainer.set_params(CRF_PARAMS | (params or {}))
    for note in notes:
        observation = observer.observe(note.text)
        gold = token_labels(observation.tokens, [(s.start, s.end, s.label) for s in note.spans])
        trainer.append(observation.features, [label or OUTSIDE for label in gold])
        if progress:
            progress()
    model_path = Path(model_path)
    with atomic_path(model_path) as partial:  # created by crfsuite, with the usual permissions (not mkstemp's 0600)
        trainer.train(str(partial))
    return model_path


def train_on_gold(notes: list[AnnotatedNote], model_path: str | Path, copies: int = COPIES,
                  synthetic: int = SYNTHETIC, seed: int = 0, params: dict | None = None, progress=None) -> Path:
    """Surrogate copies of the gold notes plus generated documents (`augment.py`), then `train_tagger`."""
    return train_tagger(training_notes(notes, copies, synthetic, seed), model_path, params, progress)
