"""Scrubbing texts with a `PhiScrubber`: tags or surrogates in place of what it finds, and counts by label.

The readers of stage 00 (text that is not de-identified, scrubbed as it is read), the `phi` stage (the
residual check of de-identified text) and `medmix scrub` all scrub through a `Redactor`, so they scrub
the same way and record what they found the same way: counts by label, per source, in `phi_counts/`
beside the ledger, never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from datatrove.data import Document

from medmix.corpus.phi.replace import Surrogates, with_tags
from medmix.io import write_parquet
from medmix.rundir import StageDir

if TYPE_CHECKING:
    from medmix.corpus.phi.scrubber import PhiScrubber
    from medmix.corpus.phi.spans import Span


class Redactor:
    """Scrubs texts: finds PHI, replaces it with tags or surrogates, and counts it by source and label."""

    def __init__(self, scrubber: PhiScrubber, surrogates: Surrogates | None = None, patient_key: str = "subject_id"):
        self.scrubber, self.surrogates, self.patient_key = scrubber, surrogates, patient_key
        self.counts: Counter = Counter()

    def patient(self, fields: Mapping) -> str | None:
        """The patient a record belongs to (surrogate dates shift per patient), from its metadata or row."""
        patient = fields.get(self.patient_key, fields.get(self.patient_key.upper()))  # MIMIC-III: SUBJECT_ID
        return None if patient is None else str(patient)

    def redact(self, text: str, document: str, fields: Mapping) -> tuple[str, list[Span]]:
        """`text` scrubbed, and the spans found in it; `fields` are the record's metadata (for the patient)."""
        patient = self.patient(fields)
        spans = self.scrubber.find(text, patient)
        if self.surrogates:
            return self.surrogates.replace(text, spans, document, patient), spans
        return with_tags(text, spans), spans

    def scrub(self, doc: Document) -> Document:
        """Scrub a corpus document in place; count what was found for its source, and how many spans."""
        doc.text, spans = self.redact(doc.text, str(doc.id), doc.metadata)
        doc.metadata["phi_spans"] = len(spans)
        source = doc.metadata.get("source", "")
        self.counts.update((source, span.label) for span in spans)
        return doc

    def write_counts(self, stage_dir: Path, step: str, rank: int) -> None:
        """This task's counts by source and label: what the audit reports about PHI."""
        rows = sorted(self.counts.items())
        write_parquet(StageDir(stage_dir).phi_counts(step, rank), pa.table({
            "source": [source for (source, _), _ in rows],
            "label": [label for (_, label), _ in rows],
            "spans": pa.array([count for _, count in rows], pa.int64()),
        }))
