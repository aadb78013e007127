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

from medmix.corpus.phi.spans import Span

RECORD = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD", re.S)


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


def read_jsonl_gold(path: str | Path) -> list[AnnotatedNote]:
    """Annotated notes as JSON lines: `{"id", "text", "spans": [{"start", "end", "label"}]}`; an id of the form
    `<patient>-<note>` keeps a patient's notes together in cross-validation."""
    notes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            notes.append(AnnotatedNote(str(row["id"]), row["text"],
                                       [Span(int(s["start"]), int(s["end"]), str(s["label"])) for s in row["spans"]]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: expected {{id, text, spans: [{{start, end, label}}]}} "
                             f"({type(error).__name__}: {error})") from None
    return notes


def read_gold_dir(folder: str | Path) -> list[AnnotatedNote]:
    """A folder of annotated notes: PhysioNet's `id.text` + `id-phi.phrase`, or `*.jsonl` files."""
    folder = Path(folder)
    if (folder / "id.text").is_file() and (folder / "id-phi.phrase").is_file():
        return read_physionet(folder / "id.text", folder / "id-phi.phrase")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise ValueError(f"{folder}: expected PhysioNet id.text and id-phi.phrase, or *.jsonl annotated notes")
    return [note for path in files for note in read_jsonl_gold(path)]
