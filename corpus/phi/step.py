"""PHI scrubbing in a corpus build: the recipe's `phi` stage settings, the scrubbing that tasks share, and the
stage's own pipeline block.

Text that is not de-identified is scrubbed as it is read (the readers of stage 00 hold a `Redactor`), so
no stage ever writes it unscrubbed; the `phi` stage (`PhiScrub`) is then the residual check of the
de-identified sources. Both scrub the same way and record what they found the same way: counts by
label, per source, in `phi_counts/` beside the ledger, never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline

from medmix.corpus.accounting import Removal, write_parquet
from medmix.corpus.phi.replace import SecretError, Surrogates, read_secret, with_tags
from medmix.corpus.steps import DocumentStep

if TYPE_CHECKING:
    from medmix.corpus.phi.scrubber import PhiScrubber
    from medmix.corpus.phi.spans import Span
    from medmix.corpus.stages.phi import PhiStage


def stage_scrubber(stage: PhiStage) -> PhiScrubber:
    """The scrubber that the recipe's phi stage asks for. This is the one place where recipe settings become
    scrubber settings, for the read stage and the phi stage alike, so a new setting plugs in here once."""
    # a heavy import (presidio, the tagger): only tasks that scrub pay for it
    from medmix.corpus.phi.known import KnownIdentifiers
    from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings

    settings = ScrubberSettings(ner_model=stage.ner_model, model=stage.model)
    if stage.threshold is not None:
        settings = replace(settings, threshold=stage.threshold)
    known = KnownIdentifiers.load(stage.known_identifiers, stage.patient_key) if stage.known_identifiers else None
    return PhiScrubber(settings, known)


@dataclass(frozen=True)
class PhiSettings:
    """What a task needs to scrub as the recipe says. Steps carry it to the workers, and datatrove writes the
    steps' attributes into the run directory (`executor.json`), so it names the secret's environment
    variable and holds the secret's fingerprint, never the secret itself."""

    stage: PhiStage
    secret_fingerprint: str | None = None


class Redactor:
    """Scrubs texts: finds PHI, replaces it with tags or surrogates, and counts it by source and label."""

    def __init__(self, scrubber: PhiScrubber, surrogates: Surrogates | None = None, patient_key: str = "subject_id"):
        self.scrubber, self.surrogates, self.patient_key = scrubber, surrogates, patient_key
        self.counts: Counter = Counter()

    @classmethod
    def for_task(cls, settings: PhiSettings) -> Redactor:
        """A task's redactor, built in the worker: the secret is read here from the environment, and must be
        the one the build started with (a Slurm node or a Ray cluster may have another)."""
        stage = settings.stage
        if stage.replacement != "surrogates":
            return cls(stage_scrubber(stage), None, stage.patient_key)
        surrogates = Surrogates(read_secret(stage.secret_env))
        if surrogates.fingerprint != settings.secret_fingerprint:
            raise SecretError(f"the secret in {stage.secret_env} is not the one this build was started with")
        return cls(stage_scrubber(stage), surrogates, stage.patient_key)

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
        write_parquet(stage_dir / "phi_counts" / f"{step}-{rank:05d}.parquet", pa.table({
            "source": [source for (source, _), _ in rows],
            "label": [label for (_, label), _ in rows],
            "spans": pa.array([count for _, count in rows], pa.int64()),
        }))


class PhiScrub(DocumentStep):
    """The `phi` stage: scrubs the documents of `sources` (the de-identified ones, as a residual check; the
    others were scrubbed as they were read) and passes every other document through. It removes none."""

    name = "🩺 PHI scrub"
    slug = "phi"

    def __init__(self, stage_dir: str | Path, stage: str, settings: PhiSettings, sources: list[str]):
        super().__init__(stage_dir, stage)
        self.settings = settings
        self.sources = sorted(sources)

    def prepare(self) -> None:
        self.redactor = Redactor.for_task(self.settings)

    def process(self, doc: Document) -> Document | Removal:
        return self.redactor.scrub(doc) if doc.metadata.get("source") in self.sources else doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from super().run(data, rank, world_size)
        self.redactor.write_counts(self.stage_dir, self.slug, rank)
