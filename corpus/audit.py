"""The mix audit: every input record accounted for, and the realized mix read back from the shards.

Everything is computed with polars from what the build left on disk: the stage ledgers (documents and
characters in, kept, removed by reason), the tokenized document tables, the mix plan (targets and
repetition factors), the shard indexes (which source each token in the training shards came from; the
plan is not trusted for this), and the PHI counts.
"""

from __future__ import annotations

import html
import json
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


def audit(run_dir: str | Path | RunDir) -> dict:
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    ledger = read_ledger(run)
    report = {"run_dir": str(run), "tolerance_pp": TOLERANCE_PP,
              "stages": stage_summary(ledger).to_dicts(), "removals": removal_reasons(ledger).to_dicts(),
              "accounting_problems": check_accounts(run), "phi": phi_rows(run)}
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


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _share_chart(rows: list[dict]) -> str:
    """Target and realized share per key, as paired horizontal bars (inline SVG: no plotting library needed)."""
    width, bar, gap = 520, 14, 10
    parts = []
    for number, row in enumerate(rows):
        y = number * (2 * bar + gap)
        for offset, (value, colour) in enumerate(((row["target_pct"], "#9aa5b1"), (row["realized_pct"], "#2f6fde"))):
            parts.append(f'<rect x="120" y="{y + offset * bar}" width="{value / 100 * (width - 180):.1f}" '
                         f'height="{bar - 2}" fill="{colour}"/>')
        parts.append(f'<text x="0" y="{y + bar + 4}" font-size="12">{html.escape(row["key"])}</text>')
        parts.append(f'<text x="{125 + row["realized_pct"] / 100 * (width - 180):.1f}" y="{y + 2 * bar - 3}" '
                     f'font-size="11">{row["realized_pct"]:.2f}% (target {row["target_pct"]:.2f}%)</text>')
    height = len(rows) * (2 * bar + gap)
    return f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def html_report(report: dict) -> str:
    sections = [f"<h1>medmix audit: {html.escape(report['run_dir'])}</h1>"]
    if "shares" in report:
        sections += ["<h2>Mix: target against realized share (read from the training shards)</h2>",
                     _share_chart(report["shares"]), _table(report["shares"]),
                     "<h2>Tokens and repetition per source</h2>", _table(report["tokens"]),
                     "<h2>Validation shard sets (tokens)</h2>",
                     _table([{"set": k, "tokens": v} for k, v in report["validation"].items()])]
        if report["mix_warnings"]:
            sections.append("<h2>Mix warnings</h2><ul>" + "".join(
                f"<li>{html.escape(w)}</li>" for w in report["mix_warnings"]) + "</ul>")
    sections += ["<h2>Documents and characters per stage and source</h2>", _table(report["stages"]),
                 "<h2>Removals by reason</h2>", _table(report["removals"]),
                 "<h2>PHI spans by type (counts only)</h2>", _table(report["phi"])]
    if report["accounting_problems"]:
        sections.append("<h2>Accounting problems</h2><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in report["accounting_problems"]) + "</ul>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:right}")
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>" \
           f"{''.join(sections)}</body></html>"
