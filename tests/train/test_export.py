"""The HF export is a whole model folder: transformers loads the weights and the tokenizer the shards were made
with, and the BOS/EOS ids are the shard manifest's."""

import json

import numpy as np
import pytest
import torch

from medmix.tokenize.encoders import edge_cases, sentencepiece_tokenizer_json
from medmix.tokenize.tokenizer import Tokenizer
from medmix.train.config import load_train_config
from medmix.train.loop import train
from medmix.train.model import hf_tokenizer_files, load_hf

WORDS = "the patient was seen today with chest pain and shortness of breath after surgery".split()


def texts(count: int) -> list[str]:
    rng = np.random.default_rng(1)
    return [" ".join(rng.choice(WORDS, 30)) for _ in range(count)]


@pytest.mark.parametrize("bos", [True, False], ids=["with <s>", "without <s>"])
def test_the_export_loads_in_transformers_with_the_shards_tokenizer_and_special_ids(
        tmp_path, small_tokenizer, pack_documents, write_config, bos):
    transformers = pytest.importorskip("transformers")
    tokenizer = Tokenizer(small_tokenizer)
    shards = pack_documents(tmp_path / "train", tokenizer, texts(40), seq_len=32, bos=bos)
    config = write_config(tmp_path / "train.yaml", {"train": shards, "tokenizer": str(small_tokenizer)}, steps=2,
                          save_hf=True)
    train(load_train_config(config))
    folder = tmp_path / "run" / "hf"

    written = json.loads((folder / "config.json").read_text())
    assert (written["bos_token_id"], written["eos_token_id"]) == (1 if bos else None, 2)  # the manifest's
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    samples = [*edge_cases(), *texts(5)]  # whitespace runs, literal "<s>", byte fallback, many scripts
    assert [hf_tokenizer(t, add_special_tokens=False).input_ids for t in samples] == tokenizer.encode_batch(samples)
    assert hf_tokenizer("the patient").input_ids[0] == (1 if bos else tokenizer.encode_batch(["the"])[0][0])
    assert (hf_tokenizer.bos_token if bos else None, hf_tokenizer.eos_token) == ("<s>" if bos else None, "</s>")

    hf_model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokens = torch.tensor([hf_tokenizer("the patient was seen today with chest pain").input_ids])
    with torch.no_grad():
        assert torch.allclose(hf_model(tokens).logits, load_hf(folder).eval()(tokens), atol=1e-5, rtol=0)


def test_a_tokenizer_json_is_exported_as_it_is(tmp_path, small_tokenizer):
    transformers = pytest.importorskip("transformers")
    path = tmp_path / "tokenizer.json"
    path.write_text(sentencepiece_tokenizer_json(small_tokenizer.read_bytes()))
    folder = tmp_path / "hf"
    folder.mkdir()
    for name, content in hf_tokenizer_files(path, bos_id=1, eos_id=2).items():
        (folder / name).write_bytes(content)
    assert (folder / "tokenizer.json").read_bytes() == path.read_bytes()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    samples = texts(5)
    assert [hf_tokenizer(t, add_special_tokens=False).input_ids for t in samples] == \
        Tokenizer(path).encode_batch(samples)
    assert (hf_tokenizer.bos_token_id, hf_tokenizer.eos_token_id) == (1, 2)


def test_a_tokenizer_that_is_not_the_shards_is_refused_before_training(tmp_path, small_tokenizer, pack_documents,
                                                                        write_config):
    from medmix.tokenize.shards import ShardError
    from medmix.tokenize.tokenizer import train_demo_tokenizer

    shards = pack_documents(tmp_path / "train", Tokenizer(small_tokenizer), texts(40), seq_len=32)
    other = train_demo_tokenizer(texts(200), tmp_path / "other.model", vocab_size=280)
    config = write_config(tmp_path / "train.yaml", {"train": shards, "tokenizer": str(other)}, save_hf=True)
    with pytest.raises(ShardError, match="tokenized with tokenizer"):
        train(load_train_config(config))
    assert not (tmp_path / "run").exists()
