"""Random-access serving of packed sequences from one process: medmix's `PackedSequences` with its
`ResumableSampler`, against reading the same memmaps with numpy alone.

    python benchmarks/loader_speed.py [--samples 20000] [--shards 4] [--sequences 2048] [--seq-len 4096]
                                      [--folder SHARD_SET] [--repeat 3]

Why
- The trainer must never wait for data: one loader process has to serve >= 50M tokens/s (target), far
  above what a 7B model consumes on one node, so that the data path costs nothing next to the GPU step.
  This machine is shared and noisy, so the numpy baseline runs in the same process, on the same shard
  set and the same sequence order, and their ratio is shown beside the absolute figure.

What it measures
- A shard set: by default a synthetic one, built here with `medmix.tokenize.shards.write_shard` and
  `write_manifest`: `--shards` shards of `--sequences` x `--seq-len` random uint16 tokens (4 x 2048 x
  4096 = 64 MB), one index row per sequence. `--folder` reads an existing shard set instead (e.g. a
  run's `shards/train`). The files were just written or read, so they are served from the page cache:
  this measures the loader's own cost, not the disk.
- The order: `ResumableSampler(len(ds), seed=0)`, its first `--samples` indices (iterated again for the
  next epoch if the shard set is smaller); every method gets the same order.
- numpy memmap: `np.memmap(...).reshape(-1, seq_len)` per shard, the global index mapped to (shard, row)
  beforehand, and `rows[row].astype(np.int64)` (the same copy and widening as `PackedSequences`); and
  `np.array(rows[row])` (a plain uint16 copy), the floor.
- medmix: `ds[i]` for i from the sampler, `ds = PackedSequences(folder)`, each returning an int64 tensor.
- torch: `DataLoader(ds, batch_size=8, sampler=sampler, num_workers=0)` for `--samples / 8` batches
  (default collate stacks the 8 tensors).
- Tokens/s = sequences served x seq_len / wall seconds (`time.perf_counter`), best of `--repeat` passes.
  If `PackedSequences` is below the target, the profile of one pass is printed (cProfile, top functions).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from itertools import chain, islice, repeat  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TARGET_TOKENS_PER_S = 50e6
BATCH = 8
SOURCES = ["pubmed", "pmc", "mimic_notes", "general"]


@dataclass
class Run:
    label: str
    sequences: int
    seconds: float
    seq_len: int

    @property
    def tokens_per_s(self) -> float:
        return self.sequences * self.seq_len / self.seconds

    @property
    def us_per_sequence(self) -> float:
        return self.seconds / self.sequences * 1e6


# ---------------------------------------------------------------------------------------------- shard set

def build_shard_set(folder: Path, shards: int, sequences: int, seq_len: int, seed: int = 0) -> Path:
    """A synthetic shard set: random uint16 tokens, one index row per sequence, a real manifest."""
    from medmix.tokenize.shards import INDEX_DTYPE, ManifestHeader, write_manifest, write_shard

    rng = np.random.default_rng(seed)
    entries = []
    for number in range(shards):
        tokens = rng.integers(3, 32000, size=(sequences, seq_len), dtype=np.uint16)
        index = np.zeros(sequences, dtype=INDEX_DTYPE)
        index["sequence"] = np.arange(sequences)
        index["length"] = seq_len
        index["source"] = (np.arange(sequences) + number) % len(SOURCES)
        entries.append(write_shard(folder, number, tokens, index, SOURCES))
    header = ManifestHeader(split="train", dtype="<u2", seq_len=seq_len, vocab_size=32000, tokenizer_sha256="0" * 64,
                            bos_id=1, eos_id=2, sources=SOURCES, seed=seed, encoder="none: random tokens")
    write_manifest(folder, header, entries)
    return folder


def sampler_order(length: int, samples: int) -> list[int]:
    from medmix.train.data import ResumableSampler

    return list(epochs(ResumableSampler(length, seed=0), samples))


def epochs(sampler, samples: int):
    """The sampler's first `samples` indices: one iteration is one epoch, so iterate it again as needed."""
    return islice(chain.from_iterable(repeat(sampler)), samples)


# ---------------------------------------------------------------------------------------------- methods

def numpy_reader(folder: Path):
    """(rows per shard as uint16 memmaps, global index -> (shard, row) arrays), from the manifest alone."""
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    seq_len, dtype = manifest["seq_len"], np.dtype(manifest["dtype"])
    rows = [np.memmap(folder / entry["file"], dtype=dtype, mode="r").reshape(-1, seq_len)
            for entry in manifest["shards"]]
    shard_of = np.concatenate([np.full(len(r), n) for n, r in enumerate(rows)])
    row_of = np.concatenate([np.arange(len(r)) for r in rows])
    return rows, shard_of, row_of


def time_numpy(folder: Path, order: list[int], seq_len: int, widen: bool) -> Run:
    rows, shard_of, row_of = numpy_reader(folder)
    pairs = [(rows[int(shard_of[i])], int(row_of[i])) for i in order]  # the mapping is not timed
    start = time.perf_counter()
    if widen:
        for shard, row in pairs:
            shard[row].astype(np.int64)
    else:
        for shard, row in pairs:
            np.array(shard[row])
    seconds = time.perf_counter() - start
    label = "numpy memmap, .astype(int64)" if widen else "numpy memmap, uint16 copy"
    return Run(label, len(order), seconds, seq_len)


def time_packed(folder: Path, samples: int) -> Run:
    from medmix.train.data import PackedSequences, ResumableSampler

    ds = PackedSequences(folder)
    sampler = ResumableSampler(len(ds), seed=0)
    start = time.perf_counter()
    for i in epochs(sampler, samples):
        ds[i]
    seconds = time.perf_counter() - start
    return Run("medmix PackedSequences[i]", samples, seconds, ds.shards.seq_len)


def time_dataloader(folder: Path, samples: int) -> Run:
    from torch.utils.data import DataLoader

    from medmix.train.data import PackedSequences, ResumableSampler

    ds = PackedSequences(folder)
    loader = DataLoader(ds, batch_size=BATCH, sampler=ResumableSampler(len(ds), seed=0), num_workers=0)
    batches = samples // BATCH
    start = time.perf_counter()
    for batch in islice(chain.from_iterable(repeat(loader)), batches):
        if batch.shape != (BATCH, ds.shards.seq_len):
            sys.exit(f"DataLoader gave a batch of shape {tuple(batch.shape)}")
    seconds = time.perf_counter() - start
    return Run(f"torch DataLoader, batch {BATCH}", batches * BATCH, seconds, ds.shards.seq_len)


def check_same(folder: Path, order: list[int], count: int = 200) -> bool:
    """PackedSequences serves what numpy reads at the same global index."""
    from medmix.train.data import PackedSequences

    ds = PackedSequences(folder)
    rows, shard_of, row_of = numpy_reader(folder)
    return all(np.array_equal(ds[i].numpy(), rows[int(shard_of[i])][int(row_of[i])]) for i in order[:count])


def profile_packed(folder: Path, samples: int, top: int = 12) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    time_packed(folder, samples)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------- main

def best(runs) -> Run:
    return min(runs, key=lambda run: run.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20000, help="sequences served per pass")
    parser.add_argument("--shards", type=int, default=4, help="synthetic shard set: shards")
    parser.add_argument("--sequences", type=int, default=2048, help="synthetic shard set: sequences per shard")
    parser.add_argument("--seq-len", type=int, default=4096, help="synthetic shard set: tokens per sequence")
    parser.add_argument("--folder", type=Path, help="read this existing shard set instead of a synthetic one")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per method; the fastest counts")
    args = parser.parse_args()
    try:
        import torch
    except ModuleNotFoundError:
        print("skipped: torch is not installed (the trainer's dependency; `make install` installs it)")
        sys.exit(0)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(prefix="medmix-loader-bench-") as tmp:
        if args.folder is not None:
            folder = args.folder.resolve()
            if not (folder / "manifest.json").is_file():
                print(f"skipped: no shard set at {folder} (no manifest.json)")
                sys.exit(0)
            what = f"shard set {folder}"
        else:
            start = time.perf_counter()
            folder = build_shard_set(Path(tmp) / "train", args.shards, args.sequences, args.seq_len)
            what = (f"synthetic shard set: {args.shards} shards x {args.sequences} sequences x {args.seq_len} "
                    f"tokens, built in {time.perf_counter() - start:.1f} s (not timed)")
        from medmix.train.data import PackedSequences

        ds = PackedSequences(folder)
        seq_len, length = ds.shards.seq_len, len(ds)
        size = sum((folder / e["file"]).stat().st_size for e in ds.shards.manifest["shards"]) / 1e6
        order = sampler_order(length, args.samples)
        print(f"input: {what}; {length:,} sequences, {size:.0f} MB of {ds.shards.manifest['dtype']} tokens, "
              f"in the page cache")
        print(f"order: ResumableSampler(seed=0), first {len(order):,} indices ({len(set(order)):,} distinct); "
              f"one process, torch threads = 1, load average {os.getloadavg()[0]:.2f}")
        print(f"PackedSequences serves the same tokens as numpy at the same index (200 checked): "
              f"{'yes' if check_same(folder, order) else 'NO'}\n")

        repeat = max(args.repeat, 1)
        runs = [best(time_numpy(folder, order, seq_len, widen=False) for _ in range(repeat)),
                best(time_numpy(folder, order, seq_len, widen=True) for _ in range(repeat)),
                best(time_packed(folder, args.samples) for _ in range(repeat)),
                best(time_dataloader(folder, args.samples) for _ in range(repeat))]
        print(f"best of {repeat} passes")
        print(f"  {'method':<32}{'sequences':>10}{'seconds':>9}{'us/seq':>9}{'M tokens/s':>12}{'vs numpy int64':>16}")
        baseline = runs[1]
        for run in runs:
            print(f"  {run.label:<32}{run.sequences:>10,}{run.seconds:>9.3f}{run.us_per_sequence:>9.1f}"
                  f"{run.tokens_per_s / 1e6:>12.1f}{run.tokens_per_s / baseline.tokens_per_s:>15.2f}x")
        packed, loader = runs[2], runs[3]
        ok = packed.tokens_per_s >= TARGET_TOKENS_PER_S
        print(f"\nPackedSequences from one process: {packed.tokens_per_s / 1e6:.1f}M tokens/s "
              f"(target >= {TARGET_TOKENS_PER_S / 1e6:.0f}M)  {'PASS' if ok else 'FAIL'}; "
              f"DataLoader(batch {BATCH}, num_workers=0): {loader.tokens_per_s / 1e6:.1f}M tokens/s")
        if not ok:
            print("\nprofile of one PackedSequences pass (cProfile, by own time):")
            print(profile_packed(folder, args.samples))


if __name__ == "__main__":
    main()
