"""Models of issue 12's comparisons and selection: gating by a comparison, masked_fill, clamps by a tensor, and a
MiniLM-style attention block that takes its padding mask as a model input (tests/test_masked_models.py)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Gating(nn.Module):
    """Every comparison and selection form between two convolutions: `x > 0` gating with torch.where,
    masked_fill by a comparison with a number, a comparison of two tensors, clamps by a tensor, maximum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.side = nn.Conv2d(3, 6, 1)
        self.head = nn.Conv2d(6, 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        y, s = self.conv(x), self.side(x)
        z = torch.where(y > 0, y, y * 0.1)            # leaky gating
        z = z.masked_fill(y < -1.0, -0.5)             # fill inside the range
        z = torch.where(s >= y, z, s)                 # two tensors at different scales
        z = torch.maximum(z, y.clamp(min=s * 0.5))    # clamp by a tensor, maximum
        z = z.clamp(max=s + 1.0)
        return self.head(z)


class MaskedAttention(nn.Module):
    """A MiniLM-style encoder block whose padding mask is a model input: `scores.masked_fill(mask == 0, fill)`
    on the scaled logits before the softmax (HF's masking written as users write it), a residual, a LayerNorm and
    a GELU feed-forward. `mask` is [B, N] with 1 for tokens and 0 for padding (float or int64)."""

    def __init__(self, dim: int = 16, heads: int = 2, fill: float = float("-inf")) -> None:
        super().__init__()
        self.heads, self.scale, self.fill = heads, (dim // heads) ** -0.5, fill
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, c // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) * self.scale
        scores = scores.masked_fill(mask[:, None, None, :] == 0, self.fill)
        y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        x = self.norm1(x + self.out(y))
        return self.norm2(x + self.ff(x))


def padding_mask(batch: int, n: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """[batch, n] with 1 for the first `length` tokens of each sequence (length drawn in [1, n]) and 0 after."""
    lengths = torch.randint(1, n + 1, (batch,), generator=generator)
    return (torch.arange(n)[None, :] < lengths[:, None]).to(dtype)
