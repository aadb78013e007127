"""Shared fixtures: the real samples in ../shared/data, and a way to run one step and read its books."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDMIX_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real public samples; tests that need them skip, with the reason, where they are absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED} (set MEDMIX_SHARED_DATA)")
    return SHARED


@dataclass
class StepResult:
    docs: list
    ledger: list[dict]
    removed: list[dict]

    def count(self, outcome: str, reason: str = "") -> int:
        return sum(r["docs"] for r in self.ledger if r["outcome"] == outcome and (not reason or r["reason"] == reason))

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.ledger:
            if row["outcome"] == "removed":
                out[row["reason"]] = out.get(row["reason"], 0) + row["docs"]
        return out


def read_books(stage_dir: Path) -> tuple[list[dict], list[dict]]:
    ledger = [row for path in sorted(stage_dir.glob("ledger/*.parquet")) for row in pq.read_table(path).to_pylist()]
    removed = [json.loads(line) for path in sorted(stage_dir.glob("removed/*/*.jsonl.gz"))
               for line in gzip.open(path, "rt")]
    return ledger, removed


@pytest.fixture
def run_step(tmp_path):
    """Run a step (reader or document step) over `data` in one task; return its docs and its books."""

    def run(step, data=None) -> StepResult:
        docs = list(step.run(data, 0, 1))
        ledger, removed = read_books(step.stage_dir)
        return StepResult(docs, ledger, removed)

    return run


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory) -> Path:
    """A 300-piece SentencePiece BPE model trained on clinical-sounding word salad: seconds to build."""
    from medmix.tokenize.tokenizer import train_demo_tokenizer

    words = "the patient was seen today with chest pain and shortness of breath after surgery".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, 40)) for _ in range(300)]
    return train_demo_tokenizer(texts, tmp_path_factory.mktemp("tok") / "small.model", vocab_size=300)
