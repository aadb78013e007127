"""Helpers for the trainer's tests: shard sets written directly, training configs, subprocess runs, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, write_manifest, write_shard


def write_shard_set(folder: Path, tokens: np.ndarray, index: np.ndarray, vocab_size: int = 2000,
                    tokenizer_sha256: str = "0" * 64, bos_id: int | None = 1, eos_id: int | None = 2) -> str:
    """One shard of `tokens` (sequences x seq_len) and its `index` rows, with a manifest."""
    entry = write_shard(folder, 0, tokens.astype("<u2"), index.astype(INDEX_DTYPE), ["web"])
    write_manifest(folder, ManifestHeader(split=folder.name, dtype="<u2", seq_len=tokens.shape[1],
                                          vocab_size=vocab_size, tokenizer_sha256=tokenizer_sha256, bos_id=bos_id,
                                          eos_id=eos_id, sources=["web"], seed=0, encoder="none: a test's"),
                   [entry])
    return str(folder)


@pytest.fixture(scope="session")
def walk_shards():
    """`walk_shards(folder, sequences, seed, documents=1, tokenizer_sha256=..., seq_len=64)`: sequences with
    structure to learn (a repeating walk), each cut into `documents` equal pieces in its index."""

    def make(folder: Path, sequences: int, seed: int, documents: int = 1, tokenizer_sha256: str = "0" * 64,
             seq_len: int = 64) -> str:
        starts = np.random.default_rng(seed).integers(0, 1900, sequences)
        tokens = (starts[:, None] + np.arange(seq_len)[None, :] * 3) % 1997 + 3
        piece = seq_len // documents
        index = np.array([(s, d * piece, piece, 0) for s in range(sequences) for d in range(documents)],
                         dtype=INDEX_DTYPE)
        return write_shard_set(folder, tokens, index, tokenizer_sha256=tokenizer_sha256)

    return make


@pytest.fixture(scope="session")
def write_config():
    """`write_config(path, data, **overrides)`: a small training config as YAML, its run_dir beside it."""

    def write(path: Path, data: dict, **overrides) -> Path:
        config = {"run_dir": str(path.parent / "run"), "model": {"size": "tiny"}, "data": data, "steps": 4,
                  "batch_size": 4, "optimizer": {"lr": 3e-3}, "eval_every": 4, "eval_sequences": 4,
                  "checkpoint_every": 4, "keep_checkpoints": 2} | overrides
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        return path

    return write


@pytest.fixture(scope="session")
def run_python():
    """`run_python(args)`: a Python subprocess with one thread per process; its CompletedProcess."""

    def run(args: list[str]) -> subprocess.CompletedProcess:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)

    return run


@pytest.fixture(scope="session")
def log_records():
    """`log_records(run_dir)`: the last record logged for each step (a resumed run logs steps again)."""

    def read(run_dir: Path) -> dict[int, dict]:
        records = {}
        for line in (run_dir / "log.jsonl").read_text().splitlines():
            record = json.loads(line)
            records[record["step"]] = record
        return records

    return read


@pytest.fixture(scope="session")
def pack_documents():
    """`pack_documents(folder, tokenizer, texts, seq_len, bos=True)`: the texts encoded (each with `</s>`, and
    `<s>` if `bos`), concatenated and cut into sequences, with an index row for each piece of a document."""

    def pack(folder: Path, tokenizer, texts: list[str], seq_len: int, bos: bool = True) -> str:
        ids, lengths = tokenizer.encode_documents(texts, bos=bos, eos=True)
        sequences = len(ids) // seq_len
        rows, position = [], 0
        for length in lengths:
            while length and position < sequences * seq_len:
                sequence, start = divmod(position, seq_len)
                piece = min(int(length), seq_len - start)
                rows.append((sequence, start, piece, 0))
                position, length = position + piece, length - piece
        return write_shard_set(folder, ids[:sequences * seq_len].reshape(sequences, seq_len), np.array(rows, dtype=INDEX_DTYPE),
                               tokenizer.vocab_size, tokenizer.sha256, tokenizer.bos_id if bos else None,
                               tokenizer.eos_id)

    return pack


@pytest.fixture(scope="session")
def benchmark_items():
    """`benchmark_items(folder, count)`: `count` generated MedQA-style and PubMedQA items (words the small
    tokenizer knows), each kind written twice: as medmix reads it (`mcq_jsonl`; `pubmedqa`'s ori_pqal.json
    layout) and as lm-eval's medqa_4options and pubmedqa tasks read it. Returns {kind: (medmix path, lm-eval path)}."""
    words = "the patient was seen today with chest pain and shortness of breath after surgery".split()

    def sentence(rng, low: int, high: int) -> str:
        return " ".join(rng.choice(words, rng.integers(low, high)))

    def write(folder: Path, count: int) -> dict[str, tuple[Path, Path]]:
        rng = np.random.default_rng(7)
        folder.mkdir(parents=True, exist_ok=True)
        mcq, medqa, pqal, pubmedqa = [], [], {}, []
        for number in range(count):
            question, options = sentence(rng, 4, 12) + "?", [sentence(rng, 1, 5) for _ in range(4)]
            gold = int(rng.integers(4))
            mcq.append({"realidx": f"q{number}", "question": question, "options": dict(zip("ABCD", options)),
                        "answer_idx": "ABCD"[gold]})
            medqa.append({"sent1": question, **{f"ending{k}": text for k, text in enumerate(options)}, "label": gold})
            contexts = [sentence(rng, 5, 20) + "." for _ in range(int(rng.integers(1, 4)))]
            row = {"QUESTION": sentence(rng, 4, 10) + "?", "CONTEXTS": contexts,
                   "final_decision": str(rng.choice(["yes", "no", "maybe"]))}
            pqal[str(1000 + number)] = row
            pubmedqa.append(row)
        paths = {"medqa": (folder / "medqa.jsonl", folder / "medqa.lm_eval.jsonl"),
                 "pubmedqa": (folder / "ori_pqal.json", folder / "pubmedqa.lm_eval.jsonl")}
        paths["medqa"][0].write_text("".join(json.dumps(row) + "\n" for row in mcq))
        paths["pubmedqa"][0].write_text(json.dumps(pqal))
        for name, rows in (("medqa", medqa), ("pubmedqa", pubmedqa)):
            paths[name][1].write_text("".join(json.dumps(row) + "\n" for row in rows))
        return paths

    return write
