"""A post-norm BERT encoder in ops irq lowers: the one model behind bench/minilm.py (MiniLM-L6's
checkpoint, `Encoder.from_hf` / `TokenEncoder.from_hf`) and tests/test_transformer_quant.py (random
weights). `TokenEncoder` takes token ids and does BERT's embedding lookups in the program.

Attention is softmax(q k^T + bias) v with the 1/sqrt(d) scale folded into the query projection and the
padding mask an additive bias input (`mask_bias`): HF's BERT forward exports arange/index/
scaled_dot_product_attention calls no march runs. Every reshape reads the batch from the input, so a
model exported at one batch size runs at any other.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class EncoderLayer(nn.Module):
    """One post-norm layer: attention, residual + layer norm, gelu feed-forward, residual + layer norm."""

    def __init__(self, dim: int, heads: int, ff: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out, self.attn_norm = nn.Linear(dim, dim), nn.LayerNorm(dim, eps=eps)
        self.inter, self.out, self.out_norm = nn.Linear(dim, ff), nn.Linear(ff, dim), nn.LayerNorm(dim, eps=eps)

    @classmethod
    def from_hf(cls, hf, heads: int) -> EncoderLayer:
        """The layer of a transformers BertLayer `hf` (its modules, shared; the query a scaled copy)."""
        a = hf.attention
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.heads = heads
        layer.query = copy.deepcopy(a.self.query)
        with torch.no_grad():  # softmax(q k^T / sqrt(d)): the scale folded into the query projection
            f = 1.0 / math.sqrt(layer.query.out_features // heads)
            layer.query.weight.mul_(f)
            layer.query.bias.mul_(f)
        layer.key, layer.value = a.self.key, a.self.value
        layer.attn_out, layer.attn_norm = a.output.dense, a.output.LayerNorm
        layer.inter, layer.out, layer.out_norm = hf.intermediate.dense, hf.output.dense, hf.output.LayerNorm
        return layer

    def split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        return t.reshape(b, n, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, n, d)
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.out(nn.functional.gelu(self.inter(x))) + x)


class Encoder(nn.Module):
    """Embedding layer norm, then the layers: (embeddings, additive mask bias) -> hidden states."""

    def __init__(self, norm: nn.LayerNorm, layers: list[EncoderLayer]) -> None:
        super().__init__()
        self.norm = norm
        self.layers = nn.ModuleList(layers)

    @classmethod
    def random(cls, layers: int = 2, dim: int = 32, heads: int = 4, ff: int = 64) -> Encoder:
        return cls(nn.LayerNorm(dim, eps=1e-12), [EncoderLayer(dim, heads, ff) for _ in range(layers)])

    @classmethod
    def from_hf(cls, hf, layers: int) -> Encoder:
        """The first `layers` layers of a transformers BertModel `hf` (after its embedding lookups)."""
        heads = hf.config.num_attention_heads
        return cls(hf.embeddings.LayerNorm, [EncoderLayer.from_hf(m, heads) for m in hf.encoder.layer[:layers]])

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        for layer in self.layers:
            x = layer(x, bias)
        return x


class TokenEncoder(Encoder):
    """Token ids in: BERT's three embedding lookups (word + position + token type), their layer norm and
    the layers, all in the program. Position and token-type ids are inputs, as in HF's BertModel.forward
    (`positions(ids)` gives the 0..n-1 it defaults to); every input leads with the batch."""

    def __init__(self, word: nn.Embedding, position: nn.Embedding, token_type: nn.Embedding, norm: nn.LayerNorm,
                 layers: list[EncoderLayer]) -> None:
        super().__init__(norm, layers)
        self.word, self.position, self.token_type = word, position, token_type

    @classmethod
    def from_hf(cls, hf, layers: int) -> TokenEncoder:
        e, heads = hf.embeddings, hf.config.num_attention_heads
        return cls(e.word_embeddings, e.position_embeddings, e.token_type_embeddings, e.LayerNorm,
                   [EncoderLayer.from_hf(m, heads) for m in hf.encoder.layer[:layers]])

    def forward(self, ids: torch.Tensor, token_types: torch.Tensor, positions: torch.Tensor,  # type: ignore[override]
                bias: torch.Tensor) -> torch.Tensor:
        x = self.word(ids) + self.position(positions) + self.token_type(token_types)
        return super().forward(x, bias)


def positions(ids: torch.Tensor) -> torch.Tensor:
    """Position ids 0..n-1 for each row of `ids` (HF's default), contiguous int64."""
    return torch.arange(ids.shape[1]).expand(ids.shape).contiguous()


def mask_bias(mask: torch.Tensor, value: float = -1e4) -> torch.Tensor:
    """The additive attention bias of a (batch, tokens) 0/1 mask: 0 for tokens, `value` for padding."""
    return (1.0 - mask[:, None, None, :].float()) * value


def random_batch(n: int, seq: int = 8, dim: int = 32, seed: int = 0, mask_value: float = -1e4):
    """(embeddings, mask bias, mask) of `n` random sequences of 2..seq real tokens, padded to `seq`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, seq, dim, generator=g)
    lengths = torch.randint(2, seq + 1, (n,), generator=g)
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).float()
    return x, mask_bias(mask, mask_value), mask
