"""Readers for every Me-LLaMA source. `reader_for` builds the right one from a recipe source."""

from __future__ import annotations

from pathlib import Path

from medmix.corpus.readers.base import SourceReader
from medmix.corpus.readers.mimic_cxr import MimicCxrReader
from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.readers.pubmed import PubmedReader, PubmedVersions
from medmix.corpus.readers.tabular import (
    CsvSourceReader,
    JsonlSourceReader,
    Mimic3NotesReader,
    Mimic4NotesReader,
    ParquetSourceReader,
)
from medmix.corpus.stages.phi import PhiSettings

READERS: dict[str, type[SourceReader]] = {
    "pubmed_xml": PubmedReader,
    "pmc_jats": PmcReader,
    "mimic3_noteevents": Mimic3NotesReader,
    "mimic4_notes": Mimic4NotesReader,
    "mimic_cxr": MimicCxrReader,
    "jsonl": JsonlSourceReader,
    "parquet": ParquetSourceReader,
    "csv": CsvSourceReader,
}


def reader_for(source, files: list[str], stage_dir: str | Path, stage: str,
               phi: PhiSettings | None = None) -> SourceReader:
    """The reader of one recipe source (`medmix.corpus.recipe.Source`) over its resolved input files; with `phi`, it
    scrubs what it reads (see `SourceReader`)."""
    return READERS[source.format](
        stage_dir, stage, source=source.name, domain=source.domain, files=files, max_chars=source.max_chars,
        phi=phi, **source.options.model_dump(),
    )


__all__ = ["READERS", "PubmedVersions", "SourceReader", "reader_for"]
