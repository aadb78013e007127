"""Row-shaped sources: CSV (MIMIC-III NOTEEVENTS, MIMIC-IV notes, any CSV), JSONL and parquet.

MIMIC readers are presets of `CsvSourceReader`: the published schemas fix the text and id columns, and
MIMIC-III flags rows that its curators marked as errors (`ISERROR = 1`), which are quarantined.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator

import orjson
import pyarrow.parquet as pq
from datatrove.data import Document

from medmix.corpus.readers.base import Rejected, SourceReader, UnreadableFile
from medmix.io import open_binary, open_text

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # oversized notes are judged by max_chars, not by csv

MIMIC3_COLUMNS = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY",
                  "DESCRIPTION", "CGID", "ISERROR", "TEXT"]
MIMIC4_COLUMNS = ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"]


def pick_fields(row: dict, keys: list[str]) -> dict:
    return {key: row[key] for key in keys if key in row}


def record_id(value, location: str) -> str:
    """The record's own id when it has one (0 is an id), else where it was found."""
    return location if value is None or value == "" else str(value)


def without_bad_bytes(value: str) -> str:
    """Metadata fields are not judged like the text; bytes that are not UTF-8 just become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()


class CsvSourceReader(SourceReader):
    """One document per CSV row.

    Args:
        text_column, id_column: where the text and the record id are.
        columns: column names for files without a header row; with a header, leave it empty.
        metadata_columns: columns copied into each document's metadata.
        include: optional `{column: [allowed values]}`; other rows are quarantined as `excluded:<column>`.
        error_column: rows whose value here is "1" are quarantined as `flagged_error` (MIMIC-III's ISERROR).
    """

    name = "📖 CSV"

    def __init__(self, *args, text_column: str, id_column: str, columns: list[str] | None = None,
                 metadata_columns: list[str] | None = None, include: dict[str, list[str]] | None = None,
                 error_column: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.text_column = text_column
        self.id_column = id_column
        self.columns = columns or None
        self.metadata_columns = metadata_columns or []
        self.include = {column: set(values) for column, values in (include or {}).items()}
        self.error_column = error_column

    def records(self, path: str) -> Iterator[Document | Rejected]:
        with open_text(path) as handle:
            # strict: a quote left open to the end of the file is an error, not one giant merged note
            rows = csv.DictReader(handle, fieldnames=self.columns, strict=True)
            names = rows.fieldnames or []
            if missing := [c for c in (self.text_column, self.id_column) if c not in names]:
                raise UnreadableFile(f"{path}: no column {missing} (columns: {names[:20]})")
            for line_number, row in enumerate(rows, start=1):
                yield self.document(row, self.location(path, line_number))

    def document(self, row: dict, location: str) -> Document | Rejected:
        identifier = record_id(without_bad_bytes(row.get(self.id_column) or ""), location)
        if None in row or None in row.values():  # csv.DictReader's marks for too many / too few fields
            return Rejected("malformed_row", f"{location}: wrong number of fields", id=identifier,
                            raw=str(row.get(self.text_column) or ""), metadata={"file": location})
        metadata = {column: without_bad_bytes(row[column]) for column in self.metadata_columns if column in row}
        if self.error_column and row.get(self.error_column, "").strip() == "1":
            return Rejected("flagged_error", f"{self.error_column}=1", id=identifier, raw=row[self.text_column],
                            metadata=metadata)
        for column, allowed in self.include.items():
            if row.get(column, "").strip() not in allowed:
                return Rejected(f"excluded:{column}", id=identifier, raw=row[self.text_column], metadata=metadata)
        return Document(text=row[self.text_column], id=identifier, metadata=metadata)


class Mimic3NotesReader(CsvSourceReader):
    """MIMIC-III `NOTEEVENTS.csv(.gz)`; `categories` keeps only those note categories."""

    name = "📖 MIMIC-III notes"

    def __init__(self, *args, categories: list[str] | None = None, **kwargs):
        super().__init__(*args, text_column="TEXT", id_column="ROW_ID",
                         metadata_columns=["SUBJECT_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "DESCRIPTION"],
                         include={"CATEGORY": categories} if categories else None, error_column="ISERROR",
                         **kwargs)


class Mimic4NotesReader(CsvSourceReader):
    """MIMIC-IV note module: `discharge.csv.gz`, `radiology.csv.gz` (same columns)."""

    name = "📖 MIMIC-IV notes"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, text_column="text", id_column="note_id",
                         metadata_columns=["subject_id", "hadm_id", "note_type", "charttime"], **kwargs)

    def document(self, row: dict, location: str):
        record = super().document(row, location)
        record.metadata["phi_placeholder"] = "___"  # how MIMIC-IV marks removed PHI
        return record


class JsonlSourceReader(SourceReader):
    """RedPajama-style JSON lines (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`) with configurable keys."""

    name = "📖 JSONL"

    def __init__(self, *args, text_key: str = "text", id_key: str = "id", metadata_keys: list[str] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.text_key, self.id_key = text_key, id_key
        self.metadata_keys = metadata_keys or []

    def records(self, path: str) -> Iterator[Document | Rejected]:
        with open_binary(path) as handle:
            for line_number, line in enumerate(handle, start=1):
                if line_number == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")  # byte-order mark
                if line.strip():
                    yield self.document(line, self.location(path, line_number))

    def document(self, line: bytes, location: str) -> Document | Rejected:
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            reason = "invalid_utf8" if "utf-8" in str(error).lower() else "malformed_json"
            return Rejected(reason, f"{location}: {str(error)[:120]}", raw=line.decode("utf-8", "replace"),
                            metadata={"file": location})
        raw = line.decode("utf-8", "replace")
        if not isinstance(row, dict):
            return Rejected("malformed_json", f"{location}: not a JSON object", raw=raw, metadata={"file": location})
        if self.text_key not in row:
            return Rejected(f"missing_key:{self.text_key}", f"{location}: no '{self.text_key}' key", raw=raw,
                            metadata={"file": location})
        if not isinstance(row[self.text_key], str):
            return Rejected("malformed_json", f"{location}: '{self.text_key}' is not a string", raw=raw,
                            metadata={"file": location})
        return Document(text=row[self.text_key], id=record_id(row.get(self.id_key), location),
                        metadata=pick_fields(row, self.metadata_keys))


class ParquetSourceReader(JsonlSourceReader):
    """Parquet files, streamed in row batches, with the same key options as JSONL."""

    name = "📖 Parquet"

    def records(self, path: str) -> Iterator[Document | Rejected]:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if self.text_key not in names:
            raise UnreadableFile(f"{path}: no column '{self.text_key}' (columns: {names[:20]})")
        wanted = [c for c in dict.fromkeys([self.text_key, self.id_key, *self.metadata_keys]) if c in names]
        row_number = 0
        for batch in parquet.iter_batches(batch_size=1024, columns=wanted):
            for row in batch.to_pylist():
                row_number += 1
                text = row[self.text_key]
                if isinstance(text, bytes):
                    text = text.decode("utf-8", "surrogateescape")
                yield Document(text=text if isinstance(text, str) else "",
                               id=record_id(row.get(self.id_key), self.location(path, row_number)),
                               metadata=pick_fields(row, self.metadata_keys))
