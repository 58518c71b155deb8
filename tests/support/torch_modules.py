"""Small helpers shared by the frontend's option and shape-rule tests."""

from __future__ import annotations

import torch
from torch import nn

import irq


class Lambda(nn.Module):
    """A module whose forward is `fn` (symbolic tracing sees through it)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor):
        return self.fn(x)


def result_shapes(module: irq.Operation) -> list[tuple[int, ...]]:
    """The types of the values the function returns, as shapes."""
    ret = next(op for op in module.walk() if op.name == "func.return")
    return [tuple(v.type.shape) for v in ret.operands]
