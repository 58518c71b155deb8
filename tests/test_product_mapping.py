"""torch.einsum (two operands), torch.addmm and torch.baddbmm as typed ops (irq/frontend/product_mapping.py).

They were opaque calls that no march runs, though hand-written attention uses einsum and Hugging Face models
use baddbmm. Each form is checked against eager torch from printed text at two batch sizes (fx and export);
forms the rules do not cover stay opaque and still compute eager's numbers; quantized, they deploy ==
VALIDATION on both runtimes at the traced batch and another (a 2-D `x @ W` carries the samples in its rows,
which the runtimes' batch-axis analysis now follows).
"""

from __future__ import annotations

import pytest
import torch
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq

#: equation -> (shape of a without the batch, shape of b without the batch, whether b has a batch axis)
EINSUMS = {
    "bhnd,bhmd->bhnm": ((2, 5, 4), (2, 6, 4), True),  # q k^T: b permuted
    "bhnm,bhmd->bhnd": ((2, 5, 6), (2, 6, 4), True),  # attn v: no permute
    "bhnd,bhmd->bnhm": ((2, 5, 4), (2, 6, 4), True),  # result permuted
    "bnd,de->bne": ((5, 4), (4, 3), False),  # a linear by einsum: broadcast rows
    "bdn,bdm->bnm": ((4, 5), (4, 6), True),  # a permuted, b as it is
    "bij,bjk->bik": ((5, 4), (4, 3), True),
}
OPAQUE = {
    "bii->bi": ((4, 4),),  # a diagonal: no matmul
    "bdn,bmd->bnm": ((4, 5), (6, 4)),  # both operands would need a permute
    "...ij,...jk->...ik": ((5, 4), (4, 3)),  # ellipsis
}


class _Einsum(nn.Module):
    """einsum of two inputs."""

    def __init__(self, eq: str) -> None:
        super().__init__()
        self.eq = eq

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.einsum(self.eq, a, b)


class _EinsumOne(nn.Module):
    """einsum of an input and a parameter (b_shape), or of one input alone (b_shape None)."""

    def __init__(self, eq: str, b_shape: tuple[int, ...] | None) -> None:
        super().__init__()
        self.eq = eq
        self.w = nn.Parameter(torch.randn(*b_shape)) if b_shape is not None else None

    def forward(self, a: Tensor) -> Tensor:
        return torch.einsum(self.eq, a, self.w) if self.w is not None else torch.einsum(self.eq, a)


def _model(eq: str, b_shape, batched_b: bool) -> nn.Module:
    return _Einsum(eq) if batched_b else _EinsumOne(eq, b_shape)


def _operands(eq: str, shapes, batched_b: bool, batch: int) -> tuple[Tensor, ...]:
    a = torch.randn(batch, *shapes[0])
    return (a, torch.randn(batch, *shapes[1])) if batched_b else (a,)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("eq", list(EINSUMS))
def test_einsum_becomes_permutes_and_one_matmul_equal_to_eager(eq, method):
    """Bug caught: a wrong permutation of either operand or of the result, a contraction over the wrong
    index, a batch fixed at the traced one, or the call kept opaque."""
    a_shape, b_shape, batched_b = EINSUMS[eq]
    torch.manual_seed(0)
    m = _model(eq, b_shape, batched_b)
    module = irq.import_torch(m, _operands(eq, (a_shape, b_shape), batched_b, 2), method=method)
    assert not [op for op in module.walk() if op.name == "torch.call"]
    assert len([op for op in module.walk() if op.name == "torch.matmul"]) == 1
    gm = to_module(irq.parse_module(irq.print_module(module)))
    for batch in (2, 3):
        xs = _operands(eq, (a_shape, b_shape), batched_b, batch)
        torch.testing.assert_close(gm(*xs), m(*xs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("eq", list(OPAQUE))
def test_other_einsums_stay_opaque_and_exact(eq):
    shapes = OPAQUE[eq]
    m = _Einsum(eq) if len(shapes) == 2 else _EinsumOne(eq, None)
    xs = tuple(torch.randn(2, *s) for s in shapes)
    module = irq.import_torch(m, xs)
    assert [op for op in module.walk() if op.name == "torch.call"]
    torch.testing.assert_close(to_module(module)(*xs), m(*xs))


class _AddMM(nn.Module):
    def __init__(self, beta: float, alpha: float, batched: bool) -> None:
        super().__init__()
        self.beta, self.alpha, self.batched = beta, alpha, batched
        self.w = nn.Parameter(torch.randn(8, 6) * 0.3)
        self.b = nn.Parameter(torch.randn(6))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.batched:
            return torch.baddbmm(self.b, x, y, beta=self.beta, alpha=self.alpha)
        return torch.addmm(self.b, x, self.w, beta=self.beta, alpha=self.alpha)


@pytest.mark.parametrize(("beta", "alpha", "batched"), [(1, 1, False), (0, 2.5, False), (1, 0.125, True), (0, 1, True)])
def test_addmm_and_baddbmm_equal_eager(beta, alpha, batched):
    """Bug caught: alpha or beta ignored or applied to the wrong term, the bias added when beta is 0."""
    torch.manual_seed(0)
    m = _AddMM(beta, alpha, batched)
    args = (torch.randn(2, 3, 8), torch.randn(2, 8, 6)) if batched else (torch.randn(2, 8),)
    module = irq.import_torch(m, args)
    assert not [op for op in module.walk() if op.name == "torch.call"]
    torch.testing.assert_close(to_module(irq.parse_module(irq.print_module(module)))(*args), m(*args))


def test_addmm_with_another_beta_stays_opaque():
    m = _AddMM(0.5, 1, False)
    x = torch.randn(2, 8)
    module = irq.import_torch(m, (x,))
    assert [op for op in module.walk() if op.name == "torch.call"]
    torch.testing.assert_close(to_module(module)(x), m(x))


class _EinsumAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.out = nn.Linear(16, 16)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, 2, 8).permute(2, 0, 3, 1, 4)
        a = (torch.einsum("bhnd,bhmd->bhnm", q, k) * 8**-0.5).softmax(-1)
        return self.out(torch.einsum("bhnm,bhmd->bhnd", a, v).transpose(1, 2).reshape(b, n, c))


class _LinearByAddmm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8) * 0.3)
        self.b = nn.Parameter(torch.randn(8))
        self.head = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.relu(torch.addmm(self.b, x, self.w)))


@pytest.mark.parametrize(("make", "shape"), [(_EinsumAttention, (5, 16)), (_LinearByAddmm, (8,))])
def test_products_deploy_as_validation(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    g = torch.Generator().manual_seed(1)
    qat = irq.prepare(
        model, (torch.randn(2, *shape, generator=g),), qconfig="default_calib_8bit", march="nash", check_model=False
    )
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, *shape, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, shape, g, min_cosine=0.98)
