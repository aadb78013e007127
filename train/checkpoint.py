"""Checkpoints with `torch.distributed.checkpoint`: sharded, atomic, the last k kept, exact resume.

A checkpoint is written to `step_000120.partial/` and renamed to `step_000120/` only when every rank
has finished writing, so a crash mid-write leaves a `.partial` folder that is never loaded (and is
removed by the next save). It holds model and optimizer (DCP), the loop's state (`loop.pt`: step, tokens
seen, the sampler position, and the run's identity, which a resuming run must match) and each rank's RNG
states (`rng_rank<r>.pt`).

A run may resume on another number of ranks: DCP reshards model and optimizer to the new layout, and the
sampler position is global (`ResumableSampler.load_state_dict`). The identity holds the global batch, not
the world size, so the steps stay the same. RNG states are restored on the ranks that saved one.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from medmix.train.parallel import World

FINISHED = re.compile(r"^step_(\d{6,})$")
# one process without a process group is a supported DCP mode; its warning says nothing the user can act on
warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")


def finished_checkpoints(folder: Path) -> list[Path]:
    done = [p for p in folder.glob("step_*") if p.is_dir() and FINISHED.match(p.name)]
    return sorted(done, key=lambda p: int(FINISHED.match(p.name)[1]))


def latest_checkpoint(folder: Path) -> Path | None:
    done = finished_checkpoints(folder)
    return done[-1] if done else None


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def save_checkpoint(folder: Path, step: int, model, optimizer, loop_state: dict, world: World, keep: int) -> Path:
    final = folder / f"step_{step:06d}"
    partial = final.with_name(final.name + ".partial")
    if world.main:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    barrier(world)
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=str(partial))
    torch.save(rng_state(), partial / f"rng_rank{world.rank}.pt")
    if world.main:
        torch.save(loop_state, partial / "loop.pt")
    barrier(world)
    if world.main:
        partial.rename(final)  # the moment the checkpoint exists
        for stale in [*finished_checkpoints(folder)[:-keep], *folder.glob("step_*.partial")]:
            shutil.rmtree(stale, ignore_errors=True)
    barrier(world)
    return final


def loop_state(path: Path) -> dict:
    return torch.load(path / "loop.pt", weights_only=False)


def load_checkpoint(path: Path, model, optimizer, world: World) -> dict:
    """Restore model, optimizer and RNG in place, resharded to this world; returns the loop state."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    if (rng := path / f"rng_rank{world.rank}.pt").exists():
        saved = torch.load(rng, weights_only=False)
        torch.set_rng_state(saved["torch"])
        if saved["cuda"]:
            torch.cuda.set_rng_state_all(saved["cuda"])
    return loop_state(path)


def load_weights(path: Path, model) -> None:
    """The model's weights alone, for evaluation: one process, whatever the number of ranks that saved them."""
    state = get_model_state_dict(model)
    dcp.load({"model": state}, checkpoint_id=str(path))
    set_model_state_dict(model, state)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
