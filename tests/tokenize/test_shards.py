"""Tokenization parity, the mix arithmetic, packing, the shard format and the loader."""

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from datatrove.data import Document

from medmix.corpus.audit import realized_tokens
from medmix.corpus.phi.gold import read_physionet_notes
from medmix.rundir import RunDir
from medmix.tokenize.mix import MixError, plan_sources, share_rows, source_targets
from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, ShardError, open_shard_set, write_manifest, write_shard
from medmix.tokenize.steps import PackShards, PlanMix, ShardSettings, TokenizeDocuments, WriteManifests
from medmix.tokenize.tokenizer import token_dtype
from medmix.train.data import PackedSequences, ResumableSampler


def shared_texts(shared: Path) -> list[str]:
    """Every text the shared samples hold in plain form: notes, transcriptions, web pages, 387 languages."""
    texts = list(read_physionet_notes(shared / "phi" / "physionet_deid_dev" / "id.text").values())
    with open(shared / "clinical" / "mtsamples_first401_noheader.csv", newline="") as handle:
        texts += [row[4] for row in csv.reader(handle) if len(row) > 4 and row[4]]
    for path in sorted((shared / "general").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    with zipfile.ZipFile(shared / "general" / "udhr2.zip") as archive:
        texts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist() if not name.endswith("/")]
    return [t for t in texts if t]


def settings_for(run_dir: Path, tokenizer: Path, **overrides) -> ShardSettings:
    values = dict(run=RunDir(run_dir), tokenizer_path=str(tokenizer), seq_len=64, sequences_per_shard=16, bos=True,
                  eos=True, seed=7, validation_fraction=0.0, total_tokens=10_000, shares={"general": 1.0},
                  max_repeats=4.0, on_shortfall="error", sources=("web",), domains={"web": "general"})
    return ShardSettings(**(values | overrides))


def tokenize(settings: ShardSettings, documents: list[Document], tasks: int = 1) -> None:
    for rank in range(tasks):
        list(TokenizeDocuments(settings).run(iter(documents[rank::tasks]), rank, tasks) or ())


def build_shards(settings: ShardSettings, tasks: int = 2) -> None:
    PlanMix(settings).run(None)
    for rank in range(tasks):
        PackShards(settings).run(None, rank, tasks)
    WriteManifests(settings).run(None)


@pytest.mark.slow
def test_shard_tokens_equal_reference_sentencepiece_on_every_shared_document(shared, tmp_path):
    """The ids on disk are sentencepiece's, with <s> and </s> around each document: no text is altered on
    the way (whitespace, newlines, any script, byte fallback for what the vocabulary lacks)."""
    import sentencepiece

    model = shared / "tokenizers" / "llama2" / "tokenizer.model"
    reference = sentencepiece.SentencePieceProcessor(model_file=str(model))
    texts = shared_texts(shared) + ["\U0001F9EC DNA\tdouble  spaces\r\nwindows line\u00a0nbsp \U00013080 ", " leading"]
    assert len(texts) > 1900 and any("\n\n" in t for t in texts)
    documents = [Document(text=t, id=str(i), metadata={"source": "web", "domain": "general"}) for i, t in enumerate(texts)]
    settings = settings_for(tmp_path, model)
    tokenize(settings, documents, tasks=2)
    mismatched = []
    for rank in range(2):
        ids = np.fromfile(tmp_path / "tokens" / f"{rank:05d}.bin", dtype="<u2")
        for row in pl.read_parquet(tmp_path / "tokens" / f"{rank:05d}.docs.parquet").iter_rows(named=True):
            expected = [1, *reference.encode(texts[int(row["id"])]), 2]
            if ids[row["offset"]:row["offset"] + row["length"]].tolist() != expected:
                mismatched.append(row["id"])
    assert mismatched == []
    byte_pieces = sum(1 for text in texts for i in reference.encode(text) if 3 <= i < 259)  # <0x00>..<0xFF>
    assert byte_pieces > 100  # byte fallback really happened, on the real texts too


def test_targets_split_a_domain_share_by_tokens_and_honour_source_keys():
    available = {"pmc": 300, "pubmed": 100, "mimic": 50, "web": 1000}
    domains = {"pmc": "biomedical", "pubmed": "biomedical", "mimic": "clinical", "web": "general"}
    targets = source_targets(available, domains, {"biomedical": 15, "clinical": 1, "general": 4}, 2000)
    assert targets == pytest.approx({"pmc": 1125, "pubmed": 375, "mimic": 100, "web": 400})
    targets = source_targets(available, domains, {"biomedical": 3, "pubmed": 1}, 400)
    assert targets == pytest.approx({"pmc": 300, "pubmed": 100, "mimic": 0, "web": 0})


def test_a_target_beyond_the_repetition_cap_fails_or_warns():
    available, domains = {"a": 100, "b": 1000}, {"a": "x", "b": "y"}
    with pytest.raises(MixError, match=r"source 'a' has 100 tokens .* needs 5.00 passes, more than mix.max_repeats = 4"):
        plan_sources(available, domains, {"x": 1, "y": 1}, 1000, max_repeats=4, on_shortfall="error")
    plans, warnings = plan_sources(available, domains, {"x": 1, "y": 1}, 1000, max_repeats=4, on_shortfall="warn")
    assert plans[0].factor == 4 and plans[0].capped and "capped at 4 passes" in warnings[0]
    with pytest.raises(MixError):  # a source with no tokens at all cannot be capped into its share
        plan_sources({"a": 0, "b": 10}, domains, {"x": 1, "y": 1}, 10, max_repeats=4, on_shortfall="warn")


def test_packed_shares_off_target_fail_the_build_or_warn_in_the_plan(small_tokenizer, tmp_path):
    # clinical's target, 5% of 3,000 tokens, is smaller than each of its two long notes: no note fits it
    sizes = {"pmc": (300, 12, "biomedical"), "mimic3": (2, 800, "clinical"), "web": (100, 12, "general")}
    corpus = [Document(text=" ".join(["patient note trial"] * (words // 3)), id=str(n), metadata={"source": s, "domain": d})
              for s, (count, words, d) in sizes.items() for n in range(count)]
    values = dict(total_tokens=3000, shares={"biomedical": 15, "clinical": 1, "general": 4}, sources=tuple(sizes),
                  domains={s: d for s, (_, _, d) in sizes.items()}, validation_fraction=0.0)
    strict = settings_for(tmp_path / "error", small_tokenizer, **values)
    tokenize(strict, corpus)
    with pytest.raises(MixError, match=r"realized shares off target by more than 0.5 pp: .*clinical 0.00% against "
                                       r"5.00%: .* or set mix.on_shortfall: warn"):
        build_shards(strict)
    lenient = settings_for(tmp_path / "warn", small_tokenizer, **values, on_shortfall="warn")
    tokenize(lenient, corpus)
    build_shards(lenient)
    plan = json.loads(lenient.run.plan.read_text())
    assert len(plan["warnings"]) == 1 and "clinical 0.00% against 5.00%" in plan["warnings"][0]


def synthetic_corpus(seed: int) -> list[Document]:
    """Five sources in three domains, documents of very different lengths, as a 15:1:4 mix must handle."""
    rng = np.random.default_rng(seed)
    words = "alpha beta gamma delta patient note trial cohort river bridge".split()
    sizes = {"pmc": (40, 400), "pubmed": (200, 60), "mimic3": (300, 40), "mimic4": (80, 90), "web": (400, 50)}
    docs = []
    for source, (count, mean) in sizes.items():
        domain = {"pmc": "biomedical", "pubmed": "biomedical", "web": "general"}.get(source, "clinical")
        for number in range(count):
            text = " ".join(rng.choice(words, max(3, int(rng.exponential(mean)))))
            docs.append(Document(text=text, id=f"{number}", metadata={"source": source, "domain": domain}))
    return docs


def mix_settings(run_dir: Path, tokenizer: Path, **overrides) -> ShardSettings:
    values = dict(total_tokens=250_000, shares={"biomedical": 15, "clinical": 1, "general": 4},
                  sources=("pmc", "pubmed", "mimic3", "mimic4", "web"), validation_fraction=0.02, max_repeats=8.0,
                  domains={"pmc": "biomedical", "pubmed": "biomedical", "mimic3": "clinical", "mimic4": "clinical",
                           "web": "general"})
    return settings_for(run_dir, tokenizer, **(values | overrides))


def test_a_15_1_4_mix_is_realized_within_half_a_point_and_rebuilds_byte_identical(small_tokenizer, tmp_path):
    corpus = synthetic_corpus(1)
    runs = []
    for name in ("a", "b"):
        settings = mix_settings(tmp_path / name, small_tokenizer)
        tokenize(settings, corpus, tasks=3)
        build_shards(settings, tasks=2)
        runs.append(settings.run.shards)
    plan = json.loads((tmp_path / "a" / "mix" / "plan.json").read_text())
    assert [(t["key"], round(t["share"], 3)) for t in plan["targets"]] == [
        ("biomedical", 0.75), ("clinical", 0.05), ("general", 0.2)]  # the audit's targets, recorded by the plan
    rows = share_rows(plan["targets"], realized_tokens(runs[0] / "train"))
    assert all(row["within_tolerance"] for row in rows), rows
    assert {p["source"]: p["factor"] > 1 for p in plan["sources"]} == {
        "pmc": True, "pubmed": True, "mimic3": False, "mimic4": False, "web": False}
    for folder in sorted(p.relative_to(runs[0]) for p in runs[0].rglob("*") if p.is_file()):
        assert (runs[0] / folder).read_bytes() == (runs[1] / folder).read_bytes(), folder
    manifest = json.loads((runs[0] / "train" / "manifest.json").read_text())
    assert manifest["tokens"] == manifest["sequences"] * 64 == sum(manifest["tokens_per_source"].values())
    assert {p.name for p in runs[0].iterdir()} == {"train", "valid_biomedical", "valid_clinical", "valid_general"}


def test_packed_sequences_are_the_documents_in_stream_order_with_an_exact_index(small_tokenizer, tmp_path):
    settings = mix_settings(tmp_path, small_tokenizer, validation_fraction=0.0)
    tokenize(settings, synthetic_corpus(2), tasks=2)
    build_shards(settings, tasks=1)
    stream = np.load(settings.run.mix / "train.npy")
    files = {r: np.fromfile(settings.run.tokens / f"{r:05d}.bin", dtype="<u2") for r in range(2)}
    expected = np.concatenate([files[int(e["rank"])][int(e["offset"]):int(e["offset"]) + int(e["length"])]
                               for e in stream])
    shards = open_shard_set(settings.run.shards / "train", verify=True)
    packed = np.concatenate([shards.sequence(i) for i in range(len(shards))])
    assert len(packed) == len(expected) // 64 * 64 and (packed == expected[:len(packed)]).all()
    indexes = [shards.index(s) for s in range(len(shards.shards))]
    assert sum(int(i["length"].sum()) for i in indexes) == len(packed)
    sources = np.repeat(stream["source"], stream["length"])[:len(packed)]
    # the index says, token by token, which source each token came from (sequence numbers are per shard)
    for shard, index in enumerate(indexes):
        assert (index["start"] + index["length"] <= 64).all()
        for row in index:
            at = (int(shards.offsets[shard]) + int(row["sequence"])) * 64 + int(row["start"])
            assert (sources[at:at + int(row["length"])] == row["source"]).all()


def write_random_set(folder: Path, dtype: str, sequences=(5, 3), seq_len=8, sources=("a", "b")) -> dict:
    rng = np.random.default_rng(0)
    entries = []
    for number, count in enumerate(sequences):
        tokens = rng.integers(0, 60000 if dtype == "<u2" else 100000, (count, seq_len)).astype(dtype)
        index = np.array([(s, 0, seq_len, s % 2) for s in range(count)], dtype=INDEX_DTYPE)
        entries.append(write_shard(folder, number, tokens, index, list(sources)))
    header = ManifestHeader(split="train", dtype=dtype, seq_len=seq_len, vocab_size=100000, tokenizer_sha256="f" * 64,
                            bos_id=1, eos_id=2, sources=list(sources), seed=0, encoder="none: random tokens")
    return write_manifest(folder, header, entries)


@pytest.mark.parametrize("dtype", ["<u2", "<u4"])
def test_shards_read_with_numpy_alone_and_through_the_dataset(tmp_path, dtype):
    manifest = write_random_set(tmp_path, dtype)
    assert token_dtype(32000).str == "<u2" and token_dtype(128256).str == "<u4"
    raw = np.memmap(tmp_path / "shard_00001.bin", dtype=manifest["dtype"], mode="r").reshape(-1, manifest["seq_len"])
    dataset = PackedSequences(tmp_path, tokenizer_sha256="f" * 64, verify_checksums=True)
    assert len(dataset) == 8 and dataset[6].tolist() == raw[1].tolist() and dataset[6].dtype.is_floating_point is False
    assert np.load(tmp_path / "shard_00000.index.npy").dtype == INDEX_DTYPE


def test_a_truncated_a_corrupted_or_a_foreign_shard_set_fails_loudly(tmp_path):
    write_random_set(tmp_path, "<u2")
    with pytest.raises(ShardError, match="tokenized with tokenizer ffffffffffff…, not the expected 000000000000…"):
        open_shard_set(tmp_path, tokenizer_sha256="0" * 64)
    data = tmp_path / "shard_00001.bin"
    original = data.read_bytes()
    data.write_bytes(original[:-3])
    with pytest.raises(ShardError, match=r"shard_00001.bin: expected 48 bytes \(3 sequences\), found 45"):
        open_shard_set(tmp_path)
    data.write_bytes(bytes([original[0] ^ 1]) + original[1:])
    assert len(open_shard_set(tmp_path)) == 8  # sizes are checked always; checksums on request
    with pytest.raises(ShardError, match="sha256 does not match"):
        open_shard_set(tmp_path, verify=True)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(manifest | {"dtype": "<f4"}))
    with pytest.raises(ShardError, match="unsupported dtype <f4"):
        open_shard_set(tmp_path)


def test_the_sampler_shards_ranks_disjointly_and_resumes_exactly():
    orders = [ResumableSampler(103, rank=r, world_size=4, seed=3) for r in range(4)]
    epoch = [list(s.order(0)) for s in orders]
    assert sum(map(len, epoch)) == 100 and len(set().union(*map(set, epoch))) == 100
    assert epoch[0] != list(ResumableSampler(103, rank=0, world_size=4, seed=3).order(1))  # a new order each epoch

    sampler = ResumableSampler(103, rank=1, world_size=4, seed=3)
    first = list(sampler)  # one epoch: 25 per rank
    stream = iter(sampler)
    first += [next(stream) for _ in range(15)]  # part of the second
    state = json.loads(json.dumps(sampler.state_dict()))  # as a checkpoint would store it
    assert state["epoch"] == 1 and state["position"] == 15 and len(sampler) == 10
    expected = list(stream) + list(sampler)  # the rest of epoch 1, then epoch 2
    resumed = ResumableSampler(103, rank=1, world_size=4, seed=3)
    resumed.load_state_dict(state)
    assert list(resumed) + list(resumed) == expected and first[:25] == epoch[1]
    with pytest.raises(ValueError, match="another seed"):
        ResumableSampler(103, rank=1, world_size=4, seed=4).load_state_dict(state)


def test_a_domain_share_whose_sources_all_have_their_own_share_is_an_error():
    with pytest.raises(MixError, match="'clinical' names no source of its own"):
        source_targets({"mimic": 10, "web": 10}, {"mimic": "clinical", "web": "general"},
                       {"clinical": 5, "mimic": 5, "general": 20}, 100)
