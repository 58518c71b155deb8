"""A zoo model prepared and calibrated the same way by every chain test (seeded, BN statistics made
non-trivial so folding is exercised), left in VALIDATION: one recipe, so the tests compare like with like."""

from __future__ import annotations

from collections.abc import Callable

import torch

import irq
from tests.test_frontend_zoo import _randomize_bn


def calibrated_model(make: Callable[[], torch.nn.Module], shape: tuple[int, ...],
                     qconfig="default_calib_8bit", batches: int = 3, march: str | None = None):
    """(float model, prepared model in VALIDATION, example input) after `batches` calibration batches."""
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        _randomize_bn(model)
    model.eval()
    x = torch.randn(*shape)
    kw = {"march": march} if march is not None else {}
    qat = irq.prepare(model, (x,), qconfig=qconfig, check_model=False, **kw)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(batches):
            qat(torch.randn(*shape, generator=g) * 1.5)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return model, qat, x
