"""Batch shingling equals the string definition; rensa R-MinHash signatures estimate Jaccard and name their kind."""

import csv
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xxhash
from datatrove.data import Document

from medmix.corpus import minhash
from medmix.corpus.minhash import (
    MinHasher,
    arrow_word_hash_rows,
    lsh_bands,
    python_word_hash_rows,
    shingle_rows,
    shingles,
    text_shingle_rows,
    word_hash_rows,
    words,
)
from medmix.corpus.stages.dedup import DedupBuckets, DedupSettings, DedupSignatures, SignaturesOfAnotherKind

EDGE_TEXTS = ["", "   ...  !!", "one", "Two words", "three WORD text", "four words in_a row", "Five words, exactly five.",
              "six words: naïve café Ωmega 123 x_y", "İstanbul ǅ ß ﬁ 𝔘𝔫𝔦 中文字 テキスト", "a " * 40, "A a A a A a"]


def string_shingles(text: str, n: int) -> list[int]:
    """The definition, in plain Python: lower-cased \\w+ words, each hashed with xxh3-64, each run of n
    words (all of them if fewer) folded left to right as h * 0x9E3779B97F4A7C15 ^ next, mod 2**64."""
    hashes = [xxhash.xxh3_64_intdigest(word.encode()) for word in re.findall(r"\w+", text.lower())]
    n = min(n, len(hashes))
    folded = []
    for start in range(len(hashes) - n + 1 if hashes else 0):
        value = hashes[start]
        for following in hashes[start + 1:start + n]:
            value = (value * 0x9E3779B97F4A7C15 % 2**64) ^ following
        folded.append(value)
    return folded


@pytest.fixture(scope="module")
def transcriptions(shared) -> list[str]:
    with open(shared / "clinical" / "mtsamples_first401_noheader.csv", newline="") as handle:
        return [row[4] for row in csv.reader(handle) if len(row) > 4 and row[4]]


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_batch_shingles_equal_the_string_definition(n):
    values, offsets = shingle_rows([words(text) for text in EDGE_TEXTS], n)
    assert len(offsets) == len(EDGE_TEXTS) + 1
    for text, start, end in zip(EDGE_TEXTS, offsets[:-1], offsets[1:]):
        assert values[start:end].tolist() == string_shingles(text, n), text
        assert shingles(text, n).tolist() == string_shingles(text, n)


def test_batch_shingles_equal_the_string_definition_on_real_transcriptions(transcriptions):
    values, offsets = shingle_rows([words(text) for text in transcriptions], 5)
    assert offsets[-1] > 100_000
    for text, start, end in zip(transcriptions, offsets[:-1], offsets[1:]):
        assert values[start:end].tolist() == string_shingles(text, 5)


def assert_string_definition(texts: list[str], n: int = 5) -> None:
    values, offsets = text_shingle_rows(texts, n)
    assert len(offsets) == len(texts) + 1
    for text, start, end in zip(texts, offsets[:-1], offsets[1:]):
        assert values[start:end].tolist() == string_shingles(text, n), text[:60]


def test_polars_words_equal_pythons_on_every_code_point():
    """The fast way's character class is Python's \\w, code point by code point, after lower-casing."""
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    texts = [" ".join(f"x{c}{c}y" for c in every[start:start + 4096]) for start in range(0, len(every), 4096)]
    lowered = [text.lower() for text in texts]
    fast, reference = arrow_word_hash_rows(lowered), python_word_hash_rows(lowered)
    assert np.array_equal(fast[1], reference[1]) and np.array_equal(fast[0], reference[0])


def test_text_shingles_equal_the_string_definition_on_the_edge_texts_transcriptions_and_the_udhr(
        transcriptions, shared):
    assert minhash.arrow_words_agree()  # the fast way is the one tested here
    for n in (1, 2, 5, 9):
        assert_string_definition(EDGE_TEXTS, n)
    assert_string_definition(transcriptions)
    with zipfile.ZipFile(shared / "general" / "udhr2.zip") as archive:
        udhr = [archive.read(name).decode("utf-8") for name in sorted(archive.namelist()) if not name.endswith("/")]
    assert len(udhr) >= 387
    assert_string_definition(udhr)


def test_a_fast_way_that_disagrees_is_not_used_and_lone_surrogates_take_the_python_way(monkeypatch):
    texts = ["Bad bytes \udcff kept as a surrogate", "plain text"]
    assert_string_definition(texts)  # the surrogate sends the whole batch the Python way
    broken = lambda lowered: (np.zeros(sum(map(len, map(words, lowered))), np.uint64),  # noqa: E731
                              np.array([len(words(t)) for t in lowered]))
    monkeypatch.setattr(minhash, "arrow_word_hash_rows", broken)
    warnings = []
    monkeypatch.setattr(minhash.logger, "warning", warnings.append)
    minhash.arrow_words_agree.cache_clear()
    try:
        assert not minhash.arrow_words_agree() and "words split in Python" in warnings[0]
        hashes, counts = word_hash_rows(["the patient was seen"])
        assert counts.tolist() == [4] and hashes.all()
    finally:
        minhash.arrow_words_agree.cache_clear()


def test_signatures_estimate_jaccard_and_do_not_depend_on_the_batch(transcriptions):
    hasher = MinHasher(128, 5)
    rng = random.Random(0)
    texts, pairs = [], []
    for text in [t for t in transcriptions if len(t.split()) > 300][:60]:
        tokens = text.split()
        for index in rng.sample(range(len(tokens)), len(tokens) // 20):
            tokens[index] = f"edit{index}"
        pairs.append((len(texts), len(texts) + 1))
        texts += [text, " ".join(tokens)]
    signatures = hasher.signatures(texts)
    assert signatures.dtype == np.uint32 and signatures.shape == (len(texts), 128)
    assert np.array_equal(signatures[7], hasher.signature(texts[7]))
    errors = []
    for a, b in pairs:
        first, second = set(shingles(texts[a], 5).tolist()), set(shingles(texts[b], 5).tolist())
        exact = len(first & second) / len(first | second)
        errors.append(abs(float(np.mean(signatures[a] == signatures[b])) - exact))
    assert np.mean(errors) < 0.04 and max(errors) < 0.15


def test_signatures_estimate_jaccard_as_well_as_datasketchs_minhash(transcriptions):
    """datasketch's MinHash (128 permutations over the same shingle hashes) is the reference: rensa's R-MinHash
    must estimate the exact 5-gram Jaccard of real edited pairs at least as well, give or take noise."""
    from datasketch import MinHash

    rng = random.Random(1)
    pairs = []
    for text in [t for t in transcriptions if len(t.split()) > 200][:80]:
        tokens = text.split()
        for index in rng.sample(range(len(tokens)), len(tokens) * rng.choice([2, 4, 8]) // 100):
            tokens[index] = f"edit{index}"
        pairs.append((text, " ".join(tokens)))
    hasher = MinHasher(128, 5)
    ours, reference = [], []
    for first, second in pairs:
        sets = [set(shingles(text, 5).tolist()) for text in (first, second)]
        exact = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
        ours.append(abs(float(np.mean(hasher.signature(first) == hasher.signature(second))) - exact))
        sketches = [MinHash(num_perm=128, seed=1, hashfunc=lambda value: value & 0xFFFFFFFF) for _ in sets]
        for sketch, values in zip(sketches, sets):
            sketch.update_batch(list(values))
        reference.append(abs(sketches[0].jaccard(sketches[1]) - exact))
    assert np.mean(ours) <= np.mean(reference) + 0.01, (np.mean(ours), np.mean(reference))


def test_the_signature_kind_names_rensa_exactly():
    kind = MinHasher(64, 3).kind
    assert kind["algorithm"] == "rensa R-MinHash" and kind["rensa"] == "0.5.0"
    assert (kind["num_perm"], kind["ngram"]) == (64, 3) and "xxh3" in kind["shingles"]


def signatures_phase(work: Path, texts: list[str], num_perm: int = 128) -> DedupSettings:
    bands, rows = lsh_bands(0.8, num_perm)
    settings = DedupSettings(work, 2, 0.8, 5, num_perm, bands, rows, ["web"], False, 0.8, 64)
    documents = [Document(text=t, id=str(i), metadata={"source": "web"}) for i, t in enumerate(texts)]
    for rank in range(2):
        list(DedupSignatures(settings).run(iter(documents[rank::2]), rank, 2))
    return settings


def test_a_resumed_build_refuses_signatures_of_another_kind(tmp_path):
    texts = ["the patient was seen today with chest pain", "the patient was seen today with chest pain"] * 3
    settings = signatures_phase(tmp_path / "work", texts)
    list(DedupBuckets(settings).run(None, 0, 1))  # the same kind: accepted
    assert len(np.load(tmp_path / "work" / "edges" / "exact.npy")) > 0

    other = signatures_phase(tmp_path / "work", texts, num_perm=64)  # another setting
    with pytest.raises(SignaturesOfAnotherKind, match="num_perm"):
        list(DedupBuckets(settings).run(None, 0, 1))
    list(DedupBuckets(other).run(None, 0, 1))

    (tmp_path / "work" / "signatures" / "00001.json").unlink()  # written before signatures were versioned
    with pytest.raises(SignaturesOfAnotherKind, match="unversioned"):
        list(DedupBuckets(other).run(None, 0, 1))
