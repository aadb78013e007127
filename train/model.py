"""LLaMA-2 in plain PyTorch, in one file: RMSNorm, rotary embeddings, SwiGLU, grouped-query attention.

Weights and names follow Hugging Face's `LlamaForCausalLM` exactly (rotary embeddings in its
"rotate half" layout), so HF checkpoints load without conversion and save back for the usual tools.
Meta's original consolidated checkpoints interleave q/k rotary pairs instead; `unpermute_meta_qk`
converts those.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int = 32000
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int = 32  # fewer than n_heads: grouped-query attention (70B: 8)
    hidden_dim: int = 11008  # SwiGLU width
    max_seq_len: int = 4096
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def num_params(self) -> int:
        attention = self.dim * self.head_dim * (2 * self.n_heads + 2 * self.n_kv_heads)
        layer = attention + 3 * self.dim * self.hidden_dim + 2 * self.dim
        return self.n_layers * layer + 2 * self.vocab_size * self.dim + self.dim

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token (forward + backward), PaLM's estimate: 6N + 12 L d T."""
        return 6 * self.num_params() + 12 * self.n_layers * self.dim * seq_len


CONFIGS = {
    "tiny": LlamaConfig(vocab_size=2000, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=172, max_seq_len=512),
    "small": LlamaConfig(vocab_size=32000, dim=256, n_layers=4, n_heads=8, n_kv_heads=4, hidden_dim=688),
    "7b": LlamaConfig(),
    "13b": LlamaConfig(dim=5120, n_layers=40, n_heads=40, n_kv_heads=40, hidden_dim=13824),
    "70b": LlamaConfig(dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, hidden_dim=28672),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_tables(config: LlamaConfig, seq_len: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotation angles, (seq_len, head_dim)."""
    inv_freq = 1.0 / config.rope_theta ** (torch.arange(0, config.head_dim, 2, device=device).float() / config.head_dim)
    angles = torch.outer(torch.arange(seq_len, device=device).float(), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return (x * cos + rotate_half(x) * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        head = config.head_dim
        self.q_proj = nn.Linear(config.dim, config.n_heads * head, bias=False)
        self.k_proj = nn.Linear(config.dim, config.n_kv_heads * head, bias=False)
        self.v_proj = nn.Linear(config.dim, config.n_kv_heads * head, bias=False)
        self.o_proj = nn.Linear(config.n_heads * head, config.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch, seq, _ = x.shape
        c = self.config
        q = self.q_proj(x).view(batch, seq, c.n_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, c.n_kv_heads, c.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if c.n_kv_heads != c.n_heads:  # grouped-query attention: each k/v head serves n_heads / n_kv_heads
            k = k.repeat_interleave(c.n_heads // c.n_kv_heads, dim=1)
            v = v.repeat_interleave(c.n_heads // c.n_kv_heads, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)
        return self.o_proj(out.transpose(1, 2).reshape(batch, seq, -1))


class FeedForward(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.dim, config.hidden_dim, bias=False)
        self.up_proj = nn.Linear(config.dim, config.hidden_dim, bias=False)
        self.down_proj = nn.Linear(config.hidden_dim, config.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.mlp = FeedForward(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Parameter names match HF's `LlamaForCausalLM` state dict (`model.layers.0.self_attn.q_proj.weight`, ...)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.model = nn.ModuleDict({
            "embed_tokens": nn.Embedding(config.vocab_size, config.dim),
            "layers": nn.ModuleList(Block(config) for _ in range(config.n_layers)),
            "norm": RMSNorm(config.dim, config.norm_eps),
        })
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)

    def init_weights(self, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        for parameter in self.parameters():
            if parameter.dim() == 2:
                with torch.no_grad():
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.02)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None, positions: torch.Tensor | None = None,
                select: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Logits for (batch, seq) tokens. Plain causal attention by default; `mask` (batch, 1, seq, seq), True
        where a query may attend to a key, replaces it. `positions` (batch, seq) are the rotary positions when
        they are not 0, 1, 2, ... (several continuations of one prefix packed side by side, as evaluation does).
        `select` (rows, columns): the logits of those positions only, (n, vocab), for evaluation, which scores a
        few positions of long rows; it stays an argument of `forward`, where FSDP gathers the weights."""
        length = tokens.shape[1] if positions is None else int(positions.max()) + 1
        cos, sin = rotary_tables(self.config, length, tokens.device)
        if positions is not None:
            cos, sin = cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)  # broadcast over heads
        x = self.model["embed_tokens"](tokens)
        for block in self.model["layers"]:
            x = block(x, cos, sin, mask)
        x = self.model["norm"](x)
        return self.lm_head(x if select is None else x[select])

    def loss(self, tokens: torch.Tensor, documents: torch.Tensor | None = None,
             per_sequence: bool = False) -> torch.Tensor:
        """Next-token cross-entropy over a batch of packed sequences (or one mean per sequence). With `documents`
        (a document number per token), each token attends only to earlier tokens of its own document."""
        mask = None if documents is None else document_causal_mask(documents[:, :-1])
        logits = self(tokens[:, :-1], mask)
        losses = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                 reduction="none").view(tokens.shape[0], -1)
        return losses.mean(dim=1) if per_sequence else losses.mean()


def document_causal_mask(documents: torch.Tensor) -> torch.Tensor:
    """(batch, 1, seq, seq), True where token i may attend to token j: j <= i and both in one document.
    Rotary embeddings depend only on the distance between positions, so positions need not restart at each
    document: a document's logits are those it would have alone (to rounding)."""
    causal = torch.ones(documents.shape[1], documents.shape[1], dtype=torch.bool, device=documents.device).tril()
    return ((documents[:, :, None] == documents[:, None, :]) & causal).unsqueeze(1)


# ------------------------------------------------------------------------------------- HF checkpoints


def rope_theta_from_hf(hf: dict) -> float:
    """transformers 5 writes RoPE settings under `rope_parameters`, 4 at the top level (`rope_theta`,
    `rope_scaling`). Only plain RoPE is implemented here, so any scaling is refused rather than ignored."""
    parameters = hf.get("rope_parameters") or {}
    scaling = hf.get("rope_scaling") or {}
    rope_type = parameters.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if rope_type != "default" or (scaling and not parameters):
        raise ValueError(f"RoPE type '{rope_type}' ({scaling or parameters}) is not implemented in medmix's "
                         "model; only plain RoPE with a base theta is")
    return float(parameters.get("rope_theta", hf.get("rope_theta", 10000.0)))


def config_from_hf(hf: dict) -> LlamaConfig:
    return LlamaConfig(vocab_size=hf["vocab_size"], dim=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
                       n_heads=hf["num_attention_heads"],
                       n_kv_heads=hf.get("num_key_value_heads", hf["num_attention_heads"]),
                       hidden_dim=hf["intermediate_size"], max_seq_len=hf.get("max_position_embeddings", 4096),
                       norm_eps=hf.get("rms_norm_eps", 1e-5), rope_theta=rope_theta_from_hf(hf))


def hf_config(config: LlamaConfig, bos_id: int | None = None, eos_id: int | None = None) -> dict:
    """config.json for `LlamaForCausalLM`; `bos_id` and `eos_id` are the tokenizer's, as the shards' manifest
    records them (None when the documents were packed without them)."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": config.vocab_size,
            "hidden_size": config.dim, "num_hidden_layers": config.n_layers,
            "num_attention_heads": config.n_heads, "num_key_value_heads": config.n_kv_heads,
            "intermediate_size": config.hidden_dim, "max_position_embeddings": config.max_seq_len,
            "rms_norm_eps": config.norm_eps, "rope_theta": config.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta}, "hidden_act": "silu",
            "tie_word_embeddings": False, "torch_dtype": "float32", "bos_token_id": bos_id, "eos_token_id": eos_id}


def hf_tokenizer_files(path: str | Path, bos_id: int | None, eos_id: int | None) -> dict[str, bytes]:
    """The files that let `AutoTokenizer.from_pretrained` load the tokenizer the shards were made with, giving
    the ids training saw. A SentencePiece `.model` becomes the `tokenizer.json` the tokenize phase's fast
    encoder uses (sentencepiece's ids exactly), kept beside the `.model` for tools that read that; a
    `tokenizer.json` is copied. `<s>` is prepended when the shards' documents begin with it, and, as in training,
    a literal "<s>" in text stays text (`split_special_tokens`). Built before training starts, so a tokenizer
    that cannot be exported fails the run at once rather than after its last step."""
    from medmix.tokenize.encoders import sentencepiece_tokenizer_json

    raw = Path(path).read_bytes()
    if Path(path).suffix == ".json":
        from tokenizers import Tokenizer

        piece = Tokenizer.from_str(raw.decode()).id_to_token
        files, settings = {"tokenizer.json": raw}, {}
    else:
        import sentencepiece

        piece = sentencepiece.SentencePieceProcessor(model_proto=raw).id_to_piece
        converted = json.loads(sentencepiece_tokenizer_json(raw))
        if bos_id is not None:
            bos = piece(bos_id)
            converted["post_processor"] = {
                "type": "TemplateProcessing", "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                                                         {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}
        files = {"tokenizer.model": raw, "tokenizer.json": json.dumps(converted, ensure_ascii=False).encode()}
        settings = {"split_special_tokens": True}
    special = {name: piece(token_id) for name, token_id in (("bos_token", bos_id), ("eos_token", eos_id))
               if token_id is not None}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **special, "clean_up_tokenization_spaces": False,
              **settings}
    return files | {"tokenizer_config.json": json.dumps(config, indent=1).encode()}


def load_hf(folder: str | Path, dtype: torch.dtype = torch.float32) -> Llama:
    """A HF LLaMA checkpoint folder: config.json and model.safetensors, or shards with an index."""
    from safetensors.torch import load_file

    folder = Path(folder)
    model = Llama(config_from_hf(json.loads((folder / "config.json").read_text())))
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else [
        "model.safetensors"]
    state = {}
    for name in files:
        state.update(load_file(folder / name))
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{folder}: missing weights {missing[:5]}, unexpected {unexpected[:5]}")
    return model.to(dtype)


def save_hf(model: Llama, folder: str | Path, bos_id: int | None = None, eos_id: int | None = None,
            tokenizer: dict[str, bytes] | None = None, max_shard_bytes: int = 5 << 30) -> None:
    """Write config.json, safetensors shards (with an index when there is more than one) and the tokenizer's
    files (`hf_tokenizer_files`): a folder transformers loads whole."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config(model.config, bos_id, eos_id), indent=1))
    for name, content in (tokenizer or {}).items():
        (folder / name).write_bytes(content)
    shards, current, size = [], {}, 0
    for name, tensor in model.state_dict().items():
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > max_shard_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensor.detach().contiguous().cpu()
        size += nbytes
    shards.append(current)
    if len(shards) == 1:
        save_file(shards[0], folder / "model.safetensors", metadata={"format": "pt"})
        return
    weight_map = {}
    for number, shard in enumerate(shards, start=1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, folder / name, metadata={"format": "pt"})
        weight_map.update({key: name for key in shard})
    total = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))


def unpermute_meta_qk(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Meta's consolidated q/k weights pair rotary dimensions (0,1), (2,3), ...; HF's layout, used here,
    pairs (i, i + head_dim/2). This is the permutation HF's conversion script applies."""
    dim_out, dim_in = weight.shape
    return weight.view(n_heads, dim_out // n_heads // 2, 2, dim_in).transpose(1, 2).reshape(dim_out, dim_in)


def mfu(config: LlamaConfig, tokens_per_second: float, seq_len: int, peak_flops: float) -> float:
    return config.flops_per_token(seq_len) * tokens_per_second / peak_flops if peak_flops else math.nan


