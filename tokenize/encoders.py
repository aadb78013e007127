"""Encoders for a SentencePiece BPE `tokenizer.model`: gigatoken when it gives sentencepiece's ids, else sentencepiece.

Why: gigatoken encodes LLaMA-2's model 7 to 10 times faster than sentencepiece on one core
(`benchmarks/tokenize_speed.py`), which makes tokenization a small part of the shard build. sentencepiece
stays the reference, and the fallback:

- gigatoken reads a HF `tokenizer.json`, which this module builds from the `.model` itself, with *no added
  tokens*: sentencepiece reads a literal `<s>`, `</s>` or `<unk>` in the text as characters, while an
  added token would match it as the special id (gigatoken's own `from_sentencepiece` does that).
- Only normalizer settings this conversion reproduces are converted (identity normalization, optional
  dummy prefix, spaces escaped as "▁", no whitespace folding, byte fallback, no user-defined pieces);
  any other model stays with sentencepiece.
- Building that tokenizer.json is Python over every piece and merge (about 0.4 s for LLaMA-2's model, as long
  as gigatoken takes to encode 10 MB), so it is built once per model and kept in a cache folder
  (`cached_tokenizer_json`), not once per task.
- A parity gate runs before the first encode: a fixed set of edge cases (`edge_cases()`) is encoded with
  both, and any difference sends the task back to sentencepiece, with a warning in the log and the
  encoder's name in the shard manifest.

Both encoders run on the calling thread: a build runs one task per core.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from itertools import chain
from pathlib import Path
from typing import Protocol

import numpy as np
from datatrove.utils.logging import logger

from medmix.io import write_shared

CONVERSION = 1  # the version of `sentencepiece_tokenizer_json`'s output: bump it whenever that output changes

SPECIAL_LITERALS = ("<s>", "</s>", "<unk>", "<pad>", "<0x0A>", "▁")
WHITESPACE = (" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\f", "\v")
# Short phrases in the scripts the UDHR is written in (and a few more), for the gate's coverage of
# every script class; the test over the UDHR itself (tests/test_fast_encoders.py) covers the rest.
SCRIPTS = (
    "Tiếng Việt có dấu, İstanbul'da ıi, Straße, Ångström, Łódź, ñandú, œuvre",
    "Ελληνικά κείμενα με τόνους", "Пример текста на русском, ёжик; Українська ґ", "مثال على النص العربي، ١٢٣",
    "דוגמה לטקסט בעברית", "हिन्दी में उदाहरण पाठ", "বাংলা উদাহরণ", "தமிழ் எடுத்துக்காட்டு", "ಕನ್ನಡ ಉದಾಹರಣೆ",
    "ตัวอย่างข้อความภาษาไทย", "ພາສາລາວ", "ភាសាខ្មែរ", "မြန်မာဘာသာ", "བོད་ཡིག", "ქართული მაგალითი", "Հայերեն օրինակ",
    "አማርኛ ምሳሌ", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ᐃᓄᒃᑎᑐᑦ", "ꆈꌠꉙ", "ߒߞߏ", "ᠮᠣᠩᠭᠣᠯ", "ދިވެހި", "ܣܘܪܝܝܐ", "ⵜⴰⵎⴰⵣⵉⵖⵜ",
    "中文示例文本，包含标点。", "日本語のテキストの例です。カタカナ", "한국어 예시 텍스트입니다", "ㄅㄆㄇㄈ",
    "e\u0301 n\u0303 \u1e9b\u0323 ﬁ ligature Ａｂｃ１２３ ½ ² ℃ Ⅻ",
)
SYMBOLS = ("\U0001F9EC DNA", "😀👍🏽👨‍👩‍👧", "\U00013080 \U0001D518\U0001D52B", "\x00\x01\x7f\x1b[0m",
           "\ufffd\ufeff\u200b\u200d", "∑∫√∞ ≤≥ ±×÷", "1234567890 3.14159 2024-01-01 10,000.5 0x1F",
           "<<s>> <s/> </s></s> <unk><unk> <S> &lt;s&gt;", "a" * 300, "ab " * 200, "x\n" * 50)


class Encoder(Protocol):
    """Ids of many texts at once: all of them in one array, and each text's count."""

    name: str

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]: ...


def flattened(encoded: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return np.fromiter(chain.from_iterable(encoded), dtype=np.uint32, count=int(lengths.sum())), lengths


class SentencePieceEncoder:
    """The reference encoder."""

    def __init__(self, processor, note: str = ""):
        self.processor = processor
        self.name = f"sentencepiece {version('sentencepiece')}" + (f" ({note})" if note else "")

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return flattened(self.processor.encode(texts, num_threads=1))


class HFEncoder:
    """HF `tokenizers`, for a recipe that names a `tokenizer.json`."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.name = f"tokenizers {version('tokenizers')}"

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return flattened([e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)])


class GigatokenEncoder:
    """gigatoken over a tokenizer.json from `sentencepiece_tokenizer_json`; its ids come back as one
    array and offsets (an awkward array's buffers), with no Python object per token."""

    def __init__(self, tokenizer_json: str):
        import gigatoken

        self.tokenizer = gigatoken.Tokenizer.from_json(tokenizer_json)
        self.name = f"gigatoken {version('gigatoken')}"

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        layout = self.tokenizer.encode_batch(texts, parallel=False).layout
        offsets = np.asarray(layout.offsets.data)
        return np.asarray(layout.content.data)[offsets[0]:offsets[-1]], np.diff(offsets)


class UnsupportedModel(ValueError):
    """A SentencePiece model whose encoding the tokenizer.json conversion does not reproduce."""


def sentencepiece_tokenizer_json(model: bytes) -> str:
    """A HF tokenizer.json for a SentencePiece BPE model with byte fallback, as transformers' legacy
    `LlamaConverter` builds it (vocabulary and scores from the model, every split of a normal piece into
    two pieces a merge, ranked by the piece's score) but without added tokens (see the module docstring)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    trainer, normalizer = proto.trainer_spec, proto.normalizer_spec
    normal, user_defined = 1, 4  # SentencePiece.Type
    problems = [problem for problem, present in (
        ("not a BPE model", trainer.model_type != trainer.BPE),
        ("no byte fallback", not trainer.byte_fallback),
        ("whitespace as suffix", trainer.treat_whitespace_as_suffix),
        ("a normalization rule", normalizer.name not in ("identity", "") or normalizer.precompiled_charsmap),
        ("whitespace folding", normalizer.remove_extra_whitespaces),
        ("unescaped whitespace", not normalizer.escape_whitespaces),
        ("user-defined pieces", any(p.type == user_defined for p in proto.pieces))) if present]
    if problems:
        raise UnsupportedModel(", ".join(problems))
    vocab = {piece.piece: number for number, piece in enumerate(proto.pieces)}
    merges = []  # (rank key, left, right): by the merged piece's score, then longer left and right parts first
    for number, piece in enumerate(proto.pieces):
        if piece.type != normal:  # control pieces (<s>, </s>) and bytes are never merged into
            continue
        text, score = piece.piece, piece.score
        merges += [((-score, -i, i - len(text), number, vocab[text[:i]], vocab[text[i:]]), text[:i], text[i:])
                   for i in range(1, len(text)) if text[:i] in vocab and text[i:] in vocab]
    merges.sort()
    prepend = [{"type": "Prepend", "prepend": "▁"}] if normalizer.add_dummy_prefix else []
    strip = [{"type": "Strip", "content": " ", "start": 1, "stop": 0}] if normalizer.add_dummy_prefix else []
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Sequence", "normalizers": [
            *prepend, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None, "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, *strip]},
        "model": {"type": "BPE", "dropout": None, "unk_token": proto.pieces[trainer.unk_id].piece,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "ignore_merges": False, "vocab": vocab,
                  "merges": [[left, right] for _, left, right in merges]}}, ensure_ascii=False)


def cache_folder() -> Path:
    """Where medmix keeps what it can rebuild: $MEDMIX_CACHE_DIR, else $XDG_CACHE_HOME/medmix, else ~/.cache/medmix."""
    if folder := os.environ.get("MEDMIX_CACHE_DIR"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medmix"


def cached_tokenizer_json(model: bytes) -> str:
    """`sentencepiece_tokenizer_json(model)`, read from the cache when a task built it before. The entry is
    named by the model's sha256 and the conversion's version, so an edited model or a changed conversion
    is built anew; the tasks of a build may all miss at once, and then each writes the same whole file
    (`write_shared`). A cache that cannot be written only costs the build time again."""
    path = cache_folder() / "tokenizers" / f"{hashlib.sha256(model).hexdigest()}.v{CONVERSION}.json"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    built = sentencepiece_tokenizer_json(model)
    try:
        write_shared(path, built.encode("utf-8"))
    except OSError as error:
        logger.info(f"tokenizer: the tokenizer.json cache is not writable ({error}); built for this task only")
    return built


def edge_cases() -> list[str]:
    """The parity gate's texts, the same on every run: literal special pieces alone and amid text and
    whitespace, runs of every kind of whitespace, byte fallback (emoji, rare and control characters),
    digits, combining marks, and one phrase per script."""
    runs = [kind * count for kind in WHITESPACE for count in (1, 2, 3, 4, 8, 16, 17)]
    specials = [f"{before}{literal}{after}" for literal in SPECIAL_LITERALS
                for before, after in (("", ""), ("a", "b"), (" ", " "), ("\n", "\n"), ("x ", ""), ("", " y"))]
    mixed = [f"{space}{text}{space}" for text, space in zip(SCRIPTS, chain.from_iterable([WHITESPACE] * 4))]
    return ["", *runs, *specials, *SCRIPTS, *mixed, *SYMBOLS, "".join(SCRIPTS + SYMBOLS + SPECIAL_LITERALS)]


def first_difference(reference: Encoder, candidate: Encoder, texts: list[str]) -> str | None:
    """The first text the two encoders give different ids for, or None."""
    (ids, lengths), (other, other_lengths) = reference.encode(texts), candidate.encode(texts)
    ends, other_ends = np.cumsum(lengths), np.cumsum(other_lengths)
    for text, end, length, other_end, other_length in zip(texts, ends, lengths, other_ends, other_lengths):
        if not np.array_equal(ids[end - length:end], other[other_end - other_length:other_end]):
            return text
    return None


def sentencepiece_encoder(processor, model: bytes) -> Encoder:
    """gigatoken if the model converts and passes the parity gate, sentencepiece otherwise (logged)."""
    reference = SentencePieceEncoder(processor)
    try:
        fast = GigatokenEncoder(cached_tokenizer_json(model))
    except (ImportError, UnsupportedModel) as error:
        logger.info(f"tokenizer: encoding with sentencepiece, gigatoken not used ({error})")
        return SentencePieceEncoder(processor, f"gigatoken not used: {error}")
    differs = first_difference(reference, fast, edge_cases())
    if differs is not None:
        logger.warning(f"tokenizer: gigatoken's ids differ from sentencepiece's on {differs[:60]!r}; "
                       f"falling back to sentencepiece")
        return SentencePieceEncoder(processor, f"fallback: {fast.name} failed the parity gate")
    return fast
