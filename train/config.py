"""The training config: a typed pydantic model loaded from YAML (`medmix train CONFIG`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from medmix.benchmarks import BenchmarkSet
from medmix.schema import Fraction, Strict, did_you_mean, read_yaml


class ModelConfig(Strict):
    size: Literal["tiny", "small", "7b", "13b", "70b"] | None = Field("tiny", description="a built-in config")
    hf_checkpoint: str | None = Field(None, description="start from this HF LLaMA checkpoint folder instead")
    init_seed: int = 0


class DataConfig(Strict):
    train: str = Field(description="a training shard set (RUN_DIR/shards/train)")
    validation: dict[str, str] = Field(default_factory=dict, description="domain -> validation shard set")
    tokenizer_sha256: str | None = Field(None, description="refuse shards made with another tokenizer")
    tokenizer: str | None = Field(
        None, description="the tokenizer file the shards were made with (tokenizer.model or tokenizer.json): "
                          "shards of another tokenizer are refused, and `save_hf` writes it into the HF folder")
    verify_checksums: bool = False
    document_masking: bool = Field(
        False, description="attend only within each document of a packed sequence (from the shard index); "
                           "False: plain causal attention across the whole sequence, as Me-LLaMA trained")

    @model_validator(mode="after")
    def one_tokenizer_check(self) -> DataConfig:
        if self.tokenizer and self.tokenizer_sha256:
            raise ValueError("data: give `tokenizer` (the file, checked by its sha256) or `tokenizer_sha256`, not both")
        return self


class OptimizerConfig(Strict):
    lr: float = Field(8e-6, gt=0, description="peak learning rate (Me-LLaMA: 8e-6)")
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(1e-5, ge=0)
    decay_norms_and_biases: bool = Field(
        False, description="LLaMA and transformers' convention (False): no weight decay on norm weights and biases")
    grad_clip: float = Field(1.0, gt=0)


class ScheduleConfig(Strict):
    """Re-warming then re-decay for continual pre-training; or constant with a final cooldown ("infinite")."""

    kind: Literal["cosine", "constant_cooldown"] = "cosine"
    warmup_ratio: Fraction = 0.05
    min_lr_ratio: Fraction = Field(0.1, description="the floor, as a share of the peak")
    cooldown_ratio: Fraction = Field(0.2, description="constant_cooldown: share of steps spent decaying")


class EvalBenchmark(BenchmarkSet):
    """A benchmark scored at every evaluation of a run, as `medmix eval` scores it (a recipe's benchmark fields)."""

    limit: PositiveInt | None = Field(None, description="score the first N items (all when unset)")
    shots: NonNegativeInt = Field(0, description="labelled examples before each item, drawn as `medmix eval --shots`")

    @model_validator(mode="after")
    def has_options(self) -> EvalBenchmark:
        if self.format not in ("mcq_jsonl", "pubmedqa"):
            raise ValueError(f"eval_benchmarks -> {self.name}: {self.format} items have no options to score")
        return self


class TrainConfig(Strict):
    run_dir: str
    model: ModelConfig = ModelConfig()
    data: DataConfig
    steps: PositiveInt
    batch_size: PositiveInt = Field(8, description="sequences per rank per micro-step")
    grad_accum: PositiveInt = 1
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    l2_to_init: float = Field(0.0, ge=0, description="penalty (lambda/2)||w - w0||^2 toward the starting weights")
    precision: Literal["fp32", "bf16"] = "fp32"
    activation_checkpointing: bool = False
    compile: bool = False
    eval_every: PositiveInt = 50
    eval_sequences: PositiveInt = Field(
        64, description="validation sequences per domain (all of a smaller set): the same set for every batch "
                        "size, accumulation and world size, so curves from different runs compare")
    eval_benchmarks: list[EvalBenchmark] = Field(
        default_factory=list, description="benchmarks whose acc and acc_norm are logged at every evaluation, "
                                          "against tokens seen; their prompts are encoded with data.tokenizer")
    checkpoint_every: PositiveInt = 50
    keep_checkpoints: PositiveInt = 2
    log_every: PositiveInt = 1
    seed: int = 0
    peak_tflops: float | None = Field(None, description="per device, for MFU (A100 bf16: 312)")
    save_hf: bool = Field(False, description="also write the final weights as a HF checkpoint")

    @model_validator(mode="after")
    def one_model_source(self) -> TrainConfig:
        if self.model.hf_checkpoint and self.model.size not in (None, "tiny"):
            raise ValueError("model: give `size` or `hf_checkpoint`, not both")
        return self

    @model_validator(mode="after")
    def benchmarks_can_be_scored(self) -> TrainConfig:
        if self.eval_benchmarks and not self.data.tokenizer:
            raise ValueError("eval_benchmarks: name the shards' tokenizer file in data -> tokenizer, to encode prompts")
        names = [benchmark.name for benchmark in self.eval_benchmarks]
        if len(set(names)) < len(names):
            raise ValueError(f"eval_benchmarks: names repeat ({', '.join(names)})")
        return self

    def check_shards(self) -> None:
        """Every shard set it names exists (a folder with manifest.json), and so does its tokenizer file: checked
        before a run creates anything, and all missing shard sets are named at once."""
        named = {"data -> train": self.data.train} | {f"data -> validation -> {domain}": path
                                                      for domain, path in self.data.validation.items()}
        missing = [f"{key}: '{path}'" for key, path in named.items() if not (Path(path) / "manifest.json").is_file()]
        if missing:
            raise ValueError("no shard set (a folder with manifest.json) at " + "; ".join(missing)
                             + "; build one with `medmix build RECIPE` (it writes RUN_DIR/shards/train and "
                               "RUN_DIR/shards/valid_<domain>)")
        if self.data.tokenizer and not Path(self.data.tokenizer).is_file():
            raise ValueError(f"data -> tokenizer: no file at '{self.data.tokenizer}' (the recipe's tokenizer file)")


class TrainConfigError(ValueError):
    """A training config that cannot run; the message names the file, the key and the fix, on one line each."""


def load_train_config(path: str | Path, **overrides) -> TrainConfig:
    path = Path(path)
    raw = read_yaml(path, "training config", TrainConfigError)
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{path}: a training config is a YAML mapping with run_dir, data, steps, ...")
    try:
        return TrainConfig.model_validate(raw | overrides)
    except ValidationError as error:
        problems = [f"{' -> '.join(map(str, e['loc'])) or 'config'}: "
                    f"{e['msg'].removeprefix('Value error, ')}{did_you_mean(e, TrainConfig)}" for e in error.errors()]
        raise TrainConfigError("\n".join(f"{path}: {problem}" for problem in problems)) from None
