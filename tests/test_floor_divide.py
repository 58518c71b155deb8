"""`x // y` (operator.floordiv, torch.floor_divide, Tensor.floor_divide, `//=`) is torch.div(rounding_mode="floor").

Before issue 12 the frontend kept every spelling as an opaque `torch.call`, a float island that no march runs.
The whole-flow checks (CALIBRATION == eager, VALIDATION ~ float, deployed == VALIDATION, reference == numba)
run on tests/models/user_models.py's FloorDivide in tests/test_user_models.py ("floor_divide"); this file
checks the import of each spelling, on both import methods, and what must stay opaque.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.runtime import reference
from torch import Tensor, nn

import irq
from tests.models import user_models as um


def _ops(module) -> list[str]:
    return [op.name for op in module.walk()]


@pytest.mark.parametrize("method", ["fx", "export"])
def test_every_spelling_imports_as_a_floor_div(method):
    """Bug caught: a spelling left out of the mapping (or the export table) stays a `torch.call`, which
    quant-annotate keeps in float and convert refuses."""
    x = torch.randn(2, 3, 8, 8)
    module = irq.import_torch(um.FloorDivide().eval(), (x,), method=method)
    names = _ops(module)
    assert "torch.call" not in names
    divs = [op for op in module.walk() if op.name in ("torch.div", "torch.div_scalar")]
    assert len(divs) == 5
    assert {op.get_attr("rounding_mode").value for op in divs} == {"floor"}


class _ScalarDividend(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return 2.0 // (x.abs() + 1.0)


def test_scalar_dividend_stays_opaque():
    """`2 // x` has no bpu lowering (a scalar dividend): it must stay a torch.call, not turn into `x // 2`."""
    x = torch.randn(2, 4)
    module = irq.import_torch(_ScalarDividend(), (x,))
    assert "torch.call" in _ops(module)


class _IndexBuckets(nn.Module):
    """Integer bucket indices: an int64 tensor // an int, and // a negative int."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        idx = torch.arange(x.shape[1]).expand(x.shape[0], -1) + (x > 0).long()
        return idx // 3, torch.floor_divide(idx, -4)


def test_integer_floor_divide_keeps_torch_semantics():
    """Floor (toward -inf), not trunc, on integer tensors too: -1 // 4 == -1 (trunc would give 0)."""
    x = torch.randn(2, 9)
    model = _IndexBuckets()
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for got, want in zip(qat(x), model(x)):
            assert got.dtype == want.dtype == torch.int64
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert (model(x)[1] < 0).any()  # the floor case is exercised


def _calibrated(method: str):
    torch.manual_seed(0)
    model = um.FloorDivide().eval()
    x = torch.randn(2, 3, 8, 8)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(2, 3, 8, 8, generator=g) * 1.5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return model, qat, x


def test_export_method_floor_divide_deploys_bit_exact():
    """method="export" (aten.floor_divide, aten.floor_divide_) lowers to bpu.int_div and runs exactly as
    VALIDATION computes, on numba and on the reference runtime."""
    model, qat, x = _calibrated("export")
    with torch.no_grad():
        validation = [v.numpy() for v in qat(x)]
        eager = [e.numpy() for e in model(x)]
    for v, e in zip(validation, eager):
        # a quotient moves by one where an operand's rounding crosses an integer: most codes agree exactly
        assert np.mean(np.abs(v - e) <= 1.0 + 1e-6) > 0.9
    program = irq.convert(qat)
    int_divs = [op for op in program.walk() if op.name == "bpu.int_div"]
    assert len(int_divs) == 5 and {op.get_attr("rounding_mode").value for op in int_divs} == {"floor"}
    deployed = irq.run(program, x.numpy())
    oracle = reference.run(program, x.numpy())
    for v, d, r in zip(validation, deployed, oracle):
        np.testing.assert_array_equal(d, v)
        np.testing.assert_array_equal(r, d)
