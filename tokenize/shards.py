"""The shard format: fixed-length token sequences in little-endian memmaps, an index, and a manifest.

A shard set is a folder:

    manifest.json            format, dtype, seq_len, vocab_size, tokenizer_sha256, bos/eos ids,
                             sequences, tokens, tokens per source, every shard's sha256, and the
                             encoder that produced the ids (gigatoken, or sentencepiece and why)
    shard_00000.bin          sequences x seq_len token ids, dtype "<u2" (or "<u4" for vocabularies > 65,536)
    shard_00000.index.npy    one row per piece of a document inside a sequence (numbered within the shard):
                             (sequence, start, length, source) -- which source each token range came from

Reading needs numpy alone:

    tokens = np.memmap("shard_00000.bin", dtype="<u2", mode="r").reshape(-1, seq_len)
    index = np.load("shard_00000.index.npy")      # structured array, fields as above

Nothing in a shard set depends on time or machine, so the same recipe rebuilds it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from medmix.io import atomic_path, file_sha256, write_json

FORMAT = "medmix-shards"
VERSION = 1
INDEX_DTYPE = np.dtype([("sequence", "<u4"), ("start", "<u4"), ("length", "<u4"), ("source", "<u2")])


class ShardError(ValueError):
    """A shard set that does not match its manifest, or not what the reader expected."""


def shard_name(number: int) -> str:
    return f"shard_{number:05d}"


@dataclass(frozen=True)
class ManifestHeader:
    """What a manifest says of its whole shard set; `write_manifest` adds the totals and the shard list."""

    split: str  # "train" or "valid_<domain>"
    dtype: str  # numpy's name of the token dtype: "<u2" or "<u4"
    seq_len: int
    vocab_size: int
    tokenizer_sha256: str
    bos_id: int | None  # None when documents were encoded without <s>
    eos_id: int | None
    sources: list[str]  # recipe order: the numbers in each index's `source` field
    seed: int
    encoder: str  # the encoder that produced the ids


def write_shard(folder: Path, number: int, tokens: np.ndarray, index: np.ndarray, sources: list[str]) -> dict:
    """Write one shard and its index; returns the shard's manifest entry (checksummed)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = shard_name(number)
    data, index_path = folder / f"{name}.bin", folder / f"{name}.index.npy"
    little_endian = np.ascontiguousarray(tokens.astype(tokens.dtype.newbyteorder("<"), copy=False))
    with atomic_path(data) as partial:
        little_endian.tofile(partial)
    with atomic_path(index_path) as partial, open(partial, "wb") as handle:
        np.save(handle, index.astype(INDEX_DTYPE, copy=False))
    per_source = np.bincount(index["source"], weights=index["length"], minlength=len(sources)).astype(np.int64)
    return {"file": data.name, "index": index_path.name, "sequences": int(tokens.shape[0]),
            "sha256": hashlib.sha256(little_endian.data).hexdigest(),  # what was written, not re-read
            "tokens_per_source": {s: int(n) for s, n in zip(sources, per_source) if n}}


def write_manifest(folder: Path, header: ManifestHeader, shards: list[dict]) -> dict:
    """The shard set's manifest: the header, totals per source and every shard's entry (from `write_shard`)."""
    totals: dict[str, int] = {}
    for shard in shards:
        for source, count in shard["tokens_per_source"].items():
            totals[source] = totals.get(source, 0) + count
    sequences = sum(s["sequences"] for s in shards)
    manifest = {"format": FORMAT, "version": VERSION, **asdict(header), "sequences": sequences,
                "tokens": sequences * header.seq_len, "tokens_per_source": dict(sorted(totals.items())),
                "shards": shards}
    write_json(folder / "manifest.json", manifest, indent=1, sort_keys=True)
    return manifest


@dataclass
class ShardSet:
    """A shard set opened for reading, checked against its manifest."""

    folder: Path
    manifest: dict
    shards: list[np.memmap]
    offsets: np.ndarray  # first global sequence number of each shard, plus the total at the end

    @property
    def seq_len(self) -> int:
        return self.manifest["seq_len"]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def sequence(self, number: int) -> np.ndarray:
        shard = int(np.searchsorted(self.offsets, number, side="right")) - 1
        return self.shards[shard][number - self.offsets[shard]]

    def index(self, shard: int) -> np.ndarray:
        return np.load(self.folder / self.manifest["shards"][shard]["index"])


def open_shard_set(folder: str | Path, tokenizer_sha256: str | None = None, verify: bool = False) -> ShardSet:
    """Open a shard set; fail loudly on a manifest mismatch, a truncated shard, or (with `verify`) a bad checksum."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise ShardError(f"{folder}: no manifest.json")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ShardError(f"{path}: not a {FORMAT} v{VERSION} manifest")
    if tokenizer_sha256 is not None and manifest["tokenizer_sha256"] != tokenizer_sha256:
        raise ShardError(f"{path}: shards were tokenized with tokenizer {manifest['tokenizer_sha256'][:12]}…, "
                         f"not the expected {tokenizer_sha256[:12]}…")
    dtype, seq_len = np.dtype(manifest["dtype"]), manifest["seq_len"]
    if dtype not in (np.dtype("<u2"), np.dtype("<u4")):
        raise ShardError(f"{path}: unsupported dtype {manifest['dtype']}")
    shards = []
    for entry in manifest["shards"]:
        data = folder / entry["file"]
        expected = entry["sequences"] * seq_len * dtype.itemsize
        if not data.is_file() or data.stat().st_size != expected:
            size = data.stat().st_size if data.is_file() else "missing"
            raise ShardError(f"{data}: expected {expected} bytes ({entry['sequences']} sequences), found {size}")
        if verify and file_sha256(data) != entry["sha256"]:
            raise ShardError(f"{data}: sha256 does not match the manifest")
        shards.append(np.memmap(data, dtype=dtype, mode="r", shape=(entry["sequences"], seq_len)))
    offsets = np.concatenate([[0], np.cumsum([e["sequences"] for e in manifest["shards"]])]).astype(np.int64)
    return ShardSet(folder, manifest, shards, offsets)
