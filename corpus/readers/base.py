"""What all source readers share: file sharding, decompression, the checks every record gets, and books.

A reader subclass only turns one file into a stream of `Document`s and `Rejected` records. The base
class shards the source's files across tasks, applies the common checks (empty text, invalid UTF-8,
oversized documents), tags each document with its source and domain, and quarantines the rest.
A file that cannot be read to its end (truncated gzip, corrupt archive) costs one quarantined
`unreadable_file` entry naming where reading stopped; the records before that point are kept.

A source whose text may carry PHI (one the recipe's phi stage covers, not de-identified) is scrubbed
here, before anything is written: its kept documents leave the reader scrubbed, and its quarantine
records hold the id, the reason and scrubbed text, never the raw record. An unexpected error fails the
task with its type and where it happened, never its message, which may quote a record.
"""

from __future__ import annotations

import csv
import os
import tarfile
import traceback
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import zstandard
from datatrove.data import Document, DocumentsPipeline

from medmix.corpus.books import Removal, StageError
from medmix.corpus.stages.phi import REDACTOR_IMPORTS, PhiSettings, task_redactor
from medmix.corpus.steps import AccountedStep


class UnreadableFile(Exception):
    """A reader's own verdict that a whole file cannot be read, e.g. a CSV header without the text column."""


# Errors that mean "this file cannot be read any further", as opposed to one bad record.
FILE_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError, tarfile.TarError, zipfile.BadZipFile, csv.Error,
               pa.ArrowException, UnreadableFile)

RAW_EXCERPT_CHARS = 100_000  # how much of an unparseable raw record the quarantine keeps for inspection


@dataclass
class Rejected:
    """A raw input record that could not become a document."""

    reason: str
    detail: str = ""  # where and what went wrong; never the record's content
    id: str | None = None
    raw: str = ""  # the start of the raw record, for whoever inspects the quarantine
    metadata: dict = field(default_factory=dict)


def has_invalid_utf8(text: str) -> bool:
    """True when the text carries bytes that were not valid UTF-8 (decoded with surrogateescape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class SourceReader(AccountedStep):
    """Base for readers of one recipe source.

    Args:
        stage_dir, stage: where this stage keeps its books.
        source, domain: recipe names stamped on every document's metadata.
        files: the source's resolved input files, in a stable order; task `rank` reads every
            `world_size`-th of them.
        max_chars: documents longer than this are quarantined as `too_long`.
        phi: the recipe's phi settings when this source is to be scrubbed as it is read, else None.
    """

    type = "📖 - READER"

    def __init__(
        self,
        stage_dir: str | Path,
        stage: str,
        source: str,
        domain: str,
        files: list[str],
        max_chars: int = 10_000_000,
        phi: PhiSettings | None = None,
    ):
        super().__init__(stage_dir, stage)
        self.source = source
        self.domain = domain
        self.files = list(files)
        self.max_chars = max_chars
        self.phi = phi
        self.root = os.path.commonpath([os.path.dirname(f) for f in self.files]) if self.files else ""

    @property
    def task_imports(self) -> tuple[str, ...]:
        return REDACTOR_IMPORTS if self.phi else ()

    @property
    def slug(self) -> str:
        return f"read_{self.source}"

    def location(self, path: str, number: int) -> str:
        """`file:line` relative to the source's folder: the id of a record that has none of its own, the same
        wherever the data is mounted (ids decide validation draws and sampling order)."""
        return f"{os.path.relpath(path, self.root)}:{number}"

    def records(self, path: str) -> Iterator[Document | Rejected]:
        """Yield every record of one file, parsed or rejected."""
        raise NotImplementedError

    def check(self, doc: Document) -> Removal | None:
        """The checks every document of every source gets."""
        if not doc.text or not doc.text.strip():
            return Removal("empty_text")
        if has_invalid_utf8(doc.text):
            return Removal("invalid_utf8", "text holds bytes that are not valid UTF-8")
        if len(doc.text) > self.max_chars:
            return Removal("too_long", f"{len(doc.text)} > max_chars {self.max_chars}")
        return None

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        books = self.open_books(rank)
        self.redactor = task_redactor(self.phi) if self.phi else None
        for path in self.files[rank::world_size]:
            yield from self._read_file(path, books)
        books.close()
        if self.redactor:
            self.redactor.write_counts(self.stage_dir, self.slug, rank)

    def _read_file(self, path: str, books) -> DocumentsPipeline:
        count = 0
        try:
            for record in self.records(path):
                count += 1
                if isinstance(record, Rejected):
                    self._reject(books, record)
                    continue
                record.metadata = self.stamp(record.metadata)
                chars_in = len(record.text)
                if removal := self.check(record):
                    text = self.redacted(record.text, record.id, record.metadata)
                elif removal := self._scrub(record):
                    text = ""  # the scrubber failed on it: nothing of it may be written
                quarantined = {"id": record.id, "text": text, "metadata": record.metadata} if removal else None
                if (kept := self.settle(books, self.source, chars_in, removal or record, quarantined)) is not None:
                    yield kept
        except FILE_ERRORS as error:
            self._reject(books, Rejected(
                "unreadable_file",
                f"{type(error).__name__} in {path} after {count} records: {error}",
                metadata={"file": path},
            ))
        except Exception as error:  # noqa: BLE001 - a bug, not bad input: its message and frames may hold a record
            where = traceback.extract_tb(error.__traceback__)[-1]
            raise StageError(f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno} while reading "
                             f"{path} after {count} records") from None

    def _scrub(self, doc: Document) -> Removal | None:
        """Scrub a kept document of a source scrubbed at read, in place; a document the scrubber fails on is
        removed (`error:<ExceptionType>`), as `DocumentStep` does, and quarantined without its text."""
        if self.redactor is None:
            return None
        try:
            self.redactor.scrub(doc)
        except Exception as error:  # noqa: BLE001 - one note the scrubber fails on must not stop the task
            return Removal(f"error:{type(error).__name__}", "PHI scrubbing failed on this document")
        return None

    def redacted(self, text: str, record_id, metadata: dict) -> str:
        """What may be written of a record's text (in a quarantine): all of it, or, for a source scrubbed at
        read, the scrubbed text; nothing when the scrubber fails on it."""
        if self.redactor is None:
            return text
        try:
            return self.redactor.redact(text, str(record_id), metadata)[0]
        except Exception:  # noqa: BLE001 - no text rather than raw text
            return ""

    def stamp(self, metadata: dict) -> dict:
        """Add the recipe's source and domain; a record's own fields of those names become `record_*`."""
        ours = {"source": self.source, "domain": self.domain}
        return {**{(f"record_{k}" if k in ours else k): v for k, v in metadata.items()}, **ours}

    def _reject(self, books, rejected: Rejected) -> None:
        """Quarantine a raw record that could not become a document. For a source scrubbed at read, its text is
        scrubbed whole before the excerpt is cut (a value cut in two could escape the scrubber), and so is the
        detail: messages from parsers are not ours to vouch for (a headerless CSV's "column names" are a note)."""
        metadata = self.stamp(rejected.metadata)
        raw = self.redacted(rejected.raw, rejected.id, metadata)[:RAW_EXCERPT_CHARS]
        detail = self.redacted(rejected.detail, rejected.id, metadata)
        books.incoming(self.source, len(rejected.raw))
        books.removed(self.source, Removal(rejected.reason, detail),
                      {"id": rejected.id, "text": raw, "metadata": metadata}, len(rejected.raw))
