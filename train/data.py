"""Feeding shards to the trainer: a torch `Dataset` over a shard set and a resumable, rank-sharded sampler.

The order is a seeded permutation of all sequences per epoch; rank r of W takes positions r, r+W, ...
of it, so ranks never overlap. One iteration of the sampler is the rest of one epoch. Its state is
(epoch, position): restoring it continues the exact sequence stream a crashed run would have seen, on
the same number of ranks or on another (the ranks together have served a prefix of the permutation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from medmix.tokenize.shards import ShardSet, open_shard_set


class PackedSequences(Dataset):
    """Sequence i of the shard set as an int64 tensor of `seq_len` tokens (the trainer shifts for targets).
    With `documents`, `batch()` also gives each token's document within its sequence, from the shard index."""

    def __init__(self, folder: str | Path, tokenizer_sha256: str | None = None, verify_checksums: bool = False,
                 documents: bool = False):
        self.shards: ShardSet = open_shard_set(folder, tokenizer_sha256, verify=verify_checksums)
        self.indexes = [self.shards.index(number) for number in range(len(self.shards.shards))] if documents else []

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.shards.sequence(int(index)).astype(np.int64))

    def documents(self, index: int) -> torch.Tensor:
        """The number of each token's document within the sequence: 0 for the first piece, 1 for the next, ...
        (index rows are pieces of documents, in order within each sequence)."""
        shard = int(np.searchsorted(self.shards.offsets, index, side="right")) - 1
        rows = self.indexes[shard]
        local = index - int(self.shards.offsets[shard])
        first, last = np.searchsorted(rows["sequence"], [local, local + 1])
        numbers = np.zeros(self.shards.seq_len, dtype=np.int64)
        for number, row in enumerate(rows[first:last]):
            numbers[row["start"]:row["start"] + row["length"]] = number
        return torch.from_numpy(numbers)

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens (batch, seq_len), and document numbers of the same shape when opened with `documents`."""
        tokens = torch.stack([self[i] for i in indices])
        return tokens, torch.stack([self.documents(i) for i in indices]) if self.indexes else None


class ResumableSampler(Sampler[int]):
    """Deterministic, data-parallel, resumable: `state_dict()` after any step, `load_state_dict()` to go on."""

    def __init__(self, length: int, rank: int = 0, world_size: int = 1, seed: int = 0, multiple: int = 1):
        """`multiple`: sequences per rank per optimizer step (batch size x accumulation). An epoch ends on a
        whole step, so every layout of the same global batch (4 x 1 or 2 x 2) makes the same updates."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.length, self.rank, self.world_size, self.seed, self.multiple = length, rank, world_size, seed, multiple
        self.epoch, self.position = 0, 0  # position: how many of this rank's indices were already served

    def per_rank(self) -> int:
        """Every rank gets as many, a whole number of steps' worth; the remainder sits out this epoch."""
        return self.length // self.world_size // self.multiple * self.multiple

    def order(self, epoch: int) -> np.ndarray:
        permutation = np.random.default_rng([self.seed, epoch]).permutation(self.length)
        return permutation[self.rank:self.per_rank() * self.world_size:self.world_size]

    def __iter__(self):
        """The rest of the current epoch; iterating again starts the next one (a DataLoader epoch = ours)."""
        order = self.order(self.epoch)
        while self.position < len(order):
            self.position += 1
            yield int(order[self.position - 1])
        self.epoch, self.position = self.epoch + 1, 0

    def __len__(self) -> int:
        return self.per_rank() - self.position

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "rank": self.rank, "world_size": self.world_size,
                "seed": self.seed, "length": self.length, "global_batch": self.multiple * self.world_size}

    def load_state_dict(self, state: dict) -> None:
        """The state any rank saved, on this many ranks or another: every rank is at the same position of its
        share, so together the ranks had served the permutation's first `position x world_size` sequences,
        and this rank goes on from its share of that point. The global batch must be the same, so that
        epochs end where they did."""
        expected = {"seed": self.seed, "length": self.length, "global_batch": self.multiple * self.world_size}
        if {k: state[k] for k in expected} != expected:
            raise ValueError(f"sampler state {state} was saved for another seed, shard set or global batch")
        served = state["position"] * state["world_size"]
        if served % self.world_size:
            raise ValueError(f"sampler state {state}: {served} sequences served cannot be split among "
                             f"{self.world_size} ranks")
        self.epoch, self.position = state["epoch"], served // self.world_size
