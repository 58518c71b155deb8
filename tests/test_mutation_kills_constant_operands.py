"""Constant operands (a parameter used as data) on cases mutation testing (bench/mutation.py, target
constant-operands) found unexercised: lower-bpu's LoweringBase.act / constant_operand and the numba planner's
slot over a constant (Planner.input).

Each test names the planted bug it catches. Oracles: VALIDATION (torch) bit for bit at two batches, and the
program's own structure where the bug changes only that (a duplicated constant, a blob named after nothing).
"""

from __future__ import annotations

import torch
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq


class ScaleAndShiftByOneParameter(nn.Module):
    """One parameter used twice as data, on a non-square image the conv reads after a transpose (a plain-layout
    value the numba planner converts to NHWC): `gamma * conv(x^T) + gamma`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gamma = nn.Parameter(torch.rand(4, 1, 1) + 0.5)

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * self.conv(x.transpose(2, 3)) + self.gamma


def test_a_parameter_used_twice_as_data_is_one_named_constant_and_deploys_exactly():
    """Bugs caught: LoweringBase.act re-lowering an operand it already has codes for (`qv is None and v in
    weights` written `or`: a second bpu.constant of the same codes per use), constant_operand naming the blob
    `constant.data` whatever op owns it (`owner or 'constant'` written `and`: the artifact no longer says which
    op's data it is, as conv.weight / conv.bias do). The program still equals VALIDATION bit for bit at the
    traced batch and another, on both runtimes, with H != W: the planner's NHWC buffer for a converted operand
    sized (N, H, H, C) (Planner.input's `shape[3]` written `shape[2]`) hides on square images."""
    torch.manual_seed(0)
    model = ScaleAndShiftByOneParameter().eval()
    g = torch.Generator().manual_seed(1)
    shape = (3, 5, 7)
    qat = irq.prepare(
        model, (torch.randn(2, *shape, generator=g),), qconfig="default_calib_8bit", march="bayes", check_model=False
    )
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(2, *shape, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="bayes")
    keys = [op.get_attr("value").key for op in program.walk() if op.name == "bpu.constant"]
    data = [k for k in keys if ".data." in k]
    assert len(data) == 1, keys  # gamma's codes once, for both of its uses
    assert data[0].startswith("mul.data."), keys  # named after the op that owns its quantizer
    assert_deploys_as_validation(model, qat, program, shape, g)
