"""Issue 12's element-wise functions (F.elu / celu / selu / softplus / mish / logsigmoid / softsign / tanhshrink /
hardshrink / softshrink, torch.erf / sin / cos, x.pow(n) / torch.square / x ** n) through the whole chain.

Before, each stayed an opaque `torch.call` (a float island no march runs), so convert refused a model with one.
Now each is a typed op that lowers to one bpu.lut on both marches, its table built from irq.lut_functions. Each
function is checked between two convolutions: CALIBRATION equals eager torch (the oracle), VALIDATION stays close
to float, the deployed program equals VALIDATION bit for bit at the traced batch and another, and the reference
and numba runtimes agree. The per-spelling checks (functions, methods, modules, ATen names) are probes in
tests/support/probes_ops.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq

#: (id, the function applied to the first convolution's output, its options at values where a dropped one shows)
CASES = [
    ("elu", lambda y: F.elu(y, alpha=0.4)),
    ("celu", lambda y: F.celu(y, alpha=2.0)),
    ("selu", F.selu),
    ("softplus", lambda y: F.softplus(y, beta=2.0, threshold=1.0)),
    ("mish", F.mish),
    ("logsigmoid", F.logsigmoid),
    ("softsign", F.softsign),
    ("tanhshrink", F.tanhshrink),
    ("hardshrink", lambda y: F.hardshrink(y, lambd=0.3)),
    ("softshrink", lambda y: F.softshrink(y, lambd=0.3)),
    ("erf", torch.erf),
    ("sin", lambda y: torch.sin(y * 2)),
    ("cos", torch.cos),
    ("square", torch.square),
    ("pow3", lambda y: y ** 3),
]

#: typed op each case must import as (the function's own op, not an opaque call)
OPS = {"pow3": "pow_scalar", "square": "pow_scalar"}


class _Between(nn.Module):
    """conv -> the function under test -> conv: the function sits between two quantized owners."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.head = nn.Conv2d(6, 4, 1)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.fn(self.conv(x)))


def _prepared(fn, march: str):
    torch.manual_seed(0)
    model = _Between(fn).eval()
    x = torch.randn(2, 3, 8, 8)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    return model, qat, x


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_function_imports_typed_and_calibration_equals_eager(name, fn):
    """Bug caught: a function left opaque (or mapped to the wrong op), or an option (alpha, beta/threshold,
    lambd, the exponent) dropped on the way: CALIBRATION runs the rebuilt float program, which must be eager."""
    model, qat, x = _prepared(fn, "nash")
    ops = [op.name for op in irq.import_torch(model, (x,)).walk()]
    assert "torch.call" not in ops and f"torch.{OPS.get(name, name)}" in ops, ops
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("march", ["bayes", "nash"])
@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_function_deploys_bit_exact(name, fn, march):
    """Bug caught: a lookup table the compiler builds from other attributes or another formula than
    VALIDATION's (deployed != VALIDATION), a table far from the float function (cosine), or the reference and
    numba runtimes disagreeing."""
    model, qat, _ = _prepared(fn, march)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, 3, 8, 8, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march=march)
    assert any(op.name == "bpu.lut" for op in program.walk())
    assert_deploys_as_validation(model, qat, program, (3, 8, 8), g)


class _Power(nn.Module):
    def __init__(self, exponent) -> None:
        super().__init__()
        self.exponent = exponent

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x).pow(self.exponent)


@pytest.mark.parametrize("exponent", [0.5, 1.5, -1, -2.0])
def test_a_power_no_finite_table_holds_stays_opaque(exponent):
    """A fractional exponent is nan for every negative input (even after a relu the table would be built over
    the quantized range, negative side included) and a negative one is infinite at 0: such a pow stays the
    opaque call torch runs exactly, never a table of nans or infinities."""
    x = torch.randn(2, 3, 4)
    module = irq.import_torch(_Power(exponent), (x,))
    ops = [op.name for op in module.walk()]
    assert "torch.call" in ops and "torch.pow_scalar" not in ops, ops


#: (kind, attributes, torch's float64 function with the same options)
TABLE_FUNCTIONS = [
    ("elu", {"alpha": 0.4}, lambda t: F.elu(t, 0.4)),
    ("celu", {"alpha": 2.0}, lambda t: F.celu(t, 2.0)),
    ("selu", {}, F.selu),
    ("softplus", {"beta": 2.0, "threshold": 1.0}, lambda t: F.softplus(t, 2.0, 1.0)),
    ("softplus", {"beta": 0.5, "threshold": 20.0}, lambda t: F.softplus(t, 0.5, 20.0)),
    ("mish", {}, F.mish),
    ("logsigmoid", {}, F.logsigmoid),
    ("softsign", {}, F.softsign),
    ("tanhshrink", {}, F.tanhshrink),
    ("hardshrink", {"lambd": 0.3}, lambda t: F.hardshrink(t, 0.3)),
    ("softshrink", {"lambd": 0.3}, lambda t: F.softshrink(t, 0.3)),
    ("erf", {}, torch.erf),
    ("sin", {}, torch.sin),
    ("cos", {}, torch.cos),
    ("pow_scalar", {"exponent": 2}, lambda t: t ** 2),
    ("pow_scalar", {"exponent": 3}, lambda t: torch.pow(t, 3)),
]


@pytest.mark.parametrize("kind, attrs, torch_fn", TABLE_FUNCTIONS,
                         ids=[f"{k}-{'-'.join(f'{n}{v}' for n, v in a.items())}" for k, a, _ in TABLE_FUNCTIONS])
def test_table_function_is_torchs(kind, attrs, torch_fn):
    """The float64 function lower-bpu and VALIDATION both build the table from (so deployed == VALIDATION cannot
    see an error in it) against torch in float64 on a grid through every knee (softplus's threshold switch, the
    shrinks' +-lambd, elu's 0); the reference runtime's float island calls the same function. Bug caught: a
    dropped option (softplus's threshold, a shrink's lambd), a wrong constant (selu's), softshrink's sides swapped."""
    from irq import lut_functions
    grid = np.concatenate([np.linspace(-12, 12, 4801), [-0.3, 0.3, 0.5, 0.0, 40.0, -40.0]])
    want = torch_fn(torch.from_numpy(grid)).numpy()
    np.testing.assert_allclose(lut_functions.function(kind, attrs)(grid), want, rtol=1e-12, atol=1e-12)
