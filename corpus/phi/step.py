"""The recipe's `phi` stage: the same scrubber as `medmix scrub`, as a pipeline block.

It edits clinical documents in place (tags or surrogates) and removes none. What it records about
PHI is counts by label, per source, in `phi_counts/` beside the ledger: never a value.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline

from medmix.corpus.accounting import Removal, write_parquet
from medmix.corpus.phi.replace import Surrogates, with_tags
from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings, count_labels
from medmix.corpus.steps import DocumentStep


class PhiScrub(DocumentStep):
    name = "🩺 PHI scrub"
    slug = "phi"

    def __init__(self, stage_dir: str | Path, stage: str, domains: list[str], check_deidentified: bool = True,
                 deidentified_sources: list[str] = (), replacement: str = "tags", secret: str | None = None,
                 patient_key: str = "subject_id", ner_model: str | None = None):
        super().__init__(stage_dir, stage)
        self.domains = set(domains)
        self.skipped_sources = set() if check_deidentified else set(deidentified_sources)
        self.replacement, self.secret, self.patient_key = replacement, secret, patient_key
        self.ner_model = ner_model
        self.counts: Counter = Counter()

    def prepare(self) -> None:
        self.scrubber = PhiScrubber(ScrubberSettings(ner_model=self.ner_model))
        self.surrogates = Surrogates(self.secret) if self.replacement == "surrogates" else None

    def process(self, doc: Document) -> Document | Removal:
        source = doc.metadata.get("source", "")
        if doc.metadata.get("domain") not in self.domains or source in self.skipped_sources:
            return doc
        spans = self.scrubber.find(doc.text)
        if self.surrogates:
            patient = doc.metadata.get(self.patient_key, doc.metadata.get(self.patient_key.upper()))  # MIMIC-III: SUBJECT_ID
            doc.text = self.surrogates.replace(doc.text, spans, str(doc.id), None if patient is None else str(patient))
        else:
            doc.text = with_tags(doc.text, spans)
        doc.metadata["phi_spans"] = len(spans)
        for label, count in count_labels(spans).items():
            self.counts[(source, label)] += count
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from super().run(data, rank, world_size)
        rows = sorted(self.counts.items())
        write_parquet(self.stage_dir / "phi_counts" / f"{rank:05d}.parquet", pa.table({
            "source": [source for (source, _), _ in rows],
            "label": [label for (_, label), _ in rows],
            "spans": pa.array([count for _, count in rows], pa.int64()),
        }))
