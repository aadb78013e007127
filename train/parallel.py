"""Distribution and precision: torchrun's process group, FSDP2 per transformer block, bf16, checkpointing.

One process (no torchrun) trains unsharded. Under torchrun every rank joins the process group (NCCL on
GPUs, gloo on CPU) and the model is sharded with FSDP2 (`fully_shard`), block by block, then the root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_world() -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend)
    return World(dist.get_rank(), dist.get_world_size(), device)


def parallelize(model: torch.nn.Module, world: World, precision: str, activation_checkpointing: bool,
                compile_blocks: bool) -> torch.nn.Module:
    """Activation checkpointing and torch.compile per block, then FSDP2 (when distributed) per block and root."""
    blocks = model.model["layers"]
    for index, block in enumerate(blocks):
        if activation_checkpointing:
            from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

            block = checkpoint_wrapper(block)
        if compile_blocks:
            block = torch.compile(block)
        blocks[index] = block
    if world.distributed:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
            if precision == "bf16" else MixedPrecisionPolicy()
        for block in blocks:
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
    return model


def all_reduce_mean(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.AVG if world.device.type == "cuda" else dist.ReduceOp.SUM)
        if world.device.type != "cuda":  # gloo has no AVG
            value /= world.size
    return value
