"""The training loop: AdamW, the continual pre-training schedule, forgetting curves, logs, checkpoints.

Every `eval_every` steps (and before the first) the loss on each domain's validation shards, and the
accuracy on each of `eval_benchmarks`, is logged against tokens seen: the forgetting curves. The general
curves drifting from their step-0 values is forgetting; the replay share in the shards and `l2_to_init` are
the two levers against it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from itertools import islice
from pathlib import Path

import torch

from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.checkpoint import latest_checkpoint, load_checkpoint, loop_state, save_checkpoint
from medmix.train.config import OptimizerConfig, ScheduleConfig, TrainConfig
from medmix.train.data import PackedSequences, ResumableSampler
from medmix.train.evaluate import Request, accuracies, read_items, requests
from medmix.train.model import CONFIGS, Llama, hf_tokenizer_files, load_hf, mfu, save_hf
from medmix.train.parallel import World, all_reduce_mean, init_world, parallelize


def learning_rate(step: int, steps: int, peak: float, schedule: ScheduleConfig) -> float:
    """Linear warmup, then cosine to the floor, or constant then a linear cooldown to the floor."""
    warmup = max(1, round(schedule.warmup_ratio * steps))
    floor = schedule.min_lr_ratio * peak
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule.kind == "cosine":
        progress = (step - warmup + 1) / max(1, steps - warmup)  # the last step lands on the floor
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    cooldown_start = steps - round(schedule.cooldown_ratio * steps)
    if step < cooldown_start:
        return peak
    return peak - (peak - floor) * (step - cooldown_start + 1) / max(1, steps - cooldown_start)


class Logger:
    """JSON lines in run_dir/log.jsonl, and TensorBoard when it is installed; rank 0 only."""

    def __init__(self, run_dir: Path, world: World):
        self.enabled = world.main
        self.path = run_dir / "log.jsonl"
        self.tensorboard = None
        if self.enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                pass

    def truncate_after(self, step: int) -> None:
        if self.enabled and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if json.loads(line)["step"] <= step]
            self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "tokens"):
                    self.tensorboard.add_scalar(key, value, record["tokens"])


def run_identity(config: TrainConfig, dataset: PackedSequences, world: World) -> dict:
    """What a checkpoint must share with the run resuming it: model source, data, seed, length, global batch.
    Not the world size nor the split of the global batch into micro-batches: any layout makes the same steps."""
    return {"model": config.model.model_dump(), "shards": [s["sha256"] for s in dataset.shards.manifest["shards"]],
            "seed": config.seed, "steps": config.steps,
            "global_batch": config.batch_size * config.grad_accum * world.size}


def check_identity(checkpoint: Path, identity: dict) -> None:
    saved = loop_state(checkpoint).get("identity")
    if saved != identity:
        changed = sorted(k for k in identity if (saved or {}).get(k) != identity[k])
        raise ValueError(f"{checkpoint} belongs to a run with other settings ({', '.join(changed)}); "
                         "use a new run_dir, or remove its checkpoints to start over")


def parameter_groups(model: torch.nn.Module, optimizer: OptimizerConfig) -> list[dict]:
    """Weight decay on matrices (projections, embeddings); none on norm weights and biases unless asked for,
    as LLaMA and transformers' Trainer do: decaying a norm's gain toward 0 fights the normalisation."""
    if optimizer.decay_norms_and_biases:
        return [{"params": list(model.parameters()), "weight_decay": optimizer.weight_decay}]
    matrices = [p for p in model.parameters() if p.ndim >= 2]
    vectors = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": matrices, "weight_decay": optimizer.weight_decay}, {"params": vectors, "weight_decay": 0.0}]


def build_model(config: TrainConfig) -> Llama:
    if config.model.hf_checkpoint:
        return load_hf(config.model.hf_checkpoint)
    model = Llama(CONFIGS[config.model.size])
    model.init_weights(config.model.init_seed)
    return model


def batches(dataset: PackedSequences, sampler: ResumableSampler, batch_size: int):
    """(tokens, documents or None) batches, epoch after epoch. Indices are drawn only as each batch is made,
    so the sampler's position is the data actually trained on (an epoch is whole batches: `multiple`)."""
    while True:
        epoch = iter(sampler)
        while indices := list(islice(epoch, batch_size)):
            yield dataset.batch(indices)


def on_device(batch: tuple[torch.Tensor, torch.Tensor | None], world: World):
    tokens, documents = batch
    return tokens.to(world.device), None if documents is None else documents.to(world.device)


@torch.no_grad()
def validation_losses(model, sets: dict[str, PackedSequences], config: TrainConfig, world: World) -> dict:
    """Mean loss over the first `eval_sequences` sequences of each domain's validation set: the same sequences
    each time, and the same for every batch layout and world size."""
    model.eval()
    losses = {}
    for domain, dataset in sets.items():
        count = min(len(dataset), config.eval_sequences)
        # every rank runs as many forwards (FSDP gathers weights in each); slots past the end weigh nothing
        slots = [world.rank + k * world.size for k in range(-(-count // world.size))]
        total = torch.zeros(2)
        for start in range(0, len(slots), config.batch_size):
            chunk = slots[start:start + config.batch_size]
            tokens, documents = on_device(dataset.batch([i if i < count else 0 for i in chunk]), world)
            real = torch.tensor([i < count for i in chunk], dtype=torch.float32)
            per_sequence = model.loss(tokens, documents, per_sequence=True).cpu()  # on every rank
            total += torch.stack([(per_sequence * real).sum(), real.sum()])
        total = all_reduce_mean(total.to(world.device), world)
        if total[1] > 0:
            losses[f"val_loss/{domain}"] = (total[0] / total[1]).item()
    model.train()
    return losses


def evaluations(model, validation: dict[str, PackedSequences], benchmarks: dict[str, list[Request]],
                config: TrainConfig, world: World) -> dict:
    """The forgetting curves' points: validation loss per domain, and accuracy per benchmark."""
    return validation_losses(model, validation, config, world) | accuracies(model, benchmarks, world)


def train(config: TrainConfig, on_step: Callable[[int], None] = lambda step: None) -> list[dict]:
    """Run (or resume) the training run; returns the step records it logged. `on_step(step)` is called after
    every optimizer step (a progress bar, say)."""
    world = init_world()
    torch.manual_seed(config.seed)
    run_dir = Path(config.run_dir)
    config.check_shards()
    data = config.data
    encoder = Tokenizer(data.tokenizer) if data.tokenizer else None
    tokenizer_sha256 = encoder.sha256 if encoder else data.tokenizer_sha256
    dataset = PackedSequences(data.train, tokenizer_sha256, data.verify_checksums, data.document_masking)
    validation = {d: PackedSequences(p, tokenizer_sha256, documents=data.document_masking)
                  for d, p in data.validation.items()}
    manifest = dataset.shards.manifest
    tokenizer = {"path": data.tokenizer, "sha256": manifest["tokenizer_sha256"], "bos_id": manifest["bos_id"],
                 "eos_id": manifest["eos_id"]}  # for the HF export and `medmix eval` of a checkpoint
    hf_tokenizer = hf_tokenizer_files(data.tokenizer, tokenizer["bos_id"], tokenizer["eos_id"]) \
        if config.save_hf and data.tokenizer else None  # before training, so that a failure costs nothing
    run_dir.mkdir(parents=True, exist_ok=True)  # only once the data is known to be usable
    model = build_model(config).to(world.device)
    if model.config.vocab_size < manifest["vocab_size"]:
        raise ValueError(f"the model's vocabulary ({model.config.vocab_size}) is smaller than the shards' "
                         f"({manifest['vocab_size']})")
    if model.config.max_seq_len < manifest["seq_len"]:
        raise ValueError(f"the shards' sequences ({manifest['seq_len']} tokens) are longer than the model's "
                         f"max_seq_len ({model.config.max_seq_len}); rebuild the shards with a shorter "
                         "shards.seq_len, or train a model with a longer context")
    architecture = model.config
    benchmarks = {b.name: requests(b, read_items(b), encoder, tokenizer["bos_id"], architecture.max_seq_len, b.limit,
                                   b.shots)
                  for b in config.eval_benchmarks}  # read and tokenized once; scored at every evaluation
    initial = [p.detach().clone() for p in model.parameters()] if config.l2_to_init else []
    model = parallelize(model, world, config.precision, config.activation_checkpointing, config.compile)
    if initial and world.distributed:  # the anchor is sharded like the parameters it anchors
        initial = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(parameter_groups(model, config.optimizer), lr=config.optimizer.lr,
                                  betas=config.optimizer.betas)
    if len(dataset) // world.size < config.batch_size * config.grad_accum:
        raise ValueError(f"{data.train}: {len(dataset)} sequences cannot fill a batch of {config.batch_size} "
                         f"x {config.grad_accum} on each of {world.size} ranks")
    sampler = ResumableSampler(len(dataset), world.rank, world.size, config.seed,
                               multiple=config.batch_size * config.grad_accum)
    step, tokens_seen = 0, 0
    checkpoints = run_dir / "checkpoints"
    identity = run_identity(config, dataset, world)
    if (latest := latest_checkpoint(checkpoints)) is not None:
        check_identity(latest, identity)
        loop = load_checkpoint(latest, model, optimizer, world)
        step, tokens_seen = loop["step"], loop["tokens"]
        sampler.load_state_dict(loop["sampler"])
    logger = Logger(run_dir, world)
    logger.truncate_after(step)  # steps after the checkpoint are trained and logged again
    autocast = torch.autocast(world.device.type, dtype=torch.bfloat16) \
        if config.precision == "bf16" and not world.distributed else nullcontext()
    seq_len = dataset.shards.seq_len
    stream = batches(dataset, sampler, config.batch_size)
    records = []
    if step == 0:
        logger.log({"step": 0, "tokens": 0, **evaluations(model, validation, benchmarks, config, world)})
    while step < config.steps:
        started = time.perf_counter()
        lr = learning_rate(step, config.steps, config.optimizer.lr, config.schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        total = torch.zeros((), device=world.device)
        for _ in range(config.grad_accum):
            tokens, documents = on_device(next(stream), world)
            with autocast:
                loss = model.loss(tokens, documents) / config.grad_accum
            loss.backward()
            total += loss.detach()
        with torch.no_grad():  # the L2 anchor's gradient, lambda (w - w0), added where both are sharded alike
            for parameter, start in zip(model.parameters(), initial):
                parameter.grad.add_(parameter.detach() - start, alpha=config.l2_to_init)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.optimizer.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        on_step(step)
        step_tokens = config.batch_size * config.grad_accum * world.size * seq_len
        tokens_seen += step_tokens
        seconds = time.perf_counter() - started
        record = {"step": step, "tokens": tokens_seen, "loss": all_reduce_mean(total, world).item(), "lr": lr,
                  "grad_norm": float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm),
                  "tokens_per_s": step_tokens / seconds}
        if config.peak_tflops:
            record["mfu"] = mfu(architecture, record["tokens_per_s"] / world.size, seq_len, config.peak_tflops * 1e12)
        if step % config.eval_every == 0 or step == config.steps:
            record |= evaluations(model, validation, benchmarks, config, world)
        if step % config.log_every == 0 or step == config.steps:
            logger.log(record)
        records.append(record)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_checkpoint(checkpoints, step, model, optimizer,
                            {"step": step, "tokens": tokens_seen, "sampler": sampler.state_dict(), "identity": identity,
                             "tokenizer": tokenizer}, world, config.keep_checkpoints)
    if config.save_hf:
        export_hf(model, architecture, run_dir / "hf", world, tokenizer, hf_tokenizer)
    return records


def export_hf(model, architecture, folder: Path, world: World, tokenizer: dict,
              hf_tokenizer: dict[str, bytes] | None) -> None:
    """The final weights as a HF checkpoint, with the shards' BOS/EOS ids and, given `data.tokenizer`, the
    tokenizer; under FSDP every rank helps gather the weights and rank 0 writes."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if world.main:
        plain = Llama(architecture)
        plain.load_state_dict(state)
        save_hf(plain, folder, tokenizer["bos_id"], tokenizer["eos_id"], hf_tokenizer)


def main(config_path: str) -> None:
    """`torchrun --nproc-per-node N -m medmix.train CONFIG`, or one process."""
    import torch.distributed as dist

    from medmix.train.config import load_train_config

    try:
        train(load_train_config(config_path))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
