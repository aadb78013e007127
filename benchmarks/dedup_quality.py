"""Near-duplicate detection quality of medmix's dedup (the real phases 1-4) against exact shingle Jaccard.

    python benchmarks/dedup_quality.py [--shared ../shared/data] [--threshold 0.8] [--seed 13]

Input: 300 chunks (150-600 words) of the real PMC, mtsamples and WikiText texts in the shared data, plus 1-3
variants of 80% of them, edited (word substitutions or insertions, foreign sentences, swapped sentence blocks)
until their exact Jaccard with the base drops to a target drawn from 0.45..1.0, or case/whitespace-only copies.
Ground truth: exact 5-gram shingle Jaccard of every pair; a true duplicate has J >= threshold. medmix's phases
1-4 run in this process (1 task, then 2), and are scored on: a. the pairs phase 4 verifies (a phase-2 candidate
from work_dir/edges/*.npy whose exact Jaccard over phase 3's stored shingle sets reaches the threshold, or a
pair in edges/exact.npy); b. the pairs it merges (both in one connected component of the verified pairs, as
its union-find; checked against removals.parquet); c. the documents in removals.parquet: precision = share
with a true partner, recall = removed / should-be-removed (each true-duplicate component keeps one).
Targets (issue 13): precision and recall >= 0.99 on pairs (a), 1.0 on documents (c). Fixed seed; scratch files under /tmp/bench.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from datatrove.data import Document

from medmix.corpus.minhash import MinHasher, lsh_bands, shingles
from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.stages.dedup import (
    EXACT,
    DedupBuckets,
    DedupClusters,
    DedupSettings,
    DedupSignatures,
    DedupVerify,
    ShingleSets,
)

SCRATCH = Path("/tmp/bench")
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
NGRAM, NUM_PERM, PRIORITY = 5, 128, ["pmc", "mtsamples", "wikitext"]
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
KINDS = ("substitute", "insert_words", "insert_sentence", "reorder", "mixed")
BINS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0), (1.0, 1.01)]


def read_sources(shared: Path) -> dict[str, list[str]]:
    files = sorted(glob.glob(str(shared / "pmc" / "*.nxml")))
    notes, wiki = shared / "clinical" / "mtsamples_first401_noheader.csv", shared / "general" / "wikitext2_valid_test_articles.jsonl"
    if not files or not notes.exists() or not wiki.exists():
        sys.exit(f"shared data not found at {shared} (need pmc/*.nxml, {notes.name}, {wiki.name}); pass --shared PATH")
    with tempfile.TemporaryDirectory(dir=SCRATCH) as books:
        pmc = [d.text for d in PmcReader(books, "read", source="pmc", domain="biomedical", files=files).run(None, 0, 1)]
    with open(notes, newline="", encoding="utf-8") as handle:
        clinical = [row[4] for row in csv.reader(handle) if len(row) > 4 and row[4].strip()]
    with open(wiki, encoding="utf-8") as handle:
        return {"pmc": pmc, "mtsamples": clinical, "wikitext": [json.loads(line)["text"] for line in handle if line.strip()]}


def base_documents(sources: dict[str, list[str]], total: int, rng: random.Random) -> list[tuple[str, str]]:
    """(source, chunk): runs of paragraphs of a random 150-600 words, an equal share per source (the
    shortest source first; its gap is filled by the others)."""
    pools = {}
    for name, texts in sources.items():
        pools[name], current, target = [], [], rng.randint(150, 600)
        for paragraph in (p.split() for text in texts for p in re.split(r"\n+", text) if p.strip()):
            current.extend(paragraph)
            if len(current) >= target:
                pools[name].append(" ".join(current[:600]))
                current, target = [], rng.randint(150, 600)
    bases, order = [], sorted(pools, key=lambda k: len(pools[k]))
    for i, name in enumerate(order):
        bases += [(name, c) for c in rng.sample(pools[name], min(len(pools[name]), (total - len(bases)) // (len(order) - i)))]
    return bases


def shingle_set(text: str) -> set[int]:
    return set(shingles(text, NGRAM).tolist())


def sentences_of(text: str) -> list[list[str]]:
    return [s.split() for s in SENTENCE_END.split(text) if s.split()]


def edit(rng: random.Random, kind: str, doc: list[list[str]], vocabulary: list[str], foreign: list[list[str]]) -> None:
    """One word-level edit of a document held as sentences of whitespace tokens."""
    kind = rng.choice(KINDS[:-1]) if kind == "mixed" else kind
    if kind in ("substitute", "insert_words"):
        sentence = rng.choice(doc)
        at = rng.randrange(len(sentence) + (kind == "insert_words"))
        sentence[at:at + (kind == "substitute")] = rng.choices(vocabulary, k=1 if kind == "substitute" else rng.randint(1, 3))
    elif kind == "insert_sentence":
        doc.insert(rng.randrange(len(doc) + 1), list(rng.choice(foreign)))
    else:  # reorder: swap two non-overlapping blocks of sentences (of words, if there are too few sentences)
        if len(doc) < 4:
            words = [w for s in doc for w in s]
            size = max(1, len(words) // 6)
            doc[:] = [words[i:i + size] for i in range(0, len(words), size)]
        length = rng.randint(1, max(1, min(3, len(doc) // 4)))
        first = rng.randrange(0, len(doc) - 2 * length + 1)
        second = rng.randrange(first + length, len(doc) - length + 1)
        doc[first:second + length] = doc[second:second + length] + doc[first + length:second] + doc[first:first + length]


def plant(bases: list[tuple[str, str]], rng: random.Random, share: float = 0.8, exact_copies: float = 0.08):
    """The bases, then 1-3 variants of a random `share` of them, shuffled."""
    vocabulary = sorted({w for _, t in bases for w in t.split() if w.isalpha()})
    foreign = [s for _, t in bases for s in sentences_of(t) if 5 <= len(s) <= 40]
    docs = [{"source": source, "text": text, "base": i, "kind": "base"} for i, (source, text) in enumerate(bases)]
    for index in sorted(rng.sample(range(len(bases)), int(share * len(bases)))):
        source, text = bases[index]
        base_set = shingle_set(text)
        for _ in range(rng.choice((1, 2, 3))):
            if rng.random() < exact_copies:  # same words, other case and whitespace
                variant = "  ".join(text.split()).upper() if rng.random() < 0.5 else text.replace(" ", "\n")
                docs.append({"source": source, "text": variant, "base": index, "kind": "copy"})
                continue
            kind, target, doc, similarity, edits = rng.choice(KINDS), rng.uniform(0.45, 1.0), sentences_of(text), 1.0, 0
            while similarity > target and edits < 400:  # edit until the exact Jaccard drops to the target
                edit(rng, kind, doc, vocabulary, foreign)
                edits, variant_set = edits + 1, shingle_set(" ".join(" ".join(s) for s in doc))
                similarity = len(base_set & variant_set) / len(base_set | variant_set)
            docs.append({"source": source, "text": " ".join(" ".join(s) for s in doc), "base": index, "kind": kind})
    rng.shuffle(docs)  # variants must not sit next to their bases in the input
    return docs


def exact_jaccard_matrix(sets: list[set[int]]) -> np.ndarray:
    """Exact Jaccard for every pair (dense n x n), intersections counted through an inverted index."""
    postings: dict[int, list[int]] = {}
    for index, values in enumerate(sets):
        for value in values:
            postings.setdefault(value, []).append(index)
    inter = np.zeros((len(sets), len(sets)), dtype=np.int32)
    for members in (np.array(m) for m in postings.values() if len(m) > 1):
        inter[np.ix_(members, members)] += 1
    sizes = np.array([len(s) for s in sets])
    union = sizes[:, None] + sizes[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def clusters_of(pairs: np.ndarray, n: int) -> list[list[int]]:
    """Connected components with more than one member (label propagation to the smallest index)."""
    label = np.arange(n)
    while len(pairs):
        new = label.copy()
        np.minimum.at(new, pairs[:, 0], label[pairs[:, 1]])
        np.minimum.at(new, pairs[:, 1], label[pairs[:, 0]])
        if (new == label).all():
            break
        label = new
    return sorted(g.tolist() for g in np.split(np.argsort(label, kind="stable"), np.cumsum(np.bincount(label))[:-1]) if len(g) > 1)


def same_cluster(clusters: list[list[int]], n: int) -> np.ndarray:
    matrix = np.zeros((n, n), dtype=bool)
    for group in clusters:
        matrix[np.ix_(group, group)] = True
    return np.triu(matrix, k=1)


def run_medmix(docs: list[dict], threshold: float, tasks: int, exact_j: np.ndarray, scratch: Path = SCRATCH) -> dict:
    """Phases 1-4 in this process on `tasks` round-robin shards; medmix's pairs, clusters and removals."""
    work, n = scratch / f"dedup_quality_{tasks}", len(docs)
    shutil.rmtree(work, ignore_errors=True)
    settings = DedupSettings(work, tasks, threshold, NGRAM, NUM_PERM, *lsh_bands(threshold, NUM_PERM), PRIORITY, False, 0.8, 64)
    shards = [[Document(text=docs[i]["text"], id=f"doc{i:05d}", metadata={"source": docs[i]["source"], "text_type": ""})
               for i in range(rank, n, tasks)] for rank in range(tasks)]
    index_of = {(rank << 32) | pos: rank + pos * tasks for rank, shard in enumerate(shards) for pos in range(len(shard))}
    started = time.perf_counter()
    for phase, inputs in ((DedupSignatures, shards), (DedupBuckets, [None] * tasks), (DedupVerify, shards)):
        for rank, shard in enumerate(inputs):
            deque(phase(settings).run(shard and iter(shard), rank, tasks), maxlen=0)
    deque(DedupClusters(settings).run(None, 0, 1), maxlen=0)
    seconds = time.perf_counter() - started

    def indices(keys: np.ndarray) -> np.ndarray:  # (M, 2) document keys -> positions in `docs`, smaller first
        return np.sort(np.array([index_of[k] for k in keys.ravel().tolist()], dtype=np.int64).reshape(-1, 2), axis=1)

    near = np.unique(np.concatenate([np.load(work / "edges" / f"{b}.npy").reshape(-1, 2) for b in settings.band_names()[:-1]]), axis=0)
    sets = ShingleSets(work / "shingles")  # what phase 3 stored, read as phase 4 reads it
    stored_j = np.array([sets.jaccard(a, b) for a, b in near.tolist()])
    near_i, exact_i = indices(near), indices(np.load(work / "edges" / f"{EXACT}.npy"))
    verified_i = np.concatenate([near_i[stored_j >= threshold], exact_i])
    candidate, verified = np.zeros((n, n), dtype=bool), np.zeros((n, n), dtype=bool)
    candidate[near_i[:, 0], near_i[:, 1]] = candidate[exact_i[:, 0], exact_i[:, 1]] = True
    verified[verified_i[:, 0], verified_i[:, 1]] = True
    clusters = clusters_of(verified_i, n)
    removals = pq.read_table(work / "removals.parquet").to_pylist()
    removed = {index_of[row["key"]] for row in removals}
    shutil.rmtree(work, ignore_errors=True)
    return {"settings": settings, "seconds": seconds, "candidates": len(near), "candidate": candidate, "verified": verified,
            "clusters": clusters, "merged": same_cluster(clusters, n), "removed": removed,
            "reasons": Counter(row["reason"] for row in removals),
            "consistent": all(len(set(g) - removed) == 1 for g in clusters) and len(removed) == sum(len(g) - 1 for g in clusters),
            "keepers": [min(set(g) - removed, default=-1) for g in clusters],
            "set_mismatch": int((np.abs(stored_j - exact_j[near_i[:, 0], near_i[:, 1]]) > 1e-12).sum())}


def scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, float, float]:
    tp, fp, fn = int((predicted & truth).sum()), int((predicted & ~truth).sum()), int((~predicted & truth).sum())
    return tp, fp, fn, tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0


PAIRS_TARGET, DOCUMENTS_TARGET = 0.99, 1.0


def verdict(precision: float, recall: float, target: float) -> str:
    return f"{'PASS' if precision >= target else 'FAIL'}/{'PASS' if recall >= target else 'FAIL'}"


def document_scores(removed: set[int], groups: list[list[int]]) -> tuple[float, float, int, int]:
    """(precision, recall, removed without a true partner, should be removed) of a set of removed documents."""
    partnered, should = {d for g in groups for d in g}, sum(len(g) - 1 for g in groups)
    right = sum(min(len(removed & set(g)), len(g) - 1) for g in groups)
    return len(removed & partnered) / max(1, len(removed)), right / max(1, should), len(removed - partnered), should


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared real data folder")
    parser.add_argument("--threshold", type=float, default=0.8, help="Jaccard threshold (medmix's default 0.8)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    from datatrove.utils.logging import logger

    logger.disable("datatrove")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    started, rng, threshold = time.perf_counter(), random.Random(args.seed), args.threshold
    docs = plant(base_documents(read_sources(args.shared.resolve()), 300, rng), rng)
    n, kinds, base = len(docs), Counter(d["kind"] for d in docs), np.array([d["base"] for d in docs])
    sources = Counter(d["source"] for d in docs if d["kind"] == "base")
    print(f"documents: {n} ({kinds['base']} base chunks: {', '.join(f'{k} {v}' for k, v in sorted(sources.items()))}; "
          f"{n - kinds['base']} variants: {', '.join(f'{k} {kinds[k]}' for k in (*KINDS, 'copy'))})")
    exact_j = exact_jaccard_matrix([shingle_set(d["text"]) for d in docs])
    up = np.triu(np.ones((n, n), dtype=bool), k=1)
    truth, planted = up & (exact_j >= threshold), exact_j[up & (base[:, None] == base[None, :])]
    groups = clusters_of(np.argwhere(truth), n)
    print(f"ground truth: exact Jaccard of all {int(up.sum())} pairs; {len(planted)} planted pairs, J {planted.min():.2f}"
          f"..{planted.max():.2f} (median {np.median(planted):.2f}); {int(truth.sum())} pairs with J >= {threshold}")
    one, two = (run_medmix(docs, threshold, tasks, exact_j) for tasks in (1, 2))
    s = one["settings"]
    print(f"medmix: {s.num_perm} permutations, {s.ngram}-grams, LSH {s.bands} bands x {s.rows} rows; phases 1-4 "
          f"{one['seconds']:.2f} s (1 task); {one['candidates']} candidate pairs, of which {one['set_mismatch']} get "
          f"another Jaccard from phase 3's stored shingle sets than from the ground truth")

    tp, fp, fn, p_pairs, r_pairs = scores(one["verified"], truth)
    print(f"\na. pairs phase 4 verifies (phase-2 candidate with exact J >= {threshold}, or same exact hash):")
    print(f"   TP {tp}  FP {fp}  FN {fn}   precision {p_pairs:.3f}  recall {r_pairs:.3f}  {verdict(p_pairs, r_pairs, PAIRS_TARGET)}   "
          f"(targets >= {PAIRS_TARGET}); true pairs among phase-2 candidates: {(one['candidate'] & truth).sum() / max(1, truth.sum()):.3f}")
    signatures = np.stack([MinHasher(s.num_perm, s.ngram).signature(d["text"]) for d in docs])
    estimate = up & np.stack([(signatures == row).mean(axis=1) >= threshold for row in signatures])
    print("   for context, estimated (MinHash) Jaccard >= {} alone, over all pairs: precision {:.3f}  recall {:.3f}"
          .format(threshold, *scores(estimate, truth)[3:]))
    print(f"\n   {'exact J':<10}{'pairs':>7}{'candidates':>12}{'verified':>10}{'rate':>7}{'merged':>8}{'P(cand) at mid':>16}")
    for lo, hi in BINS:
        in_bin = up & (exact_j >= lo) & (exact_j < hi)
        count, mid = int(in_bin.sum()), min(1.0, (lo + hi) / 2)
        label = f"< {hi:.1f}" if lo == 0 else "= 1.0" if lo == 1 else f"{lo:.1f}-{hi:.1f}"
        p_cand = "" if lo == 0 else format(1 - (1 - mid ** s.rows) ** s.bands, ".3f")
        print(f"   {label:<10}{count:>7}{int((one['candidate'] & in_bin).sum()):>12}{int((one['verified'] & in_bin).sum()):>10}"
              f"{(one['verified'] & in_bin).sum() / max(1, count):>7.3f}{int((one['merged'] & in_bin).sum()):>8}{p_cand:>16}")

    tp, fp, fn, p_merged, r_merged = scores(one["merged"], truth)
    print(f"\nb. merged pairs (both in one cluster = connected component of the verified pairs, as phase 4's union-find; "
          f"{len(one['clusters'])} clusters; removals.parquet removes all but one of each, nothing else: "
          f"{'yes' if one['consistent'] else 'NO'}):")
    print(f"   vs J >= {threshold}: TP {tp}  FP {fp}  FN {fn}   precision {p_merged:.3f}  recall {r_merged:.3f}   "
          "(no target: clusters are transitive, so a pair below the threshold can share one through a chain)")
    print("   vs same component of the true-duplicate graph: precision {:.3f}  recall {:.3f}".format(
        *scores(one["merged"], same_cluster(groups, n))[3:]))

    p_docs, r_docs, unpartnered, should = document_scores(one["removed"], groups)
    print(f"\nc. documents, removals.parquet: {len(one['removed'])} removed "
          f"({', '.join(f'{k} {v}' for k, v in sorted(one['reasons'].items()))}); {should} should be, from {len(groups)} "
          f"true-duplicate components; removed without a true partner: {unpartnered}")
    print(f"   precision {p_docs:.3f}  recall {r_docs:.3f}  {verdict(p_docs, r_docs, DOCUMENTS_TARGET)}   (targets >= {DOCUMENTS_TARGET})")

    p2, r2 = document_scores(two["removed"], groups)[:2]
    other = [(a, b) for a, b in zip(one["keepers"], two["keepers"]) if a != b]
    ties = all(docs[a]["source"] == docs[b]["source"] and len(docs[a]["text"]) == len(docs[b]["text"]) for a, b in other)
    print(f"\n2 tasks: phases 1-4 {two['seconds']:.2f} s; same clusters as 1 task: {'yes' if two['clusters'] == one['clusters'] else 'NO'}; "
          f"another keeper in {len(other)} clusters ({'all ties on source and length' if ties else 'NOT ALL TIES'}); "
          f"documents: precision {p2:.3f} recall {r2:.3f}")

    print(f"\nsummary (threshold {threshold}, seed {args.seed}, {n} documents, {time.perf_counter() - started:.1f} s)")
    print(f"   {'measure (1 task)':<36}{'precision':>10}{'recall':>8}   target")
    for name, p, r, target in (("a. pairs verified by phase 4", p_pairs, r_pairs, PAIRS_TARGET),
                               ("b. pairs merged in one cluster", p_merged, r_merged, None),
                               ("c. documents removed", p_docs, r_docs, DOCUMENTS_TARGET)):
        print(f"   {name:<36}{p:>10.3f}{r:>8.3f}   {f'>= {target}: ' + verdict(p, r, target) if target else '(no target)'}")


if __name__ == "__main__":
    main()
