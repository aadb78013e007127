"""The recipe: typed pydantic models loaded from YAML, and the checks that make a bad recipe fail early.

Paths: source `paths` (files or globs, `**` allowed) are relative to `data_root`, which is itself
relative to the recipe file (default: the recipe's folder). `output_dir` is relative to where medmix runs.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator

from medmix.corpus.stages import STAGES, stage_config
from medmix.schema import Domain, SourceName, Strict, did_you_mean, read_yaml


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the offending key or path."""


# ----------------------------------------------------------------------------------------------- sources


class SourceBase(Strict):
    name: SourceName
    domain: Domain
    paths: list[str] = Field(min_length=1)
    deidentified: bool = Field(False, description="the notes are already de-identified (MIMIC is)")
    max_chars: PositiveInt = Field(10_000_000, description="longer documents are quarantined as too_long")


class PubmedOptions(Strict):
    require_abstract: bool = True


class PubmedSource(SourceBase):
    format: Literal["pubmed_xml"]
    options: PubmedOptions = PubmedOptions()


class PmcOptions(Strict):
    keep_tables: bool = False
    keep_figure_captions: bool = False
    keep_formulas: bool = False
    keep_references: bool = False


class PmcSource(SourceBase):
    format: Literal["pmc_jats"]
    options: PmcOptions = PmcOptions()


class Mimic3Options(Strict):
    categories: list[str] | None = Field(None, description="keep only these CATEGORY values")


class Mimic3Source(SourceBase):
    format: Literal["mimic3_noteevents"]
    options: Mimic3Options = Mimic3Options()


class NoOptions(Strict):
    pass


class Mimic4Source(SourceBase):
    format: Literal["mimic4_notes"]
    options: NoOptions = NoOptions()


class MimicCxrSource(SourceBase):
    format: Literal["mimic_cxr"]
    options: NoOptions = NoOptions()


class RowOptions(Strict):
    text_key: str = "text"
    id_key: str = "id"
    metadata_keys: list[str] = []


class JsonlSource(SourceBase):
    format: Literal["jsonl"]
    options: RowOptions = RowOptions()


class ParquetSource(SourceBase):
    format: Literal["parquet"]
    options: RowOptions = RowOptions()


class CsvOptions(Strict):
    text_column: str
    id_column: str
    columns: list[str] | None = Field(None, description="column names when the file has no header row")
    metadata_columns: list[str] = []
    include: dict[str, list[str]] | None = None


class CsvSource(SourceBase):
    format: Literal["csv"]
    options: CsvOptions


Source = Annotated[
    Union[PubmedSource, PmcSource, Mimic3Source, Mimic4Source, MimicCxrSource, JsonlSource, ParquetSource, CsvSource],
    Field(discriminator="format"),
]

# ------------------------------------------------------------------------------------------------ stages


# Each kind's config lives in its module (`medmix.corpus.stages`); the union is built from the registry.
Stage = Annotated[Union[tuple(stage_config(kind) for kind in STAGES)], Field(discriminator="kind")]

# ------------------------------------------------------------------------------------ mix and tokenizer


class MixConfig(Strict):
    total_tokens: PositiveInt
    shares: dict[str, float] = Field(description="target share per domain or per source (any positive scale)")
    max_repeats: float = Field(4.0, gt=0, description="most passes over any source's tokens")
    on_shortfall: Literal["error", "warn"] = Field(
        "error", description="a target needing more than max_repeats passes: fail, or cap and warn")
    validation_fraction: Annotated[float, Field(ge=0, lt=0.5)] = Field(
        0.005, description="share of each domain's documents held out, before mixing, as validation")

    @field_validator("shares")
    @classmethod
    def shares_are_positive(cls, shares: dict[str, float]) -> dict[str, float]:
        if not shares:
            raise ValueError("at least one share is needed")
        for key, share in shares.items():
            if not 0 < share < float("inf"):
                raise ValueError(f"share for '{key}' must be positive and finite, got {share}")
        return shares


class TokenizerConfig(Strict):
    path: str = Field(description="SentencePiece tokenizer.model or HF tokenizer.json")
    bos: bool = Field(True, description="<s> before each document (LLaMA-2)")
    eos: bool = Field(True, description="</s> after each document (LLaMA-2)")


class ShardConfig(Strict):
    seq_len: PositiveInt = Field(4096, description="tokens per training sequence (LLaMA-2: 4096)")
    sequences_per_shard: PositiveInt = Field(8192, description="sequences per shard file (8192 x 4096 x 2 B = 64 MB)")


# ------------------------------------------------------------------------------------------- executors


class LocalExecutor(Strict):
    kind: Literal["local"] = "local"
    tasks: PositiveInt = 2
    workers: PositiveInt | None = Field(None, description="tasks run at once; default: all")


class SlurmExecutor(Strict):
    kind: Literal["slurm"]
    tasks: PositiveInt
    partition: str
    time: str = "24:00:00"
    cpus_per_task: PositiveInt = 1
    mem_per_cpu_gb: PositiveInt = 2
    workers: PositiveInt | None = Field(None, description="array tasks running at once; default: no limit")
    venv: str | None = Field(None, description="venv to activate on the nodes; default: the one running medmix")
    sbatch_args: dict[str, str] = {}


class RayExecutor(Strict):
    kind: Literal["ray"]
    tasks: PositiveInt = 2
    workers: PositiveInt | None = None
    cpus_per_task: PositiveInt = 1
    mem_per_cpu_gb: float = Field(2, gt=0)
    address: str | None = Field(None, description="ray cluster address; default: the running or a local one")


Executor = Annotated[Union[LocalExecutor, SlurmExecutor, RayExecutor], Field(discriminator="kind")]

# ---------------------------------------------------------------------------------------------- recipe


class Recipe(Strict):
    name: str
    seed: int = 0
    output_dir: str
    data_root: str | None = None
    sources: list[Source] = Field(min_length=1)
    stages: list[Stage] = []
    mix: MixConfig
    tokenizer: TokenizerConfig
    shards: ShardConfig = ShardConfig()
    executor: Executor = LocalExecutor()

    @model_validator(mode="after")
    def consistent(self) -> Recipe:
        names = [s.name for s in self.sources]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"sources: names must be unique, repeated: {duplicates}")
        known = set(names) | {s.domain for s in self.sources}
        for key in self.mix.shares:
            if key not in known:
                raise ValueError(f"mix.shares: '{key}' is neither a source name nor a domain of this recipe")
        for index, stage in enumerate(self.stages):
            unknown = sorted(set(getattr(stage, "priority", None) or []) - set(names))
            if unknown:
                raise ValueError(f"stages[{index}] -> priority: unknown sources {unknown}")
        if sum(stage.kind == "phi" for stage in self.stages) > 1:
            raise ValueError("stages: at most one `phi` stage (its settings also scrub sources as they are read)")
        scrubbed = {domain for stage in self.stages if stage.kind == "phi" for domain in stage.domains}
        for index, source in enumerate(self.sources):
            if source.domain == "clinical" and not source.deidentified and "clinical" not in scrubbed:
                raise ValueError(f"sources[{index}] '{source.name}': clinical notes that are not de-identified "
                                 "need a `phi` stage (or `deidentified: true`, if they are)")
        return self


# ---------------------------------------------------------------------------------------------- loading


def _location(loc: tuple, raw: dict) -> str:
    """`('sources', 2, 'pmc_jats', 'options', 'x')` -> `sources[2] 'pmc' -> options -> x`."""
    parts, node = [], raw
    for item in loc:
        if isinstance(item, int):
            entry = node[item] if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) else {}
            label = f" '{entry['name']}'" if entry.get("name") else f" ({entry['kind']})" if entry.get("kind") else ""
            parts[-1] += f"[{item}]{label}"
            node = node[item] if isinstance(node, list) and item < len(node) else {}
        elif isinstance(node, dict) and item not in node and item in (node.get("format"), node.get("kind")):
            continue  # pydantic's union tag (e.g. 'pmc_jats'), not a key of the YAML
        else:
            parts.append(str(item))
            node = node.get(item, {}) if isinstance(node, dict) else {}
    return " -> ".join(parts) or "recipe"


def format_validation_error(error: ValidationError, raw: dict) -> str:
    """One line per problem, each naming its place in the recipe; a misspelled key gets a suggestion."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ") + did_you_mean(problem, Recipe)
        lines.append(f"{_location(problem['loc'], raw)}: {message}")
    return "\n".join(lines)


def parse_recipe(raw: dict) -> Recipe:
    if not isinstance(raw, dict):
        raise RecipeError("a recipe is a YAML mapping of keys such as name, sources, mix")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        raise RecipeError(format_validation_error(error, raw)) from None


def load_recipe(path: str | Path, *, check_paths: bool = True, **overrides) -> Recipe:
    """Load and validate a recipe file; `overrides` replace top-level keys (e.g. output_dir, data_root)."""
    path = Path(path)
    raw = read_yaml(path, "recipe file", RecipeError)
    raw = (raw or {}) | {key: value for key, value in overrides.items() if value is not None}
    data_root = Path(raw.get("data_root") or ".")
    raw["data_root"] = str(data_root if data_root.is_absolute() else (path.parent / data_root).resolve())
    try:
        recipe = parse_recipe(raw)
        if check_paths:
            resolve_inputs(recipe)
    except RecipeError as error:  # each problem names the file, as a training config's do
        raise RecipeError("\n".join(f"{path}: {line}" for line in str(error).splitlines())) from None
    return recipe


def resolve_inputs(recipe: Recipe) -> dict[str, list[str]]:
    """Each source's input files, sorted. Paths or globs that match no file, and a tokenizer, model or benchmark
    file that is not there, are errors, all listed at once (before the build reads anything)."""
    inputs, missing = {}, []
    if not Path(tokenizer := resolve_path(recipe, recipe.tokenizer.path)).is_file():
        missing.append(f"tokenizer -> path: '{tokenizer}' is not a file")
    for index, source in enumerate(recipe.sources):
        files: set[str] = set()
        for number, pattern in enumerate(source.paths):
            full = resolve_path(recipe, pattern)
            matches = [m for m in glob.glob(full, recursive=True) if Path(m).is_file()]
            if not matches:
                missing.append(f"sources[{index}] '{source.name}' -> paths[{number}]: '{full}' matches no file")
            files.update(str(Path(m).resolve()) for m in matches)
        for other, taken in inputs.items():
            if shared := files & set(taken):
                raise RecipeError(f"sources[{index}] '{source.name}' and '{other}' both read {sorted(shared)[0]}"
                                  f"{f' and {len(shared) - 1} more files' if len(shared) > 1 else ''}; "
                                  "each file belongs to one source")
        inputs[source.name] = sorted(files)
    for index, stage in enumerate(recipe.stages):
        for key in ("model", "known_identifiers"):
            if (value := getattr(stage, key, None)) and not Path(resolve_path(recipe, value)).is_file():
                missing.append(f"stages[{index}] ({stage.kind}) -> {key}: '{resolve_path(recipe, value)}' is not a file")
        for number, benchmark in enumerate(getattr(stage, "benchmarks", [])):
            for key in ("path", "split_ids"):
                if (value := getattr(benchmark, key)) and not Path(resolve_path(recipe, value)).is_file():
                    missing.append(f"stages[{index}] ({stage.kind}) -> benchmarks[{number}] '{benchmark.name}' -> "
                                   f"{key}: '{resolve_path(recipe, value)}' is not a file")
    if missing:
        raise RecipeError("\n".join(missing))
    return inputs


def resolve_path(recipe: Recipe, path: str) -> str:
    """A recipe path: absolute as given, else relative to data_root."""
    return path if Path(path).is_absolute() else str(Path(recipe.data_root or ".") / path)
