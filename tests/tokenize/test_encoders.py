"""gigatoken, the default encoder of SentencePiece BPE models: the same ids as sentencepiece, or not used."""

import hashlib
import json
import multiprocessing
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sentencepiece
from datatrove.data import Document
from sentencepiece import sentencepiece_model_pb2

from medmix.rundir import RunDir
from medmix.tokenize import encoders
from medmix.tokenize.encoders import (
    CONVERSION,
    GigatokenEncoder,
    SentencePieceEncoder,
    cached_tokenizer_json,
    edge_cases,
    sentencepiece_tokenizer_json,
)
from medmix.tokenize.steps import PackShards, PlanMix, ShardSettings, TokenizeDocuments, WriteManifests
from medmix.tokenize.tokenizer import Tokenizer


def udhr_texts(shared: Path) -> list[str]:
    with zipfile.ZipFile(shared / "general" / "udhr2.zip") as archive:
        return [archive.read(name).decode("utf-8") for name in sorted(archive.namelist()) if not name.endswith("/")]


@pytest.fixture(scope="module")
def llama2(shared) -> Path:
    return shared / "tokenizers" / "llama2" / "tokenizer.model"


def assert_sentencepiece_ids(model: Path, texts: list[str]) -> None:
    tokenizer = Tokenizer(model)
    assert isinstance(tokenizer.encoder, GigatokenEncoder)  # it passed the parity gate
    reference = sentencepiece.SentencePieceProcessor(model_file=str(model))
    differing = [text[:40] for text, ids in zip(texts, tokenizer.encode_batch(texts)) if ids != reference.encode(text)]
    assert differing == []


def test_gigatoken_gives_sentencepiece_ids_on_the_udhr_in_387_languages_and_the_edge_set(llama2, shared):
    texts = udhr_texts(shared)
    assert len(texts) >= 387
    assert_sentencepiece_ids(llama2, texts + edge_cases())


def test_gigatoken_gives_sentencepiece_ids_for_the_demo_tokenizer(small_tokenizer):
    """A small vocabulary: most of the edge set goes through byte fallback."""
    assert_sentencepiece_ids(small_tokenizer, edge_cases() + ["the patient  was\n\nseen <s> today </s>"])


def test_literal_special_pieces_are_text_not_special_ids(llama2):
    """No added tokens in the tokenizer.json: "<s>" in a document is three pieces, as sentencepiece reads it."""
    built = json.loads(sentencepiece_tokenizer_json(llama2.read_bytes()))
    assert built["added_tokens"] == []
    tokenizer = Tokenizer(llama2)
    ids = tokenizer.encode_batch(["<s>", "</s>", "<unk>"])
    assert all(len(piece) > 1 for piece in ids)
    assert not {tokenizer.bos_id, tokenizer.eos_id, 0} & {i for piece in ids for i in piece}


def test_the_conversion_of_llama2_is_pinned_so_a_change_bumps_the_cache_version(llama2):
    """The cache is keyed by CONVERSION: a conversion that changes its output must bump it (and this pin),
    or a user's cache would keep serving the old tokenizer.json."""
    built = sentencepiece_tokenizer_json(llama2.read_bytes())
    assert (CONVERSION, hashlib.sha256(built.encode()).hexdigest()) == (
        1, "235b25868c202d22aca2a9dd95cadd148559202f451e9b0987236bf9cb85b74d")


def _cached(model: bytes) -> str:
    return cached_tokenizer_json(model)


def test_the_tokenizer_json_is_built_once_per_model_and_concurrent_tasks_write_it_whole(
        small_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMIX_CACHE_DIR", str(tmp_path / "cache"))
    model = small_tokenizer.read_bytes()
    with multiprocessing.get_context("fork").Pool(4) as pool:  # four tasks that all miss the cache at once
        results = pool.map(_cached, [model] * 4)
    expected = sentencepiece_tokenizer_json(model)
    assert results == [expected] * 4
    entries = list((tmp_path / "cache" / "tokenizers").iterdir())
    assert [e.name for e in entries] == [f"{hashlib.sha256(model).hexdigest()}.v{CONVERSION}.json"]  # no leftovers
    assert entries[0].read_text() == expected
    monkeypatch.setattr(encoders, "sentencepiece_tokenizer_json", lambda model: pytest.fail("built again"))
    assert cached_tokenizer_json(model) == expected


def test_an_unwritable_cache_only_costs_the_build(small_tokenizer, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("MEDMIX_CACHE_DIR", str(tmp_path / "file" / "cache"))  # under a file: cannot be created
    model = small_tokenizer.read_bytes()
    assert cached_tokenizer_json(model) == sentencepiece_tokenizer_json(model)


def test_the_edge_set_is_the_same_on_every_run_and_covers_what_it_claims():
    cases = edge_cases()
    assert cases == edge_cases() and len(cases) == len(set(cases))
    for needed in ("<s>", "</s>", "<unk>", " " * 17, "\n" * 16, "\U0001F9EC", "中文", "አማርኛ"):
        assert any(needed in case for case in cases), needed


def test_a_model_the_conversion_does_not_reproduce_stays_with_sentencepiece(small_tokenizer, tmp_path):
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(small_tokenizer.read_bytes())
    proto.normalizer_spec.remove_extra_whitespaces = True
    folding = tmp_path / "folding.model"
    folding.write_bytes(proto.SerializeToString())
    encoder = Tokenizer(folding).encoder
    assert isinstance(encoder, SentencePieceEncoder) and "whitespace folding" in encoder.name


def shard_build(run_dir: Path, model: Path, texts: list[str]) -> dict:
    """Tokenize (two tasks), plan, pack and write manifests; returns the train manifest."""
    settings = ShardSettings(
        run=RunDir(run_dir), tokenizer_path=str(model), seq_len=16, sequences_per_shard=8, bos=True, eos=True, seed=0,
        validation_fraction=0.0, total_tokens=10**6, shares={"general": 1.0}, max_repeats=1.0, on_shortfall="warn",
        sources=("web",), domains={"web": "general"})
    metadata = {"source": "web", "domain": "general"}
    documents = [Document(text=t, id=str(i), metadata=metadata) for i, t in enumerate(texts)]
    for rank in range(2):
        TokenizeDocuments(settings).run(iter(documents[rank::2]), rank, 2)
    PlanMix(settings).run(None)
    PackShards(settings).run(None)
    WriteManifests(settings).run(None)
    return json.loads((settings.run.shards / "train" / "manifest.json").read_text())


def test_a_difference_on_the_parity_set_falls_back_to_sentencepiece_and_the_manifest_says_so(
        small_tokenizer, tmp_path, monkeypatch):
    texts = ["the patient was seen today", "chest pain <s> after surgery", "shortness of breath"] * 20
    assert shard_build(tmp_path / "fast", small_tokenizer, texts)["encoder"] == "gigatoken 0.10.0"
    fast_encode = GigatokenEncoder.encode

    def off_by_one_on_literal_bos(self, batch):  # a regression in the fast encoder, on "<s>" only
        ids, lengths = fast_encode(self, batch)
        ends = np.cumsum(lengths)
        for text, end in zip(batch, ends):
            if "<s>" in text and end:
                ids[end - 1] += 1
        return ids, lengths

    monkeypatch.setattr(GigatokenEncoder, "encode", off_by_one_on_literal_bos)
    warnings = []
    monkeypatch.setattr(encoders.logger, "warning", warnings.append)
    manifest = shard_build(tmp_path / "fallback", small_tokenizer, texts)
    assert manifest["encoder"].startswith("sentencepiece ") and "failed the parity gate" in manifest["encoder"]
    assert len(warnings) == 2 and "falling back to sentencepiece" in warnings[0]  # one per tokenize task
    for rank in range(2):  # sentencepiece's ids, as before the regression
        fast, fallback = (np.fromfile(tmp_path / run / "tokens" / f"{rank:05d}.bin", dtype="<u2")
                          for run in ("fast", "fallback"))
        assert np.array_equal(fast, fallback)
