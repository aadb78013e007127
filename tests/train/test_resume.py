"""Two gloo ranks train like one process, and a run resumes on another number of ranks: DCP reshards the weights
and optimizer, and the sampler goes on from the same point of the epoch's permutation."""

import shutil

import pytest
import torch

from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.checkpoint import finished_checkpoints
from medmix.train.data import ResumableSampler
from medmix.train.model import load_hf


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


@pytest.mark.slow
def test_two_gloo_ranks_train_like_one_process_and_resume_on_one(tmp_path, walk_shards, write_config, run_python,
                                                                  log_records, small_tokenizer, benchmark_items):
    """Two gloo ranks (FSDP2) and one process with the same global batch of 4 make the same steps: losses,
    validation loss (a set smaller than the ranks' slots too), benchmark accuracy (each rank scoring its share of
    the batches), the L2 anchor on sharded parameters, and the exported weights. Then the two-rank run resumes
    from step 3 on one rank, 2 x 2: 22 sequences are five steps an epoch, so it crosses the epoch boundary, and
    must make the two-rank run's steps 4 to 6."""
    pytest.importorskip("torch.distributed.fsdp")
    sha256 = Tokenizer(small_tokenizer).sha256  # the walk is no text: the tokenizer is there to encode prompts
    data = {"train": walk_shards(tmp_path / "train", 22, 3, tokenizer_sha256=sha256), "tokenizer": str(small_tokenizer),
            "validation": {"general": walk_shards(tmp_path / "valid_general", 8, 1, tokenizer_sha256=sha256),
                           "biomedical": walk_shards(tmp_path / "valid_biomedical", 3, 2, tokenizer_sha256=sha256)}}
    items = benchmark_items(tmp_path / "items", 160)  # the MedQA-style items fill three batches
    common = dict(steps=6, checkpoint_every=3, keep_checkpoints=2, eval_every=3, save_hf=True, l2_to_init=0.1,
                  eval_benchmarks=[{"name": "medqa", "format": "mcq_jsonl", "path": str(items["medqa"][0])},
                                   {"name": "pubmedqa", "format": "pubmedqa", "path": str(items["pubmedqa"][0]),
                                    "limit": 20}])
    two = write_config(tmp_path / "two" / "train.yaml", data, batch_size=2, **common)
    result = run_python(["-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "medmix.train", str(two)])
    assert result.returncode == 0, result.stderr[-3000:]
    one = write_config(tmp_path / "one" / "train.yaml", data, batch_size=4, **common)
    assert run_python(["-m", "medmix.train", str(one)]).returncode == 0
    sharded, single = log_records(tmp_path / "two" / "run"), log_records(tmp_path / "one" / "run")
    for step in range(1, 7):
        assert sharded[step]["loss"] == pytest.approx(single[step]["loss"], abs=1e-5), step
    assert sharded[6]["tokens"] == single[6]["tokens"] == 6 * 4 * 64
    evaluated = ("val_loss/general", "val_loss/biomedical", "acc/medqa", "acc_norm/medqa", "acc/pubmedqa",
                 "acc_norm/pubmedqa")
    for step in (0, 3, 6):
        assert [sharded[step][k] for k in evaluated] == pytest.approx([single[step][k] for k in evaluated], abs=1e-5)
    gathered, alone = load_hf(tmp_path / "two" / "run" / "hf"), load_hf(tmp_path / "one" / "run" / "hf")
    for (name, a), (_, b) in zip(gathered.state_dict().items(), alone.state_dict().items()):
        # gathered from the shards and written by rank 0; to 1e-4, as Adam's steps (lr 3e-3) are of about one
        # size whatever the gradient, so a rounding difference in a near-zero gradient moves a weight by ~1e-5
        assert torch.allclose(a, b, atol=1e-4), name

    run_dir = tmp_path / "two" / "run"
    shutil.rmtree(finished_checkpoints(run_dir / "checkpoints")[-1])  # back to step 3
    resume = write_config(tmp_path / "two" / "train.yaml", data, batch_size=2, grad_accum=2, **common)
    result = run_python(["-m", "medmix.train", str(resume)])  # one rank, 2 x 2
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = log_records(run_dir)
    assert list(resumed) == list(range(7))
    for step in range(4, 7):
        assert resumed[step]["loss"] == pytest.approx(sharded[step]["loss"], abs=1e-5), step
        assert resumed[step]["tokens"] == sharded[step]["tokens"]
    assert [resumed[6][k] for k in evaluated] == pytest.approx([sharded[6][k] for k in evaluated], abs=1e-5)
