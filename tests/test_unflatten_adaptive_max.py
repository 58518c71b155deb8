"""nn.Unflatten / Tensor.unflatten / torch.unflatten and adaptive max pooling as typed ops.

Unflatten was an opaque call in fx and, in export, a reshape to the traced shape: a prepared model run at
another batch failed inside torch ("shape '[2, 2, 2]' is invalid for input of size 16"). It is now a
reshape whose batch entry is -1. An adaptive max pool whose output size divides the input is the max pool
with kernel = stride = input / output (torch's adaptive windows are exactly those); other sizes stay
opaque. Each is checked against eager torch at two batch sizes, and a model with both deploys ==
VALIDATION on both runtimes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq


class _Unflattens(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.fc = nn.Linear(4, 12)
        self.unflatten = nn.Unflatten(1, (3, -1))

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        if self.how == "module":
            return self.unflatten(y)
        if self.how == "method":
            return y.unflatten(-1, (2, 3, 2))
        return torch.unflatten(y, 2, (6, 2))


def _ops(module, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("how", ["module", "method", "function"])
def test_unflatten_is_a_reshape_that_follows_the_batch(how, method):
    """Bug caught: the batch baked into the reshape (another batch fails), a -1 among the sizes resolved
    wrongly, the sizes placed at the wrong dim, or the call kept opaque."""
    torch.manual_seed(0)
    m = _Unflattens(how).eval()
    shape = (5, 4) if how == "function" else (4,)
    module = irq.import_torch(m, (torch.randn(2, *shape),), method=method)
    assert not _ops(module, "torch.call")
    gm = to_module(irq.parse_module(irq.print_module(module)))
    for batch in (2, 3):
        x = torch.randn(batch, *shape)
        torch.testing.assert_close(gm(x), m(x))


class _AdaptiveMax(nn.Module):
    def __init__(self, size, functional: bool) -> None:
        super().__init__()
        self.size, self.functional = size, functional
        self.pool = nn.AdaptiveMaxPool2d(size)

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool2d(x, self.size) if self.functional else self.pool(x)


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize(
    ("size", "typed"), [(4, True), ((2, 4), True), (1, True), ((4, 3), True), (3, False), ((4, 5), False)]
)
def test_adaptive_max_pool_divisible_sizes_are_max_pools(size, typed, functional):
    """Bug caught: a kernel or stride computed from the wrong axis, a non-dividing size rewritten into a pool
    with other windows (a wrong number), or a dividing one kept opaque."""
    m = _AdaptiveMax(size, functional)
    x = torch.randn(2, 3, 8, 12)
    module = irq.import_torch(m, (x,))
    assert bool(_ops(module, "torch.max_pool2d")) == typed
    assert bool(_ops(module, "torch.call")) != typed
    gm = to_module(irq.parse_module(irq.print_module(module)), modules={"pool": m.pool})
    for batch in (2, 3):
        xb = torch.randn(batch, 3, 8, 12)
        torch.testing.assert_close(gm(xb), m(xb))


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4, 12)
        self.unflatten = nn.Unflatten(1, (3, 4))

    def forward(self, x: Tensor) -> Tensor:
        y = F.adaptive_max_pool2d(torch.relu(self.conv(x)), (2, 2))
        return self.unflatten(self.fc(y.flatten(1)))


def test_unflatten_and_adaptive_max_pool_deploy_as_validation():
    torch.manual_seed(0)
    model = _Head().eval()
    g = torch.Generator().manual_seed(1)
    qat = irq.prepare(
        model, (torch.randn(2, 3, 8, 8, generator=g),), qconfig="default_calib_8bit", march="nash", check_model=False
    )
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, 3, 8, 8, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, (3, 8, 8), g)
