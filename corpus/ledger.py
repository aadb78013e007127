"""Reading the books: every stage's ledger rows of a run, summed and checked with polars.

The rows are those `medmix.corpus.books.Books` writes, `(stage, step, source, outcome, reason, docs, chars)`;
the checks are the books' two equations, per stage and source, and that each stage received what the
previous one kept.
"""

from __future__ import annotations

from pathlib import Path

from medmix.corpus.books import LEDGER_SCHEMA
from medmix.rundir import RunDir


def read_ledger(run: RunDir | str | Path):
    """Every ledger row of a run, with the stage folder name (`NN_stage`) in column `stage_dir`."""
    import polars as pl

    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    frames = [
        pl.read_parquet(path).with_columns(pl.lit(path.parent.parent.name).alias("stage_dir"))
        for path in run.ledger_files()
    ]
    if not frames:
        return pl.DataFrame(schema={**dict(zip(LEDGER_SCHEMA.names, (pl.Utf8,) * 5 + (pl.Int64,) * 2)),
                                    "stage_dir": pl.Utf8})
    return pl.concat(frames)


def stage_summary(ledger):
    """Per stage and source: documents and characters in, kept and removed."""
    import polars as pl

    def total(outcome: str, column: str):
        return pl.col(column).filter(pl.col("outcome") == outcome).sum().alias(f"{column}_{outcome}")

    return (
        ledger.group_by("stage_dir", "source")
        .agg(*(total(o, c) for c in ("docs", "chars") for o in ("in", "kept", "removed", "edited")))
        .sort("stage_dir", "source")
    )


def removal_reasons(ledger):
    import polars as pl

    return (
        ledger.filter(pl.col("outcome") == "removed")
        .group_by("stage_dir", "source", "reason")
        .agg(pl.col("docs").sum(), pl.col("chars").sum())
        .sort("stage_dir", "source", "docs", "reason", descending=[False, False, True, False])  # ties: by reason
    )


def per_source(summary, stage_dir: str, column: str) -> dict[str, int]:
    rows = summary.filter(summary["stage_dir"] == stage_dir).iter_rows(named=True)
    return {row["source"]: row[column] for row in rows}


def check_accounts(run: RunDir | str | Path) -> list[str]:
    """Problems with the books: a stage whose in != kept + removed (documents or characters), or whose
    input is not what the previous stage kept."""
    summary = stage_summary(read_ledger(run))
    problems = []
    for row in summary.iter_rows(named=True):
        where = f"{row['stage_dir']} / {row['source']}"
        if row["docs_in"] != row["docs_kept"] + row["docs_removed"]:
            problems.append(f"{where}: {row['docs_in']} docs in != {row['docs_kept']} kept + "
                            f"{row['docs_removed']} removed")
        if row["chars_in"] != row["chars_kept"] + row["chars_removed"] + row["chars_edited"]:
            problems.append(f"{where}: {row['chars_in']} chars in != {row['chars_kept']} kept + "
                            f"{row['chars_removed']} removed + {row['chars_edited']} edited away")
    stages = summary["stage_dir"].unique().sort().to_list()
    for before, after in zip(stages, stages[1:]):
        for unit in ("docs", "chars"):
            kept, entered = per_source(summary, before, f"{unit}_kept"), per_source(summary, after, f"{unit}_in")
            for source in sorted(set(kept) | set(entered)):
                if kept.get(source, 0) != entered.get(source, 0):
                    problems.append(f"{source}: {before} kept {kept.get(source, 0)} {unit} but {after} received "
                                    f"{entered.get(source, 0)}")
    return problems
