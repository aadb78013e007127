"""Exact and near-duplicate removal across all sources, as five sharded phases on any datatrove executor.

1. `DedupSignatures` (every task): per document, a MinHash signature, one LSH key per band, an exact
   hash of its words, and, for abstracts, a bottom-k sample of their shingles. Everything streams to
   disk in batches, so memory does not grow with the corpus. Each task also records the kind of its
   signatures (`MinHasher.kind`, with the bands).
2. `DedupBuckets` (every task, a share of the bands each): refuses signatures of another kind than this
   build's (a resumed build after an upgrade), then sorts each band's keys; documents sharing a
   key become candidate pairs. The exact hash is one more "band". Task 0 also pairs every abstract with
   the full texts of the same PMID, for the containment test.
3. `DedupVerify` (every task): re-reads its documents and stores the shingle sets of those in a
   candidate pair, so that phase 4 can compute their *exact* Jaccard similarity: MinHash estimates
   wobble by about ±0.035 at 128 permutations, too much to decide pairs near the threshold. It also
   tests, for its full texts, whether each paired abstract's shingle sample lies inside the full text
   (containment, not Jaccard: an abstract is a small part of its article; Meditron dropped such
   abstracts too).
4. `DedupClusters` (one task): keeps candidate pairs whose exact Jaccard reaches the threshold, joins
   them into clusters (union-find) and keeps one document per cluster: the source that comes first in
   the recipe's priority, then full text over abstract, then the longer text. An abstract contained in
   a surviving full text is removed too.
5. `DedupFilter` (every task): removes what phase 4 decided, naming the surviving copy.

Documents are keyed by (task rank, position in the task's input); phases 1, 3 and 5 read the same
input with the same sharding, so the keys line up. LSH bands are chosen for recall (a missed pair is
lost for good, while a false candidate only costs one exact check).
"""

from __future__ import annotations

import json
import os
from itertools import combinations, islice
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from pydantic import Field, PositiveInt

from medmix.corpus.books import Removal, StageError
from medmix.corpus.minhash import (
    MinHasher,
    band_hashes,
    bottom_k,
    exact_hash,
    lsh_bands,
    shingles_of_hashes,
    text_shingle_rows,
    word_hash_rows,
)
from medmix.corpus.stages.base import Phase, StageContext
from medmix.corpus.steps import DocumentStep
from medmix.io import atomic_path, atomic_write_bytes, partial_path, write_parquet
from medmix.schema import Strict

BATCH = 1024  # documents per signature batch (fewer if they are long: BATCH_CHARS)
BATCH_CHARS = 8_000_000  # bounds a batch's word and shingle arrays to a few hundred MB
EXACT = "exact"
ALL_PAIRS_UP_TO = 32  # buckets this small are checked pair by pair; larger ones as a star around one member
POSITION_MASK = 0xFFFFFFFF
DOC_SCHEMA = pa.schema([("position", pa.int64()), ("id", pa.string()), ("source", pa.string()),
                        ("text_type", pa.string()), ("chars", pa.int64()), ("pmid", pa.string()),
                        ("exact", pa.uint64())])
PAIR_SCHEMA = pa.schema([("full_key", pa.uint64()), ("abstract_key", pa.uint64()), ("sample", pa.list_(pa.uint64()))])
CONTAINED_SCHEMA = pa.schema([("abstract_key", pa.uint64()), ("full_key", pa.uint64()), ("share", pa.float64())])
REMOVAL_SCHEMA = pa.schema([("key", pa.uint64()), ("id", pa.string()), ("reason", pa.string()),
                            ("detail", pa.string())])


def doc_key(rank: int, position: int) -> int:
    return (rank << 32) | position


def key_rank(keys: np.ndarray) -> np.ndarray:
    return keys >> np.uint64(32)


class DedupStage(Strict):
    """Exact and MinHash near-duplicate removal across all sources, plus abstract-in-full-text containment."""

    kind: Literal["dedup"]
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.8
    ngram: PositiveInt = 5
    num_perm: Annotated[int, Field(ge=16, le=1024)] = 128
    priority: list[str] | None = Field(None, description="which source's copy survives; default: recipe order")
    containment: bool = True
    containment_threshold: Annotated[float, Field(gt=0, le=1)] = 0.8
    sample_size: Annotated[int, Field(ge=8, le=1024)] = 64


class DedupSettings:
    """What every phase needs to agree on; built from the recipe's `dedup` stage."""

    def __init__(self, work_dir: str | Path, tasks: int, threshold: float, ngram: int, num_perm: int, bands: int,
                 rows: int, priority: list[str], containment: bool, containment_threshold: float, sample_size: int):
        self.work_dir, self.tasks = Path(work_dir), tasks
        self.threshold, self.ngram, self.num_perm = threshold, ngram, num_perm
        self.bands, self.rows = bands, rows
        self.priority = list(priority)
        self.containment, self.containment_threshold, self.sample_size = containment, containment_threshold, sample_size

    def band_names(self) -> list[str]:
        return [f"{band:03d}" for band in range(self.bands)] + [EXACT]

    def hasher(self) -> MinHasher:
        return MinHasher(self.num_perm, self.ngram)

    def signature_kind(self) -> dict:
        return self.hasher().kind | {"bands": self.bands, "rows": self.rows}


class AppendFile:
    """Binary file written in appends under a temporary name, renamed into place on close."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, partial_path(path)
        self.handle = open(self.tmp, "wb")
        self.size = 0  # in bytes

    def write(self, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array).tobytes()
        self.handle.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.path)


def save_array(path: Path, array: np.ndarray) -> None:
    buffer = pa.BufferOutputStream()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue().to_pybytes())


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    return pq.read_table(path) if path.exists() else schema.empty_table()


class DedupPhase(PipelineStep):
    """A dedup phase: it reads and writes the shared work folder, and passes no documents on."""

    type = "🫂 - DEDUP"
    task_imports = ("polars",)

    def __init__(self, settings: DedupSettings):
        super().__init__()
        self.settings = settings


class DedupSignatures(DedupPhase):
    """Phase 1: signatures, band keys, exact hashes and abstract samples of this task's documents."""

    name = "🔏 Dedup signatures"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        s, work = self.settings, self.settings.work_dir
        self.hasher = s.hasher()
        self.bands = {name: AppendFile(work / "bands" / name / f"{rank:05d}.bin") for name in s.band_names()}
        self.samples = AppendFile(work / "samples" / f"{rank:05d}.bin")
        with atomic_path(work / "docs" / f"{rank:05d}.parquet") as docs_path:
            self.writer = pq.ParquetWriter(docs_path, DOC_SCHEMA)
            for batch in batches(enumerate(data or ())):
                with self.track_time():
                    self.write_batch(rank, batch)
            self.writer.close()
        for handle in (self.samples, *self.bands.values()):
            handle.close()
        atomic_write_bytes(work / "signatures" / f"{rank:05d}.json", json.dumps(s.signature_kind()).encode())
        return
        yield  # a generator that consumes its input and emits nothing

    def write_batch(self, rank: int, batch: list[tuple[int, Document]]) -> None:
        """Shingles and signatures of the whole batch at once: numpy and rensa pay their call cost per batch."""
        s = self.settings
        lowered = [doc.text.lower() for _, doc in batch]
        values, offsets = shingles_of_hashes(*word_hash_rows(lowered), s.ngram)
        keys = np.array([doc_key(rank, position) for position, _ in batch], dtype=np.uint64)
        exact = np.array([exact_hash(text) for text in lowered], dtype=np.uint64)
        band_keys = band_hashes(self.hasher.signatures_of_rows(values, offsets), s.bands, s.rows)
        has_words = np.diff(offsets) > 0  # a text without words has nothing to compare (and would match every other)
        for name, column in zip(s.band_names(), [*band_keys.T, exact]):
            self.bands[name].write(np.stack([column[has_words], keys[has_words]], axis=1))
        rows = []
        for (position, doc), key, start, end, exact_key in zip(batch, keys, offsets[:-1], offsets[1:], exact.tolist()):
            text_type = doc.metadata.get("text_type", "")
            if s.containment and text_type == "abstract" and doc.metadata.get("pmid"):
                sample = bottom_k(values[start:end], s.sample_size)
                padded = np.full(s.sample_size + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
                padded[0], padded[1:1 + len(sample)] = key, sample
                self.samples.write(padded)
            rows.append({"position": position, "id": doc.id, "source": doc.metadata.get("source", ""),
                         "text_type": text_type, "chars": len(doc.text), "pmid": doc.metadata.get("pmid"),
                         "exact": exact_key})
        self.writer.write_table(pa.Table.from_pylist(rows, schema=DOC_SCHEMA))


def batches(documents):
    """Lists of (position, document) of up to BATCH documents and about BATCH_CHARS characters."""
    for first in documents:
        batch, chars = [first], len(first[1].text)
        for item in islice(documents, BATCH - 1):
            batch.append(item)
            chars += len(item[1].text)
            if chars >= BATCH_CHARS:
                break
        yield batch


def read_pairs(folder: Path) -> np.ndarray:
    parts = [np.fromfile(path, dtype=np.uint64).reshape(-1, 2) for path in sorted(folder.glob("*.bin"))]
    return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.uint64)


def bucket_edges(band_keys: np.ndarray, docs: np.ndarray, all_pairs: bool) -> np.ndarray:
    """Candidate pairs among documents that share a band key (both arrays sorted by band key)."""
    if len(docs) == 0:
        return np.empty((0, 2), dtype=np.uint64)
    starts = np.flatnonzero(np.r_[True, band_keys[1:] != band_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(docs)])
    first = np.repeat(docs[starts], sizes)
    star = np.stack([first, docs], axis=1)[first != docs]  # every member with its bucket's first
    if not all_pairs:
        return star
    small = [docs[start:start + size] for start, size in zip(starts, sizes) if 2 < size <= ALL_PAIRS_UP_TO]
    extra = [pair for members in small for pair in combinations(members.tolist(), 2)]
    return np.concatenate([star, np.array(extra, dtype=np.uint64).reshape(-1, 2)])


class DedupBuckets(DedupPhase):
    """Phase 2: candidate pairs per band (task r handles bands r, r + world_size, ...); task 0 also pairs
    abstracts with the full texts of the same PMID."""

    name = "🪣 Dedup buckets"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        work = self.settings.work_dir
        self.check_signatures()
        for name in self.settings.band_names()[rank::world_size]:
            pairs = read_pairs(work / "bands" / name)
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))  # by band key, then document key: deterministic
            edges = bucket_edges(pairs[order, 0], pairs[order, 1], all_pairs=name != EXACT)
            edges = np.sort(edges, axis=1)  # (smaller key, larger key)
            save_array(work / "edges" / f"{name}.npy", np.unique(edges, axis=0) if len(edges) else edges)
        if rank == 0 and self.settings.containment:
            self.pair_abstracts()
        return
        yield

    def check_signatures(self) -> None:
        """Band keys from signatures of different kinds never meet: a resumed build whose first phase ran
        partly under another medmix, rensa or setting would miss duplicates without a word."""
        expected = self.settings.signature_kind()
        for rank in range(self.settings.tasks):
            path = self.settings.work_dir / "signatures" / f"{rank:05d}.json"
            found = json.loads(path.read_text()) if path.exists() else "unversioned signatures"
            if found != expected:
                raise SignaturesOfAnotherKind(f"{path}: {found}, but this build makes {expected}; "
                                              f"rebuild the stage from its first phase")

    def pair_abstracts(self) -> None:
        """For the containment test: each abstract with every full text of the same PMID, by full-text task."""
        import polars as pl

        s, work = self.settings, self.settings.work_dir
        docs = load_docs(work).filter(pl.col("pmid").is_not_null()).select("key", "pmid", "text_type")
        full_texts = docs.filter(pl.col("text_type") == "full_text").select(full_key="key", pmid="pmid")
        abstracts = docs.filter(pl.col("text_type") == "abstract").select(abstract_key="key", pmid="pmid")
        pairs = full_texts.join(abstracts, on="pmid")  # joined first: only these abstracts' samples are read
        wanted = np.array(pairs["abstract_key"].unique().to_list(), dtype=np.uint64)
        sample_of = {}
        for path in sorted((work / "samples").glob("*.bin")):  # one task's file at a time
            rows = np.memmap(path, dtype=np.uint64, mode="r").reshape(-1, s.sample_size + 1) \
                if path.stat().st_size else np.empty((0, s.sample_size + 1), np.uint64)
            for row in rows[np.isin(rows[:, 0], wanted)]:
                sample_of[int(row[0])] = row[1:][row[1:] != np.iinfo(np.uint64).max].tolist()
        by_rank: dict[int, list[dict]] = {}
        for row in pairs.iter_rows(named=True):
            by_rank.setdefault(row["full_key"] >> 32, []).append(
                {"full_key": row["full_key"], "abstract_key": row["abstract_key"],
                 "sample": sample_of[row["abstract_key"]]})
        for rank in range(s.tasks):
            write_parquet(work / "abstract_pairs" / f"{rank:05d}.parquet",
                          pa.Table.from_pylist(by_rank.get(rank, []), schema=PAIR_SCHEMA))


def load_docs(work: Path):
    """Every task's document table, with each document's key."""
    import polars as pl

    frames = [pl.read_parquet(path).with_columns(
                  key=pl.lit(int(path.stem) << 32, dtype=pl.UInt64) + pl.col("position").cast(pl.UInt64))
              for path in sorted((work / "docs").glob("*.parquet"))]
    return pl.concat(frames)


def near_edges(work: Path, bands: list[str]) -> np.ndarray:
    edges = [np.load(work / "edges" / f"{name}.npy") for name in bands]
    edges = np.concatenate(edges) if edges else np.empty((0, 2), np.uint64)
    return np.unique(edges, axis=0) if len(edges) else edges


class DedupVerify(DedupPhase):
    """Phase 3: shingle sets of this task's documents that are in a candidate pair; containment of
    abstracts in this task's full texts."""

    name = "🔬 Dedup verify"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        s, work = self.settings, self.settings.work_dir
        edges = near_edges(work, s.band_names()[:-1])
        keys = np.unique(edges)
        needed = set((keys[key_rank(keys) == rank] & np.uint64(POSITION_MASK)).tolist())
        abstract_pairs: dict[int, list[dict]] = {}
        for row in read_table(work / "abstract_pairs" / f"{rank:05d}.parquet", PAIR_SCHEMA).to_pylist():
            abstract_pairs.setdefault(row["full_key"] & POSITION_MASK, []).append(row)
        store = AppendFile(work / "shingles" / f"{rank:05d}.bin")
        index, contained = [], []
        wanted = ((position, doc) for position, doc in enumerate(data or ())
                  if position in needed or position in abstract_pairs)
        for batch in batches(wanted):  # shingled a batch at a time, as in phase 1
            rows, offsets = text_shingle_rows([doc.text for _, doc in batch], s.ngram)
            for (position, _), start, end in zip(batch, offsets[:-1], offsets[1:]):
                values = np.unique(rows[start:end])
                if position in needed:
                    index.append((position, store.size // 8, len(values)))
                    store.write(values)
                for pair in abstract_pairs.get(position, []):
                    sample = np.array(pair["sample"], dtype=np.uint64)
                    share = float(np.isin(sample, values, assume_unique=True).mean()) if len(sample) else 0.0
                    contained.append({"abstract_key": pair["abstract_key"], "full_key": pair["full_key"],
                                      "share": share})
        store.close()
        save_array(work / "shingles" / f"{rank:05d}.index.npy", np.array(index, dtype=np.int64).reshape(-1, 3))
        write_parquet(work / "contained" / f"{rank:05d}.parquet",
                      pa.Table.from_pylist(contained, schema=CONTAINED_SCHEMA))
        return
        yield


class ShingleSets:
    """The shingle sets phase 3 stored, memory-mapped; fetched by document key."""

    def __init__(self, folder: Path):
        self.values, self.where = {}, {}
        for path in sorted(folder.glob("*.bin")):
            rank = int(path.stem)
            self.values[rank] = np.memmap(path, dtype=np.uint64, mode="r") if path.stat().st_size else np.empty(0)
            for position, start, length in np.load(folder / f"{rank:05d}.index.npy").tolist():
                self.where[doc_key(rank, position)] = (rank, start, length)

    def get(self, key: int) -> np.ndarray:
        rank, start, length = self.where[key]
        return self.values[rank][start:start + length]

    def jaccard(self, first: int, second: int) -> float:
        a, b = self.get(first), self.get(second)
        common = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - common
        return common / union if union else 1.0


class UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


class DedupClusters(DedupPhase):
    """Phase 4 (one task): exact-Jaccard check of candidates, clusters, survivors, contained abstracts."""

    name = "🕸 Dedup clusters"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import polars as pl

        s, work = self.settings, self.settings.work_dir
        sets = ShingleSets(work / "shingles")
        near = near_edges(work, s.band_names()[:-1])
        verified = [(a, b) for a, b in near.tolist() if sets.jaccard(a, b) >= s.threshold]
        edges = np.concatenate([np.load(work / "edges" / f"{EXACT}.npy"),
                                np.array(verified, dtype=np.uint64).reshape(-1, 2)])
        order = {source: index for index, source in enumerate(s.priority)}
        docs = load_docs(work).with_columns(
            priority=pl.col("source").replace_strict(order, default=len(order), return_dtype=pl.Int64),
            full_text=pl.col("text_type") == "full_text")
        removals: dict[int, tuple[str, str]] = {}
        if len(edges):
            nodes, inverse = np.unique(edges, return_inverse=True)
            forest = UnionFind(len(nodes))
            for a, b in inverse.reshape(-1, 2).tolist():
                forest.union(a, b)
            cluster_of = {node: forest.find(i) for i, node in enumerate(nodes.tolist())}
            members = docs.filter(pl.col("key").is_in(list(cluster_of))).with_columns(
                cluster=pl.col("key").replace_strict(cluster_of, return_dtype=pl.Int64))
            # ties broken by id, not key, so the survivor does not depend on the number of tasks
            ranked = members.sort("cluster", "priority", "full_text", "chars", "id", "key",
                                  descending=[False, False, True, True, False, False])
            for cluster in ranked.partition_by("cluster", maintain_order=True):
                keeper, *others = cluster.iter_rows(named=True)
                for other in others:
                    removals[other["key"]] = self.why(keeper, other, sets)
        if s.containment:
            self.contained_abstracts(docs, removals)
        ids = dict(docs.filter(pl.col("key").is_in(list(removals))).select("key", "id").iter_rows())
        write_parquet(work / "removals.parquet", pa.Table.from_pylist(
            [{"key": k, "id": ids[k], "reason": r, "detail": d} for k, (r, d) in sorted(removals.items())],
            schema=REMOVAL_SCHEMA))
        return
        yield

    def why(self, keeper: dict, other: dict, sets: ShingleSets) -> tuple[str, str]:
        kept = f"{keeper['id']} ({keeper['source']})"
        if other["exact"] == keeper["exact"]:
            return "exact_duplicate", f"same text as {kept} (up to case and spacing)"
        if keeper["key"] not in sets.where or other["key"] not in sets.where:  # joined through exact copies
            return "near_duplicate", f"in the near-duplicate cluster kept as {kept}"
        similarity = sets.jaccard(keeper["key"], other["key"])
        if similarity >= self.settings.threshold:
            return "near_duplicate", f"near-duplicate of {kept}, Jaccard {similarity:.2f}"
        return "near_duplicate", (f"in the near-duplicate cluster kept as {kept} (Jaccard {similarity:.2f} to it, "
                                  f"linked through documents at {self.settings.threshold} or more)")

    def contained_abstracts(self, docs, removals: dict[int, tuple[str, str]]) -> None:
        """Abstracts inside a surviving full text go too, naming that full text."""
        contained = pa.concat_tables([pq.read_table(p) for p in sorted((self.settings.work_dir / "contained")
                                                                      .glob("*.parquet"))] or
                                     [CONTAINED_SCHEMA.empty_table()])
        import polars as pl

        full_keys = set(contained.column("full_key").to_pylist())
        names = {key: f"{doc_id} ({source})" for key, doc_id, source in
                 docs.filter(pl.col("key").is_in(list(full_keys))).select("key", "id", "source").iter_rows()}
        for row in sorted(contained.to_pylist(), key=lambda r: (-r["share"], r["full_key"])):
            if (row["share"] >= self.settings.containment_threshold and row["full_key"] not in removals
                    and row["abstract_key"] not in removals):
                removals[row["abstract_key"]] = ("contained_in_full_text",
                                                 f"{row['share']:.0%} of its shingles are in {names[row['full_key']]}")


class SignaturesOfAnotherKind(StageError):
    """Phase 1's signatures were made by another algorithm, version or setting than this build's."""


class InputChanged(StageError):
    """The stage's input is not what phase 1 saw; removing by position would hit the wrong documents."""


class DedupFilter(DocumentStep):
    """Phase 5: removes this task's documents that phase 4 marked, naming the surviving copy."""

    name = "🫂 Dedup filter"
    slug = "dedup"

    def __init__(self, stage_dir, stage: str, settings: DedupSettings):
        super().__init__(stage_dir, stage)
        self.settings = settings
        self.position = -1
        self.removals: dict[int, Removal] = {}

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        table = read_table(self.settings.work_dir / "removals.parquet", REMOVAL_SCHEMA)
        self.removals = {row["key"] & POSITION_MASK: (row["id"], Removal(row["reason"], row["detail"]))
                         for row in table.to_pylist() if row["key"] >> 32 == rank}
        self.position = -1
        yield from super().run(data, rank, world_size)

    def process(self, doc: Document) -> Document | Removal:
        self.position += 1  # documents arrive in the same order as in phase 1
        if self.position not in self.removals:
            return doc
        expected_id, removal = self.removals[self.position]
        if doc.id != expected_id:
            raise InputChanged(f"dedup input changed between phases: position {self.position} held {expected_id!r}, "
                               f"now {doc.id!r}; rebuild the stage from its first phase")
        return removal


def plan(config: DedupStage, ctx: StageContext) -> list[Phase]:
    """The five phases, in the order of this module's docstring."""
    bands, rows = lsh_bands(config.threshold, config.num_perm)
    settings = DedupSettings(ctx.stage.work, ctx.tasks, config.threshold, config.ngram, config.num_perm,
                             bands, rows, config.priority or [s.name for s in ctx.sources], config.containment,
                             config.containment_threshold, config.sample_size)
    return [
        Phase("signatures", [ctx.read_input(), DedupSignatures(settings)], ctx.logs / "signatures"),
        Phase("buckets", [DedupBuckets(settings)], ctx.logs / "buckets"),
        Phase("verify", [ctx.read_input(), DedupVerify(settings)], ctx.logs / "verify"),
        Phase("clusters", [DedupClusters(settings)], ctx.logs / "clusters", tasks=1),
        Phase("filter", [ctx.read_input(), DedupFilter(ctx.directory, ctx.kind, settings), ctx.write_kept()],
              ctx.logs / "filter"),
    ]
