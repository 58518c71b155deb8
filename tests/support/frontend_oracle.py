"""The frontend's eager oracle, shared by the kill tests of the frontend's mutation targets
(tests/test_mutation_kills_frontend.py, tests/test_mutation_kills_static_shapes.py): a seeded input, a module
of two inputs, and the check that an imported call is the typed op named and computes eager's types and numbers.
"""

from __future__ import annotations

import torch
from irq.runtime.torch import to_module
from torch import nn

import irq
from support.torch_modules import result_shapes


class Two(nn.Module):
    """A module whose forward is `fn(x, y)`: the binary ops need two traced tensors."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return self.fn(x, y)


def torch_ops(module: irq.Operation) -> list[str]:
    """The names of the torch-dialect ops of `module`, in order."""
    return [op.name for op in module.walk() if op.dialect_name == "torch"]


def check_typed(model: nn.Module, inputs: tuple, ops: tuple[str, ...], atol: float = 1e-6, **how) -> irq.Operation:
    """Import `model` on `inputs` (`how`: import_torch's options); the ops `ops` present, no opaque call; types
    and numbers as eager's."""
    model.eval()
    module = irq.import_torch(model, inputs, **how)
    irq.verify(module)
    names = torch_ops(module)
    assert "torch.call" not in names, names
    for op in ops:
        assert f"torch.{op}" in names, (op, names)
    with torch.no_grad():
        expected = model(*inputs)
    expected = tuple(expected) if isinstance(expected, (tuple, list)) else (expected,)
    assert result_shapes(module) == [tuple(e.shape) for e in expected]
    got = to_module(module)(*inputs)
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=atol)
    return module


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    """A normal sample of `shape` from its own generator (no global RNG state read or changed)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
