"""The forgetting experiment at toy scale: does general-domain replay limit catastrophic forgetting?

1. Pre-train a tiny LLaMA on general text (the demo generator's web pages).
2. Continue it twice on medical text (literature and clinical notes): with 0% and with 20% general replay.
3. Compare general and medical validation loss before and after, and plot the curves.

Everything is generated here (text, tokenizer, shards), so it runs anywhere on CPU in a few minutes.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from medmix.corpus.demo_data import clinical_note, paragraph, web_page
from medmix.rundir import RunDir
from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, write_manifest, write_shard
from medmix.tokenize.tokenizer import Tokenizer, train_demo_tokenizer
from medmix.train.config import TrainConfig
from medmix.train.loop import train

SEQ_LEN = 128


def texts(seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {"general": [web_page(rng) for _ in range(1500)],
            "medical": [paragraph(rng, 6) for _ in range(700)] + [clinical_note(rng, False) for _ in range(700)]}


def pack(folder: Path, tokenizer: Tokenizer, parts: dict[str, list[str]], tokens_per_part: dict[str, int]) -> str:
    """A shard set holding `tokens_per_part[name]` tokens of each part's documents (repeated if needed)."""
    sources = sorted(parts)
    streams = []
    for number, name in enumerate(sources):
        ids = np.concatenate([np.asarray([tokenizer.bos_id, *doc, tokenizer.eos_id], dtype="<u2")
                              for doc in tokenizer.encode_batch(parts[name])])
        want = tokens_per_part[name] // SEQ_LEN * SEQ_LEN
        streams.append((number, np.resize(ids, want).reshape(-1, SEQ_LEN)))
    rows = np.concatenate([s for _, s in streams])
    source_of = np.concatenate([np.full(len(s), n) for n, s in streams])
    order = np.random.default_rng(0).permutation(len(rows))
    index = np.array([(i, 0, SEQ_LEN, source_of[j]) for i, j in enumerate(order)], dtype=INDEX_DTYPE)
    entry = write_shard(folder, 0, rows[order], index, sources)
    header = ManifestHeader(split=folder.name, dtype="<u2", seq_len=SEQ_LEN, vocab_size=tokenizer.vocab_size,
                            tokenizer_sha256=tokenizer.sha256, bos_id=tokenizer.bos_id, eos_id=tokenizer.eos_id,
                            sources=sources, seed=0, encoder=tokenizer.encoder.name)
    write_manifest(folder, header, [entry])
    return str(folder)


def run_forgetting(out: Path, pretrain_steps: int = 300, continue_steps: int = 200,
                   on_step: Callable[[], None] = lambda: None) -> dict:
    """Runs from scratch each time: earlier results in `out` are replaced, not resumed. `on_step()` is called
    after each of the `pretrain_steps + 2 * continue_steps` training steps."""
    for name in ("pretrain", "replay_0", "replay_20", "shards"):
        shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    train_texts, held_out = texts(0), texts(1)
    tokenizer = Tokenizer(train_demo_tokenizer(train_texts["general"] + train_texts["medical"],
                                               out / "tokenizer.model", vocab_size=2000))
    budget = (continue_steps + 10) * 8 * SEQ_LEN
    data = {
        "general": pack(out / "shards" / "general", tokenizer, {"general": train_texts["general"]},
                        {"general": (pretrain_steps + 10) * 8 * SEQ_LEN}),
        "replay_0": pack(out / "shards" / "replay_0", tokenizer, {"medical": train_texts["medical"]},
                         {"medical": budget}),
        "replay_20": pack(out / "shards" / "replay_20", tokenizer, train_texts,
                          {"medical": int(budget * 0.8), "general": int(budget * 0.2)}),
    }
    validation = {name: pack(out / "shards" / f"valid_{name}", tokenizer, {name: held_out[name][:100]},
                             {name: 32 * SEQ_LEN}) for name in ("general", "medical")}

    def config(name: str, train_set: str, steps: int, lr: float, start: str | None) -> TrainConfig:
        model = {"hf_checkpoint": start, "size": None} if start else {"size": "tiny"}
        return TrainConfig.model_validate({
            "run_dir": str(out / name), "model": model, "steps": steps, "batch_size": 8,
            "data": {"train": train_set, "validation": validation, "tokenizer": str(tokenizer.path)},
            "optimizer": {"lr": lr, "weight_decay": 0.0},
            "eval_every": max(1, steps // 10), "eval_sequences": 32, "checkpoint_every": steps, "save_hf": True})

    train(config("pretrain", data["general"], pretrain_steps, 3e-3, None), lambda _: on_step())
    start = str(out / "pretrain" / "hf")
    for name in ("replay_0", "replay_20"):
        train(config(name, data[name], continue_steps, 1e-3, start), lambda _: on_step())
    return summarize(out)


def curve(run_dir: Path) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "val_loss/general" in r]


def summarize(out: Path) -> dict:
    before = curve(out / "pretrain")[-1]
    rows = []
    for name, label in (("replay_0", "0% general replay"), ("replay_20", "20% general replay")):
        after = curve(out / name)[-1]
        rows.append({"run": label,
                     "general_before": round(before["val_loss/general"], 3),
                     "general_after": round(after["val_loss/general"], 3),
                     "medical_before": round(before["val_loss/medical"], 3),
                     "medical_after": round(after["val_loss/medical"], 3)})
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    (out / "forgetting.svg").write_text(plot(out))
    return {"rows": rows, "plot": str(out / "forgetting.svg")}


def plot(out: Path) -> str:
    """Validation loss against tokens seen during continued training: general and medical, both runs."""
    width, height, pad = 560, 300, 40
    series = [(f"{name} {domain}", colour, dash, [(r["tokens"], r[f"val_loss/{domain}"]) for r in curve(out / name)])
              for name, dash in (("replay_0", ""), ("replay_20", "6,4"))
              for domain, colour in (("general", "#d1495b"), ("medical", "#2f6fde"))]
    xs = [x for *_, points in series for x, _ in points]
    ys = [y for *_, points in series for _, y in points]
    def sx(x): return pad + (x - min(xs)) / (max(xs) - min(xs) or 1) * (width - 2 * pad)  # noqa: E704
    def sy(y): return height - pad - (y - min(ys)) / (max(ys) - min(ys) or 1) * (height - 2 * pad)  # noqa: E704
    parts = [f'<text x="{pad}" y="16" font-size="12">validation loss vs tokens seen (solid: 0% replay, '
             f'dashed: 20% replay; red: general, blue: medical) {min(ys):.2f}..{max(ys):.2f}</text>']
    for label, colour, dash, points in series:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                     f'stroke-dasharray="{dash}"><title>{label}</title></polyline>')
    return f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def demo_train_config(run: RunDir, train_dir: Path) -> TrainConfig:
    """`medmix demo`'s short run of the tiny model on the demo shards, with the forgetting curves' validation
    sets (one per domain)."""
    return TrainConfig.model_validate({
        "run_dir": str(train_dir.resolve()), "model": {"size": "tiny"}, "steps": 30, "batch_size": 4,
        "optimizer": {"lr": 3e-3}, "eval_every": 10, "eval_sequences": 8, "checkpoint_every": 10,
        "data": {"train": str(run.shard_set("train").resolve()),
                 "validation": {p.name.removeprefix("valid_"): str(p.resolve()) for p in run.validation_sets()}}})
