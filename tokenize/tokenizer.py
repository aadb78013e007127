"""The tokenizer, loaded from a file the recipe names: SentencePiece `tokenizer.model` or HF `tokenizer.json`.

A `.model` file's token ids are sentencepiece's exactly (byte fallback, whitespace and newlines included):
it is encoded by gigatoken, several times faster, once gigatoken has given sentencepiece's ids on a parity
set, and by `sentencepiece` itself otherwise (`medmix.tokenize.encoders`). A `tokenizer.json` goes through
HF `tokenizers`, and conversions of SentencePiece models to it have been seen to change ids, so prefer the
`.model` when you have it. The file's sha256 travels into every shard manifest, so the trainer can
refuse shards made with another tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medmix.io import file_sha256
from medmix.tokenize.encoders import Encoder, HFEncoder, sentencepiece_encoder


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, uint32 otherwise; always little-endian on disk."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


class Tokenizer:
    """`encode_documents(texts, bos, eos)` -> the ids of all texts in one array, each wrapped in `<s>`/`</s>`
    as asked, and each one's length; `encode_batch(texts)` -> one list of ids per text, without BOS/EOS."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {self.path}")
        self.sha256 = file_sha256(self.path)
        if self.path.suffix == ".json":
            from tokenizers import Tokenizer as HFTokenizer

            self._hf = HFTokenizer.from_file(str(self.path))
            self._sp = None
            self.vocab_size = self._hf.get_vocab_size()
            self.bos_id = self._hf.token_to_id("<s>")
            self.eos_id = self._hf.token_to_id("</s>")
        else:
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(self.path))
            self._hf = None
            self.vocab_size = self._sp.vocab_size()
            self.bos_id, self.eos_id = self._sp.bos_id(), self._sp.eos_id()
        self.dtype = token_dtype(self.vocab_size)
        self._encoder: Encoder | None = None

    @property
    def encoder(self) -> Encoder:
        """Chosen on first use, not on load: the phases that only need the dtype skip the parity gate."""
        if self._encoder is None:
            self._encoder = HFEncoder(self._hf) if self._hf is not None else \
                sentencepiece_encoder(self._sp, self.path.read_bytes())
        return self._encoder

    def special_ids(self, bos: bool, eos: bool) -> tuple[list[int], list[int]]:
        """What goes before and after each document; a tokenizer without `<s>`/`</s>` cannot add them."""
        for wanted, token_id, name in ((bos, self.bos_id, "<s>"), (eos, self.eos_id, "</s>")):
            if wanted and (token_id is None or token_id < 0):
                raise ValueError(f"{self.path}: has no {name} token; set tokenizer.{'bos' if name == '<s>' else 'eos'}: false")
        return [self.bos_id] * bos, [self.eos_id] * eos

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        ids, lengths = self.encoder.encode(texts)
        return [part.tolist() for part in np.split(ids, np.cumsum(lengths))[:-1]]

    def encode_documents(self, texts: list[str], bos: bool, eos: bool) -> tuple[np.ndarray, np.ndarray]:
        """Array arithmetic, no list per document: inserting `<s>`/`</s>` is a single `np.insert`."""
        ids, lengths = self.encoder.encode(texts)
        head, tail = self.special_ids(bos, eos)
        ends = np.cumsum(lengths)
        where = np.column_stack([np.repeat((ends - lengths)[:, None], len(head), 1),
                                 np.repeat(ends[:, None], len(tail), 1)]).ravel()
        tokens = np.insert(ids.astype(self.dtype, copy=False), where, np.tile(head + tail, len(texts)))
        return tokens, lengths + len(head) + len(tail)


def train_demo_tokenizer(texts: list[str], model_path: Path, vocab_size: int = 2000) -> Path:
    """A small BPE SentencePiece model with byte fallback, LLaMA-2's recipe in miniature, for the demo,
    which cannot ship LLaMA-2's own tokenizer. Deterministic for the same texts."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, character_coverage=0.9995, split_digits=True, allow_whitespace_only_pieces=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, num_threads=1, minloglevel=2, max_sentence_length=1 << 20)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(model.getvalue())
    return model_path
