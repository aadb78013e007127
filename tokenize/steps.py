"""The shard build as datatrove blocks, in four phases after the last cleaning stage:

1. `TokenizeDocuments` (every task): encodes its share of the cleaned documents, `<s>`/`</s>` added per the
   recipe, into `tokens/<rank>.bin` plus a document table; a seeded hash of each id sends a fraction of
   every domain's documents to validation, before any mixing.
2. `PlanMix` (one task): token counts per source, the mix plan, and the shuffled document stream.
3. `PackShards` (every task): cuts the stream into `seq_len` sequences and writes its shards.
4. `WriteManifests` (one task): one manifest per shard set, from the shards' own checksums and indexes.

Shard sets: `shards/train/`, and `shards/valid_<domain>/` for the trainer's forgetting curves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from medmix.io import atomic_path, write_json, write_parquet
from medmix.rundir import RunDir
from medmix.tokenize.mix import MixError, off_target, plan_sources, select_documents, share_rows, share_targets
from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, write_manifest, write_shard
from medmix.tokenize.tokenizer import Tokenizer

if TYPE_CHECKING:  # polars is imported where it is used: the tokenize and pack tasks start without it (0.2 s each)
    import polars as pl

STREAM_DTYPE = np.dtype([("rank", "<u4"), ("offset", "<u8"), ("length", "<u4"), ("source", "<u2")])
DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("domain", pa.string()), ("offset", pa.uint64()),
                         ("length", pa.uint32()), ("key", pa.uint64()), ("split", pa.string()), ("rank", pa.uint32())])
# Characters per encode call: gigatoken's pretoken cache lasts one call, so larger calls are faster (10 MB of
# the benchmark's text in calls of 256 documents: 0.185 s, in one call: 0.115 s); this bounds a batch's memory.
BATCH_CHARS = 16_000_000
ENCODER_KEY = "encoder"  # in each document table's parquet metadata: the encoder its task used


@dataclass(frozen=True)
class ShardSettings:
    """The recipe's tokenizer, shards and mix sections, as the four phases need them."""

    run: RunDir
    tokenizer_path: str
    seq_len: int
    sequences_per_shard: int
    bos: bool
    eos: bool
    seed: int
    validation_fraction: float
    total_tokens: int
    shares: dict
    max_repeats: float
    on_shortfall: str
    sources: tuple[str, ...]  # recipe order: a source's number in shard indexes
    domains: dict

    def shard_sets(self) -> list[str]:
        return ["train"] + [f"valid_{domain}" for domain in sorted(set(self.domains.values()))]


class ShardStep(PipelineStep):
    """A block of the shard build: all it needs is the settings."""

    type = "🔧 - MEDMIX"

    def __init__(self, settings: ShardSettings):
        super().__init__()
        self.settings = settings


def document_key(seed: int, source: str, doc_id: str) -> int:
    """A seeded 64-bit hash of a document's identity: its validation draw and its place in sampling order."""
    return xxhash.xxh3_64_intdigest(f"{source}/{doc_id}".encode(), seed=seed)


class TokenizeDocuments(ShardStep):
    name = "🔤 Tokenize"
    task_imports = ("gigatoken", "awkward")  # gigatoken's encode returns an awkward array (awkward: 0.26 s)
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        settings = self.settings
        tokenizer = Tokenizer(settings.tokenizer_path)
        cut = settings.validation_fraction * 2**64
        rows = {"id": [], "source": [], "domain": [], "offset": [], "length": [], "key": [], "split": []}
        offset = 0
        with atomic_path(settings.run.tokens / f"{rank:05d}.bin") as partial, open(partial, "wb") as out:
            batch, chars = [], 0
            for doc in chain(data or (), [None]):  # streamed: a task never holds more than one batch
                if doc is not None:
                    batch.append(doc)
                    chars += len(doc.text)
                if chars < BATCH_CHARS and doc is not None or not batch:
                    continue
                with self.track_time():
                    tokens, lengths = tokenizer.encode_documents([d.text for d in batch], settings.bos, settings.eos)
                tokens.tofile(out)  # one write per batch
                for document, length in zip(batch, lengths.tolist()):
                    source = document.metadata.get("source", "")
                    key = document_key(settings.seed, source, str(document.id))
                    for column, value in zip(rows, (str(document.id), source, document.metadata.get("domain", ""),
                                                    offset, length, key, "valid" if key < cut else "train")):
                        rows[column].append(value)
                    offset += length
                self.stat_update("tokens", value=len(tokens))
                batch, chars = [], 0
        rows["rank"] = [rank] * len(rows["id"])
        encoder = {ENCODER_KEY: tokenizer.encoder.name}  # for the manifests
        write_parquet(settings.run.tokens / f"{rank:05d}.docs.parquet",
                      pa.table(rows, schema=DOCS_SCHEMA.with_metadata(encoder)))
        return ()


def read_documents(settings: ShardSettings) -> pl.DataFrame:
    import polars as pl

    files = sorted(settings.run.tokens.glob("*.docs.parquet"))
    if not files:
        raise FileNotFoundError(f"{settings.run.tokens}: no tokenized documents")
    return pl.concat([pl.read_parquet(f) for f in files]).sort("rank", "offset")


def as_stream(docs: pl.DataFrame, sources: tuple[str, ...]) -> np.ndarray:
    stream = np.empty(docs.height, dtype=STREAM_DTYPE)
    stream["rank"], stream["offset"], stream["length"] = docs["rank"], docs["offset"], docs["length"]
    number = {name: i for i, name in enumerate(sources)}
    stream["source"] = [number[s] for s in docs["source"]]
    return stream


class PlanMix(ShardStep):
    name = "⚖️ Mix plan"
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import polars as pl

        settings = self.settings
        docs = read_documents(settings)
        train = docs.filter(pl.col("split") == "train")
        counted = dict(train.group_by("source").agg(pl.col("length").sum()).iter_rows())
        available = {source: int(counted.get(source, 0)) for source in settings.sources}
        plans, warnings = plan_sources(available, settings.domains, settings.shares, settings.total_tokens,
                                       settings.max_repeats, settings.on_shortfall)
        if warnings:
            self.stat_update("capped_sources", value=len(warnings))
        streams = {"train": select_documents(train, plans, settings.seed)}
        valid = docs.filter(pl.col("split") == "valid")
        for domain in sorted(set(settings.domains.values())):
            streams[f"valid_{domain}"] = valid.filter(pl.col("domain") == domain).sort("key", "rank", "offset")
        for name, stream in streams.items():
            with atomic_path(settings.run.mix / f"{name}.npy") as partial, open(partial, "wb") as handle:
                np.save(handle, as_stream(stream, settings.sources))
        report = {"targets": share_targets(settings.domains, settings.shares),
                  "sources": [p.as_row() for p in plans], "warnings": warnings,
                  "validation_documents": valid.height, "validation_tokens": int(valid["length"].sum() or 0)}
        write_json(settings.run.plan, report, indent=1)
        return ()


class PackShards(ShardStep):
    name = "📦 Pack shards"
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        dtype = Tokenizer(self.settings.tokenizer_path).dtype
        files: dict[int, np.ndarray] = {}
        for shard_set in self.settings.shard_sets():
            stream = np.load(self.settings.run.mix / f"{shard_set}.npy")
            for number, tokens, index in self.shards_of(stream, rank, world_size, files, dtype):
                entry = write_shard(self.settings.run.shard_set(shard_set), number, tokens, index,
                                    list(self.settings.sources))
                write_json(self.settings.run.shard_entries / shard_set / f"{number:05d}.json", entry)
                self.stat_update("sequences", value=tokens.shape[0])
        return ()

    def shards_of(self, stream: np.ndarray, rank: int, world_size: int, files: dict, dtype):
        """This task's shards (every `world_size`-th): token arrays and their source index. The stream's
        columns are read as lists, once: a numpy scalar per document and field would be most of the time."""
        seq_len, per_shard = self.settings.seq_len, self.settings.sequences_per_shard
        ends_array = np.cumsum(stream["length"], dtype=np.int64)
        sequences = int(ends_array[-1]) // seq_len if len(ends_array) else 0  # the last partial sequence is dropped
        ends, lengths, ranks, offsets, sources = (column.tolist() for column in (
            ends_array, stream["length"], stream["rank"], stream["offset"], stream["source"]))
        for number in range(rank, -(-sequences // per_shard), world_size):
            first, last = number * per_shard, min((number + 1) * per_shard, sequences)
            begin, stop = first * seq_len, last * seq_len
            tokens = np.empty(stop - begin, dtype=dtype)
            pieces = []
            entry = int(np.searchsorted(ends_array, begin, side="right"))
            position = begin
            while position < stop:
                if lengths[entry] == 0:  # an empty document has no tokens (and maybe no file)
                    entry += 1
                    continue
                take_from = position - (ends[entry] - lengths[entry])
                take = min(ends[entry], stop) - position
                source = self.rank_tokens(files, ranks[entry], dtype)
                at = offsets[entry] + take_from
                tokens[position - begin:position - begin + take] = source[at:at + take]
                pieces += self.index_rows(position - first * seq_len, take, sources[entry])
                position += take
                entry += 1
            yield number, tokens.reshape(-1, seq_len), np.array(pieces, dtype=INDEX_DTYPE)

    def index_rows(self, position: int, length: int, source: int) -> list[tuple]:
        """A piece of a document, split where it crosses sequence boundaries."""
        rows, seq_len = [], self.settings.seq_len
        while length:
            sequence, start = divmod(position, seq_len)
            piece = min(length, seq_len - start)
            rows.append((sequence, start, piece, source))
            position, length = position + piece, length - piece
        return rows

    def rank_tokens(self, files: dict, rank: int, dtype) -> np.ndarray:
        """A tokenize task's ids, memory-mapped; as a plain array view, whose slices skip memmap's bookkeeping."""
        if rank not in files:
            files[rank] = np.memmap(self.settings.run.tokens / f"{rank:05d}.bin", dtype=dtype, mode="r").view(np.ndarray)
        return files[rank]


class WriteManifests(ShardStep):
    name = "🧾 Manifests"
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        tokenizer = Tokenizer(self.settings.tokenizer_path)
        for shard_set in self.settings.shard_sets():
            entries = sorted((self.settings.run.shard_entries / shard_set).glob("*.json"))
            header = ManifestHeader(
                split=shard_set, dtype=tokenizer.dtype.str, seq_len=self.settings.seq_len,
                vocab_size=tokenizer.vocab_size, tokenizer_sha256=tokenizer.sha256,
                bos_id=tokenizer.bos_id if self.settings.bos else None,
                eos_id=tokenizer.eos_id if self.settings.eos else None,
                sources=list(self.settings.sources), seed=self.settings.seed, encoder=self.encoders())
            manifest = write_manifest(self.settings.run.shard_set(shard_set), header,
                                      [json.loads(e.read_text()) for e in entries])
            if shard_set == "train":
                self.check_shares(manifest["tokens_per_source"])
        return ()

    def check_shares(self, realized: dict[str, int]) -> None:
        """The realized shares, read back from what was packed, as the audit reads them. Off target, the build
        fails (`on_shortfall: error`) or the mix plan records a warning, which the build prints and the
        audit reports."""
        settings = self.settings
        if not (off := off_target(share_rows(share_targets(settings.domains, settings.shares), realized))):
            return
        if settings.on_shortfall == "error":
            raise MixError(f"{off}: the cleaned sources are too small or their documents too long for these "
                           "shares at this total_tokens; add data or raise mix.total_tokens, or set "
                           "mix.on_shortfall: warn to keep these shards")
        plan = json.loads(settings.run.plan.read_text())
        if off not in plan["warnings"]:
            write_json(settings.run.plan, plan | {"warnings": [*plan["warnings"], off]}, indent=1)

    def encoders(self) -> str:
        """The encoders the tokenize tasks used ("; " between them if they differ): all give the same ids,
        and this says which one did."""
        import pyarrow.parquet as pq

        names = {pq.read_schema(path).metadata[ENCODER_KEY.encode()].decode()
                 for path in self.settings.run.tokens.glob("*.docs.parquet")}
        return "; ".join(sorted(names))
