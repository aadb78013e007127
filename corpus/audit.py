"""The mix audit: every input record accounted for, and the realized mix read back from the shards.

Everything is computed with polars from what the build left on disk: the stage ledgers (documents and
characters in, kept, removed by reason), the tokenized document tables, the mix plan (targets and
repetition factors), the shard indexes (which source each token in the training shards came from; the
plan is not trusted for this), and the PHI counts. `medmix.corpus.report` draws the result as HTML.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
import polars as pl

from medmix.corpus.ledger import check_accounts, read_ledger, removal_reasons, stage_summary
from medmix.rundir import RunDir
from medmix.tokenize.mix import TOLERANCE_PP, off_target, share_rows


def realized_tokens(shard_folder: Path) -> dict[str, int]:
    """Tokens per source, summed from the shard indexes themselves."""
    manifest = json.loads((shard_folder / "manifest.json").read_text())
    totals = np.zeros(len(manifest["sources"]), dtype=np.int64)
    for shard in manifest["shards"]:
        index = np.load(shard_folder / shard["index"])
        totals += np.bincount(index["source"], weights=index["length"], minlength=len(totals)).astype(np.int64)
    return {source: int(count) for source, count in zip(manifest["sources"], totals)}


def token_rows(run: RunDir, realized: dict[str, int], plan: dict) -> list[dict]:
    """Per source: documents and tokens after cleaning (train and validation), passes planned, tokens shipped."""
    docs = pl.read_parquet(run.tokens / "*.docs.parquet")
    counts = docs.group_by("source", "split").agg(pl.len().alias("docs"), pl.col("length").sum().alias("tokens"))
    by = {(r["source"], r["split"]): r for r in counts.iter_rows(named=True)}
    rows = []
    for source_plan in plan["sources"]:
        source = source_plan["source"]
        train, valid = by.get((source, "train"), {}), by.get((source, "valid"), {})
        rows.append({"source": source, "domain": source_plan["domain"],
                     "docs_cleaned": train.get("docs", 0) + valid.get("docs", 0),
                     "tokens_cleaned": train.get("tokens", 0) + valid.get("tokens", 0),
                     "tokens_validation": valid.get("tokens", 0), "tokens_target": round(source_plan["target_tokens"]),
                     "repetition_factor": round(source_plan["factor"], 4), "capped": source_plan["capped"],
                     "tokens_in_shards": realized.get(source, 0)})
    return rows


def phi_rows(run: RunDir) -> list[dict]:
    files = run.phi_count_files()
    if not files:
        return []
    counts = pl.concat([pl.read_parquet(f) for f in files]).group_by("source", "label").agg(pl.col("spans").sum())
    return counts.sort("source", "label").to_dicts()


def file_time(path: Path) -> str | None:
    """A file's modification time in UTC, to the minute; None when it does not exist. The report's dates
    come from the run directory, never from the clock, so auditing a run twice gives the same bytes."""
    if not path.exists():
        return None
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_facts(run: RunDir) -> dict:
    """What the run was built from and when, for the report's header: the recipe's name and seed, the
    tokenizer's sha256, when the training manifest (the build's last file) was written,
    the training sequences, and the medmix version that audits it (a build does not record its own)."""
    recipe = run.recipe() if run.is_run() else {}
    tokenizer_file = run.identity_file("tokenizer.json")
    tokenizer = json.loads(tokenizer_file.read_text()) if tokenizer_file.exists() else {}
    manifest_file = run.shard_set("train") / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    return {"recipe": recipe.get("name"), "seed": recipe.get("seed"), "tokenizer_sha256": tokenizer.get("sha256"),
            "built": file_time(manifest_file), "sequences": manifest.get("sequences"),
            "seq_len": manifest.get("seq_len"), "medmix_version": version("medmix")}


def phi_coverage(run: RunDir, ledger: pl.DataFrame) -> dict | None:
    """Whether the recipe's phi stage ran, and which sources it covered: those of its domains that are not
    de-identified are scrubbed as they are read, the de-identified ones by the stage itself (unless
    `check_deidentified` is off). None when the recipe has no phi stage."""
    recipe = run.recipe() if run.is_run() else {}
    stage = next((s for s in recipe.get("stages", []) if s["kind"] == "phi"), None)
    if stage is None:
        return None
    folder = next((s.name for s in run.stages() if s.name.endswith("_phi")), None)
    covered = [s for s in recipe["sources"] if s["domain"] in stage["domains"]]
    return {"stage_dir": folder, "ran": folder is not None and folder in ledger["stage_dir"].to_list(),
            "domains": stage["domains"], "replacement": stage["replacement"],
            "scrubbed_at_read": [s["name"] for s in covered if not s["deidentified"]],
            "checked_by_stage": [s["name"] for s in covered if s["deidentified"] and stage["check_deidentified"]]}


def audit(run_dir: str | Path | RunDir) -> dict:
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    ledger = read_ledger(run)
    report = {"run_dir": str(run), "run": run_facts(run), "tolerance_pp": TOLERANCE_PP,
              "stages": stage_summary(ledger).to_dicts(), "removals": removal_reasons(ledger).to_dicts(),
              "accounting_problems": check_accounts(run), "phi": phi_rows(run), "phi_stage": phi_coverage(run, ledger)}
    train = run.shard_set("train")
    if run.plan.exists() and (train / "manifest.json").exists():
        plan = json.loads(run.plan.read_text())
        realized = realized_tokens(train)
        report["shares"] = share_rows(plan["targets"], realized)
        report["tokens"] = token_rows(run, realized, plan)
        report["mix_warnings"] = plan["warnings"]
        report["validation"] = {folder.name: sum(realized_tokens(folder).values()) for folder in run.validation_sets()}
    return report


def failures(report: dict) -> list[str]:
    """Why the audit fails, one line each; empty when it passes: a finished build, every share within
    tolerance of its target, and the books balanced."""
    if "shares" not in report:
        problems = ["no training shards yet: the build has not finished (see `medmix status`)"]
    else:
        problems = [off] if (off := off_target(report["shares"])) else []
    if report["accounting_problems"]:
        problems.append(f"{len(report['accounting_problems'])} accounting problems")
    return problems

