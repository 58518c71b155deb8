"""torch.gather / Tensor.gather by a constant index through the whole chain (issue 12).

Oracles: eager torch (the float import and CALIBRATION compute torch.gather: result values and the IR's result
type equal eager's), VALIDATION (torch.gather on the fake-quantized values: the deployed program on numba equals
it bit for bit, codes included since gather moves codes without arithmetic; reference == numba).

A constant index fixes the result's batch (torch.gather does not broadcast): the program runs at its traced batch
and another batch is refused naming the gather's line. A one-sample constant expanded to the batch
(`idx.expand(y.shape[0], -1)`, traced by torch.export) follows the batch: deployed == VALIDATION at 2 and 3.
A computed index stays refused by name (tests/test_export_any_batch.py).

Before: gather stayed an opaque call and convert refused it by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.runtime import numba as numba_runtime
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation, run_both
from torch import Tensor, nn

import irq
from irq.text.parser import parse_module

_INDEX = torch.tensor([[0, 5, 2], [1, 1, 4]])
#: (name, y [N=2, 6] -> gathered): torch.gather and the method, a negative dim, along the batch, an index smaller
#: than the input outside `dim`, a 0-sized dim kept at 1
CASES = {
    "function": lambda y: torch.gather(y, 1, _INDEX),
    "method_negative_dim": lambda y: y.gather(-1, torch.tensor([[3], [0]])),
    "along_batch": lambda y: y.gather(0, torch.tensor([[1, 0, 1, 0, 0, 1]])),
    "3d_middle_dim": lambda y: y.view(-1, 3, 2).gather(-2, torch.tensor([[[2, 0], [1, 1]], [[0, 0], [2, 1]]])),
}


class _Head(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 6)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.fc(x))


class _EachSample(nn.Module):
    """The batch-following form: one sample's positions expanded to the batch (a [1, 2, 3] buffer, or a [2, 3]
    one unsqueezed first: export folds the view of the constant)."""

    def __init__(self, unsqueeze: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 12)
        self.unsqueeze = unsqueeze
        idx = torch.tensor([[3, 0, 1], [2, 2, 0]])
        self.register_buffer("idx", idx if unsqueeze else idx[None])

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x).view(-1, 4, 3)
        idx = self.idx.unsqueeze(0) if self.unsqueeze else self.idx
        return y.gather(1, idx.expand(y.shape[0], -1, -1))


def _calibrated(model: nn.Module, x: Tensor, method: str) -> nn.Module:
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", method=method, check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        qat(torch.randn(16, 8, generator=torch.Generator().manual_seed(4)))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


def _typed_as_eager(model: nn.Module, x: Tensor, method: str) -> None:
    """The float import computes eager's values with eager's result shape, and its text round-trips."""
    module = irq.import_torch(model, (x,), method=method)
    assert str(parse_module(str(module))) == str(module)
    names = {op.name for op in module.walk()}
    assert "torch.call" not in names and "torch.gather" in names
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(to_module(module)(x), want)
    ret = next(op for op in module.walk() if op.name == "func.return").operands[0].type
    assert tuple(ret.shape) == tuple(want.shape)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", list(CASES))
def test_constant_index_deploys_as_validation_at_its_batch(name, method):
    """Bug caught: a flat position computed along another dim or with the input's strides wrong (other codes
    than VALIDATION's), a negative dim not normalized, a result typed or reshaped to another shape than the
    index's, a program that runs at another batch (torch gives the traced batch's shape or fails there)."""
    torch.manual_seed(0)
    model, x = _Head(CASES[name]).eval(), torch.randn(2, 8)
    _typed_as_eager(model, x, method)
    qat = _calibrated(model, x, method)
    program = irq.convert(qat, march="nash")
    assert "bpu.take" in {op.name for op in program.walk()}
    g = torch.Generator().manual_seed(2)
    xb = torch.randn(2, 8, generator=g)
    with torch.no_grad():
        want = qat(xb)
    got = run_both(program, xb.numpy())
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got, want.numpy())
    with pytest.raises(Exception, match=r"test_gather\.py:\d+:\d+: 'bpu\.take' moves the batch.* only runs at batch 2"):
        numba_runtime.compile(program)(torch.randn(3, 8, generator=g).numpy())


@pytest.mark.parametrize("unsqueeze", [False, True], ids=["buffer_1x2x3", "unsqueezed_2x3"])
def test_expanded_sample_index_follows_the_batch(unsqueeze):
    """export of `y.gather(1, idx.expand(y.shape[0], -1, -1))`: every sample takes the same positions, so the
    program is one take along dim 1 of [N, 12] and runs at any batch. Bug caught: positions of another sample,
    the expand lowered as data (convert refuses it), the batch lost (refused or wrong at batch 3)."""
    torch.manual_seed(0)
    model, x = _EachSample(unsqueeze).eval(), torch.randn(2, 8)
    _typed_as_eager(model, x, "export")
    qat = _calibrated(model, x, "export")
    program = irq.convert(qat, march="nash")
    takes = [op for op in program.walk() if op.name == "bpu.take"]
    assert len(takes) == 1 and takes[0].get_attr("dim").value == 1
    assert str(parse_module(str(program))) == str(program)
    assert_deploys_as_validation(model, qat, program, (8,), torch.Generator().manual_seed(2), batches=(2, 3, 1))
