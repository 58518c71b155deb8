"""bench/consistency.py's measuring functions on a small model (the figures themselves are printed by
the script, not asserted): irq's VALIDATION-vs-program fraction is 1.0 (the bug it catches: a
benchmark that reports a different pair of tensors than it claims, e.g. QAT mode as VALIDATION, or
an irq change that breaks the bit-exact contract), and the torch.ao peer pair is measured."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import consistency  # noqa: E402


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.bn1(self.conv1(x))))


def test_irq_validation_equals_the_program_and_qat_mode_is_measured_separately():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    calib = [torch.randn(2, 3, 8, 8, generator=g) for _ in range(2)]
    x = torch.randn(2, 3, 8, 8, generator=g)
    res = consistency.irq_pair(Small().eval(), calib, x)
    assert res["validation"] == (1.0, "0")
    assert 0.0 <= res["qat"][0] <= 1.0
    fraction, diff = consistency.ao_pair(Small().eval(), calib, x)
    assert 0.0 <= fraction <= 1.0
    if fraction == 1.0:  # the same codes: at most float rounding of the dequantization apart
        assert diff == "0" or float(diff.split()[0]) < 0.5


def test_fraction_equal_counts_elements_and_refuses_other_shapes():
    a = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    assert consistency.fraction_equal(a, a + np.array([0, 0, 0, 1e-6], np.float32)) == 0.75
    assert consistency.fraction_equal((a, a[:2]), (a, a[:2] + 1)) == 4 / 6  # over every output
    assert consistency.max_steps(a, a + np.float32(0.5), 0.25) == "2.00 steps"
    with pytest.raises(ValueError, match="shapes differ"):
        consistency.fraction_equal(a, a[:3])


def test_same_code_ignores_dequantization_rounding_but_counts_code_changes():
    """torch.ao dequantizes its fake quant in float32 and its quantized tensors in float64: equal codes one
    ulp apart are the same number deployed (the column counted them as mismatches: 0.8% "equal" on a
    random MobileNetV2 whose codes all agreed), a code one step away is not."""
    step = 0.1
    codes = np.array([-3, 0, 5, 7], np.float64)
    a = (codes * step).astype(np.float32)
    ulp = np.nextafter(a, np.float32(np.inf))
    assert consistency.fraction_equal(a, ulp) == 0.0
    assert consistency.fraction_same_code(a, ulp, step) == 1.0
    assert consistency.fraction_same_code(a, ((codes + [0, 0, 0, 1]) * step).astype(np.float32), step) == 0.75
    assert consistency.fraction_same_code(a, ulp, None) == 0.0  # no step known: bit for bit


def test_torch_ao_fake_quants_hold_the_qparams_convert_fx_uses():
    from torch.ao.quantization import FakeQuantizeBase, disable_observer, get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    prepared = prepare_qat_fx(Small().train(), get_default_qat_qconfig_mapping("x86"), (x,))
    prepared.eval()
    with torch.no_grad():
        for i in range(3):
            prepared(torch.randn(2, 3, 8, 8) * (i + 1))
    prepared.apply(disable_observer)
    consistency._sync_ao_qparams(prepared)
    fqs = [m for m in prepared.modules() if isinstance(m, FakeQuantizeBase)]
    assert fqs
    for m in fqs:
        scale, zero_point = m.calculate_qparams()
        assert torch.equal(m.scale, scale.to(m.scale.dtype)) and torch.equal(m.zero_point, zero_point.to(
            m.zero_point.dtype))
