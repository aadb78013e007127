"""The forgetting experiment at toy scale: how much general-domain replay does medical continual pre-training need?

1. Pre-train a tiny LLaMA on general text, once per seed.
2. Continue each on medical text with 0%, 5%, 10%, 20% and 40% general replay under Me-LLaMA's schedule
   (re-warm, then cosine re-decay), and at 20% also with a constant learning rate and a final cooldown.
3. Report general and medical validation loss before and after, as mean ± sd over the seeds, and plot
   general against medical loss after: the trade-off frontier.

The text is real when the shared sample data is there (`MEDMIX_SHARED_DATA`, else `../shared/data` next to
the repository): general text from WikiText, Common Crawl and NLTK's corpora, medical text from PubMed,
PMC, mtsamples and PhysioNet's nursing notes, read by medmix's own source readers. Without it the text
is generated (`corpus/demo_data.py`), and the results say so. Held-out validation text shares no document
(no patient, for the PhysioNet notes) with training text. Runs go to a pool of single-threaded processes:
a model this small trains faster on one thread, and two of them use a 2-core machine.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import random
import shutil
import statistics
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from medmix.corpus.demo_data import clinical_note, paragraph, web_page
from medmix.rundir import RunDir
from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, write_manifest, write_shard
from medmix.tokenize.tokenizer import Tokenizer, train_demo_tokenizer
from medmix.train.config import TrainConfig

SEQ_LEN = 128
BATCH_SIZE = 8
VALID_SEQUENCES = 128  # per domain: 16k tokens, the same for every run
HELD_OUT = 0.1  # of each source's documents (at least one)
PRETRAIN_LR, CONTINUE_LR = 3e-3, 1e-3
DOMAINS = ("general", "medical")

MTSAMPLES_COLUMNS = ["index", "description", "medical_specialty", "sample_name", "transcription", "keywords"]
# source: (recipe domain, format, files under the shared folder, reader options), read by `reader_for`;
# the biomedical and clinical domains make the medical text
READER_SOURCES = {
    "wikitext": ("general", "jsonl", "general/wikitext2_valid_test_articles.jsonl", {}),
    "common_crawl": ("general", "jsonl", "general/cc_en_head-*.jsonl", {}),
    "pubmed": ("biomedical", "pubmed_xml", "pubmed/*.xml*", {}),
    "pmc": ("biomedical", "pmc_jats", "pmc/*.nxml", {}),
    "mtsamples": ("clinical", "csv", "clinical/mtsamples_first401_noheader.csv",
                  {"text_column": "transcription", "id_column": "index", "columns": MTSAMPLES_COLUMNS}),
}
NLTK_CORPORA = ("abc", "webtext", "state_union", "inaugural")  # general/<name>.zip
PHYSIONET_NOTES = "phi/physionet_deid_dev/id.text"


@dataclass(frozen=True)
class Setting:
    """One point of the sweep: the share of general text in the continued training, and the schedule."""

    replay: float
    schedule: str = "cosine"  # train/config.py's ScheduleConfig.kind

    @property
    def name(self) -> str:
        return f"replay_{round(self.replay * 100)}_{self.schedule}"

    @property
    def label(self) -> str:
        schedule = "re-warm cosine" if self.schedule == "cosine" else "constant + cooldown"
        return f"{self.replay:.0%} replay, {schedule}"


SWEEP = [*(Setting(replay) for replay in (0.0, 0.05, 0.1, 0.2, 0.4)), Setting(0.2, "constant_cooldown")]

Split = dict[str, dict[str, list[str]]]  # domain -> source -> documents


@dataclass
class Corpus:
    description: str  # which text it is, for the results and the plot
    train: Split
    held_out: Split


def shared_data_folder() -> Path:
    """Where the shared samples are: `MEDMIX_SHARED_DATA`, else `../shared/data` next to the repository."""
    return Path(os.environ.get("MEDMIX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def missing_files(shared: Path) -> list[str]:
    wanted = [path for _, _, path, _ in READER_SOURCES.values()] + [PHYSIONET_NOTES] + \
             [f"general/{name}.zip" for name in NLTK_CORPORA]
    return [path for path in wanted if not glob.glob(str(shared / path))]


def read_with_reader(shared: Path, name: str) -> list[tuple[str, str]]:
    """(id, text) of one source's documents, read as a recipe source is (the readers' checks included)."""
    from pydantic import TypeAdapter

    from medmix.corpus.readers import reader_for
    from medmix.corpus.recipe import Source

    domain, fmt, path, options = READER_SOURCES[name]
    source = TypeAdapter(Source).validate_python({"name": name, "domain": domain, "format": fmt, "paths": [path],
                                                  "deidentified": True, "options": options})
    with tempfile.TemporaryDirectory() as books:  # the readers account for what they read; not needed here
        return [(str(doc.id), doc.text) for doc in
                reader_for(source, sorted(glob.glob(str(shared / path))), books, "read").run()]


def read_nltk(archive_path: Path) -> list[tuple[str, str]]:
    """One document per text file, except ABC's two files of news stories, one story per blank-line block.
    NLTK's files are not all UTF-8; those that are not are Windows-1252."""
    documents = []
    with zipfile.ZipFile(archive_path) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".txt")):
            raw = archive.read(name)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", "replace")
            pieces = text.split("\n\n") if archive_path.stem == "abc" else [text]
            documents += [(f"{name}:{number}", piece) for number, piece in enumerate(pieces) if piece.strip()]
    return documents


def read_physionet(path: Path) -> list[tuple[str, str]]:
    """(patient, note): a patient's notes share a unit, so they stay together on one side of the split."""
    from medmix.corpus.phi.gold import read_physionet_notes

    return [(key.split("-")[0], text) for key, text in read_physionet_notes(path).items()]


def split(documents: list[tuple[str, str]], seen: set[str]) -> tuple[list[str], list[str]]:
    """Training and held-out texts of one source. Units (a document, or all notes of one patient) are ordered
    by a hash of their id and the first `HELD_OUT` of them, at least one, are held out. A text seen before,
    here or in another source (mtsamples repeats samples under several specialties), is dropped."""
    units: dict[str, list[str]] = {}
    for unit, text in documents:
        if text.strip() and text.strip() not in seen:
            seen.add(text.strip())
            units.setdefault(unit, []).append(text)
    order = sorted(units, key=lambda unit: hashlib.sha256(unit.encode()).hexdigest())
    held = max(1, round(HELD_OUT * len(order)))
    return [t for unit in order[held:] for t in units[unit]], [t for unit in order[:held] for t in units[unit]]


def real_corpus(shared: Path) -> Corpus:
    sources = {name: ("general" if domain == "general" else "medical", read_with_reader(shared, name))
               for name, (domain, *_) in READER_SOURCES.items()}
    sources |= {f"nltk_{name}": ("general", read_nltk(shared / "general" / f"{name}.zip")) for name in NLTK_CORPORA}
    sources["physionet_notes"] = ("medical", read_physionet(shared / PHYSIONET_NOTES))
    train: Split = {domain: {} for domain in DOMAINS}
    held_out: Split = {domain: {} for domain in DOMAINS}
    seen: set[str] = set()
    for name, (domain, documents) in sources.items():
        train[domain][name], held_out[domain][name] = split(documents, seen)
    return Corpus(f"real text ({shared})", train, held_out)


def generated_corpus(reason: str) -> Corpus:
    """The demo generator's web pages, abstracts and clinical notes; held-out text from another seed."""
    def texts(seed: int, count: int) -> Split:
        rng = random.Random(seed)
        return {"general": {"web_pages": [web_page(rng) for _ in range(2 * count)]},
                "medical": {"literature": [paragraph(rng, 6) for _ in range(count)],
                            "clinical_notes": [clinical_note(rng, False) for _ in range(count)]}}

    return Corpus(f"generated text ({reason})", texts(0, 700), texts(1, 100))


def load_corpus(shared: Path) -> Corpus:
    """Real text when every shared file is there, else generated text, saying what is missing."""
    if missing := missing_files(shared):
        return generated_corpus(f"no {', '.join(missing)} in {shared}; set MEDMIX_SHARED_DATA")
    return real_corpus(shared)


def token_stream(tokenizer: Tokenizer, documents: list[str], seed: int) -> np.ndarray:
    """The documents in a seeded order, each wrapped in <s> ... </s>, as one array."""
    order = random.Random(seed).sample(documents, len(documents))
    return tokenizer.encode_documents(order, bos=True, eos=True)[0]


def pack(folder: Path, tokenizer: Tokenizer, parts: dict[str, np.ndarray]) -> str:
    """A shard set of each part's tokens cut into `SEQ_LEN` sequences (a partial last one dropped), shuffled
    together; the index names each sequence's part as its source."""
    sources = sorted(parts)
    rows = [parts[name][:len(parts[name]) // SEQ_LEN * SEQ_LEN].reshape(-1, SEQ_LEN) for name in sources]
    source_of = np.concatenate([np.full(len(r), number) for number, r in enumerate(rows)])
    order = np.random.default_rng(0).permutation(len(source_of))
    index = np.array([(i, 0, SEQ_LEN, source_of[j]) for i, j in enumerate(order)], dtype=INDEX_DTYPE)
    entry = write_shard(folder, 0, np.concatenate(rows)[order], index, sources)
    header = ManifestHeader(split=folder.name, dtype=tokenizer.dtype.str, seq_len=SEQ_LEN,
                            vocab_size=tokenizer.vocab_size, tokenizer_sha256=tokenizer.sha256,
                            bos_id=tokenizer.bos_id, eos_id=tokenizer.eos_id, sources=sources, seed=0,
                            encoder=tokenizer.encoder.name)
    write_manifest(folder, header, [entry])
    return str(folder)


def validation_parts(tokenizer: Tokenizer, corpus: Corpus, domain: str) -> dict[str, np.ndarray]:
    """`VALID_SEQUENCES` of held-out text, each source in its share of the domain's training text (by
    characters; at least one sequence, at most what it holds out): the validation loss is the training mix's."""
    sizes = {source: sum(map(len, docs)) for source, docs in corpus.train[domain].items()}
    parts = {}
    for source, docs in corpus.held_out[domain].items():
        sequences = max(1, round(VALID_SEQUENCES * sizes[source] / sum(sizes.values())))
        parts[source] = token_stream(tokenizer, docs, 0)[:sequences * SEQ_LEN]
    return parts


def prepare(out: Path, corpus: Corpus, settings: list[Setting], pretrain_steps: int, continue_steps: int) -> dict:
    """The tokenizer (trained on the training text) and every shard set; returns their paths and a description
    of the data: documents per source, tokens per domain, and how many passes the runs make over them."""
    everything = [doc for domain in DOMAINS for docs in corpus.train[domain].values() for doc in docs]
    tokenizer = Tokenizer(train_demo_tokenizer(everything, out / "tokenizer.model", vocab_size=2000))
    streams = {domain: token_stream(tokenizer, [d for docs in corpus.train[domain].values() for d in docs], 0)
               for domain in DOMAINS}
    tokens_per_step = BATCH_SIZE * SEQ_LEN
    pretrain_tokens, budget = (pretrain_steps + 1) * tokens_per_step, (continue_steps + 1) * tokens_per_step
    shards = {"pretrain": pack(out / "shards" / "pretrain", tokenizer,
                               {"general": np.resize(streams["general"], pretrain_tokens)})}
    for replay in sorted({s.replay for s in settings}):
        general = round(budget * replay)  # replay: text of the pre-training stream, from its start
        parts = {"medical": np.resize(streams["medical"], budget - general), "general": streams["general"][:general]}
        shards[f"replay_{round(replay * 100)}"] = pack(out / "shards" / f"replay_{round(replay * 100)}", tokenizer,
                                                       {name: part for name, part in parts.items() if len(part)})
    validation = {domain: pack(out / "shards" / f"valid_{domain}", tokenizer,
                               validation_parts(tokenizer, corpus, domain)) for domain in DOMAINS}
    data = {"text": corpus.description, "training_tokens": {domain: len(streams[domain]) for domain in DOMAINS},
            "medical_passes_without_replay": round(budget / len(streams["medical"]), 2),
            "pretraining_passes": round(pretrain_tokens / len(streams["general"]), 2),
            "sources": {domain: {source: {"train_documents": len(corpus.train[domain][source]),
                                          "held_out_documents": len(corpus.held_out[domain][source])}
                                 for source in corpus.train[domain]} for domain in DOMAINS}}
    return {"tokenizer": str(tokenizer.path), "shards": shards, "validation": validation, "data": data}


def run_config(out: Path, prepared: dict, name: str, seed: int, steps: int, setting: Setting | None) -> TrainConfig:
    """Pre-training (`setting` None) from a seeded initialisation, or continued training from that seed's
    pre-trained weights; evaluated before the first step and after every fifth of the run."""
    if setting is None:
        model, shards, lr, schedule = {"size": "tiny", "init_seed": seed}, prepared["shards"]["pretrain"], \
            PRETRAIN_LR, "cosine"
    else:
        model = {"hf_checkpoint": str(out / "runs" / f"pretrain_seed{seed}" / "hf"), "size": None}
        shards, lr, schedule = prepared["shards"][f"replay_{round(setting.replay * 100)}"], CONTINUE_LR, \
            setting.schedule
    return TrainConfig.model_validate({
        "run_dir": str(out / "runs" / f"{name}_seed{seed}"), "model": model, "steps": steps, "seed": seed,
        "batch_size": BATCH_SIZE, "optimizer": {"lr": lr, "weight_decay": 0.0}, "schedule": {"kind": schedule},
        "data": {"train": shards, "validation": prepared["validation"], "tokenizer": prepared["tokenizer"]},
        "eval_every": max(1, steps // 5), "eval_sequences": VALID_SEQUENCES, "checkpoint_every": steps,
        "save_hf": setting is None})


_steps_done = None  # a worker's handle on the pool's shared step counter


def start_worker(counter) -> None:
    """One thread per worker: at this size, threads cost more in synchronisation than they gain."""
    import torch

    global _steps_done
    torch.set_num_threads(1)
    _steps_done = counter


def train_in_worker(config: TrainConfig) -> None:
    from medmix.train.loop import train

    def count(_step: int) -> None:
        with _steps_done.get_lock():
            _steps_done.value += 1

    train(config, count)


def run_forgetting(out: Path, shared: Path | None = None, settings: list[Setting] = SWEEP, seeds: int = 3,
                   pretrain_steps: int = 1000, continue_steps: int = 500, workers: int = 2,
                   on_progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """Runs from scratch each time: earlier results in `out` are replaced, not resumed. `on_progress(done,
    total)` is called with the training steps done so far, as runs progress. The workers are spawned, so a
    script calling this needs the `if __name__ == "__main__":` guard."""
    for name in ("runs", "shards"):
        shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(shared or shared_data_folder())
    prepared = prepare(out, corpus, settings, pretrain_steps, continue_steps)
    total = seeds * (pretrain_steps + len(settings) * continue_steps)
    context = get_context("spawn")  # a fresh interpreter per worker: no forked torch threads
    counter = context.Value("q", 0)
    with ProcessPoolExecutor(workers, context, initializer=start_worker, initargs=(counter,)) as pool:
        pending: dict[Future, int | None] = {  # a pre-training run's future -> its seed
            pool.submit(train_in_worker, run_config(out, prepared, "pretrain", seed, pretrain_steps, None)): seed
            for seed in range(seeds)}
        while pending:
            finished, _ = wait(pending, timeout=1, return_when=FIRST_COMPLETED)
            on_progress(counter.value, total)
            for future in finished:
                future.result()  # a failed run fails the experiment, with its error
                if (seed := pending.pop(future)) is not None:  # its continued runs can start
                    pending |= {pool.submit(train_in_worker, run_config(out, prepared, setting.name, seed,
                                                                        continue_steps, setting)): None
                                for setting in settings}
    on_progress(total, total)
    return summarize(out, settings, seeds, prepared["data"] | {"pretrain_steps": pretrain_steps,
                                                               "continue_steps": continue_steps})


def curve(run_dir: Path) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "val_loss/general" in r]


def mean_sd(values: list[float]) -> list[float]:
    """[mean, sample sd] (sd 0 for a single seed)."""
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0]


def summarize(out: Path, settings: list[Setting], seeds: int, data: dict) -> dict:
    """Per setting, the mean ± sd over seeds of each domain's validation loss before (the pre-trained model)
    and after continued training; every run's figures too. Written to results.json, with the plot."""
    runs = []
    for setting in settings:
        for seed in range(seeds):
            before, after = curve(out / "runs" / f"pretrain_seed{seed}")[-1], \
                curve(out / "runs" / f"{setting.name}_seed{seed}")[-1]
            runs.append({"setting": setting.name, "seed": seed}
                        | {f"{domain}_{when}": record[f"val_loss/{domain}"]
                           for domain in DOMAINS for when, record in (("before", before), ("after", after))})
    rows = [{"setting": setting.name, "label": setting.label, "replay": setting.replay, "schedule": setting.schedule,
             "seeds": seeds}
            | {key: mean_sd([r[key] for r in runs if r["setting"] == setting.name])
               for key in ("general_before", "general_after", "medical_before", "medical_after")}
            for setting in settings]
    results = {"data": data, "rows": rows, "runs": runs, "plot": str(out / "forgetting.svg")}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(rows, data, out / "forgetting.svg")
    return results


def plot(rows: list[dict], data: dict, path: Path) -> None:
    """General against medical validation loss after continued training, one point per setting with sd bars:
    down is less forgetting, left is more medical learning. The dashed line is the pre-trained model's
    general loss, where no forgetting would leave it. matplotlib's `Figure` without pyplot (no backend is
    touched), with a fixed hash salt and no date, so the same results give the same file."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "medmix-forgetting", "svg.fonttype": "none", "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False}):
        figure = Figure(figsize=(7.2, 4.4), layout="constrained")
        axes = figure.add_subplot()
        for schedule, marker, colour in (("cosine", "o-", "#2f6fde"), ("constant_cooldown", "s", "#d1495b")):
            points = [r for r in rows if r["schedule"] == schedule]
            if not points:
                continue
            axes.errorbar([r["medical_after"][0] for r in points], [r["general_after"][0] for r in points],
                          xerr=[r["medical_after"][1] for r in points], yerr=[r["general_after"][1] for r in points],
                          fmt=marker, color=colour, capsize=3, label=points[0]["label"].split(", ")[1])
            for r in points:
                axes.annotate(f"{r['replay']:.0%}", (r["medical_after"][0], r["general_after"][0]),
                              textcoords="offset points", xytext=(6, 4), color=colour)
        before = statistics.fmean(r["general_before"][0] for r in rows)
        axes.axhline(before, color="grey", linestyle="--", linewidth=1, label="general loss before")
        axes.set_xlabel("medical validation loss after (lower: learned more)")
        axes.set_ylabel("general validation loss after (lower: forgot less)")
        sources = {domain: dict.fromkeys("nltk" if name.startswith("nltk_") else name
                                         for name in data["sources"][domain]) for domain in DOMAINS}
        axes.set_title(f"General replay in continued training: tiny LLaMA, {data['pretrain_steps']} + "
                       f"{data['continue_steps']} steps, mean ± sd of {rows[0]['seeds']} seeds\n"
                       f"{data['text'].split(' (')[0]}; "
                       + "; ".join(f"{domain}: {', '.join(sources[domain])}" for domain in DOMAINS),
                       loc="left", fontsize=9)
        axes.legend(frameon=False)
        figure.savefig(path, format="svg", metadata={"Date": None})


def demo_train_config(run: RunDir, train_dir: Path, tokenizer: Path) -> TrainConfig:
    """`medmix demo`'s short run of the tiny model on the demo shards, with the forgetting curves' validation
    sets (one per domain); it names the shards' tokenizer, so `medmix eval` can score its checkpoints."""
    return TrainConfig.model_validate({
        "run_dir": str(train_dir.resolve()), "model": {"size": "tiny"}, "steps": 30, "batch_size": 4,
        "optimizer": {"lr": 3e-3}, "eval_every": 10, "eval_sequences": 8, "checkpoint_every": 10,
        "data": {"train": str(run.shard_set("train").resolve()), "tokenizer": str(tokenizer.resolve()),
                 "validation": {p.name.removeprefix("valid_"): str(p.resolve()) for p in run.validation_sets()}}})
