"""Bookkeeping shared by every stage: each record that enters a step leaves it kept, or removed with a reason.

A step keeps one `Books` per task. Removed records go to a quarantine file (never silently away),
and at the end of the task the counts go to a small ledger parquet file. The ledger rows are
long-format `(stage, step, source, outcome, reason, docs, chars)` with outcome one of
`in | kept | removed | edited`. For every stage, step and source:

    docs in  = docs kept + docs removed
    chars in = chars kept + chars removed + chars edited

where `edited` counts the kept documents whose text a step changed, and the characters that the
change took away (negative when it added some).
"""

from __future__ import annotations

import gzip
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

LEDGER_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("step", pa.string()),
        ("source", pa.string()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
        ("docs", pa.int64()),
        ("chars", pa.int64()),
    ]
)


@dataclass(frozen=True)
class Removal:
    """Why a record left the pipeline. `reason` is a short stable code; `detail` never holds record text."""

    reason: str
    detail: str = ""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name, then rename: a crashed task never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_parquet(path: Path, table: pa.Table) -> None:
    """A small parquet file, written atomically."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


class Quarantine:
    """Removed records of one step in one task, as gzip JSONL, renamed into place when complete."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._file = None

    def write(self, record: dict) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # mtime=0 keeps the bytes identical across re-runs
            self._file = gzip.GzipFile(self._tmp, "wb", compresslevel=6, mtime=0)
        try:
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:  # text with bytes that are not UTF-8: keep it, readably
            text = record.get("text") or ""
            record = record | {"text": text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        self._file.write(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            os.replace(self._tmp, self.path)
            self._file = None
        else:
            self.path.unlink(missing_ok=True)  # a re-run that removed nothing must not keep an old file


class Books:
    """Counts and quarantine for one step of one stage in one task."""

    def __init__(self, stage_dir: Path, stage: str, step: str, rank: int):
        self.stage, self.step, self.rank = stage, step, rank
        self.ledger_path = stage_dir / "ledger" / f"{step}-{rank:05d}.parquet"
        self.quarantine = Quarantine(stage_dir / "removed" / step / f"{rank:05d}.jsonl.gz")
        self._counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def _count(self, source: str, outcome: str, reason: str, chars: int) -> None:
        cell = self._counts[(source, outcome, reason)]
        cell[0] += 1
        cell[1] += chars

    def incoming(self, source: str, chars: int) -> None:
        self._count(source, "in", "", chars)

    def kept(self, source: str, chars: int, chars_in: int | None = None) -> None:
        """A document leaves the step; `chars_in` is its length on the way in, when the step edited it."""
        self._count(source, "kept", "", chars)
        if chars_in is not None and chars_in != chars:
            self._count(source, "edited", "", chars_in - chars)

    def removed(self, source: str, removal: Removal, record: dict, chars: int) -> None:
        """Count the removal and quarantine the record, tagged with who removed it and why."""
        self._count(source, "removed", removal.reason, chars)
        self.quarantine.write(
            record | {"removed_by": self.step, "reason": removal.reason, "detail": removal.detail}
        )

    def close(self) -> None:
        """Finish the quarantine file and write the ledger; called once, when the task's input is exhausted."""
        self.quarantine.close()
        rows = [
            {"stage": self.stage, "step": self.step, "source": source, "outcome": outcome,
             "reason": reason, "docs": docs, "chars": chars}
            for (source, outcome, reason), (docs, chars) in sorted(self._counts.items())
        ]
        write_parquet(self.ledger_path, pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA))


# --------------------------------------------------------------------------------------- reading the books


def read_ledger(run_dir: str | Path):
    """Every ledger row of a run, with the stage folder name (`NN_stage`) in column `stage_dir`."""
    import polars as pl

    frames = [
        pl.read_parquet(path).with_columns(pl.lit(path.parent.parent.name).alias("stage_dir"))
        for path in sorted(Path(run_dir).glob("stages/*/ledger/*.parquet"))
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
        .sort("stage_dir", "source", "docs", descending=[False, False, True])
    )


def per_source(summary, stage_dir: str, column: str) -> dict[str, int]:
    rows = summary.filter(summary["stage_dir"] == stage_dir).iter_rows(named=True)
    return {row["source"]: row[column] for row in rows}


def check_accounts(run_dir: str | Path) -> list[str]:
    """Problems with the books: a stage whose in != kept + removed (documents or characters), or whose
    input is not what the previous stage kept."""
    summary = stage_summary(read_ledger(run_dir))
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
