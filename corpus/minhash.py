r"""Word n-gram shingles and MinHash signatures, a batch of documents at a time.

Why not datatrove's `MinhashDedupSignature`: it tokenises with a full word tokenizer and hashes every
n-gram in Python, about 0.27 MB/s per core here. medmix hashes each distinct word once (a per-process
cache), forms the n-grams of a whole batch of documents with numpy array arithmetic, and hands them to
rensa's R-MinHash kernel (Rust), which applies all permutations (`benchmarks/dedup_speed.py`).

Splitting a batch into words and finding each word's hash is then most of the time, and Python spends it
one word at a time. `word_hash_rows` does it in polars and Arrow instead: polars' (Rust) regex finds the
words with an explicit character class built from Python's own `\w` (every code point `re` calls a word
character, as ranges), and Arrow's dictionary encoding leaves only the batch's distinct words (a few
percent of them) to hash in Python. The words are exactly `words(text)`'s: a parity gate compares both
ways on a fixed edge set once per process and keeps the Python way on any difference (logged), and a text
polars cannot hold (lone surrogates from undecodable input) takes the Python way too.

The hashes are deterministic across processes and machines (xxhash, fixed seeds, an exact rensa
version), so signatures computed by different tasks of a distributed run are comparable; `MinHasher.kind`
names all that, and a dedup work folder refuses signatures of another kind.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import version
from itertools import chain

import numpy as np
import xxhash
from datatrove.utils.logging import logger

WORD = re.compile(r"\w+")
SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)
SHINGLES = "xxh3-64 of lower-cased \\w+ words, multiply-xor n-grams"  # their definition, for `MinHasher.kind`


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
    """64-bit hashes of the word n-grams of a text (order-sensitive); a text shorter than n words is one shingle.

    An n-gram's hash folds its words' hashes left to right: `h = h * SHINGLE_MULTIPLIER ^ next` (mod 2**64)."""
    return shingles_of_words(words(text), n)


def shingles_of_words(tokens: list[str], n: int) -> np.ndarray:
    return shingle_rows([tokens], n)[0]


def shingle_rows(documents: list[list[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The shingles of many documents' words (as `shingles` defines them): one flat array, and each
    document's start in it plus the end (`len(documents) + 1` offsets)."""
    counts = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
    return shingles_of_hashes(hash_words(chain.from_iterable(documents), int(counts.sum())), counts, n)


def text_shingle_rows(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_rows` of the texts' words, split and hashed by `word_hash_rows`."""
    return shingles_of_hashes(*word_hash_rows([text.lower() for text in texts]), n)


def hash_words(tokens, count: int) -> np.ndarray:
    return np.fromiter(map(_word_hashes.__getitem__, tokens), dtype=np.uint64, count=count)


def shingles_of_hashes(hashes: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The shingles of documents given as their word hashes, one after the other, and each one's word count.
    The n-grams are formed by n - 1 multiply-xor passes over the whole batch's word-hash array, so numpy's
    cost is per batch, not per document; windows that cross into the next document are never read out."""
    starts = np.cumsum(counts) - counts
    per_document = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    offsets = np.concatenate([[0], np.cumsum(per_document)])
    values = np.empty(offsets[-1], dtype=np.uint64)
    combined = hashes.copy()  # after pass k, combined[p] is the hash of words p .. p + k
    with np.errstate(over="ignore"):
        for width in range(1, min(n, len(hashes)) + 1):  # no window is wider than the batch
            if width > 1:
                valid = len(hashes) - width + 1
                combined[:valid] *= SHINGLE_MULTIPLIER
                combined[:valid] ^= hashes[width - 1:]
            if width < n:  # documents of exactly `width` words: one shingle of all of them
                short = counts == width
                values[offsets[:-1][short]] = combined[starts[short]]
    long = np.repeat(counts >= n, per_document)
    source = np.arange(len(values)) + np.repeat(starts - offsets[:-1], per_document)
    values[long] = combined[source[long]]
    return values, offsets


@cache
def word_class() -> str:
    r"""Python's `\w+` for str patterns as an explicit character class in the regex syntax of polars (Rust's
    `regex`): the code points this Python's `re` calls word characters, as ranges. The class carries the
    running Python's Unicode version, whatever polars was built with: its regex engine only compares code points."""
    every = "".join(np.arange(start, stop, dtype=np.uint32).tobytes().decode("utf-32-le")
                    for start, stop in ((0, 0xD800), (0xE000, 0x110000)))  # all but the surrogates
    found = ((ord(every[m.start()]), ord(every[m.end() - 1])) for m in WORD.finditer(every))
    return "[" + "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in found) + "]+"


def parity_texts() -> list[str]:
    """The gate's texts: the test texts' tricky cases (scripts, case mappings that change length, marks,
    numerals, connectors, joiners) and a stride of every 7th code point, one per word slot."""
    stride = " ".join(chr(c) + "a" + chr(c) for c in range(0, 0x110000, 7) if not 0xD800 <= c < 0xE000)
    return ["", "   ...  !!", "Five words, exactly five.", "six words: naïve café Ωmega 123 x_y",
            "İstanbul ǅ ß ﬁ 𝔘𝔫𝔦 中文字 テキスト ΣΑΣ ὈΔΥΣΣΕΎΣ", "e\u0301 n\u0303 a\u200db a\u200cb ½ ² Ⅻ ٣ 𝟙 a‿b a_b",
            "tab\tnbsp\u00a0ideographic\u3000line\u2028sep\x1cfile\x85next", stride]


def python_word_hash_rows(lowered: list[str]) -> tuple[np.ndarray, np.ndarray]:
    r"""The reference: `\w+` words of lower-cased texts, one Python object and lookup per word."""
    found = [WORD.findall(text) for text in lowered]
    counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
    return hash_words(chain.from_iterable(found), int(counts.sum())), counts


def arrow_word_hash_rows(lowered: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The same words, found by polars and dictionary-encoded by Arrow: Python hashes distinct words only.
    Raises UnicodeEncodeError for a text with lone surrogates."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pl.Series(lowered, dtype=pl.String).str.extract_all(word_class()).to_arrow()
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks()
    counts = pc.list_value_length(found).to_numpy(zero_copy_only=False).astype(np.int64)
    encoded = pc.dictionary_encode(found.flatten())
    distinct = encoded.dictionary.to_pylist()
    return hash_words(distinct, len(distinct))[encoded.indices.to_numpy(zero_copy_only=False)], counts


@cache
def arrow_words_agree() -> bool:
    """The parity gate, once per process: the fast way gives the reference's words and hashes on `parity_texts`."""
    lowered = [text.lower() for text in parity_texts()]
    try:
        fast = arrow_word_hash_rows(lowered)
    except Exception as error:  # polars missing or broken: the reference is always there
        logger.warning(f"minhash: words split in Python, polars failed ({error!r})")
        return False
    reference = python_word_hash_rows(lowered)
    if all(np.array_equal(a, b) for a, b in zip(fast, reference)):
        return True
    logger.warning("minhash: polars' words differ from Python's \\w+ on the parity set; words split in Python")
    return False


def word_hash_rows(lowered: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of the words (`words`) of lower-cased texts, all texts one after the other, and each
    text's word count."""
    if lowered and arrow_words_agree():
        try:
            return arrow_word_hash_rows(lowered)
        except UnicodeEncodeError:  # lone surrogates: polars holds UTF-8 only
            pass
    return python_word_hash_rows(lowered)


def exact_hash(lowered: str) -> int:
    """Hash of a lower-cased text with whitespace folded: equal for texts that differ only in case and spacing."""
    return xxhash.xxh3_64_intdigest(" ".join(lowered.split()).encode("utf-8", "surrogatepass"))


class MinHasher:
    """`num_perm` R-MinHash permutations (rensa) of medmix's 64-bit shingle hashes, keeping the minimum of each.

    Signatures are uint32; two documents' share of equal signature values estimates their Jaccard
    similarity over shingle sets. Why R-MinHash: we measured a mean absolute error of 0.020 against
    exact Jaccard on 2,000 real pairs at 128 permutations (medmix's former numpy multiply-shift kernel: 0.024)
    at 1.7x the speed; rensa's faster "rho" sketch erred by 0.17, unusable for LSH.
    """

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 1):
        self.num_perm, self.ngram, self.seed = num_perm, ngram, seed

    @property
    def kind(self) -> dict:
        """Everything a signature depends on: signatures of different kinds are not comparable."""
        from rensa import RMinHash

        return {"algorithm": "rensa R-MinHash", "rensa": version("rensa"),
                "algorithm_version": RMinHash.ALGORITHM_VERSION, "shingles": SHINGLES, "ngram": self.ngram,
                "num_perm": self.num_perm, "seed": self.seed}

    def signatures_of_rows(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One signature per row of `shingle_rows`' output (documents x num_perm); repeats allowed."""
        from rensa import RMinHash

        matrix = RMinHash.digest_matrix_from_flat_token_hashes(values, offsets.astype(np.uint64), self.num_perm,
                                                               self.seed)
        return np.array(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, self.num_perm)

    def signatures(self, texts: list[str]) -> np.ndarray:
        return self.signatures_of_rows(*text_shingle_rows(texts, self.ngram))

    def signature(self, text: str) -> np.ndarray:
        return self.signatures([text])[0]


def lsh_bands(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows) for LSH at `threshold`: the most rows per band (the fewest false candidates) with which
    a pair right at the threshold still becomes a candidate with probability `recall`. Every candidate
    pair is then checked exactly, so a false candidate costs one check while a missed pair is a duplicate
    kept for good. At 0.8 and 128 permutations: 21 bands of 6 rows, which makes a pair at Jaccard 0.8 a
    candidate with probability 0.998, at 0.7 with 0.93 and at 0.5 with 0.28. (16 bands of 8 rows, chosen
    before, gave 0.947 at 0.8: one pair in 20 just above the threshold was missed.)"""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    raise ValueError(f"no LSH banding of {num_perm} permutations reaches recall {recall} at {threshold}")


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band (of one signature, or of each row of a signature matrix): documents that
    agree on every row of a band share that band's key."""
    view = signatures[..., : bands * rows].reshape(*signatures.shape[:-1], bands, rows).astype(np.uint64)
    keys = np.zeros(view.shape[:-1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys = keys * SHINGLE_MULTIPLIER + view[..., row]
    return keys


def bottom_k(values: np.ndarray, k: int) -> np.ndarray:
    """The k smallest distinct shingle hashes: a uniform sample of the set, for containment tests."""
    distinct = np.unique(values)
    return distinct[:k]
