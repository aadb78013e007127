"""Dedup quality in `make test` (issue 13): `benchmarks/dedup_quality.py`'s near-duplicates of real text, planted
by editing until a drawn exact Jaccard, run through the real phases 1-4; the ground truth is the exact 5-gram
Jaccard of every pair. The benchmark runs 300 base chunks; this test a third of them, with 2 tasks."""

import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import dedup_quality as bench  # noqa: E402  (benchmarks/dedup_quality.py)


def test_dedup_keeps_every_true_pair_and_removes_exactly_the_extra_copies(shared, tmp_path):
    rng = random.Random(13)
    docs = bench.plant(bench.base_documents(bench.read_sources(shared), 100, rng), rng)
    exact_j = bench.exact_jaccard_matrix([bench.shingle_set(d["text"]) for d in docs])
    upper = np.triu(np.ones(exact_j.shape, dtype=bool), k=1)
    truth = upper & (exact_j >= 0.8)
    assert 50 < truth.sum() < upper.sum() // 10  # planted duplicates, among many more pairs that are not
    result = bench.run_medmix(docs, 0.8, 2, exact_j, scratch=tmp_path)
    precision, recall = bench.scores(result["verified"], truth)[3:]
    assert precision >= bench.PAIRS_TARGET and recall >= bench.PAIRS_TARGET, (precision, recall)
    precision, recall, _, should = bench.document_scores(result["removed"], bench.clusters_of(np.argwhere(truth), len(docs)))
    assert should > 0 and precision == recall == bench.DOCUMENTS_TARGET, (precision, recall)
