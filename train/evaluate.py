"""`medmix eval`: score a checkpoint on benchmark files by log-likelihood, as lm-evaluation-harness does.

The items are `medmix.benchmarks`' (the definition `decontaminate` reads), in lm-evaluation-harness 0.4.13's
prompt formats, so that scores compare with published ones (a test checks per-option log-likelihoods against
lm-eval itself):

- multiple choice (`mcq_jsonl`): its `medqa_4options` format, for any number of options,
  "Question: {question}\\nA. {option A}\\nB. {option B}\\n...Answer:", scoring " A", " B", ...
- PubMedQA (`pubmedqa`): its `pubmedqa` format, "Abstract: {contexts, one a line}\\nQuestion: {question}\\nAnswer:",
  scoring " yes", " no", " maybe".

Few-shot (`shots`, 0 by default): examples drawn from the benchmark's own items, as lm-eval 0.4.13 draws them from
a test split that is also its few-shot split (its default sampler and seed, the item itself left out; see
`fewshot_examples`), each in the item's format followed by its gold answer (" A", " yes"), joined as lm-eval joins
them, then the item's prompt: its context. An option's score is the log-likelihood of its tokens after the context.
`acc` takes the most likely option; `acc_norm` the most likely per character of the option's string (lm-eval's
length normalisation: with letters as options it equals `acc`). Tokens are those lm-eval's causal models get: the
context's, after `<s>` when the checkpoint's BOS id is set, and the option's as the tail of context + option encoded
together; a context too long for the model is cut on the left as lm-eval cuts it, for each option.

Speed: each item is one row of a batch: its context once (once per cut, when options of different lengths cut it
differently), then every option, each option attending to its context and to itself (a mask) at the positions it
would have alone. The context goes through the model once per item, not once per option, and `lm_head` runs only
where a token is scored. Rows are batched by length; a GPU is used when present.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import torch

from medmix.benchmarks import BenchmarkItem, BenchmarkSet, load_items
from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.checkpoint import latest_checkpoint, load_weights, loop_state
from medmix.train.model import CONFIGS, Llama, LlamaConfig, config_from_hf, load_hf
from medmix.train.parallel import World, all_reduce_mean

SCORED_FORMATS = ("mcq_jsonl", "pubmedqa")
BATCH_TOKENS = 8192
FEWSHOT_SEED = 1234  # lm-eval's fewshot_random_seed


class EvalError(ValueError):
    """A benchmark spec, checkpoint or tokenizer that cannot be evaluated; the message says which and why."""


def parse_benchmark(spec: str) -> BenchmarkSet:
    """`NAME=PATH:FORMAT`, or `NAME=PATH:pubmedqa:SPLIT_IDS` to score the PMIDs that key SPLIT_IDS only."""
    name, _, rest = spec.partition("=")
    parts = rest.split(":")
    formats = [i for i, part in enumerate(parts) if part in SCORED_FORMATS]
    if not name or not formats:
        raise EvalError(f"--benchmark {spec!r}: expected NAME=PATH:FORMAT with FORMAT one of "
                        f"{', '.join(SCORED_FORMATS)} (jsonl_fields items have no options to score)")
    at = formats[-1]
    split_ids = ":".join(parts[at + 1:]) or None
    if split_ids and parts[at] != "pubmedqa":
        raise EvalError(f"--benchmark {spec!r}: only pubmedqa takes split ids after its format")
    return BenchmarkSet(name=name, format=parts[at], path=":".join(parts[:at]), split_ids=split_ids)


def prompt(benchmark: BenchmarkSet, item: BenchmarkItem) -> str:
    if benchmark.format == "pubmedqa":
        return "Abstract: {}\nQuestion: {}\nAnswer:".format("\n".join(item.contexts), item.question)
    options = "".join(f"{label}. {text}\n" for label, text in item.options.items())
    return f"Question: {item.question}\n{options}Answer:"


@dataclass
class Request:
    """One item, tokenized: its context's ids once, and each option's ids after it. A context too long for the
    model is cut on the left as lm-eval cuts it, to leave room for each option; options of different lengths then
    follow different cuts (`context_of`: the cut each option follows), each of them once."""

    item: BenchmarkItem
    contexts: list[list[int]]
    continuations: list[list[int]]
    context_of: list[int]
    loglikelihoods: list[float] = field(default_factory=list)  # one per option, once scored

    @property
    def length(self) -> int:
        return sum(map(len, self.contexts)) + sum(map(len, self.continuations))


def read_items(benchmark: BenchmarkSet) -> list[BenchmarkItem]:
    """Every item, each with options and a gold answer: the scored ones need it, and so do few-shot examples, which
    are drawn from all the items whatever the limit."""
    if benchmark.format not in SCORED_FORMATS:
        raise EvalError(f"benchmark {benchmark.name}: {benchmark.format} items have no options to score")
    items = list(load_items(benchmark))
    if unanswered := [item.item_id for item in items if item.answer is None]:
        raise EvalError(f"benchmark {benchmark.name}: items without a gold answer, e.g. {unanswered[0]}")
    return items


def fewshot_examples(benchmark: BenchmarkSet, items: list[BenchmarkItem], limit: int | None,
                     shots: int) -> list[list[BenchmarkItem]]:
    """The examples of each of the first `limit` items, drawn from all `items` as lm-eval 0.4.13's default sampler
    draws them when a task's `fewshot_split` is its `test_split`, so that scores compare with its: one
    `random.Random(1234)` for the benchmark, advanced item by item in file order; for each item `shots` + 1 drawn,
    those equal to the item dropped, the first `shots` kept. lm-eval compares whole documents, so a question
    repeated under another id can be drawn; only when copies of the item itself left too few is the draw redone
    from the others. (With no `fewshot_split`, lm-eval falls back to the test split but draws `shots` and drops
    nothing: an item can be shown its own answer.)"""
    if not shots:
        return [[] for _ in items[:limit]]
    if shots >= len(items):
        raise EvalError(f"benchmark {benchmark.name}: {shots} shots need more than {shots} items; it has {len(items)}")
    rnd = random.Random(FEWSHOT_SEED)
    drawn = []
    for item in items[:limit]:
        examples = [other for other in rnd.sample(items, shots + 1) if other != item][:shots]
        if len(examples) < shots:
            examples = rnd.sample([other for other in items if other != item], shots)
        drawn.append(examples)
    return drawn


def context(benchmark: BenchmarkSet, item: BenchmarkItem, examples: list[BenchmarkItem]) -> str:
    """lm-eval's plain-text few-shot context: each example's prompt, its gold answer after the target delimiter
    " " and then the few-shot delimiter "\\n\\n"; after them the item's prompt."""
    shown = "".join(f"{prompt(benchmark, example)} {example.answer}\n\n" for example in examples)
    return shown + prompt(benchmark, item)


def requests(benchmark: BenchmarkSet, items: list[BenchmarkItem], tokenizer: Tokenizer, bos_id: int | None,
             max_len: int, limit: int | None = None, shots: int = 0) -> list[Request]:
    """The first `limit` items, each after `shots` examples drawn from all `items`. lm-eval's split of
    (context, continuation): trailing spaces of the context move to the continuation, and the continuation's ids
    are what encoding context + continuation adds to the context's ids. lm-eval's cut: when context and option
    exceed the model's length, the option follows the last max_len + 1 - len(option) ids of the context."""
    head = [] if bos_id is None else [bos_id]
    scored = items[:limit]
    contexts, wholes = [], []
    for item, examples in zip(scored, fewshot_examples(benchmark, items, limit, shots)):
        text = context(benchmark, item, examples)
        contexts.append(text.rstrip())
        wholes += [f"{text} {label}" for label in item.options]
    context_ids, whole_ids = iter(tokenizer.encode_batch(contexts)), iter(tokenizer.encode_batch(wholes))
    built = []
    for item in scored:
        prefix = head + next(context_ids)
        continuations = [(head + next(whole_ids))[len(prefix):] for _ in item.options]
        keeps = [min(len(prefix), max(1, max_len + 1 - len(ids))) for ids in continuations]
        cuts = list(dict.fromkeys(keeps))
        built.append(Request(item, [prefix[-keep:] for keep in cuts], continuations, [cuts.index(k) for k in keeps]))
    return built


def batches(pending: list[Request], batch_tokens: int) -> list[list[Request]]:
    """Longest first, as many rows as fit `batch_tokens` once padded to the batch's longest."""
    out: list[list[Request]] = []
    for request in sorted(pending, key=lambda r: -r.length):
        if out and (len(out[-1]) + 1) * out[-1][0].length <= batch_tokens:
            out[-1].append(request)
        else:
            out.append([request])
    return out


@torch.no_grad()
def score(model: Llama, batch: list[Request], device: torch.device) -> list[list[float]]:
    """Each request's option log-likelihoods, from one forward pass over the batch."""
    width = max(r.length for r in batch)
    tokens = torch.zeros(len(batch), width, dtype=torch.long)
    positions = torch.zeros(len(batch), width, dtype=torch.long)
    segments = torch.full((len(batch), width), -1, dtype=torch.long)  # one per context and per option; -1: padding
    sees = torch.full((len(batch), width), -1, dtype=torch.long)  # the context segment a token attends to
    rows, columns, targets, owners = [], [], [], []
    for row, request in enumerate(batch):
        start, segment_ids = 0, count()
        for cut, context in enumerate(request.contexts):
            shared, end = next(segment_ids), start + len(context)
            tokens[row, start:end] = torch.tensor(context)
            positions[row, start:end] = torch.arange(len(context))
            segments[row, start:end] = sees[row, start:end] = shared
            last, start = end - 1, end
            for option in [k for k, of in enumerate(request.context_of) if of == cut]:
                ids = request.continuations[option]
                end = start + len(ids)
                tokens[row, start:end] = torch.tensor(ids)
                positions[row, start:end] = torch.arange(len(context), len(context) + len(ids))
                segments[row, start:end], sees[row, start:end] = next(segment_ids), shared
                # the option's first token is predicted from the context's last, each next one from the one before
                columns += [last, *range(start, end - 1)]
                rows += [row] * len(ids)
                targets += ids
                owners += [(row, option)] * len(ids)
                start = end
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    visible = (segments[:, None, :] == segments[:, :, None]) | (segments[:, None, :] == sees[:, :, None])
    mask = (causal & visible).unsqueeze(1).to(device)
    select = (torch.tensor(rows, device=device), torch.tensor(columns, device=device))
    logits = model(tokens.to(device), mask, positions.to(device), select).float()
    picked = logits.log_softmax(-1).gather(1, torch.tensor(targets, device=device)[:, None])[:, 0].cpu().double()
    sums = [[0.0] * len(r.continuations) for r in batch]
    for (row, option), value in zip(owners, picked.tolist()):
        sums[row][option] += value
    return sums


def load_checkpoint_for_eval(checkpoint: Path, tokenizer: Path | None) -> tuple[Llama, Tokenizer, int | None]:
    """A HF LLaMA folder (config.json; its tokenizer.model or tokenizer.json unless `tokenizer` is given; BOS from
    config.json), or a medmix checkpoint: a `step_NNNNNN` folder or a run directory (its latest), with the
    architecture, tokenizer file and BOS id its training run recorded."""
    if (checkpoint / "config.json").is_file():
        model = load_hf(checkpoint)
        found = [p for p in (checkpoint / "tokenizer.model", checkpoint / "tokenizer.json") if p.is_file()]
        if tokenizer is None and not found:
            raise EvalError(f"{checkpoint}: no tokenizer.model or tokenizer.json; give --tokenizer")
        bos_id = json.loads((checkpoint / "config.json").read_text()).get("bos_token_id")
        return model, Tokenizer(tokenizer or found[0]), bos_id
    step = checkpoint if (checkpoint / "loop.pt").is_file() else latest_checkpoint(checkpoint / "checkpoints")
    if step is None:
        raise EvalError(f"{checkpoint}: neither a HF folder (config.json) nor a medmix checkpoint or run directory")
    loop = loop_state(step)
    model = Llama(architecture(loop["identity"]["model"]))
    load_weights(step, model)
    recorded = loop["tokenizer"]
    path = tokenizer or recorded["path"]
    if path is None:
        raise EvalError(f"{step}: its run named no tokenizer file (data.tokenizer); give --tokenizer")
    loaded = Tokenizer(path)
    if loaded.sha256 != recorded["sha256"]:
        raise EvalError(f"{path}: not the tokenizer this checkpoint was trained with "
                        f"(sha256 {loaded.sha256[:12]}…, expected {recorded['sha256'][:12]}…)")
    return model, loaded, recorded["bos_id"]


def architecture(model: dict) -> LlamaConfig:
    """The architecture of a training run's `model` config: a built-in size, or its HF checkpoint's config.json."""
    if model["hf_checkpoint"]:
        return config_from_hf(json.loads((Path(model["hf_checkpoint"]) / "config.json").read_text()))
    return CONFIGS[model["size"]]


def evaluate(checkpoint: str | Path, benchmarks: list[BenchmarkSet], tokenizer: str | Path | None = None,
             limit: int | None = None, shots: int = 0, batch_tokens: int = BATCH_TOKENS, bf16: bool = False,
             on_progress: Callable[[int, int], None] = lambda done, total: None) -> tuple[list[dict], dict[str, dict]]:
    """One record per item (benchmark, id, option log-likelihoods, prediction, prediction_norm, gold), and a
    summary per benchmark (n, shots, acc, acc_stderr, acc_norm, acc_norm_stderr). `limit`: the first N items of
    each benchmark; `shots`: examples before each (`fewshot_examples`). Every file is read and checked, and every
    context built, before any scoring. `on_progress(items done, items in all)` is called after each batch (a
    progress bar)."""
    if len({b.name for b in benchmarks}) < len(benchmarks):
        raise EvalError(f"benchmark names repeat: {', '.join(b.name for b in benchmarks)}")
    items = {benchmark.name: read_items(benchmark) for benchmark in benchmarks}
    model, loaded, bos_id = load_checkpoint_for_eval(Path(checkpoint), Path(tokenizer) if tokenizer else None)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device, torch.bfloat16 if bf16 else torch.float32).eval()
    built = [request for benchmark in benchmarks
             for request in requests(benchmark, items[benchmark.name], loaded, bos_id, model.config.max_seq_len,
                                     limit, shots)]
    done = 0
    for batch in batches(built, batch_tokens):
        for request, sums in zip(batch, score(model, batch, device)):
            request.loglikelihoods = sums
        done += len(batch)
        on_progress(done, len(built))
    records = [record(request.item, request.loglikelihoods) for request in built]
    return records, summarize(records, shots)


def record(item: BenchmarkItem, loglikelihoods: list[float]) -> dict:
    labels = list(item.options)
    best = max(range(len(labels)), key=lambda k: loglikelihoods[k])  # the first of equals, as np.argmax
    best_norm = max(range(len(labels)), key=lambda k: loglikelihoods[k] / len(labels[k]))
    return {"benchmark": item.benchmark, "id": item.item_id, "loglikelihoods": dict(zip(labels, loglikelihoods)),
            "prediction": labels[best], "prediction_norm": labels[best_norm], "gold": item.answer}


@torch.no_grad()
def accuracies(model, benchmarks: dict[str, list[Request]], world: World) -> dict[str, float]:
    """`acc/<name>` and `acc_norm/<name>` of a model being trained, for its log next to the validation losses.
    Under FSDP each rank scores every world-size-th batch, all ranks run as many forward passes (FSDP gathers
    weights in each; a rank short of batches repeats one that counts for nothing), and the hits are summed."""
    model.eval()
    scores = {}
    for name, pending in benchmarks.items():
        chunks = batches(pending, BATCH_TOKENS)
        mine = chunks[world.rank::world.size]
        hits = torch.zeros(3, dtype=torch.float64)  # acc, acc_norm, items
        for round_ in range(-(-len(chunks) // world.size)):
            batch = mine[round_] if round_ < len(mine) else chunks[0]
            sums = score(model, batch, world.device)
            if round_ < len(mine):
                for request, loglikelihoods in zip(batch, sums):
                    scored = record(request.item, loglikelihoods)
                    hits += torch.tensor([scored["prediction"] == scored["gold"],
                                          scored["prediction_norm"] == scored["gold"], 1], dtype=torch.float64)
        hits = all_reduce_mean(hits.to(world.device), world).cpu()  # a mean of sums: the ratios are the same
        scores |= {f"acc/{name}": (hits[0] / hits[2]).item(), f"acc_norm/{name}": (hits[1] / hits[2]).item()}
    model.train()
    return scores


def summarize(records: list[dict], shots: int) -> dict[str, dict]:
    """Per benchmark: items, shots, and accuracy with its standard error (sample standard deviation / sqrt(n),
    lm-eval's)."""
    summary = {}
    for name in dict.fromkeys(r["benchmark"] for r in records):
        mine = [r for r in records if r["benchmark"] == name]
        summary[name] = {"n": len(mine), "shots": shots}
        for metric, key in (("acc", "prediction"), ("acc_norm", "prediction_norm")):
            hits = [float(r[key] == r["gold"]) for r in mine]
            mean = sum(hits) / len(hits)
            stderr = math.sqrt(sum((h - mean) ** 2 for h in hits) / (len(hits) - 1) / len(hits)) \
                if len(hits) > 1 else None
            summary[name] |= {metric: mean, f"{metric}_stderr": stderr}
    return summary


def write_results(records: list[dict], summary: dict[str, dict], out: Path) -> Path:
    """The records as JSON lines at `out`, and the summary beside it (`<stem>.summary.json`); returns its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary_path = out.with_name(f"{out.stem}.summary.json")
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    return summary_path
