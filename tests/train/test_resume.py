"""A run resumes on another number of ranks: DCP reshards the weights and optimizer, and the sampler goes on from
the same point of the epoch's permutation."""

import shutil

import pytest

from medmix.tokenize.tokenizer import Tokenizer
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
                                                             log_records, small_tokenizer, benchmark_items):
    """22 sequences and a global batch of 4: five steps an epoch. Resumed from step 3, the one-rank run crosses
    the epoch boundary and must make the two-rank run's steps 4 to 6. Benchmark accuracy, scored by two ranks
    (each its share of the batches) and by one, is the same."""
    pytest.importorskip("torch.distributed.fsdp")
    sha256 = Tokenizer(small_tokenizer).sha256  # the walk is no text: the tokenizer is there to encode prompts
    data = {"train": walk_shards(tmp_path / "train", 22, 3, tokenizer_sha256=sha256), "tokenizer": str(small_tokenizer),
            "validation": {"general": walk_shards(tmp_path / "valid", 4, 4, tokenizer_sha256=sha256)}}
    items = benchmark_items(tmp_path / "items", 160)  # MedQA-style items fill two batches
    common = dict(steps=6, checkpoint_every=3, keep_checkpoints=2, eval_every=3, eval_benchmarks=[
        {"name": "medqa", "format": "mcq_jsonl", "path": str(items["medqa"][0])},
        {"name": "pubmedqa", "format": "pubmedqa", "path": str(items["pubmedqa"][0]), "limit": 20}])
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
    for key in ("acc/medqa", "acc_norm/medqa", "acc/pubmedqa", "acc_norm/pubmedqa"):
        assert one_rank[6][key] == two_ranks[6][key], key
