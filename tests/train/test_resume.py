"""A run resumes on another number of ranks: DCP reshards the weights and optimizer, and the sampler goes on from
the same point of the epoch's permutation."""

import shutil

import pytest

from medmix.train.checkpoint import finished_checkpoints
from medmix.train.data import ResumableSampler


def test_the_sampler_goes_on_from_the_same_point_on_another_world_size():
    two = [ResumableSampler(22, rank, 2, seed=5, multiple=2) for rank in range(2)]  # a global batch of 4
    streams = [iter(sampler) for sampler in two]
    for stream in streams:
        [next(stream) for _ in range(6)]  # three steps
    state = two[0].state_dict()
    rest = [list(stream) + list(sampler) for stream, sampler in zip(streams, two)]  # this epoch, then the next
    one = ResumableSampler(22, 0, 1, seed=5, multiple=4)
    one.load_state_dict(state)
    assert list(one) + list(one) == [index for pair in zip(*rest) for index in pair]  # ranks interleave
    with pytest.raises(ValueError, match="global batch"):
        ResumableSampler(22, 0, 1, seed=5, multiple=2).load_state_dict(state)
    with pytest.raises(ValueError, match="cannot be split among 4 ranks"):  # mid-step: 6 served, not 4 x k
        ResumableSampler(22, 0, 4, seed=5, multiple=1).load_state_dict(two[0].state_dict() | {"position": 3})


def test_two_gloo_ranks_resume_on_one_with_the_same_losses(tmp_path, walk_shards, write_config, run_python,
                                                             log_records):
    """22 sequences and a global batch of 4: five steps an epoch. Resumed from step 3, the one-rank run crosses
    the epoch boundary and must make the two-rank run's steps 4 to 6."""
    pytest.importorskip("torch.distributed.fsdp")
    data = {"train": walk_shards(tmp_path / "train", 22, 3), "validation": {"general": walk_shards(
        tmp_path / "valid", 4, 4)}}
    common = dict(steps=6, checkpoint_every=3, keep_checkpoints=2, eval_every=3)
    config = write_config(tmp_path / "train.yaml", data, batch_size=2, **common)
    result = run_python(["-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "medmix.train", str(config)])
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    two_ranks = log_records(run_dir)
    for later in finished_checkpoints(run_dir / "checkpoints")[1:]:  # keep step 3 only
        shutil.rmtree(later)

    config = write_config(tmp_path / "train.yaml", data, batch_size=2, grad_accum=2, **common)  # 2 x 2 on one rank
    result = run_python(["-m", "medmix.train", str(config)])
    assert result.returncode == 0, result.stderr[-3000:]
    one_rank = log_records(run_dir)
    assert list(one_rank) == list(range(7))
    for step in range(4, 7):
        assert one_rank[step]["loss"] == pytest.approx(two_ranks[step]["loss"], abs=1e-5), step
        assert one_rank[step]["tokens"] == two_ranks[step]["tokens"]
    assert one_rank[6]["val_loss/general"] == pytest.approx(two_ranks[6]["val_loss/general"], abs=1e-5)
