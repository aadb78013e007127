"""The books every stage keeps: each record that enters a step leaves it kept, or removed with a reason.

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

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa

from medmix.io import gzip_writer, partial_path, write_parquet
from medmix.rundir import StageDir

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


class StageError(RuntimeError):
    """A failure of the whole task, not of one document: steps let it through instead of quarantining."""


class Quarantine:
    """Removed records of one step in one task, as gzip JSONL, renamed into place when complete."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = partial_path(path)
        self._file = None

    def write(self, record: dict) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = gzip_writer(self._tmp)
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
        self.ledger_path = StageDir(stage_dir).ledger(step, rank)
        self.quarantine = Quarantine(StageDir(stage_dir).quarantine(step, rank))
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
