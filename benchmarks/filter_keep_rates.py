"""Keep rates of the normalize -> language -> quality stages, per source, on the shared real samples.

    python benchmarks/filter_keep_rates.py [--shared ../shared/data]

Prints, per source, how many documents each filter keeps and the top removal reasons. The defaults
per domain (corpus/stages/quality_filter.py) are tuned so that real clinical notes and literature survive.
"""

from __future__ import annotations

import argparse
import glob
import tempfile
from collections import Counter
from pathlib import Path

from datatrove.data import Document

from medmix.corpus.phi.gold import read_physionet_notes
from medmix.corpus.readers import reader_for
from medmix.corpus.recipe import parse_recipe
from medmix.corpus.stages.language_filter import LanguageFilter, LanguageFilterStage
from medmix.corpus.stages.normalize import Normalizer
from medmix.corpus.stages.quality_filter import DEFAULT_QUALITY_PROFILES, QualityFilter


def physionet_notes(path: Path) -> list[Document]:
    return [Document(text=body, id=key, metadata={"source": "physionet_deid", "domain": "clinical"})
            for key, body in read_physionet_notes(path).items()]


def read_source(shared: Path, name: str, domain: str, fmt: str, paths: list[str], options=None) -> list[Document]:
    recipe = parse_recipe({"name": "k", "output_dir": "x", "tokenizer": {"path": "x"},
                           "mix": {"total_tokens": 1, "shares": {name: 1}},
                           "sources": [{"name": name, "domain": domain, "format": fmt, "paths": paths,
                                        "deidentified": True, "options": options or {}}]})
    files = sorted(f for p in paths for f in glob.glob(str(shared / p)))
    reader = reader_for(recipe.sources[0], files, tempfile.mkdtemp(), "read")
    return list(reader.run(None, 0, 1))


def samples(shared: Path) -> dict[str, list[Document]]:
    mtsamples = {"text_column": "transcription", "id_column": "index",
                 "columns": ["index", "description", "medical_specialty", "sample_name", "transcription", "keywords"]}
    return {
        "pubmed": read_source(shared, "pubmed", "biomedical", "pubmed_xml", ["pubmed/*.xml*"]),
        "pmc": read_source(shared, "pmc", "biomedical", "pmc_jats", ["pmc/*.nxml"]),
        "mtsamples": read_source(shared, "mtsamples", "clinical", "csv",
                                 ["clinical/mtsamples_first401_noheader.csv"], mtsamples),
        "physionet_deid": physionet_notes(shared / "phi" / "physionet_deid_dev" / "id.text"),
        "cc_en_head": read_source(shared, "cc_en_head", "general", "jsonl", ["general/cc_en_head-*.jsonl"]),
        "wikitext": read_source(shared, "wikitext", "general", "jsonl", ["general/wikitext2_valid_test_articles.jsonl"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    web_profile = QualityFilter(work / "w", "quality_filter", {d: DEFAULT_QUALITY_PROFILES["general"]
                                                                for d in DEFAULT_QUALITY_PROFILES})
    web_profile.prepare()
    steps = [Normalizer(work / "n", "normalize"),
             LanguageFilter(work / "l", "language_filter", LanguageFilterStage(kind="language_filter").thresholds,
                            ["en"]),
             QualityFilter(work / "q", "quality_filter", DEFAULT_QUALITY_PROFILES)]
    for step in steps:
        step.prepare()
    print(f"{'source':<16}{'docs':>6}{'language':>10}{'quality':>9}{'kept':>8}{'web profile':>13}   "
          "top removal reasons")
    for name, docs in samples(args.shared).items():
        counts, reasons = [len(docs)], Counter()
        web_kept = None
        for step in steps:
            if step is steps[-1]:  # what the web profile alone would keep of the same language-filtered docs
                web_kept = sum(isinstance(web_profile.process(Document(d.text, d.id, metadata=dict(d.metadata))),
                                          Document) for d in docs) / max(len(docs), 1)
            kept = []
            for doc in docs:
                result = step.process(doc)
                if isinstance(result, Document):
                    kept.append(result)
                else:
                    reasons[result.reason] += 1
            docs = kept
            counts.append(len(docs))
        total = counts[0]
        print(f"{name:<16}{total:>6}{counts[2] / total:>10.1%}{counts[3] / max(counts[2], 1):>9.1%}"
              f"{counts[3] / total:>8.1%}{web_kept:>13.1%}   "
              f"{', '.join(f'{r} {n}' for r, n in reasons.most_common(3))}")


if __name__ == "__main__":
    main()
