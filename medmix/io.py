"""Files that are whole or absent, and input files however they are compressed.

Every output of a build is written under a temporary name, then renamed.

A task that is killed half-way (a Slurm pre-emption, a full disk, Ctrl-C) must not leave a torn file that
a resumed build would take for a finished one. `os.replace` is atomic on one filesystem, so a reader sees
either the old file, or nothing, or the complete new one.

This module imports nothing of medmix: corpus, tokenize and train all build on it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from isal import igzip

# ISA-L's highest level: on JSONL text, 12 times the speed of zlib's level 6 for files 11% larger
GZIP_LEVEL = 3


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: a hidden name beside it, on the same filesystem."""
    return path.with_name(f".{path.name}.tmp")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield the temporary path to write; it becomes `path` when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as partial:
        partial.write_bytes(data)


def write_shared(path: Path, data: bytes) -> None:
    """Atomically, for a file that several processes may write at once with the same content (a cache
    entry): each writes its own temporary file, so no two writers ever share one, and the last rename wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def write_json(path: Path, content, **dumps) -> None:
    """JSON, written atomically; `dumps` goes to `json.dumps` (indent, sort_keys)."""
    atomic_write_bytes(path, (json.dumps(content, **dumps) + "\n").encode())


def write_parquet(path: Path, table: pa.Table) -> None:
    """A small parquet file, written atomically."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def file_sha256(path: str | Path) -> str:
    """A file's sha256, read in blocks: the identity of tokenizers, models and shards."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def gzip_writer(path: Path) -> igzip.IGzipFile:
    """A gzip file written by ISA-L, the same bytes on every run (mtime 0). Quarantines are gzip JSONL: with
    zlib, compressing dedup's removed documents was a quarter of its phases' time."""
    return igzip.IGzipFile(path, "wb", compresslevel=GZIP_LEVEL, mtime=0)


def open_output(path: Path, name: str) -> BinaryIO:
    """A file to write at `path`, compressed as the name it will have says: `.gz` (ISA-L), `.zst`, else plain."""
    if name.endswith(".gz"):
        return gzip_writer(path)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor().stream_writer(open(path, "wb"))
    return open(path, "wb")


def open_binary(path: str | Path) -> BinaryIO:
    """Open a file for streaming reads, decompressing `.gz` and `.zst` transparently. A user's input is inflated by
    zlib, not ISA-L: from a truncated file, zlib hands over everything before the cut (ISA-L drops its last block)."""
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


def open_text(path: str | Path) -> io.TextIOWrapper:
    """Text stream that never raises on bad bytes: they become lone surrogates, which the checks catch.

    A leading byte-order mark is dropped (utf-8-sig), so it never sticks to the first column name.
    """
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="surrogateescape", newline="")
