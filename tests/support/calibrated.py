"""A prepared model calibrated on one batch and left in VALIDATION: the start of most chain tests."""

from __future__ import annotations

import torch
from torch import nn

import irq


def calibrated(model: nn.Module, x: torch.Tensor, qconfig, march: str = "nash") -> nn.Module:
    """`irq.prepare` (no model check file), one CALIBRATION forward on `x`, then VALIDATION, in eval mode."""
    qat = irq.prepare(model.eval(), (x,), qconfig=qconfig, march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat
