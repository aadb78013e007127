"""Per-document causal masking (`data.document_masking`): documents packed into one sequence do not see each other."""

import numpy as np
import pytest
import torch

from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.config import load_train_config
from medmix.train.data import PackedSequences
from medmix.train.loop import train
from medmix.train.model import CONFIGS, Llama, document_causal_mask

WORDS = "the patient was seen today with chest pain and shortness of breath after surgery".split()


def texts(count: int, seed: int = 2) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(3, 12))) for _ in range(count)]


@pytest.fixture(scope="module")
def packed(tmp_path_factory, small_tokenizer, pack_documents) -> str:
    return pack_documents(tmp_path_factory.mktemp("packed") / "train", Tokenizer(small_tokenizer), texts(200), 48)


def test_document_numbers_come_from_the_shard_index(packed):
    dataset = PackedSequences(packed, documents=True)
    index = dataset.shards.index(0)
    for sequence in (0, 5, len(dataset) - 1):
        rows = index[index["sequence"] == sequence]
        expected = np.concatenate([np.full(row["length"], number) for number, row in enumerate(rows)])
        assert dataset.documents(sequence).tolist() == expected.tolist()
        tokens = dataset[sequence].tolist()
        assert all(tokens[row["start"]] == 1 for row in rows[1:])  # each later piece starts a document with <s>
    tokens, documents = dataset.batch([0, 3])
    assert tokens.shape == documents.shape == (2, 48)
    assert PackedSequences(packed).batch([0, 3])[1] is None  # off by default


def test_with_document_masking_a_token_does_not_see_the_previous_document(packed):
    dataset = PackedSequences(packed, documents=True)
    model = Llama(CONFIGS["tiny"]).eval()
    model.init_weights(0)
    sequence = next(i for i in range(len(dataset)) if dataset.documents(i).max() >= 1)
    tokens, documents = dataset.batch([sequence])
    second = documents[0] == 1  # the second document of the sequence (the first may be a tail of an earlier one)
    other = tokens.clone()
    other[documents == 0] = torch.randint(3, 300, (int((documents == 0).sum()),))  # another previous document
    with torch.no_grad():
        masked = model(tokens, document_causal_mask(documents))[0, second]
        assert torch.equal(model(other, document_causal_mask(documents))[0, second], masked)
        alone = model(tokens[:, second])[0]  # the document on its own, from position 0: rotary is relative
        assert torch.allclose(masked, alone, atol=1e-5, rtol=0)
        assert not torch.allclose(model(tokens)[0, second], model(other)[0, second])  # plain causal: it does


def test_document_masking_is_a_training_option_off_by_default(tmp_path, packed, write_config, log_records):
    first_losses = {}
    for masking in (False, True):
        data = {"train": packed, "validation": {"general": packed}, "document_masking": masking}
        config = load_train_config(write_config(tmp_path / str(masking) / "train.yaml", data, steps=2, eval_every=2))
        assert config.data.document_masking is masking
        train(config)
        first_losses[masking] = log_records(tmp_path / str(masking) / "run")[1]["loss"]
    assert first_losses[True] != pytest.approx(first_losses[False], abs=1e-4)  # the same batch, another attention
