"""Benchmark decontamination: corpus documents that overlap an evaluation item are removed (or flagged).

Each benchmark's test items (question, options, contexts) are indexed two ways:
- every word 13-gram, in a sorted hash array: a document sharing any long n-gram with an item matches;
- a MinHash LSH index (datasketch) of whole items: a document that is a near-copy of an item (e.g. a
  PubMed abstract that is a PubMedQA context with a few edits) matches even without a 13-gram in common.
Each removal names the benchmark item it matched, e.g. `benchmark:pubmedqa` with detail `item 21645374`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from datatrove.data import Document

from medmix.corpus.accounting import Removal
from medmix.corpus.minhash import MinHasher, shingles, words
from medmix.corpus.steps import DocumentStep

MINHASH_NGRAM = 5


@dataclass
class BenchmarkItem:
    benchmark: str
    item_id: str
    text: str


def mcq_text(row: dict) -> str:
    options = row.get("options") or {}
    options = options.values() if isinstance(options, dict) else options
    return "\n".join([str(row.get("question", "")), *map(str, options)])


def load_items(benchmark: dict) -> Iterator[BenchmarkItem]:
    """Test items of one benchmark set, as configured in the recipe (`medmix.recipe.BenchmarkSet`)."""
    name, fmt, path = benchmark["name"], benchmark["format"], benchmark["path"]
    if fmt == "pubmedqa":
        data = json.loads(open(path).read())
        wanted = set(json.loads(open(benchmark["split_ids"]).read())) if benchmark.get("split_ids") else None
        for pmid, row in data.items():
            if wanted is None or pmid in wanted:
                contexts = row.get("CONTEXTS", [])
                contexts = contexts if isinstance(contexts, list) else [contexts]
                yield BenchmarkItem(name, pmid, "\n".join([row.get("QUESTION", ""), *contexts,
                                                          row.get("LONG_ANSWER", "")]))
        return
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            item_id = str(row.get(benchmark.get("id_key") or "realidx", number))
            text = mcq_text(row) if fmt == "mcq_jsonl" else "\n".join(str(row.get(f, "")) for f in benchmark["fields"])
            yield BenchmarkItem(name, item_id, text)


def as_datasketch(signature: np.ndarray):
    """Our uint32 signature as a datasketch MinHash, for its LSH index (the values are 32-bit affine hashes)."""
    from datasketch import MinHash

    return MinHash(num_perm=len(signature), hashvalues=signature.astype(np.uint64), scheme="affine32")


class BenchmarkIndex:
    """13-gram hashes and MinHash LSH over all benchmark items."""

    def __init__(self, items: list[BenchmarkItem], ngram: int, minhash_threshold: float, num_perm: int = 128):
        from datasketch import MinHashLSH

        self.items, self.ngram = items, ngram
        self.hasher = MinHasher(num_perm, MINHASH_NGRAM)
        hashes, owners = [], []
        self.lsh = MinHashLSH(threshold=minhash_threshold, num_perm=num_perm)
        self.signatures = []
        self.too_short = 0
        for index, item in enumerate(items):
            if len(words(item.text)) >= ngram:
                values = np.unique(shingles(item.text, ngram))
                hashes.append(values)
                owners.append(np.full(len(values), index, dtype=np.int64))
            else:
                self.too_short += 1  # still covered by MinHash below
            signature = self.hasher.signature(item.text)
            self.signatures.append(signature)
            self.lsh.insert(str(index), as_datasketch(signature))
        all_hashes = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
        order = np.argsort(all_hashes, kind="stable")
        self.hashes = all_hashes[order]
        self.owners = (np.concatenate(owners) if owners else np.empty(0, np.int64))[order]
        self.minhash_threshold = minhash_threshold
        self.num_perm = num_perm

    def match(self, text: str) -> tuple[BenchmarkItem, str] | None:
        """The first item this text overlaps, and how; None for a clean text."""
        if len(self.hashes):
            values = shingles(text, self.ngram) if len(words(text)) >= self.ngram else np.empty(0, np.uint64)
            positions = np.searchsorted(self.hashes, values)
            positions[positions == len(self.hashes)] = 0
            hits = np.flatnonzero(self.hashes[positions] == values)
            if len(hits):
                return self.items[int(self.owners[positions[hits[0]]])], f"shares a {self.ngram}-gram"
        signature = self.hasher.signature(text)
        for candidate in sorted(self.lsh.query(as_datasketch(signature)), key=int):
            similarity = float(np.mean(self.signatures[int(candidate)] == signature))
            if similarity >= self.minhash_threshold:
                return self.items[int(candidate)], f"MinHash similarity {similarity:.2f}"
        return None


class Decontaminate(DocumentStep):
    """Removes (or, with action `flag`, marks) documents that overlap a benchmark test item."""

    name = "🧪 Decontaminate"
    slug = "decontaminate"

    def __init__(self, stage_dir, stage: str, benchmarks: list[dict], ngram: int = 13, minhash_threshold: float = 0.7,
                 action: str = "remove"):
        super().__init__(stage_dir, stage)
        self.benchmarks, self.ngram, self.minhash_threshold, self.action = benchmarks, ngram, minhash_threshold, action
        self.index: BenchmarkIndex | None = None

    def prepare(self) -> None:
        if self.index is None:  # built once per worker process
            items = [item for benchmark in self.benchmarks for item in load_items(benchmark)]
            self.index = BenchmarkIndex(items, self.ngram, self.minhash_threshold)

    def process(self, doc: Document) -> Document | Removal:
        found = self.index.match(doc.text)
        if found is None:
            return doc
        item, how = found
        if self.action == "flag":
            doc.metadata["contamination"] = {"benchmark": item.benchmark, "item": item.item_id, "how": how}
            return doc
        return Removal(f"benchmark:{item.benchmark}", f"item {item.item_id}: {how}")
