"""Tests that kill mutants of passes/_lower_layer_ops.py (`lower-layer-ops`) the layer tests did not: each
names the planted bug it catches. Oracles: the rounding option as the user passed it, torch's F.pad on the
model, VALIDATION bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import reference
from torch import nn

import irq
from irq.qconfig import QConfig, QuantizerSpec
from irq.transform import PassFailure


def _calibrated(model: nn.Module, x: torch.Tensor, qconfig, march: str = "nash") -> nn.Module:
    qat = irq.prepare(model.eval(), (x,), qconfig=qconfig, march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


class _EveryLayerOp(nn.Module):
    """A standalone batch norm (after a pool, so nothing fuses it), PReLU, group and instance norm, stack,
    log_softmax, cumsum, division with a rounding_mode and a sum: every requantizing layer op."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.prelu = nn.PReLU(4, init=-0.2)
        self.gn = nn.GroupNorm(2, 4)
        self.inorm = nn.InstanceNorm2d(4, affine=True)

    def forward(self, x: torch.Tensor):
        r = self.prelu(self.bn(F.max_pool2d(self.conv(x), 2)))
        g, i = self.gn(r), self.inorm(r)
        stacked = torch.log_softmax(torch.stack([g, i], dim=1), dim=-1)
        floor = torch.div(r, torch.sigmoid(g) + 0.5, rounding_mode="floor")
        return stacked, torch.cumsum(r, dim=1), floor, torch.div(r, 0.25, rounding_mode="trunc"), r.sum((2, 3))


@pytest.fixture(scope="module")
def every_layer_op() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    return _calibrated(_EveryLayerOp(), x, "default_calib_8bit"), x


@pytest.mark.parametrize("rounding", ["half_even", "half_away", "floor"])
def test_the_rounding_option_reaches_every_layer_op(every_layer_op, rounding: str) -> None:
    """irq.convert(..., rounding=...) must round every layer op's requantization that way: catches
    `_rounding`'s `!= "half_up"` written `>=` / `>` / `==` (every other mode then silently drops to half_up
    for batch norm, PReLU, group norm, stack, log_softmax and int_div), or `is` (never true for a parsed
    option). bpu.div (a tensor division without a rounding_mode) has no rounding attribute: it always
    rounds half_up, so it is left out."""
    qat, x = every_layer_op
    program = irq.convert(qat, march="nash", rounding=rounding)
    requantizing = [op for op in program.walk() if op.get_attr("shift") is not None and op.name != "bpu.div"]
    names = {op.name for op in requantizing}
    assert {"bpu.prelu", "bpu.group_norm", "bpu.concat", "bpu.log_softmax", "bpu.int_div",
            "bpu.requantize"} <= names, names
    wrong = [op.name for op in requantizing
             if op.get_attr("rounding") is None or op.get_attr("rounding").value != rounding]
    assert not wrong, f"{wrong} do not round {rounding}"
    np.testing.assert_array_equal(irq.run(program, x.numpy())[0], reference.run(program, x.numpy())[0])


def test_the_default_rounding_is_half_up_and_equals_validation(every_layer_op) -> None:
    """At the default rounding the program of every layer op equals VALIDATION bit for bit (the oracle of the
    rounding test above is the attribute; this one is the numbers)."""
    qat, x = every_layer_op
    program = irq.convert(qat, march="nash")
    with torch.no_grad():
        validation = [t.numpy() for t in qat(x)]
    for got, want in zip(irq.run(program, x.numpy()), validation):
        np.testing.assert_array_equal(got, want)


class _PadReturned(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (1, 2, 0, 1), mode="constant", value=self.value).flatten(2)


_QUARTER = QConfig(QuantizerSpec("qint8", "fixed", fixed_scale=0.25), QuantizerSpec("qint8", "min_max"))


def test_a_pad_value_that_is_a_code_reaches_the_output_exactly() -> None:
    """pad(value=0.75) at scale 0.25 returned through a flatten: 0.75 is code 3, so convert keeps it and the
    deployed output equals F.pad on the dequantized input (catches lower_pad's check `code * scale == v`
    written `code / scale`, or its `!=` written `==` / `>=`: the value is then refused though it is exact)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 4)
    qat = _calibrated(_PadReturned(0.75), x, _QUARTER)
    program = irq.convert(qat, march="nash")
    x_q = torch.clamp(torch.round(x / 0.25), -128, 127) * 0.25
    want = F.pad(x_q, (1, 2, 0, 1), value=0.75).flatten(2).numpy()
    np.testing.assert_array_equal(irq.run(program, x.numpy()), want)
    np.testing.assert_array_equal(reference.run(program, x.numpy())[0], want)


def test_a_pad_value_between_codes_reaching_the_output_is_refused() -> None:
    """pad(value=0.3) at scale 0.25 returned: VALIDATION returns 0.3, the program could only return 0.25:
    refused by name (catches the check's `!=` written `==`, or the `v != 0.0` guard written `==`)."""
    x = torch.randn(2, 3, 2, 4)
    qat = _calibrated(_PadReturned(0.3), x, _QUARTER)
    with pytest.raises(PassFailure, match=r"'torch.pad' pads a returned value with 0\.3.*not a code of its scale"):
        irq.convert(qat, march="nash")
