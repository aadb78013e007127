"""The trainer on CPU: HF parity, exact resume after a kill, atomic checkpoints (two gloo ranks: test_resume.py)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from medmix.train.checkpoint import finished_checkpoints, latest_checkpoint
from medmix.train.config import ScheduleConfig
from medmix.train.loop import learning_rate
from medmix.train.model import CONFIGS, Llama, load_hf, save_hf


@pytest.fixture(scope="module")
def shards(tmp_path_factory, walk_shards) -> dict:
    root = tmp_path_factory.mktemp("shards")
    return {"train": walk_shards(root / "train", 256, 0),
            "validation": {"general": walk_shards(root / "valid_general", 8, 1),
                           "biomedical": walk_shards(root / "valid_biomedical", 3, 2)}}


@pytest.mark.parametrize("rope_theta", [10000.0, 500000.0])
def test_logits_equal_transformers_after_a_round_trip_through_the_hf_format(tmp_path, rope_theta):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf_config = transformers.LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                         rope_theta=rope_theta)
    reference = transformers.LlamaForCausalLM(hf_config).eval()
    reference.save_pretrained(tmp_path / "hf")
    ours = load_hf(tmp_path / "hf").eval()
    tokens = torch.randint(0, 300, (2, 37))
    with torch.no_grad():
        expected = reference(tokens).logits
        assert torch.allclose(ours(tokens), expected, atol=1e-5, rtol=0)
        save_hf(ours, tmp_path / "back", max_shard_bytes=60_000)  # several safetensors shards and an index
        assert (tmp_path / "back" / "model.safetensors.index.json").exists()
        again = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "back").eval()
        assert torch.allclose(again(tokens).logits, expected, atol=1e-5, rtol=0)
    assert ours.config.rope_theta == rope_theta  # read from wherever this transformers version writes it


def test_rope_settings_from_both_transformers_layouts_and_scaling_refused():
    from medmix.train.model import rope_theta_from_hf

    assert rope_theta_from_hf({"rope_theta": 250000.0}) == 250000.0  # transformers 4
    assert rope_theta_from_hf({"rope_parameters": {"rope_type": "default", "rope_theta": 5e5}}) == 5e5  # 5
    assert rope_theta_from_hf({}) == 10000.0
    with pytest.raises(ValueError, match="RoPE type 'llama3'"):
        rope_theta_from_hf({"rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0}})
    with pytest.raises(ValueError, match="RoPE type 'linear'"):
        rope_theta_from_hf({"rope_theta": 1e4, "rope_scaling": {"type": "linear", "factor": 2.0}})


def test_no_weight_decay_on_norms_unless_asked():
    from medmix.train.config import OptimizerConfig
    from medmix.train.loop import parameter_groups

    model = Llama(CONFIGS["tiny"])
    decayed, plain = parameter_groups(model, OptimizerConfig(weight_decay=0.1))
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    norms = sum(1 for name, _ in model.named_parameters() if "norm" in name)
    assert len(plain["params"]) == norms > 0  # every RMSNorm gain, and nothing else (the model has no biases)
    (everything,) = parameter_groups(model, OptimizerConfig(weight_decay=0.1, decay_norms_and_biases=True))
    assert len(everything["params"]) == len(list(model.parameters()))


def test_validation_uses_the_same_sequences_for_every_batch_layout(tmp_path, shards, write_config, log_records):
    from medmix.train.config import load_train_config
    from medmix.train.loop import train

    first = {}
    for batch_size, grad_accum in ((4, 1), (2, 2), (1, 4)):
        path = write_config(tmp_path / f"{batch_size}x{grad_accum}" / "train.yaml", shards, steps=1,
                            batch_size=batch_size, grad_accum=grad_accum, eval_sequences=6)
        train(load_train_config(path))
        step0 = log_records(path.parent / "run")[0]
        first.setdefault("reference", step0)
        for key in ("val_loss/general", "val_loss/biomedical"):
            assert step0[key] == pytest.approx(first["reference"][key], abs=1e-6)


def test_accumulation_at_an_epoch_boundary_makes_the_same_updates(tmp_path, walk_shards, write_config, log_records):
    """10 sequences and a global batch of 4: an epoch is two steps for 4 x 1 and 2 x 2 alike, so steps 3 and 4
    start the next epoch the same way (drop per global batch, not per micro-batch)."""
    from medmix.train.config import load_train_config
    from medmix.train.loop import train

    data = {"train": walk_shards(tmp_path / "train", 10, 3), "validation": {}}
    losses = {}
    for batch_size, grad_accum in ((4, 1), (2, 2)):
        path = write_config(tmp_path / f"{batch_size}x{grad_accum}" / "train.yaml", data, steps=5,
                            batch_size=batch_size, grad_accum=grad_accum, checkpoint_every=5)
        train(load_train_config(path))
        losses[(batch_size, grad_accum)] = [r["loss"] for s, r in sorted(log_records(path.parent / "run").items()) if s]
    assert len(losses[(4, 1)]) == 5
    assert losses[(4, 1)] == pytest.approx(losses[(2, 2)], abs=1e-5)


def test_grouped_query_attention_and_sizes():
    assert CONFIGS["70b"].n_kv_heads == 8 and CONFIGS["70b"].n_heads == 64
    assert 6.5e9 < CONFIGS["7b"].num_params() < 6.9e9 and 12.8e9 < CONFIGS["13b"].num_params() < 13.2e9
    model = Llama(CONFIGS["tiny"])
    model.init_weights(0)
    assert model(torch.randint(0, 2000, (1, 10))).shape == (1, 10, 2000)


def test_schedule_rewarms_then_decays_to_the_floor():
    cosine = ScheduleConfig(kind="cosine", warmup_ratio=0.05, min_lr_ratio=0.1)
    lrs = [learning_rate(step, 100, 8e-6, cosine) for step in range(100)]
    assert lrs[0] == pytest.approx(8e-6 / 5) and max(lrs) == pytest.approx(8e-6) and lrs.index(max(lrs)) == 4
    assert lrs[-1] == pytest.approx(8e-7, rel=0.01) and all(a >= b for a, b in zip(lrs[5:], lrs[6:]))
    infinite = ScheduleConfig(kind="constant_cooldown", warmup_ratio=0.05, cooldown_ratio=0.2, min_lr_ratio=0.1)
    lrs = [learning_rate(step, 100, 1.0, infinite) for step in range(100)]
    assert lrs[5:80] == [1.0] * 75 and lrs[-1] == pytest.approx(0.1) and lrs[80] < 1.0


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_losses_and_never_loads_a_partial_checkpoint(tmp_path, shards, write_config, log_records, run_python):
    steps = dict(steps=60, checkpoint_every=5, eval_every=20)
    whole = write_config(tmp_path / "whole" / "train.yaml", shards, **steps)
    assert run_python(["-m", "medmix.train", str(whole)]).returncode == 0
    expected = log_records(tmp_path / "whole" / "run")

    killed = write_config(tmp_path / "killed" / "train.yaml", shards, **steps)
    run_dir = tmp_path / "killed" / "run"
    process = subprocess.Popen([sys.executable, "-m", "medmix.train", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not (latest_checkpoint(run_dir / "checkpoints") and max(
            log_records(run_dir), default=0) >= 12):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = max(log_records(run_dir))
    assert 12 <= stopped_at < 60, "the run must be killed midway"
    # a crash during a later save leaves a half-written checkpoint: it must be ignored, then cleaned up
    partial = run_dir / "checkpoints" / "step_000055.partial"
    partial.mkdir()
    (partial / ".metadata").write_text("half written")
    assert latest_checkpoint(run_dir / "checkpoints").name != partial.name

    assert run_python(["-m", "medmix.train", str(killed)]).returncode == 0
    resumed = log_records(run_dir)
    assert [resumed[s]["loss"] for s in range(1, 61)] == [expected[s]["loss"] for s in range(1, 61)]
    assert resumed[60]["val_loss/general"] == expected[60]["val_loss/general"]
    assert [p.name for p in finished_checkpoints(run_dir / "checkpoints")] == ["step_000055", "step_000060"]
    assert not partial.exists()


def test_the_l2_anchor_holds_the_weights_near_their_start(tmp_path, shards, write_config):
    from medmix.train.config import load_train_config
    from medmix.train.loop import build_model, train

    distances = []
    for name, strength in (("free", 0.0), ("anchored", 10.0)):
        config = load_train_config(write_config(tmp_path / name / "train.yaml", shards, steps=8, l2_to_init=strength,
                                                checkpoint_every=100, save_hf=True))
        train(config)
        start, end = build_model(config), load_hf(Path(config.run_dir) / "hf")
        distances.append(sum(((a - b) ** 2).sum().item() for a, b in zip(start.parameters(), end.parameters())))
    assert distances[1] < 0.5 * distances[0]


@pytest.mark.slow
def test_the_forgetting_experiment_shows_replay_protecting_general_text(tmp_path):
    """A reduced sweep (two settings, two seeds, short runs) on generated text: the direction, not the sizes."""
    from medmix.train.experiment import Setting, run_forgetting

    result = run_forgetting(tmp_path / "out", shared=tmp_path / "absent", settings=[Setting(0.0), Setting(0.2)],
                            seeds=2, pretrain_steps=60, continue_steps=40)
    assert result["data"]["text"].startswith("generated text (no general/wikitext2_valid_test_articles.jsonl")
    rows = {row["setting"]: {key: value[0] for key, value in row.items() if key.endswith(("before", "after"))}
            for row in result["rows"]}
    no_replay, replay = rows["replay_0_cosine"], rows["replay_20_cosine"]
    assert no_replay["general_after"] > no_replay["general_before"] + 0.2  # forgetting, without replay
    assert replay["general_after"] < no_replay["general_after"]  # replay limits it
    assert no_replay["medical_after"] < no_replay["medical_before"] and replay["medical_after"] < replay["medical_before"]
    assert len(result["runs"]) == 4 and all(row["general_after"][1] > 0 for row in result["rows"])  # sd of 2 seeds
    assert "general loss before" in (tmp_path / "out" / "forgetting.svg").read_text()


def test_the_forgetting_experiments_real_text_holds_out_whole_documents_and_patients(shared):
    from medmix.train.experiment import load_corpus, read_physionet

    corpus = load_corpus(shared)
    assert corpus.description == f"real text ({shared})"
    assert {domain: sorted(sources) for domain, sources in corpus.train.items()} == {
        "general": ["common_crawl", "nltk_abc", "nltk_inaugural", "nltk_state_union", "nltk_webtext", "wikitext"],
        "medical": ["mtsamples", "physionet_notes", "pmc", "pubmed"]}
    for domain, sources in corpus.train.items():
        for source, train in sources.items():
            held_out = corpus.held_out[domain][source]
            assert train and held_out and not set(train) & set(held_out), source
    patient_of = {text: patient for patient, text in read_physionet(shared / "phi" / "physionet_deid_dev" / "id.text")}
    assert not {patient_of[t] for t in corpus.train["medical"]["physionet_notes"]} & \
        {patient_of[t] for t in corpus.held_out["medical"]["physionet_notes"]}


def test_the_me_llama_training_recipe_has_the_papers_defaults():
    from medmix.train.config import load_train_config

    config = load_train_config(Path(__file__).resolve().parents[2] / "recipes" / "train" / "me-llama-13b.yaml")
    assert (config.optimizer.lr, config.optimizer.betas, config.optimizer.weight_decay) == (8e-6, (0.9, 0.95), 1e-5)
    assert config.schedule.kind == "cosine" and config.schedule.warmup_ratio == 0.05 and config.precision == "bf16"
    # LLaMA-2's tokenizer.model (the checked-in value is the file's published sha256)
    assert config.data.tokenizer_sha256 == "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"


def test_the_pinned_tokenizer_hash_is_the_llama2_tokenizer_model(shared):
    from medmix.io import file_sha256
    from medmix.train.config import load_train_config

    config = load_train_config(Path(__file__).resolve().parents[2] / "recipes" / "train" / "me-llama-13b.yaml")
    assert file_sha256(shared / "tokenizers" / "llama2" / "tokenizer.model") == config.data.tokenizer_sha256


def test_shards_longer_than_the_models_context_are_refused(tmp_path, shards, walk_shards, write_config):
    from medmix.train.config import load_train_config
    from medmix.train.loop import train

    long = walk_shards(tmp_path / "long", 8, 0, seq_len=1024)  # the tiny model's max_seq_len is 512
    path = write_config(tmp_path / "train.yaml", {"train": long, "validation": {}}, batch_size=2)
    with pytest.raises(ValueError, match=r"sequences \(1024 tokens\) are longer than the model's max_seq_len \(512\)"):
        train(load_train_config(path))


def test_a_run_dir_refuses_checkpoints_of_other_settings_and_too_small_data(tmp_path, shards, write_config):
    from medmix.train.config import load_train_config
    from medmix.train.loop import train

    path = write_config(tmp_path / "train.yaml", shards, steps=4)
    train(load_train_config(path))
    assert train(load_train_config(path)) == []  # finished: nothing to do
    with pytest.raises(ValueError, match=r"belongs to a run with other settings \(seed, steps\)"):
        train(load_train_config(path, steps=8, seed=1))
    with pytest.raises(ValueError, match="3 sequences cannot fill a batch of 4"):
        train(load_train_config(path, run_dir=str(tmp_path / "other"),
                                data={"train": shards["validation"]["biomedical"]}))


def test_train_with_missing_shards_is_one_line_and_creates_nothing(tmp_path):
    from typer.testing import CliRunner

    from medmix.cli import app

    config = tmp_path / "train.yaml"
    config.write_text(f"run_dir: {tmp_path / 'run'}\nsteps: 2\ndata:\n  train: {tmp_path / 'nowhere'}\n"
                      f"  validation: {{general: {tmp_path / 'nor_here'}}}\n")
    result = CliRunner().invoke(app, ["train", str(config)], terminal_width=400)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "data -> train" in result.output and "data -> validation -> general" in result.output  # all at once
    assert "medmix build" in result.output and not (tmp_path / "run").exists()
    typo = tmp_path / "typo.yaml"
    typo.write_text(config.read_text() + "stpes: 3\n")
    result = CliRunner().invoke(app, ["train", str(typo)], terminal_width=400)
    assert result.exit_code == 2 and "stpes: Extra inputs are not permitted" in result.output
    assert CliRunner().invoke(app, ["train", str(tmp_path / "absent.yaml")]).exit_code == 2


def test_a_misspelled_training_key_gets_the_likely_key(tmp_path, shards, write_config):
    from medmix.train.config import TrainConfigError, load_train_config

    path = write_config(tmp_path / "train.yaml", shards, optimiser={"lr": 1e-3}, model={"szie": "tiny"}, lr=1e-3)
    with pytest.raises(TrainConfigError) as error:
        load_train_config(path)
    assert f"{path}: optimiser: Extra inputs are not permitted; did you mean 'optimizer'?" in str(error.value)
    assert f"{path}: model -> szie: Extra inputs are not permitted; did you mean 'size'?" in str(error.value)
    assert f"{path}: lr: Extra inputs are not permitted; lr goes under optimizer" in str(error.value)
