"""A training step of medmix's LLaMA against transformers' `LlamaForCausalLM`, same config, same batch, CPU.

Both models start from the same weights (medmix's is loaded from the HF checkpoint), use SDPA
attention, fp32, AdamW, and run forward, backward and the optimizer step on the same token batch; the
anchor and medmix alternate within one run (this machine is noisy) and the best of the rounds counts.

    python benchmarks/train_speed.py [--config small] [--batch 4] [--seq-len 256] [--steps 5] [--rounds 3]

Target (issue 6): ratio >= 1.0 (medmix steps/s over transformers'). transformers is a test-only
dependency (`pip install -e ".[test]"`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402

from medmix.train.model import CONFIGS, hf_config, load_hf  # noqa: E402


def step_seconds(model, tokens: torch.Tensor, steps: int, hf: bool) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def one_step():
        loss = model(tokens, labels=tokens).loss if hf else model.loss(tokens)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    one_step()  # warm-up: allocations, optimizer state
    started = time.perf_counter()
    for _ in range(steps):
        one_step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import transformers
    except ImportError:
        print("skipped: transformers is not installed (pip install -e '.[test]')")
        sys.exit(0)
    torch.manual_seed(0)
    config = CONFIGS[args.config]
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**{
        k: v for k, v in hf_config(config).items() if k not in ("architectures", "model_type", "torch_dtype")},
        attn_implementation="sdpa"))
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        ours = load_hf(folder)
    tokens = torch.randint(0, config.vocab_size, (args.batch, args.seq_len + 1))
    best = {"transformers": float("inf"), "medmix": float("inf")}
    for _ in range(args.rounds):
        best["transformers"] = min(best["transformers"], step_seconds(hf.train(), tokens, args.steps, hf=True))
        best["medmix"] = min(best["medmix"], step_seconds(ours.train(), tokens, args.steps, hf=False))
    tokens_per_step = args.batch * args.seq_len
    print(f"config {args.config} ({config.num_params() / 1e6:.1f}M parameters), batch {args.batch} x {args.seq_len} "
          f"tokens, fp32, {torch.get_num_threads()} threads, best of {args.rounds} rounds of {args.steps} steps")
    print(f"  {'model':<32}{'s/step':>10}{'tokens/s':>12}")
    for name, seconds in best.items():
        print(f"  {name:<32}{seconds:>10.3f}{tokens_per_step / seconds:>12,.0f}")
    ratio = best["transformers"] / best["medmix"]
    print(f"ratio medmix / transformers: {ratio:.2f}x (target >= 1.0)")


if __name__ == "__main__":
    main()
