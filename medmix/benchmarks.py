"""Benchmark test sets: one definition of an item, read the same way to decontaminate a corpus and to score a model.

A recipe's `decontaminate` stage and `medmix eval` name benchmark files with the same `BenchmarkSet` spec,
and both read them with `load_items`, so the item a removal names is the item a checkpoint was scored on.

Formats:
- `mcq_jsonl`: one multiple-choice question per line, `{question, options, answer_idx}` (MedQA, MedMCQA, MMLU
  as the MedAgents benchmark ships them). `options` is a mapping label -> text, or a list labelled A, B, ...
- `pubmedqa`: PubMedQA's `ori_pqal.json`, `{PMID: {QUESTION, CONTEXTS, LONG_ANSWER, final_decision}}`,
  optionally restricted to the PMIDs that are the keys of `split_ids` (`test_ground_truth.json`). Its options
  are yes / no / maybe, and the gold answer is `final_decision`.
- `jsonl_fields`: any JSON lines; `fields` names the text fields, the first taken as the question and the
  others as contexts. Such items have no options, so they serve decontamination only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from medmix.schema import SourceName, Strict

PUBMEDQA_OPTIONS = {"yes": "yes", "no": "no", "maybe": "maybe"}


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read as its format says; the message is one line naming the file."""


class BenchmarkSet(Strict):
    name: SourceName
    format: Literal["mcq_jsonl", "pubmedqa", "jsonl_fields"]
    path: str
    split_ids: str | None = Field(None, description="pubmedqa: a JSON file whose keys are the PMIDs to read")
    fields: list[str] = Field(["question"], description="jsonl_fields: which fields hold item text")
    id_key: str = "realidx"


@dataclass(frozen=True)
class BenchmarkItem:
    """One test item. `options` keeps the file's order (label -> text); `answer` is the gold label, if known."""

    benchmark: str
    item_id: str
    question: str
    options: dict[str, str] = field(default_factory=dict)
    answer: str | None = None
    contexts: tuple[str, ...] = ()
    long_answer: str = ""

    @property
    def named_segments(self) -> list[tuple[str, str]]:
        """The texts a corpus document could reproduce, each with its name: the question, each option, each
        context and the long answer (empty ones left out)."""
        named = [("question", self.question), *((f"option {label}", text) for label, text in self.options.items()),
                 *((f"context {number}", text) for number, text in enumerate(self.contexts, start=1)),
                 ("long answer", self.long_answer)]
        return [(name, text) for name, text in named if text]

    @property
    def segments(self) -> list[str]:
        return [text for _, text in self.named_segments]


def load_items(spec: BenchmarkSet) -> Iterator[BenchmarkItem]:
    """The items of one benchmark set, in file order. A file that does not fit its format raises `BenchmarkError`."""
    if spec.format == "pubmedqa":
        yield from _pubmedqa_items(spec)
        return
    for number, row in _json_lines(Path(spec.path)):
        where, item_id = f"{spec.path}:{number}", str(row.get(spec.id_key, number))
        if spec.format == "mcq_jsonl":
            question, options = _text(row, "question", where), _options(row, where)
            yield BenchmarkItem(spec.name, item_id, question, options, _gold_label(row, options, where))
        else:
            texts = [_text(row, key, where) for key in spec.fields]
            yield BenchmarkItem(spec.name, item_id, texts[0], contexts=tuple(texts[1:]))


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line."""
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise BenchmarkError(f"{where}: not valid JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise BenchmarkError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield number, row


def _pubmedqa_items(spec: BenchmarkSet) -> Iterator[BenchmarkItem]:
    data = _json_file(Path(spec.path))
    wanted = set(_json_file(Path(spec.split_ids))) if spec.split_ids else None
    for pmid, row in data.items():
        if wanted is not None and pmid not in wanted:
            continue
        where = f"{spec.path}: PMID {pmid}"
        if not isinstance(row, dict):
            raise BenchmarkError(f"{where}: expected a JSON object, got {type(row).__name__}")
        contexts = row.get("CONTEXTS", [])
        contexts = contexts if isinstance(contexts, list) else [contexts]
        answer = row.get("final_decision")
        if answer is not None and answer not in PUBMEDQA_OPTIONS:
            raise BenchmarkError(f"{where}: final_decision {answer!r} is not one of yes, no, maybe")
        yield BenchmarkItem(spec.name, pmid, _text(row, "QUESTION", where), dict(PUBMEDQA_OPTIONS), answer,
                            tuple(map(str, contexts)), str(row.get("LONG_ANSWER") or ""))


def _json_file(path: Path) -> dict:
    with _open(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise BenchmarkError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise BenchmarkError(f"{path}: expected a JSON object keyed by item id, got {type(data).__name__}")
    return data


def _open(path: Path):
    try:
        return open(path, encoding="utf-8")
    except OSError as error:
        raise BenchmarkError(f"{path}: cannot read the benchmark file: {error.strerror}") from None


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise BenchmarkError(f"{where}: field '{key}' is {'missing' if value is None else 'not text'}")
    return value


def _options(row: dict, where: str) -> dict[str, str]:
    """Label -> text in file order; a list of options is labelled A, B, C, ..."""
    options = row.get("options")
    if isinstance(options, list):
        options = {chr(ord("A") + number): text for number, text in enumerate(options)}
    if not isinstance(options, dict) or not options:
        raise BenchmarkError(f"{where}: 'options' must be a non-empty mapping label -> text, or a list")
    return {str(label): str(text) for label, text in options.items()}


def _gold_label(row: dict, options: dict[str, str], where: str) -> str | None:
    """The gold option's label, from `answer_idx` or else `answer`: a label, a 0-based index or an option's text.
    None when the file holds no answer (decontamination needs none); an answer that names no option is an error."""
    value = row.get("answer_idx", row.get("answer"))
    if value is None:
        return None
    labels = list(options)
    if isinstance(value, int) and 0 <= value < len(labels):
        return labels[value]
    if isinstance(value, str) and value in options:
        return value
    by_text = [label for label, text in options.items() if text == value]
    if len(by_text) != 1:
        raise BenchmarkError(f"{where}: the answer {value!r} is neither the label, the index nor the text of one option")
    return by_text[0]
