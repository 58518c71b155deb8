"""Models of issue 12's causal masks and mask logic (tests/test_causal_masks.py): a GPT-style decoder block whose
causal mask is built from the input's size (four spellings), the same block with SDPA's is_causal, an
nn.TransformerEncoderLayer with a causal mask, and attention combining a padding-mask input with a causal mask
through `&`, and nanoGPT's causal buffer cut to the length."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DIM, HEADS = 16, 2
#: the spellings of a causal mask from `T = x.size(1)` users write
FORMS = ("triu", "tril", "arange", "full", "sdpa")


def causal_scores(scores: Tensor, form: str) -> Tensor:
    """`scores` [..., T, T] with the keys after each query masked, the mask built from T as `form` spells it."""
    t = scores.size(-1)
    if form == "triu":
        return scores.masked_fill(torch.triu(torch.ones(t, t), diagonal=1).bool(), float("-inf"))
    if form == "tril":
        return scores.masked_fill(torch.tril(torch.ones(t, t)) == 0, float("-inf"))
    if form == "arange":
        keep = torch.arange(t)[:, None] >= torch.arange(t)[None, :]
        return scores.masked_fill(~keep, float("-inf"))
    if form == "full":  # additive, as nn.Transformer.generate_square_subsequent_mask
        return scores + torch.full((t, t), float("-inf")).triu(1)
    raise ValueError(form)


class DecoderBlock(nn.Module):
    """Pre-norm GPT block: causal self-attention (hand-written with a mask `form`, or SDPA is_causal), a GELU MLP,
    residuals. With `probs`, also returns the attention probabilities (to check masked keys get exactly 0)."""

    def __init__(self, form: str = "triu", probs: bool = False) -> None:
        super().__init__()
        self.form, self.probs = form, probs
        self.ln1, self.ln2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, 2 * DIM), nn.GELU(), nn.Linear(2 * DIM, DIM))

    def forward(self, x: Tensor):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        if self.form == "sdpa":
            y, p = F.scaled_dot_product_attention(q, k, v, is_causal=True), None
        else:
            p = causal_scores((q @ k.transpose(-2, -1)) * (c // HEADS) ** -0.5, self.form).softmax(-1)
            y = p @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        x = x + self.mlp(self.ln2(x))
        return (x, p) if self.probs else x


class CausalEncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer called with is_causal and the causal mask torch documents for it."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(DIM, HEADS, 2 * DIM, dropout=0.0, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        return self.layer(x, src_mask=mask, is_causal=True)


class PaddedCausal(nn.Module):
    """Attention whose keys are kept where the padding mask input (1 token, 0 padding) *and* the causal mask allow:
    `(pad[:, None, None, :] > 0.5) & tril(ones(T, T))`, then `masked_fill(~keep, -inf)`."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        keep = (pad[:, None, None, :] > 0.5) & torch.tril(torch.ones(t, t, dtype=torch.bool))
        p = ((q @ k.transpose(-2, -1)) * (c // HEADS) ** -0.5).masked_fill(~keep, float("-inf")).softmax(-1)
        return self.proj((p @ v).transpose(1, 2).reshape(b, t, c))


def padding(batch: int, t: int, generator: torch.Generator) -> Tensor:
    """[batch, t] float: 1 for the first tokens of each sequence (at least one), 0 after."""
    lengths = torch.randint(1, t + 1, (batch,), generator=generator)
    lengths[-1] = max(1, t // 2)  # one padded sequence at least
    return (torch.arange(t)[None, :] < lengths[:, None]).float()


class BufferCausal(nn.Module):
    """nanoGPT's spelling: a causal buffer registered at the maximum length and cut to T in forward,
    `masked_fill(self.bias[:, :, :T, :T] == 0, -inf)` (a float buffer) or `~self.bias[...]` (a bool one)."""

    def __init__(self, bool_buffer: bool, max_length: int = 8) -> None:
        super().__init__()
        self.bool_buffer = bool_buffer
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        dtype = torch.bool if bool_buffer else torch.float32
        self.register_buffer("bias", torch.tril(torch.ones(max_length, max_length, dtype=dtype))[None, None])

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.size()
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
        cut = self.bias[:, :, :t, :t]
        p = (
            ((q @ k.transpose(-2, -1)) * (c // HEADS) ** -0.5)
            .masked_fill(~cut if self.bool_buffer else cut == 0, float("-inf"))
            .softmax(-1)
        )
        return self.proj((p @ v).transpose(1, 2).contiguous().view(b, t, c))
