"""Word n-gram shingles and MinHash signatures, vectorised with numpy.

Why not datatrove's `MinhashDedupSignature`: it tokenises with a full word tokenizer and hashes every
n-gram in Python, about 0.27 MB/s per core here. medmix hashes each distinct word once (a per-process
cache), combines n-grams and applies all permutations as numpy array arithmetic, which is more than
10x faster (`benchmarks/dedup_speed.py`).

The hashes are deterministic across processes and machines (xxhash, fixed seeds), so signatures
computed by different tasks of a distributed run are comparable.
"""

from __future__ import annotations

import re

import numpy as np
import xxhash

WORD = re.compile(r"\w+")
SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)
BLOCK = 2048  # shingles per block when applying permutations: bounds the temporary matrix to ~2 MB


class WordHashes(dict):
    """Word -> 64-bit hash, computed on first sight. Bounded: cleared when it grows past `limit` words
    (500k words, about 70 MB), so a task's memory does not grow with its vocabulary."""

    def __init__(self, limit: int = 500_000):
        super().__init__()
        self.limit = limit

    def __missing__(self, word: str) -> int:
        if len(self) >= self.limit:
            self.clear()
        value = self[word] = xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"))
        return value


_word_hashes = WordHashes()


def words(text: str) -> list[str]:
    """Lower-cased word tokens: the unit of every shingle, for dedup and decontamination alike."""
    return WORD.findall(text.lower())


def shingles(text: str, n: int) -> np.ndarray:
    """64-bit hashes of the word n-grams of a text (order-sensitive); a text shorter than n words is one shingle."""
    return shingles_of_words(words(text), n)


def shingles_of_words(tokens: list[str], n: int) -> np.ndarray:
    hashes = np.fromiter((_word_hashes[w] for w in tokens), dtype=np.uint64, count=len(tokens))
    if len(hashes) == 0:
        return hashes
    if len(hashes) < n:
        n = len(hashes)
    count = len(hashes) - n + 1
    combined = hashes[:count].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            combined *= SHINGLE_MULTIPLIER
            combined ^= hashes[offset:offset + count]
    return combined


def exact_hash(text: str) -> int:
    """Hash of the text with case and whitespace folded: equal for texts that differ only in those."""
    return xxhash.xxh3_64_intdigest(" ".join(text.lower().split()).encode("utf-8", "surrogatepass"))


class MinHasher:
    """`num_perm` multiply-shift permutations of 64-bit shingle hashes, keeping the minimum of each.

    Signatures are uint32; two documents' share of equal signature values estimates their Jaccard
    similarity over shingle sets.
    """

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 1):
        self.num_perm, self.ngram = num_perm, ngram
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
        self.b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)

    def signature_of_shingles(self, values: np.ndarray) -> np.ndarray:
        """Minimum of each permutation over the shingles (repeats allowed: they do not change a minimum)."""
        minimum = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        scratch = np.empty((min(len(values), BLOCK), self.num_perm), dtype=np.uint64)
        shift = np.uint64(32)
        with np.errstate(over="ignore"):
            for start in range(0, len(values), BLOCK):
                block = values[start:start + BLOCK, None]
                permuted = scratch[: len(block)]
                np.multiply(block, self.a, out=permuted)
                permuted += self.b
                permuted >>= shift
                np.minimum(minimum, permuted.min(axis=0), out=minimum)
        return minimum.astype(np.uint32)

    def signature(self, text: str) -> np.ndarray:
        return self.signature_of_shingles(shingles(text, self.ngram))


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for LSH at `threshold`, from datasketch's optimiser weighted 19:1 towards recall:
    every candidate pair is then checked exactly, so a false candidate costs one check while a missed
    pair is a duplicate kept for good. At 0.8 and 128 permutations: 16 bands of 8 rows, which makes a
    pair at Jaccard 0.8 a candidate with probability 0.95, at 0.85 with 0.99."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, false_positive_weight=0.05, false_negative_weight=0.95)


def band_hashes(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band: documents that agree on every row of a band share that band's key."""
    view = signature[: bands * rows].reshape(bands, rows).astype(np.uint64)
    keys = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys = keys * SHINGLE_MULTIPLIER + view[:, row]
    return keys


def bottom_k(values: np.ndarray, k: int) -> np.ndarray:
    """The k smallest distinct shingle hashes: a uniform sample of the set, for containment tests."""
    distinct = np.unique(values)
    return distinct[:k]
