"""Cross-layer equalization (irq.quant.cross_layer_equalize, Nagel et al. 2019).

The transform must not change the float model where it is exact (relu and linear pairs; relu6 pairs
under "clamp" on the data whose maxima it saw), must actually even out the channel ranges it claims to
(the first conv's folded per-channel weight ranges become those of the second's input channels), and
must leave relu6 pairs alone by default.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import irq
from irq.quant.equalize import _folded_weight, _input_ranges, _output_ranges, _pairs
from tests.models import mobilenet_v2


class Block(nn.Module):
    """conv -> bn -> act -> depthwise -> bn -> act -> 1x1 conv (with bias): the paper's chain."""

    def __init__(self, act: type[nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = act()
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = act()
        self.pw = nn.Conv2d(16, 8, 1)

    def forward(self, x):
        return self.pw(self.act2(self.bn2(self.dw(self.act1(self.bn1(self.conv1(x)))))))


def _block(act) -> nn.Module:
    torch.manual_seed(0)
    m = Block(act)
    with torch.no_grad():
        # channel ranges spread over two orders of magnitude: what equalization is for
        m.conv1.weight.mul_(torch.logspace(-1.5, 0.5, 16).reshape(16, 1, 1, 1))
        for bn in (m.bn1, m.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return m.eval()


def test_relu_chain_output_unchanged_and_ranges_equalized():
    model = _block(nn.ReLU)
    x = torch.randn(4, 3, 16, 16)
    ref = model(x)
    spread = max(_output_ranges(_folded_weight(model, a)).max() / _output_ranges(_folded_weight(model, a)).min()
                 for a, _ in _pairs(model, (x,), irq.quant.EqualizationReport()))
    report = irq.quant.cross_layer_equalize(model, (x,))
    assert [(p.first, p.second) for p in report.pairs] == [("conv1", "dw"), ("dw", "pw")]
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)
    for a, b in _pairs(model, (x,), irq.quant.EqualizationReport()):
        r1 = _output_ranges(_folded_weight(model, a))
        r2 = _input_ranges(_folded_weight(model, b), b.groups, len(r1))
        np.testing.assert_allclose(r1, r2, rtol=0.02)  # the fixed point of the sweeps: equal ranges
    assert report.pairs[0].spread_after < report.pairs[0].spread_before / 5 and spread > 50


def test_relu6_pairs_are_skipped_by_default():
    model = _block(nn.ReLU6)
    x = torch.randn(4, 3, 16, 16)
    before = copy.deepcopy(model.state_dict())
    report = irq.quant.cross_layer_equalize(model, (x,))
    assert report.pairs == [] and "relu6" in report.skipped["conv1 -> dw"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_relu6_clamp_is_exact_on_its_calibration_data_and_pins_saturated_channels():
    model = _block(nn.ReLU6)
    with torch.no_grad():
        model.bn1.bias[:4] = 8.0  # these channels reach the clip: their scale must stay 1
    x = torch.randn(8, 3, 16, 16)
    ref = model(x)
    report = irq.quant.cross_layer_equalize(model, (x[:1],), relu6="clamp", batches=[x])
    assert len(report.pairs) == 2 and report.pairs[0].pinned >= 4
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="needs calibration"):
        irq.quant.cross_layer_equalize(model, (x[:1],), relu6="clamp")


def test_mobilenet_v2_clamp_keeps_the_float_output():
    torch.manual_seed(0)
    model = mobilenet_v2.MobileNetV2(num_classes=10, width_mult=0.25)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(16, 3, 32, 32))
    model.eval()
    x = torch.randn(4, 3, 32, 32)
    ref = model(x)
    report = irq.quant.cross_layer_equalize(model, (x[:1],), relu6="clamp", batches=[x])
    # expand -> depthwise and depthwise -> project of every inverted residual block
    assert len(report.pairs) >= 30, report
    torch.testing.assert_close(model(x), ref, rtol=1e-4, atol=1e-4)
