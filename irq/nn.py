"""Modules for users writing new models for irq (imports torch).

`QuantStub` / `DeQuantStub` mark where the quantized part of the model starts and
ends; `QuantStub(scale=...)` fixes the input scale where it is known in advance
(normalized images, homography matrices), as horizon_plugin_pytorch's QuantStub
allows and torch.ao's does not. `FloatFunctional` gives tensor arithmetic a module
path, so each call site owns its own quantization state. In float they compute
exactly what the plain torch functions compute.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class QuantStub(nn.Module):
    """Start of the quantized region; `scale` fixes the input scale (None: observed)."""

    def __init__(self, scale: float | None = None) -> None:
        super().__init__()
        if scale is not None and not scale > 0:
            raise ValueError(f"QuantStub scale must be positive, got {scale}")
        self.scale = None if scale is None else float(scale)

    def forward(self, x: Tensor) -> Tensor:
        return x

    def extra_repr(self) -> str:
        return "" if self.scale is None else f"scale={self.scale}"


class DeQuantStub(nn.Module):
    """End of the quantized region."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class FloatFunctional(nn.Module):
    """Tensor arithmetic with a module path: `self.skip_add.add(x, y)` is owned by "....skip_add"."""

    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("FloatFunctional is not called directly; use its add/mul/cat/... methods")

    def add(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.add(x, y)

    def add_scalar(self, x: Tensor, y: float) -> Tensor:
        return torch.add(x, y)

    def sub(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.sub(x, y)

    def mul(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.mul(x, y)

    def mul_scalar(self, x: Tensor, y: float) -> Tensor:
        return torch.mul(x, y)

    def div(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.div(x, y)

    def matmul(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.matmul(x, y)

    def cat(self, xs: Sequence[Tensor], dim: int = 0) -> Tensor:
        return torch.cat(list(xs), dim=dim)

    def stack(self, xs: Sequence[Tensor], dim: int = 0) -> Tensor:
        return torch.stack(list(xs), dim=dim)

    def add_relu(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.relu(torch.add(x, y))

    def exp(self, x: Tensor) -> Tensor:
        return torch.exp(x)


__all__ = ["QuantStub", "DeQuantStub", "FloatFunctional"]
