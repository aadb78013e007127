"""Cross-source dedup on real text: exact, near-duplicate and containment, run as the real sharded phases."""

import csv
import glob
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from medmix.corpus.minhash import lsh_bands, shingles
from medmix.corpus.readers.pmc import PmcReader
from medmix.corpus.readers.pubmed import PubmedReader
from medmix.corpus.stages.dedup import (
    DedupBuckets,
    DedupClusters,
    DedupFilter,
    DedupSettings,
    DedupSignatures,
    DedupVerify,
)


def run_dedup(tmp_path: Path, shards: list[list[Document]], priority: list[str], threshold: float = 0.8):
    """All five phases in-process, `len(shards)` tasks; returns (kept ids per task, removed records)."""
    bands, rows = lsh_bands(threshold, 128)
    settings = DedupSettings(tmp_path / "work", len(shards), threshold, 5, 128, bands, rows, priority,
                             True, 0.8, 64)
    tasks = len(shards)

    def drain(generator):
        for _ in generator:
            pass

    for rank, docs in enumerate(shards):
        drain(DedupSignatures(settings).run(iter(docs), rank, tasks))
    for rank in range(tasks):
        drain(DedupBuckets(settings).run(None, rank, tasks))
    for rank, docs in enumerate(shards):
        drain(DedupVerify(settings).run(iter(docs), rank, tasks))
    drain(DedupClusters(settings).run(None, 0, 1))
    kept = []
    for rank, docs in enumerate(shards):
        step = DedupFilter(tmp_path / "stage", "dedup", settings)
        kept.append([d.id for d in step.run(iter(docs), rank, tasks)])
    removed = [json.loads(line) for path in sorted((tmp_path / "stage").glob("removed/*/*.jsonl.gz"))
               for line in gzip.open(path, "rt")]
    return kept, removed


def document(text: str, doc_id: str, source: str, text_type: str = "", pmid: str | None = None) -> Document:
    metadata = {"source": source, "domain": "x", "text_type": text_type}
    if pmid:
        metadata["pmid"] = pmid
    return Document(text=text, id=doc_id, metadata=metadata)


@pytest.fixture(scope="module")
def pmc_articles(shared, tmp_path_factory):
    files = sorted(glob.glob(str(shared / "pmc" / "*.nxml")))
    reader = PmcReader(tmp_path_factory.mktemp("pmc"), "read", source="pmc", domain="biomedical", files=files)
    return list(reader.run(None, 0, 1))


@pytest.fixture(scope="module")
def transcriptions(shared):
    with open(shared / "clinical" / "mtsamples_first401_noheader.csv", newline="") as handle:
        rows = [row[4] for row in csv.reader(handle) if len(row) > 4 and len(row[4].split()) > 200]
    return rows[:40]


def edited(text: str, fraction: float, seed: int) -> str:
    """The text with a fraction of its words replaced."""
    rng = random.Random(seed)
    words = text.split()
    for index in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[index] = rng.choice(["alpha", "beta", "gamma", "delta"])
    return " ".join(words)


def jaccard(a: str, b: str) -> float:
    first, second = set(shingles(a, 5).tolist()), set(shingles(b, 5).tolist())
    return len(first & second) / len(first | second)


def test_exact_and_near_duplicates_across_sources_and_tasks(tmp_path, pmc_articles, transcriptions):
    article = pmc_articles[0]
    note = transcriptions[0]
    near = edited(note, 0.01, seed=1)
    far = edited(transcriptions[1], 0.12, seed=2)
    assert jaccard(note, near) > 0.9 and jaccard(transcriptions[1], far) < 0.6
    shards = [
        [article, document(note, "mt-1", "mtsamples")] + [document(t, f"mt-{i}", "mtsamples")
                                                         for i, t in enumerate(transcriptions[1:20], start=2)],
        [document(article.text, "web-copy", "web"), document(near, "mimic-near", "mimic3"),
         document(far, "mt-far", "web")] + pmc_articles[1:],
    ]
    kept, removed = run_dedup(tmp_path, shards, priority=["pmc", "mimic3", "mtsamples", "web"])
    reasons = {r["id"]: (r["reason"], r["detail"]) for r in removed}
    assert reasons["web-copy"][0] == "exact_duplicate" and f"{article.id} (pmc)" in reasons["web-copy"][1]
    # the MIMIC copy outranks mtsamples in the recipe's priority, so the mtsamples original goes
    assert reasons["mt-1"][0] == "near_duplicate" and "mimic-near (mimic3)" in reasons["mt-1"][1]
    assert set(reasons) == {"web-copy", "mt-1"}  # a 12%-edited copy (Jaccard < 0.6) is not a duplicate
    assert "mt-far" in kept[1] and article.id in kept[0]


def test_full_text_beats_abstract_then_longer_text_wins(tmp_path, transcriptions):
    base = transcriptions[2]
    shards = [[document(base, "abstract", "lit", "abstract"), document(base, "full", "lit", "full_text")],
              [document(base + " One more closing sentence here.", "longer", "notes"),
               document(base, "shorter", "notes")]]
    kept, removed = run_dedup(tmp_path, shards, priority=["lit", "notes"])
    assert kept == [["full"], []]
    assert {r["id"]: r["reason"] for r in removed} == {"abstract": "exact_duplicate", "longer": "near_duplicate",
                                                        "shorter": "exact_duplicate"}


def abstract_as_in_pubmed(article: Document) -> str:
    """PubMed's record of a PMC article: title, then the structured abstract with 'LABEL: ' prefixes."""
    paragraphs = article.text.split("\n\n")  # title, "Abstract", then heading/paragraph pairs
    sections = paragraphs[2:8]  # Background, Methodology, Conclusions/Significance of PMC1790863
    labelled = [f"{label.upper()}: {body}" for label, body in zip(sections[0::2], sections[1::2])]
    return paragraphs[0] + "\n\n" + "\n".join(labelled)


def test_a_pubmed_abstract_contained_in_its_pmc_full_text_is_removed(shared, tmp_path, pmc_articles):
    article = next(a for a in pmc_articles if a.id == "PMC1790863")
    pubmed = list(PubmedReader(tmp_path / "read", "read", source="pubmed", domain="biomedical",
                               files=[str(shared / "pubmed" / "pubmedsample18n0001.xml.gz")]).run(None, 0, 1))
    own_abstract = document(abstract_as_in_pubmed(article), "17299597", "pubmed", "abstract", pmid="17299597")
    assert article.text.split("\n\n")[6] == "Conclusions/Significance"
    # a record with the same PMID but another text (a wrong link): containment fails, it stays
    other = next(a for a in pmc_articles if a.id != article.id)
    mislinked = document(abstract_as_in_pubmed(other), "mislinked", "pubmed", "abstract", pmid="17299597")
    shards = [pmc_articles, [own_abstract, mislinked] + pubmed]
    kept, removed = run_dedup(tmp_path, shards, priority=["pmc", "pubmed"])
    reasons = {r["id"]: (r["reason"], r["detail"]) for r in removed}
    assert reasons.pop("17299597")[0] == "contained_in_full_text"
    assert "of its shingles are in PMC1790863 (pmc)" in [r for r in removed if r["id"] == "17299597"][0]["detail"]
    # the sample's one real near-duplicate: an erratum that repeats the abstract of PMID 11524736
    assert list(reasons) == ["11748851"] and reasons["11748851"][0] == "near_duplicate"
    assert reasons["11748851"][1] == "near-duplicate of 11524736 (pubmed), Jaccard 0.97"
    assert len(kept[1]) == len(pubmed)  # the mislinked record and every other real abstract survive
    assert kept[0] == [a.id for a in pmc_articles]


def test_same_decisions_with_one_task_or_three(tmp_path, pmc_articles, transcriptions):
    docs = [document(t, f"mt-{i}", "mtsamples") for i, t in enumerate(transcriptions)]
    docs += [document(edited(t, 0.01, i), f"copy-{i}", "web") for i, t in enumerate(transcriptions[:10])]
    docs += pmc_articles
    _, one = run_dedup(tmp_path / "one", [docs], priority=["mtsamples", "web", "pmc"])
    _, three = run_dedup(tmp_path / "three", [docs[0::3], docs[1::3], docs[2::3]],
                         priority=["mtsamples", "web", "pmc"])
    assert sorted(r["id"] for r in one) == sorted(r["id"] for r in three) == sorted(f"copy-{i}" for i in range(10))


def test_work_files_are_streamed_per_task_and_only_candidates_keep_shingles(tmp_path, transcriptions):
    docs = [document(t, f"mt-{i}", "mtsamples") for i, t in enumerate(transcriptions)]
    docs.append(document(edited(transcriptions[0], 0.01, 3), "copy", "mtsamples"))
    run_dedup(tmp_path, [docs], ["mtsamples"])
    work = tmp_path / "work"
    assert (work / "bands" / "000" / "00000.bin").stat().st_size == len(docs) * 16  # (band key, doc key) each
    assert np.load(work / "shingles" / "00000.index.npy")[:, 0].tolist() == [0, len(docs) - 1]
    docs = pq.read_table(work / "docs" / "00000.parquet")
    assert docs.num_rows == len(transcriptions) + 1 and docs.column("id").to_pylist()[0] == "mt-0"
    assert not list(work.rglob(".*.tmp"))  # every file was completed and renamed


def test_the_filter_refuses_an_input_that_changed_since_the_signatures(tmp_path, transcriptions):
    from medmix.corpus.stages.dedup import InputChanged

    docs = [document(t, f"mt-{i}", "mtsamples") for i, t in enumerate(transcriptions[:5])]
    docs.append(document(transcriptions[0], "copy", "web"))
    run_dedup(tmp_path, [docs], ["mtsamples", "web"])
    bands, rows = lsh_bands(0.8, 128)
    settings = DedupSettings(tmp_path / "work", 1, 0.8, 5, 128, bands, rows, ["mtsamples", "web"], True, 0.8, 64)
    reordered = [docs[-1], *docs[:-1]]  # e.g. a reader whose file order changed between phases
    with pytest.raises(InputChanged, match="position 5 held 'copy', now 'mt-4'"):
        list(DedupFilter(tmp_path / "again", "dedup", settings).run(iter(reordered), 0, 1))
