"""One object names every path of a run directory, so the layout is written down once.

    RUN_DIR/recipe.json                        the validated recipe this run was built from
    RUN_DIR/inputs.json                        every source's resolved input files
    RUN_DIR/tokenizer.json                     the tokenizer's path and sha256
    RUN_DIR/phi_files.json                     with a phi stage: the tagger and known-identifier files' sha256
    RUN_DIR/phi_secret.json                    with surrogates: the secret's variable and keyed fingerprint
    RUN_DIR/stages/NN_<kind>/kept/             documents that left the stage, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<kind>/removed/<step>/   quarantined records with their reason, <rank>.jsonl.gz
    RUN_DIR/stages/NN_<kind>/ledger/           per-task accounting, <step>-<rank>.parquet
    RUN_DIR/stages/NN_<kind>/phi_counts/       PHI spans found, counts by type only, <step>-<rank>.parquet
    RUN_DIR/stages/NN_<kind>/work/             a stage's own intermediate files (dedup's signatures, ...)
    RUN_DIR/tokens/                            each tokenize task's ids (<rank>.bin) and document table
    RUN_DIR/mix/plan.json                      the mix plan: targets, tokens per source, repetition factors
    RUN_DIR/mix/<set>.npy                      the document stream each shard set is packed from
    RUN_DIR/shards/train/, shards/valid_<domain>/   the shard sets (`medmix.tokenize.shards`)
    RUN_DIR/logs/NN_<kind>/<phase>/            datatrove's logs, stats and completion markers per phase
    RUN_DIR/logs/shards/<phase>/               the same for tokenize, mix, pack and manifests
    RUN_DIR/logs/console.log                   task output that would otherwise break the progress bars
    RUN_DIR/logs/slurm_jobs.json               on Slurm: the job ids of the last submission

Words used throughout: a *stage* is one entry of the recipe's `stages` (its *kind* names its module in
`medmix.corpus.stages`); it runs as one or more *phases*, each a datatrove pipeline of *steps* (blocks).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

IDENTITY_FILES = ("recipe.json", "inputs.json", "tokenizer.json", "phi_files.json", "phi_secret.json")
OUTPUT_FOLDERS = ("stages", "logs", "tokens", "mix", "shards")


@dataclass(frozen=True)
class StageDir:
    """The folder of one stage, `stages/NN_<kind>`: what it kept, removed and counted."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kept(self) -> Path:
        return self.path / "kept"

    @property
    def work(self) -> Path:
        return self.path / "work"

    def ledger(self, step: str, rank: int) -> Path:
        return self.path / "ledger" / f"{step}-{rank:05d}.parquet"

    def quarantine(self, step: str, rank: int) -> Path:
        return self.path / "removed" / step / f"{rank:05d}.jsonl.gz"

    def phi_counts(self, step: str, rank: int) -> Path:
        return self.path / "phi_counts" / f"{step}-{rank:05d}.parquet"


def completed_tasks(phase_logs: Path) -> int:
    """Tasks that datatrove marked complete in a phase's logging folder."""
    completions = phase_logs / "completions"
    return len(list(completions.iterdir())) if completions.is_dir() else 0


def task_count(phase_logs: Path) -> int | str:
    """A phase's number of tasks, as its executor recorded it; "?" before the phase has started."""
    try:
        return json.loads((phase_logs / "executor.json").read_text())["world_size"]
    except (OSError, ValueError, KeyError):
        return "?"


@dataclass(frozen=True)
class RunDir:
    """A build's output directory. Every module that reads or writes one goes through this class."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def __str__(self) -> str:
        return str(self.root)

    # ---------------------------------------------------------------------------------------- identity

    def identity_file(self, name: str) -> Path:
        if name not in IDENTITY_FILES:
            raise ValueError(f"{name} is not one of a run's identity files {IDENTITY_FILES}")
        return self.root / name

    def is_run(self) -> bool:
        return self.identity_file("recipe.json").is_file()

    def foreign_entries(self) -> list[str]:
        """Top-level names here that no build writes (an empty list for a new folder or a run directory)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name not in (*IDENTITY_FILES, *OUTPUT_FOLDERS))

    def clear(self) -> None:
        """Remove everything a build wrote here, for a fresh start: its folders and identity files (a build does
        not start in a folder that holds anything else at its top)."""
        if not self.is_run():
            raise ValueError(f"{self} is not a medmix run directory (no recipe.json): nothing to clear")
        for folder in OUTPUT_FOLDERS:
            shutil.rmtree(self.root / folder, ignore_errors=True)
        for name in IDENTITY_FILES:
            (self.root / name).unlink(missing_ok=True)

    def recipe(self) -> dict:
        """The recipe the run was built from, as recorded in recipe.json."""
        return json.loads(self.identity_file("recipe.json").read_text())

    # ------------------------------------------------------------------------------------------ stages

    def stage(self, index: int, kind: str) -> StageDir:
        return StageDir(self.root / "stages" / f"{index:02d}_{kind}")

    def stage_logs(self, index: int, kind: str) -> Path:
        return self.root / "logs" / f"{index:02d}_{kind}"

    def stages(self) -> list[StageDir]:
        """The stage folders present, in pipeline order."""
        return [StageDir(p) for p in sorted((self.root / "stages").glob("[0-9][0-9]_*")) if p.is_dir()]

    def ledger_files(self) -> list[Path]:
        return sorted(self.root.glob("stages/*/ledger/*.parquet"))

    def phi_count_files(self) -> list[Path]:
        return sorted(self.root.glob("stages/*/phi_counts/*.parquet"))

    def phase_key(self, phase_logs: Path) -> str:
        """A phase by its logging folder: `06_dedup/signatures`, `shards/pack`."""
        return phase_logs.relative_to(self.root / "logs").as_posix()

    def phase_progress(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Per stage folder (and the shard build): each phase's tasks done, as "done/tasks" from datatrove's
        completion markers and the task count in its executor.json ("done/?" before it is written)."""
        stages = [(stage.name, self.root / "logs" / stage.name) for stage in self.stages()]
        stages.append(("shards", self.shard_logs))
        return [(name, [(phase.name, f"{completed_tasks(phase)}/{task_count(phase)}") for phase in sorted(logs.iterdir())
                        if phase.is_dir()]) for name, logs in stages if logs.is_dir()]

    # ---------------------------------------------------------------------------------- logs (datatrove)

    @property
    def console_log(self) -> Path:
        return self.root / "logs" / "console.log"

    @property
    def shard_logs(self) -> Path:
        return self.root / "logs" / "shards"

    @property
    def slurm_jobs(self) -> Path:
        """On Slurm: the job ids of the last submission (`medmix.corpus.slurm`)."""
        return self.root / "logs" / "slurm_jobs.json"

    # ------------------------------------------------------------------------------------- shard build

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @property
    def mix(self) -> Path:
        return self.root / "mix"

    @property
    def plan(self) -> Path:
        return self.mix / "plan.json"

    @property
    def shard_entries(self) -> Path:
        """Each packed shard's manifest entry, until the manifest phase gathers them."""
        return self.mix / "shard_entries"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    def shard_set(self, name: str) -> Path:
        return self.shards / name

    def validation_sets(self) -> list[Path]:
        return sorted(p for p in self.shards.glob("valid_*") if p.is_dir())
