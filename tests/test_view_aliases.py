"""Issue 12's data movement: Tensor.t() / torch.t, swapaxes / swapdims (functions and methods), torch.narrow /
Tensor.narrow and torch.unbind / Tensor.unbind, which stayed opaque `torch.call`s, import as the views they are:
hl.transpose (t, swapaxes, swapdims), hl.identity (t of a 0-D or 1-D tensor), hl.slice (narrow) and hl.unbind
(one result per index). No new bpu op: they lower to bpu.permute, bpu.slice, and per unbind result a size-1
bpu.slice and a bpu.reshape. The per-spelling probes are in tests/support/probes_ops.py; this is the chain check.
"""

from __future__ import annotations

import pytest
import torch
from support.both_runtimes import assert_deploys_as_validation
from support.calibrated import calibrated_model
from torch import Tensor, nn

import irq


class _Views(nn.Module):
    """Every alias between quantized owners, at dims where a wrong mapping moves other data: swapaxes of H and W
    before an asymmetric kernel, narrow of channels (negative start too), t() of a [N, C] matrix read back,
    unbind's rows restacked in another order."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.tall = nn.Conv2d(4, 6, (3, 1))
        self.fc = nn.Linear(6, 5)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.conv(x))
        y = torch.swapaxes(y.narrow(1, 1, 6), 2, 3)      # [N, 6, W, H]
        y = torch.narrow(y.swapdims(-1, -2), 1, -5, 4)  # [N, 4, H, W], channels 1..4 of the 6
        z = self.tall(torch.sigmoid(y)).mean((2, 3))    # [N, 6]
        rows = torch.tanh(z.t()).t().unbind(1)           # 6 x [N]
        return self.fc(torch.stack([rows[5], rows[0], rows[1], rows[2], rows[3], rows[-2]], -1))


@pytest.mark.parametrize("method", ["fx", "export"])
def test_views_import_typed_and_calibration_equals_eager(method):
    """Bug caught: an alias left opaque, swapaxes/swapdims swapping other dims, narrow's length taken as its end
    or its negative start not counted from the end: CALIBRATION (the rebuilt float program) would differ."""
    torch.manual_seed(0)
    model = _Views().eval()
    x = torch.randn(2, 3, 7, 9)
    ops = [op.name for op in irq.import_torch(model, (x,), method=method).walk()]
    assert "torch.call" not in ops, ops
    assert ops.count("torch.transpose") == 4 and ops.count("torch.slice") == 2 and "torch.unbind" in ops, ops
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("march", ["bayes", "nash"])
def test_views_deploy_bit_exact(march):
    """Bug caught: a view the runtimes lay out differently from VALIDATION (deployed != VALIDATION), or the
    reference and numba runtimes disagreeing on the transposed and sliced codes."""
    model, qat, _ = calibrated_model(_Views, (2, 3, 7, 9), march=march)
    g = torch.Generator().manual_seed(2)
    program = irq.convert(qat, march=march)
    names = {op.name for op in program.walk()}
    assert {"bpu.permute", "bpu.slice", "bpu.reshape"} <= names, names
    assert_deploys_as_validation(model, qat, program, (3, 7, 9), g)


class _T(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.t()


def test_t_is_defined_for_rank_at_most_2_only():
    """t() of a matrix is transpose(0, 1); of a rank-3 tensor the import fails with torch's own error (a
    FrontendError), never a transpose of some two dims."""
    ops = [op.name for op in irq.import_torch(_T(), (torch.randn(3, 4),)).walk()]
    assert "torch.transpose" in ops and "torch.call" not in ops
    with pytest.raises(irq.FrontendError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        irq.import_torch(_T(), (torch.randn(2, 3, 4),))
