"""`medmix scrub` on a JSONL file: one output record per input record, in input order.

A line that cannot be scrubbed (not JSON, no text) still gets its output record, with an `error`
that names the problem and never quotes the line, so line N of the output always answers line N of
the input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from medmix.corpus.phi.replace import Surrogates, with_tags
from medmix.corpus.phi.scrubber import PhiScrubber, count_labels


@dataclass
class ScrubReport:
    records: int = 0
    failed: int = 0
    chars: int = 0
    labels: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)


def _scrub_line(line: bytes, scrubber: PhiScrubber, surrogates: Surrogates | None, text_key: str, id_key: str,
                patient_key: str, report: ScrubReport) -> dict:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _failed(None, "not valid JSON", report)
    if not isinstance(record, dict):
        return _failed(None, "not a JSON object", report)
    record_id = record.get(id_key)
    text = record.get(text_key)
    if not isinstance(text, str):
        return _failed(record_id, f"no string field '{text_key}'", report)
    spans = scrubber.find(text)
    if surrogates:
        patient = record.get(patient_key)
        scrubbed = surrogates.replace(text, spans, str(record_id), None if patient is None else str(patient))
    else:
        scrubbed = with_tags(text, spans)
    report.chars += len(text)
    report.labels.update(count_labels(spans))
    return {"id": record_id, "text": scrubbed, "phi": [{"start": s.start, "end": s.end, "label": s.label} for s in spans]}


def _failed(record_id, problem: str, report: ScrubReport) -> dict:
    report.failed += 1
    report.errors[problem] += 1
    return {"id": record_id, "text": None, "phi": [], "error": problem}


def scrub_jsonl(source: Path, target: Path, scrubber: PhiScrubber, surrogates: Surrogates | None = None,
                text_key: str = "text", id_key: str = "id", patient_key: str = "subject_id",
                advance: Callable[[int], None] = lambda _: None) -> ScrubReport:
    """Scrub `source` into `target` (written beside it under a temporary name, then renamed)."""
    report = ScrubReport()
    partial = target.with_name(f".{target.name}.partial")
    with source.open("rb") as lines, partial.open("wb") as out:
        for line in lines:
            if not line.strip():
                continue
            out.write(orjson.dumps(_scrub_line(line, scrubber, surrogates, text_key, id_key, patient_key, report)))
            out.write(b"\n")
            report.records += 1
            advance(len(line))
    partial.replace(target)
    return report
