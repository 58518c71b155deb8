"""Prepared models calibrated the same way by every chain test, left in VALIDATION: one recipe, so the
tests compare like with like. `calibrated_model` takes a zoo model (seeded, BN statistics made non-trivial
so folding is exercised); `calibrated` a user's model as it is, calibrated on the one example batch."""

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


def calibrated(model: torch.nn.Module, x: torch.Tensor, qconfig, march: str = "nash") -> torch.nn.Module:
    """A user's model (no BN randomising) prepared without a model check file, calibrated by one forward on
    `x`, left in VALIDATION: the start of the layer-op and fuzz regression tests."""
    qat = irq.prepare(model.eval(), (x,), qconfig=qconfig, march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


def prepared_and_converted(model: torch.nn.Module, draw: Callable[[int], tuple], method: str = "fx"):
    """(VALIDATION model, nash program) of `model` prepared on ``draw(2)`` (checked equal to eager in
    CALIBRATION), calibrated on three more ``draw(2)`` batches: the start of the regression tests that
    hold a model to eager at other batches and modes."""
    inputs = draw(2)
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(*draw(2))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat, irq.convert(qat, march="nash")
