"""`medmix scrub` on a JSONL file (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`): one output record per input record,
in input order, written as gzip when the output's name ends in `.gz`.

A line that cannot be scrubbed (not JSON, no text) still gets its output record, with an `error` that
names the problem and the line number and never quotes the line, so line N of the output always
answers line N of the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from medmix.corpus.phi.redactor import Redactor
from medmix.io import atomic_path, open_binary, open_output

FAILURES_KEPT = 20  # failed lines listed in the report; the rest are only counted


@dataclass
class ScrubReport:
    records: int = 0
    failed: int = 0
    chars: int = 0
    labels: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # problem -> lines
    failures: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem), the first few


def _scrub_line(line: bytes, number: int, redactor: Redactor, text_key: str, id_key: str,
                report: ScrubReport) -> dict:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _failed(None, number, "not valid JSON", report)
    if not isinstance(record, dict):
        return _failed(None, number, "not a JSON object", report)
    record_id = record.get(id_key)
    text = record.get(text_key)
    if not isinstance(text, str):
        return _failed(record_id, number, f"no string field '{text_key}'", report)
    scrubbed, spans = redactor.redact(text, str(record_id), record)
    report.chars += len(text)
    report.labels.update(span.label for span in spans)
    return {"id": record_id, "text": scrubbed,
            "phi": [{"start": span.start, "end": span.end, "label": span.label} for span in spans]}


def _failed(record_id, number: int, problem: str, report: ScrubReport) -> dict:
    report.failed += 1
    report.errors[problem] += 1
    if len(report.failures) < FAILURES_KEPT:
        report.failures.append((number, problem))
    return {"id": record_id, "text": None, "phi": [], "error": problem, "line": number}


def scrub_jsonl(source: Path, target: Path, redactor: Redactor, text_key: str = "text", id_key: str = "id",
                advance: Callable[[int], None] = lambda _: None) -> ScrubReport:
    """Scrub `source` into `target` (written beside it under a temporary name, then renamed). `advance` gets
    the size of each input line read, decompressed."""
    report = ScrubReport()
    with atomic_path(target) as partial, open_binary(source) as lines:
        with open_output(partial, target.name) as out:
            for number, line in enumerate(lines, start=1):
                if number == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")  # byte-order mark, as the readers drop it
                if not line.strip():
                    continue
                out.write(orjson.dumps(_scrub_line(line, number, redactor, text_key, id_key, report)))
                out.write(b"\n")
                report.records += 1
                advance(len(line))
    return report
