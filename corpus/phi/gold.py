"""Gold-standard PHI annotations: the PhysioNet deid format and presidio-research's synthetic set.

PhysioNet (`id.text` + `id-phi.phrase`): notes are `START_OF_RECORD=<patient>||||<note>||||` then the
text then `||||END_OF_RECORD`; each phrase line is `<patient> <note> <start> <end> <Category> <phrase>`
with 0-based, end-exclusive offsets into the note text after the header line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

RECORD = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD", re.S)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass
class AnnotatedNote:
    id: str
    text: str
    spans: list[Span] = field(default_factory=list)


def read_physionet_notes(text_path: str | Path) -> dict[str, str]:
    """Note text by id (`<patient>-<note>`), from a PhysioNet `id.text` file."""
    return {f"{patient}-{note}": body for patient, note, body in RECORD.findall(Path(text_path).read_text())}


def read_physionet(text_path: str | Path, phrase_path: str | Path) -> list[AnnotatedNote]:
    notes = {key: AnnotatedNote(key, body) for key, body in read_physionet_notes(text_path).items()}
    for number, line in enumerate(Path(phrase_path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        patient, note, start, end, label, *_ = line.split()
        key = f"{patient}-{note}"
        if key not in notes:
            raise ValueError(f"{phrase_path}:{number}: no note {key} in {text_path}")
        notes[key].spans.append(Span(int(start), int(end), label))
    return list(notes.values())


def read_presidio_synthetic(path: str | Path) -> list[AnnotatedNote]:
    return [AnnotatedNote(str(number), row["full_text"],
                          [Span(s["start_position"], s["end_position"], s["entity_type"]) for s in row["spans"]])
            for number, row in enumerate(json.loads(Path(path).read_text()))]
