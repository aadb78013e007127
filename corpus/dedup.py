"""Exact and near-duplicate removal across all sources, as five sharded phases on any datatrove executor.

1. `DedupSignatures` (every task): per document, a MinHash signature, one LSH key per band, an exact
   hash of the case- and space-folded text, and, for abstracts, a bottom-k sample of their shingles.
   Everything streams to disk in batches, so memory does not grow with the corpus.
2. `DedupBuckets` (every task, a share of the bands each): sorts each band's keys; documents sharing a
   key become candidate pairs. The exact hash is one more "band".
3. `DedupClusters` (one task): keeps candidate pairs whose estimated Jaccard reaches the threshold,
   joins them into clusters (union-find) and keeps one document per cluster: the source that comes
   first in the recipe's priority, then full text over abstract, then the longer text. It also pairs
   each abstract with the kept full text of the same PMID, for the containment test.
4. `ContainmentCheck` (every task): for the full texts in its shard, tests whether each paired
   abstract's shingle sample lies inside the full text (containment, not Jaccard: an abstract is a
   small part of its article). Meditron dropped such abstracts too.
5. `DedupFilter` (every task): removes what phases 3 and 4 decided, with the surviving copy named.

Documents are keyed by (task rank, position in the task's input); phases 1, 4 and 5 read the same
input with the same sharding, so the keys line up.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from medmix.corpus.accounting import Removal, atomic_write_bytes, write_parquet
from medmix.corpus.minhash import MinHasher, band_hashes, bottom_k, exact_hash, shingles
from medmix.corpus.steps import DocumentStep

BATCH = 4096
EXACT = "exact"
DOC_SCHEMA = pa.schema([("position", pa.int64()), ("id", pa.string()), ("source", pa.string()),
                        ("text_type", pa.string()), ("chars", pa.int64()), ("pmid", pa.string()),
                        ("exact", pa.uint64())])


def doc_key(rank: int, position: int) -> int:
    return (rank << 32) | position


def key_rank(keys: np.ndarray) -> np.ndarray:
    return keys >> np.uint64(32)


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


class AppendFile:
    """Binary file written in appends under a temporary name, renamed into place on close."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        self.handle = open(self.tmp, "wb")

    def write(self, array: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(array).tobytes())

    def close(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.path)


class DedupPhase(PipelineStep):
    """A dedup phase: it reads and writes the shared work folder, and passes no documents on."""

    type = "🫂 - DEDUP"

    def __init__(self, settings: DedupSettings):
        super().__init__()
        self.settings = settings


class DedupSignatures(DedupPhase):
    """Phase 1: signatures, band keys, exact hashes and abstract samples of this task's documents."""

    name = "🔏 Dedup signatures"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        s, work = self.settings, self.settings.work_dir
        hasher = s.hasher()
        signatures = AppendFile(work / "signatures" / f"{rank:05d}.bin")
        bands = {name: AppendFile(work / "bands" / name / f"{rank:05d}.bin") for name in s.band_names()}
        samples = AppendFile(work / "samples" / f"{rank:05d}.bin")
        docs_tmp = work / "docs" / f".{rank:05d}.parquet.tmp"
        docs_tmp.parent.mkdir(parents=True, exist_ok=True)
        writer = pq.ParquetWriter(docs_tmp, DOC_SCHEMA)
        rows, sigs, keys = [], [], {name: [] for name in bands}

        def flush() -> None:
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=DOC_SCHEMA))
                signatures.write(np.stack(sigs))
                for name, pairs in keys.items():
                    bands[name].write(np.array(pairs, dtype=np.uint64).reshape(-1, 2))
                    pairs.clear()
                rows.clear()
                sigs.clear()

        for position, doc in enumerate(data or ()):
            with self.track_time():
                key = doc_key(rank, position)
                values = np.unique(shingles(doc.text, s.ngram))
                signature = hasher.signature_of_shingles(values)
                sigs.append(signature)
                exact = exact_hash(doc.text)
                for name, band_key in zip(s.band_names(), [*band_hashes(signature, s.bands, s.rows).tolist(), exact]):
                    keys[name].append((band_key, key))
                text_type = doc.metadata.get("text_type", "")
                if s.containment and text_type == "abstract":
                    sample = bottom_k(values, s.sample_size)
                    padded = np.full(s.sample_size + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
                    padded[0], padded[1:1 + len(sample)] = key, sample
                    samples.write(padded)
                rows.append({"position": position, "id": doc.id, "source": doc.metadata.get("source", ""),
                             "text_type": text_type, "chars": len(doc.text), "pmid": doc.metadata.get("pmid"),
                             "exact": exact})
            if len(rows) >= BATCH:
                flush()
        flush()
        writer.close()
        os.replace(docs_tmp, work / "docs" / f"{rank:05d}.parquet")
        for handle in (signatures, samples, *bands.values()):
            handle.close()
        return
        yield  # a generator that consumes its input and emits nothing


def read_pairs(folder: Path) -> np.ndarray:
    parts = [np.fromfile(path, dtype=np.uint64).reshape(-1, 2) for path in sorted(folder.glob("*.bin"))]
    return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.uint64)


class DedupBuckets(DedupPhase):
    """Phase 2: candidate pairs per band. Task r handles bands r, r + world_size, ..."""

    name = "🪣 Dedup buckets"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        work = self.settings.work_dir
        for name in self.settings.band_names()[rank::world_size]:
            pairs = read_pairs(work / "bands" / name)
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))  # by band key, then document key: deterministic
            band_keys, docs = pairs[order, 0], pairs[order, 1]
            starts = np.r_[True, band_keys[1:] != band_keys[:-1]]
            group_first = docs[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
            edges = np.stack([group_first[~starts], docs[~starts]], axis=1)  # every member -> its bucket's first
            buffer = pa.BufferOutputStream()
            np.save(buffer, edges)
            atomic_write_bytes(work / "edges" / f"{name}.npy", buffer.getvalue().to_pybytes())
        return
        yield


class Signatures:
    """Every task's signature matrix, memory-mapped; rows are fetched by document key."""

    def __init__(self, folder: Path, num_perm: int):
        self.matrices = {int(path.stem): np.memmap(path, dtype=np.uint32, mode="r").reshape(-1, num_perm)
                         for path in sorted(folder.glob("*.bin")) if path.stat().st_size}
        self.num_perm = num_perm

    def rows(self, keys: np.ndarray) -> np.ndarray:
        out = np.empty((len(keys), self.num_perm), dtype=np.uint32)
        ranks, positions = key_rank(keys), keys & np.uint64(0xFFFFFFFF)
        for rank in np.unique(ranks).tolist():
            mask = ranks == rank
            out[mask] = self.matrices[rank][positions[mask]]
        return out

    def similarity(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of each pair: the share of equal signature values."""
        return (self.rows(first) == self.rows(second)).mean(axis=1)


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
    """Phase 3 (one task): verify candidates, cluster them, choose survivors, pair abstracts with full texts."""

    name = "🕸 Dedup clusters"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import polars as pl

        s, work = self.settings, self.settings.work_dir
        docs = self.load_docs()
        signatures = Signatures(work / "signatures", s.num_perm)
        exact = np.load(work / "edges" / f"{EXACT}.npy")
        near = np.concatenate([np.load(work / "edges" / f"{name}.npy") for name in s.band_names()[:-1]])
        if len(near):
            near = np.unique(near, axis=0)
            near = near[signatures.similarity(near[:, 0], near[:, 1]) >= s.threshold]
        edges = np.concatenate([exact, near])

        removals = []
        if len(edges):
            nodes, inverse = np.unique(edges, return_inverse=True)
            inverse = inverse.reshape(-1, 2)
            forest = UnionFind(len(nodes))
            for a, b in inverse.tolist():
                forest.union(a, b)
            roots = np.array([forest.find(i) for i in range(len(nodes))])
            members = docs.filter(pl.col("key").is_in(nodes.tolist())).with_columns(
                cluster=pl.col("key").replace_strict(nodes.tolist(), roots.tolist(), return_dtype=pl.Int64))
            ranked = members.sort("cluster", "priority", "full_text", "chars", "key",
                                  descending=[False, False, True, True, False])
            for cluster in ranked.partition_by("cluster", maintain_order=True):
                keeper, *others = cluster.iter_rows(named=True)
                for other in others:
                    duplicate_of = f"{keeper['id']} ({keeper['source']})"
                    if other["exact"] == keeper["exact"]:
                        removals.append((other["key"], "exact_duplicate", f"same text as {duplicate_of}"))
                    else:
                        score = signatures.similarity(np.array([keeper["key"]], np.uint64),
                                                      np.array([other["key"]], np.uint64))[0]
                        removals.append((other["key"], "near_duplicate",
                                         f"near-duplicate of {duplicate_of}, estimated Jaccard {score:.2f}"))
        write_removals(work / "clusters" / "removals.parquet", removals)
        if s.containment:
            removed = {key for key, _, _ in removals}
            self.pair_abstracts(docs.filter(~pl.col("key").is_in(list(removed))))
        return
        yield

    def load_docs(self):
        import polars as pl

        frames = []
        for path in sorted((self.settings.work_dir / "docs").glob("*.parquet")):
            rank = int(path.stem)
            frames.append(pl.read_parquet(path).with_columns(
                key=(pl.lit(rank, dtype=pl.UInt64) * (1 << 32) + pl.col("position").cast(pl.UInt64))))
        docs = pl.concat(frames) if frames else pl.DataFrame(schema={**dict(zip(DOC_SCHEMA.names, [
            pl.Int64, pl.Utf8, pl.Utf8, pl.Utf8, pl.Int64, pl.Utf8, pl.UInt64])), "key": pl.UInt64})
        order = {source: index for index, source in enumerate(self.settings.priority)}
        return docs.with_columns(
            priority=pl.col("source").replace_strict(order, default=len(order), return_dtype=pl.Int64),
            full_text=pl.col("text_type") == "full_text",
        )

    def pair_abstracts(self, kept) -> None:
        """Candidates for the containment test: each abstract with a kept full text of the same PMID."""
        import polars as pl

        work = self.settings.work_dir
        samples = [np.fromfile(p, dtype=np.uint64).reshape(-1, self.settings.sample_size + 1)
                   for p in sorted((work / "samples").glob("*.bin"))]
        samples = np.concatenate(samples) if samples else np.empty((0, self.settings.sample_size + 1), np.uint64)
        sample_of = {int(row[0]): row[1:] for row in samples}
        full_texts = kept.filter(pl.col("full_text") & pl.col("pmid").is_not_null()).select(
            full_key="key", pmid="pmid", full_id="id", full_source="source")
        abstracts = kept.filter((pl.col("text_type") == "abstract") & pl.col("pmid").is_not_null()).select(
            abstract_key="key", pmid="pmid")
        pairs = full_texts.join(abstracts, on="pmid").filter(pl.col("abstract_key").is_in(list(sample_of)))
        by_rank: dict[int, list[dict]] = {}
        for row in pairs.iter_rows(named=True):
            sample = sample_of[row["abstract_key"]]
            row["sample"] = sample[sample != np.iinfo(np.uint64).max].tolist()
            by_rank.setdefault(row["full_key"] >> 32, []).append(row)
        for rank in range(self.settings.tasks):  # one file per task of the containment phase
            write_parquet(work / "candidates" / f"{rank:05d}.parquet",
                          pa.Table.from_pylist(by_rank.get(rank, []), schema=CANDIDATE_SCHEMA))


CANDIDATE_SCHEMA = pa.schema([("full_key", pa.uint64()), ("pmid", pa.string()), ("full_id", pa.string()),
                              ("full_source", pa.string()), ("abstract_key", pa.uint64()),
                              ("sample", pa.list_(pa.uint64()))])
REMOVAL_SCHEMA = pa.schema([("key", pa.uint64()), ("reason", pa.string()), ("detail", pa.string())])


def write_removals(path: Path, removals: list[tuple[int, str, str]]) -> None:
    rows = [{"key": k, "reason": r, "detail": d} for k, r, d in removals]
    write_parquet(path, pa.Table.from_pylist(rows, schema=REMOVAL_SCHEMA))


class ContainmentCheck(DedupPhase):
    """Phase 4: is each paired abstract contained in this task's full text?"""

    name = "🧩 Containment"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        s, work = self.settings, self.settings.work_dir
        candidates: dict[int, list[dict]] = {}
        path = work / "candidates" / f"{rank:05d}.parquet"
        for row in (pq.read_table(path).to_pylist() if path.exists() else []):
            candidates.setdefault(row["full_key"] & 0xFFFFFFFF, []).append(row)
        removals = []
        for position, doc in enumerate(data or ()):
            if position not in candidates:
                continue
            present = np.unique(shingles(doc.text, s.ngram))
            for row in candidates[position]:
                sample = np.array(row["sample"], dtype=np.uint64)
                contained = float(np.isin(sample, present).mean()) if len(sample) else 0.0
                if contained >= s.containment_threshold:
                    removals.append((row["abstract_key"], "contained_in_full_text",
                                     f"{contained:.0%} of its shingles are in {row['full_id']} ({row['full_source']})"))
        write_removals(work / "contained" / f"{rank:05d}.parquet", removals)
        return
        yield


class DedupFilter(DocumentStep):
    """Phase 5: removes this task's documents that phases 3 and 4 marked, naming the surviving copy."""

    name = "🫂 Dedup filter"
    slug = "dedup"

    def __init__(self, stage_dir, stage: str, settings: DedupSettings):
        super().__init__(stage_dir, stage)
        self.settings = settings

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        work = self.settings.work_dir
        paths = [work / "clusters" / "removals.parquet", *sorted((work / "contained").glob("*.parquet"))]
        table = pa.concat_tables([pq.read_table(p) for p in paths if p.exists()] or
                                 [REMOVAL_SCHEMA.empty_table()])
        self._removals = {row["key"] & 0xFFFFFFFF: Removal(row["reason"], row["detail"])
                          for row in table.to_pylist() if row["key"] >> 32 == rank}
        self._position = -1
        yield from super().run(data, rank, world_size)

    def process(self, doc: Document) -> Document | Removal:
        self._position += 1
        return self._removals.get(self._position, doc)
