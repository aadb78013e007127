"""PubMed / MEDLINE baseline and update files: title + abstract per citation.

Reads both `PubmedArticleSet` files (the baseline and daily updates) and the older
`MedlineCitationSet` exports. Structured abstracts keep their section labels ("METHODS: ...").
Citations without an abstract are quarantined as `no_abstract` unless the recipe keeps them.

`DeleteCitation` entries, and newer versions of a citation in later files, are honoured by the
`PubmedVersions` step that runs right after reading: this reader records every (PMID, file) pair it
sees in a small side index, because a deletion in update file 1300 removes a record that another
task read from baseline file 12.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from lxml import etree

from medmix.corpus.books import Removal
from medmix.corpus.readers.base import Rejected, SourceReader
from medmix.corpus.readers.xmlrecords import (
    TruncatedRecord,
    iter_records,
    parse_record,
    syntax_error_summary,
    text_of,
)
from medmix.corpus.steps import DocumentStep
from medmix.io import open_binary, write_parquet
from medmix.rundir import StageDir

ARTICLE_SET_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
CITATION_SET_TAGS = ("MedlineCitation", "DeleteCitation")
YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")

VERSION_INDEX_SCHEMA = pa.schema([("pmid", pa.string()), ("file_index", pa.int32()), ("deleted", pa.bool_())])


def read_head(stream, size: int = 4096) -> bytes:
    """The first bytes of a stream, enough to tell its root element; stops early at a truncation."""
    head = b""
    try:
        while len(head) < size and (chunk := stream.read1(size - len(head))):
            head += chunk
    except EOFError:
        pass  # the record splitter meets the same error after yielding what came before it
    return head


def abstract_text(abstract: etree._Element | None) -> str:
    """Abstract paragraphs, one per line, with structured-abstract labels kept."""
    if abstract is None:
        return ""
    parts = []
    for section in abstract.iterfind("AbstractText"):
        body = text_of(section)
        if not body:
            continue
        label = (section.get("Label") or "").strip()
        parts.append(f"{label}: {body}" if label else body)
    return "\n".join(parts)


def publication_year(record: etree._Element) -> int | None:
    """The journal issue's year, else the MedlineDate's first year, else the electronic article date."""
    for path in (".//JournalIssue/PubDate/Year", ".//JournalIssue/PubDate/MedlineDate", ".//ArticleDate/Year",
                 ".//Book/PubDate/Year"):
        if match := YEAR.search(text_of(record.find(path))):
            return int(match.group(1))
    return None


class PubmedReader(SourceReader):
    """Streams `pubmed*.xml(.gz)` files, one document per citation that has an abstract."""

    name = "📖 PubMed XML"

    def __init__(self, *args, require_abstract: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_abstract = require_abstract
        # each file's position in PubMed's release order: by file name (baseline n0001.., then the updates)
        self.file_order = {path: i for i, path in enumerate(sorted(self.files, key=lambda p: (Path(p).name, p)))}

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._versions: list[tuple[str, int, bool]] = []
        yield from super().run(data, rank, world_size)
        rows = [{"pmid": p, "file_index": i, "deleted": d} for p, i, d in self._versions]
        write_parquet(version_index_dir(self.stage_dir, self.source) / f"{rank:05d}.parquet",
                      pa.Table.from_pylist(rows, schema=VERSION_INDEX_SCHEMA))

    def records(self, path: str) -> Iterator[Document | Rejected]:
        file_index = self.file_order[path]
        with open_binary(path) as stream:
            head = read_head(stream)
            if b"<PubmedArticleSet" in head:
                tags = ARTICLE_SET_TAGS
            elif b"<MedlineCitationSet" in head:
                tags = CITATION_SET_TAGS
            else:
                yield Rejected("unreadable_file", f"{path} is not a PubmedArticleSet or MedlineCitationSet file",
                               metadata={"file": path})
                return
            position = 0
            try:
                for tag, raw in iter_records(stream, tags, head):
                    position += 1
                    yield from self._record(tag, raw, path, position, file_index)
            except TruncatedRecord as error:
                yield Rejected("truncated_record", f"{path}: {error}", metadata={"file": path})

    def _record(self, tag: str, raw: bytes, path: str, position: int, file_index: int):
        location = {"file": path, "record": position}
        try:
            record = parse_record(raw)
        except etree.XMLSyntaxError as error:
            yield Rejected("malformed_xml", f"{path} record {position}: {syntax_error_summary(error)}",
                           raw=raw.decode("utf-8", "replace"), metadata=location)
            return
        if tag == "DeleteCitation":
            # not a document: an instruction that PubmedVersions applies across all files
            self._versions.extend((text_of(p), file_index, True) for p in record.iterfind("PMID"))
            return
        pmid = text_of(record.find(".//PMID"))
        if not pmid:
            yield Rejected("missing_id", f"{path} record {position} has no PMID", raw=raw.decode("utf-8", "replace"),
                           metadata=location)
            return
        self._versions.append((pmid, file_index, False))
        title = next(filter(None, (text_of(record.find(f".//{tag}"))
                                   for tag in ("ArticleTitle", "VernacularTitle", "BookTitle"))), "")
        abstract = abstract_text(record.find(".//Abstract"))
        metadata = {
            "pmid": pmid,
            "year": publication_year(record),
            "language": text_of(record.find(".//Language")) or None,
            "publication_types": [text_of(t) for t in record.iterfind(".//PublicationType")],
            "file_index": file_index,
            "text_type": "abstract",
        }
        if not abstract and self.require_abstract:
            yield Rejected("no_abstract", f"PMID {pmid} has no abstract", id=pmid, raw=title,
                           metadata=metadata | location)
            return
        yield Document(text="\n\n".join(part for part in (title, abstract) if part), id=pmid, metadata=metadata)


def version_index_dir(stage_dir: str | Path, source: str) -> Path:
    return StageDir(Path(stage_dir)).work / "pubmed_versions" / source


class PubmedVersions(DocumentStep):
    """Applies PubMed's update semantics across all files: a later file's version or deletion wins.

    Reads the (PMID, file) side index that `PubmedReader` wrote for `sources`, then removes each
    citation that a later file re-issued (`superseded`) or deleted (`deleted_citation`).
    Documents from other sources pass through untouched.
    """

    name = "🗂 PubMed versions"
    slug = "pubmed_versions"

    def __init__(self, stage_dir: str | Path, stage: str, read_stage_dir: str | Path, sources: list[str]):
        super().__init__(stage_dir, stage)
        self.read_stage_dir = Path(read_stage_dir)
        self.sources = list(sources)
        self._latest: dict[str, dict[str, tuple[int, int]]] | None = None

    def _load(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per source, only the PMIDs that need a decision: issued more than once, or deleted.

        Maps PMID -> (newest file holding a record, newest file deleting it), -1 for none. A baseline
        has ~36M PMIDs; nearly all appear once, so the map stays small.
        """
        import polars as pl

        latest = {}
        for source in self.sources:
            is_record = ~pl.col("deleted")
            actions = (
                pl.scan_parquet(version_index_dir(self.read_stage_dir, source) / "*.parquet")
                .group_by("pmid")
                .agg(record_at=pl.col("file_index").filter(is_record).max(),
                     deleted_at=pl.col("file_index").filter(pl.col("deleted")).max(),
                     records=is_record.sum())
                .filter((pl.col("records") > 1) | pl.col("deleted_at").is_not_null())
                .collect()
            )
            latest[source] = {
                pmid: (-1 if record_at is None else record_at, -1 if deleted_at is None else deleted_at)
                for pmid, record_at, deleted_at in actions.select("pmid", "record_at", "deleted_at").iter_rows()
            }
        return latest

    def process(self, doc: Document) -> Document | Removal:
        source = doc.metadata.get("source")
        if source not in self.sources:
            return doc
        if self._latest is None:
            self._latest = self._load()
        record_at, deleted_at = self._latest[source].get(doc.metadata["pmid"], (-1, -1))
        file_index = doc.metadata["file_index"]
        if deleted_at >= file_index:
            return Removal("deleted_citation", f"PMID {doc.id} deleted by input file #{deleted_at}")
        if record_at > file_index:
            return Removal("superseded", f"PMID {doc.id} re-issued in input file #{record_at}")
        return doc
