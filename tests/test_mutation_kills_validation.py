"""VALIDATION (irq/quant/validation.py) on op families mutation testing (bench/mutation.py, target
`quant-validation`) found unexercised: scalar and tensor multiplies, divisions, adaptive and mean pooling,
layer norm with and without an affine part, bilinear resize, fused clamps; and the users' layers
(passes/_lower_layer_ops.py) no test of the target ran through VALIDATION at all: a standalone batch norm,
PReLU per channel and shared, group norm with and without affine, sum over dims, stack, tensor division.

The oracle is the deployed program: lower-bpu and the reference runtime compute the same integer
arithmetic without reading validation.py, so VALIDATION must equal the program's output bit for bit; a
planted bug in VALIDATION's multiplier, rounding, window or clamp breaks that equality. Each model is also
checked against torch float (within a few output steps), so a bug shared by both sides would still show.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import irq
from tests.support.calibrated import calibrated_model


class Products(nn.Module):
    """Two conv branches multiplied, then scaled by positive, negative and divided scalars."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        p = self.a(x) * self.b(x)
        return p * 0.7, p * -0.45, p / 3.0


class Pools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = F.relu6(self.conv(x))
        return F.adaptive_avg_pool2d(y, (2, 3)), y.mean(dim=1, keepdim=True), y.mean(dim=(2, 3))


class Norms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.plain = nn.LayerNorm(16, elementwise_affine=False)
        self.affine = nn.LayerNorm(16)
        with torch.no_grad():
            self.affine.weight.uniform_(0.5, 1.5)
            self.affine.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        h = self.fc(x)
        return self.plain(h), self.affine(h)


class Resize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return (F.interpolate(y, size=(10, 14), mode="bilinear", align_corners=False),
                F.interpolate(y, size=(9, 13), mode="bilinear", align_corners=True))


class LayerOps(nn.Module):
    """The users' layers with per-channel parameters: VALIDATION's _batch_norm, _prelu, _group_norm and the
    rank-4 broadcast of _channel_param (a wrong rank or channel axis changes the output's shape or values)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)  # the batch norm follows a pool: standalone, not folded into the conv
        self.bn = nn.BatchNorm2d(4)
        self.prelu_c = nn.PReLU(4)
        self.prelu_1 = nn.PReLU(1, init=-0.3)
        self.gn = nn.GroupNorm(2, 4)
        self.gn_plain = nn.GroupNorm(2, 4, eps=0.05, affine=False)  # an eps that survives the integer rounding
        with torch.no_grad():
            self.prelu_c.weight.copy_(torch.tensor([0.1, -0.5, 0.75, 1.3]))  # one slope per sign and size
            self.gn.weight.uniform_(0.5, 1.5)
            self.gn.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        y = self.pool(self.conv(x))
        return self.bn(y), self.prelu_c(y), self.prelu_1(y), self.gn(y), self.gn_plain(y)


class Reductions(nn.Module):
    """VALIDATION's _sum (over spatial dims, over channels with keepdim), _stack (new first and inner dim,
    inputs at two scales) and _div (two activations)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        p, q = self.a(x), self.b(x)
        return (torch.sum(p, dim=(2, 3)), p.sum(dim=1, keepdim=True), torch.stack([p, q], dim=1),
                torch.stack([p, q]), p / (torch.sigmoid(q) + 1.0))


MODELS = {
    "layer_ops": (LayerOps, (2, 3, 8, 6)),
    "reductions": (Reductions, (2, 3, 6, 5)),
    "products": (Products, (2, 3, 6, 8)),
    "pools": (Pools, (2, 3, 8, 6)),
    "norms": (Norms, (2, 5, 16)),
    "resize": (Resize, (1, 3, 5, 7)),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def converted(request):
    make, shape = MODELS[request.param]
    model, qat, x = calibrated_model(make, shape)
    with torch.no_grad():
        validation = qat(x)
        eager = model(x)
    program = irq.convert(qat)
    return request.param, program, x, validation, eager


def _tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def test_validation_equals_the_deployed_program_bit_for_bit(converted) -> None:
    name, program, x, validation, _ = converted
    deployed = _tuple(irq.run(program, x.numpy(), runtime="reference"))
    for i, (got, want) in enumerate(zip(deployed, _tuple(validation))):
        np.testing.assert_array_equal(np.asarray(got), want.numpy(), err_msg=f"{name} output {i}")


def test_validation_stays_near_float(converted) -> None:
    name, _, _, validation, eager = converted
    for i, (v, e) in enumerate(zip(_tuple(validation), _tuple(eager))):
        span = float(e.abs().max())
        err = float((v - e).abs().max())
        assert err <= 0.06 * span + 1e-3, f"{name} output {i}: |VALIDATION - float| = {err:.4f} of {span:.3f}"


def test_isqrt_is_exact_where_the_float64_estimate_is_off() -> None:
    """validation._isqrt is floor(sqrt(v)) for int64 v: against math.isqrt on squares, their neighbours
    and values near 2**63, where float64's sqrt estimate is one off in either direction. Catches either
    correction step changed (`r - 1` as `r ** 1` or `r << 1`, `r + 1` as `r - 1`, the clamp's bound)."""
    from math import isqrt

    from irq.quant.validation import _isqrt

    roots = [0, 1, 2, 3, 7, 1000, 2**26 + 3, 2**31 - 1, 2**31 + 11, 3037000499]  # 3037000499**2 < 2**63
    values = sorted({v for r in roots for v in (r * r - 1, r * r, r * r + 1, r * r + 2 * r) if 0 <= v < 2**63}
                    | {2**63 - 1, 2**62, 2**53 + 1, 2**52 - 1})
    got = _isqrt(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [isqrt(v) for v in values]
    # the float64 estimate really is off for some of them, so the corrections are exercised
    estimate = torch.floor(torch.sqrt(torch.tensor(values, dtype=torch.float64))).to(torch.int64).tolist()
    assert any(e != isqrt(v) for e, v in zip(estimate, values))


def test_exact_accumulate_leaves_float32_where_it_would_round() -> None:
    """K = 8192 products of codes near 127: the sum passes 2**24, where float32 accumulation rounds, so the
    result must come from the exact path and equal the int64 sum. Catches the float32 fast path's bound
    computed with another operator (`K * x - w`, `K * x | w`) or a larger bound constant."""
    from irq.quant.validation import exact_accumulate

    g = torch.Generator().manual_seed(0)
    x = torch.full((1, 8192), 127, dtype=torch.int64)
    w = torch.randint(100, 128, (3, 8192), generator=g, dtype=torch.int64)
    want = x @ w.T
    assert not torch.equal(torch.round(torch.nn.functional.linear(x.float(), w.float())).to(torch.int64), want)
    assert torch.equal(exact_accumulate("linear", x, w, {}, 1), want)
