"""AdaRound (irq.quant.adaround) at reduced size: a 0.25-width MobileNetV2 on 32x32 inputs.

What users rely on: the learned rounding reconstructs each optimised layer's float output at least as
well as nearest rounding (strictly better on some), the weights written back lie on the quantization
grid so every later consumer (VALIDATION, freeze, lower-bpu) reproduces the learned codes, and the
deployed program still equals VALIDATION bit for bit.
"""

from __future__ import annotations

import irq.runtime.reference as reference_runtime
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irq
from irq import fixedpoint as fp
from irq.folding import fold_batch_norm
from irq.workflow import calibrate
from tests.models import mobilenet_v2

BASE = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
#: a plain conv, a depthwise conv, a conv with a fused residual and the linear classifier (int32 output)
OWNERS = ["features.0.0", "features.2.conv.1.0", "features.3.conv.2", "classifier.1"]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = mobilenet_v2.MobileNetV2(num_classes=10, width_mult=0.25)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(32, 3, 32, 32))
    return model.eval()


@pytest.fixture(scope="module")
def rounded():
    model = _model()
    calib = torch.randn(8, 3, 32, 32)
    qat = calibrate(irq.prepare(model, (calib[:1],), qconfig=BASE, check_model=False), [calib], progress=False)
    with torch.no_grad():
        before = qat(calib)
    report = irq.quant.adaround(qat, list(calib.split(4)), iters=80, owners=OWNERS)
    return model, qat, calib, before, report


def test_learned_rounding_reconstructs_layers_better_than_nearest(rounded):
    _, _, _, _, report = rounded
    assert [r.owner for r in report.layers] == OWNERS and report.skipped == {}
    for r in report.layers:
        assert r.learned_error <= r.nearest_error, r
    improved = [r for r in report.layers if not r.kept_nearest]
    assert improved and all(r.learned_error < r.nearest_error and r.flipped > 0 for r in improved)
    assert "features.3.conv.2" in str(report)


def test_weights_are_written_on_the_grid_and_the_model_is_still_in_validation(rounded):
    _, qat, calib, before, report = rounded
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in irq.quant.state.fake_quant_modules(qat))
    conv = qat.get_submodule("features.2.conv.1.0")
    bn = qat.get_submodule("features.2.conv.1.1")
    w, _ = fold_batch_norm("conv2d", conv.weight.detach().double().numpy(), None, bn.weight.detach().double().numpy(),
                           bn.bias.detach().double().numpy(), bn.running_mean.double().numpy(),
                           bn.running_var.double().numpy(), 1e-5, conv.weight.shape[0])
    scale = np.abs(w).reshape(len(w), -1).max(1) / 127
    codes = w / scale.reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)  # on the grid: nearest rounding is the choice
    assert np.array_equal(fp.quantize_weight(w, scale, 0), np.round(codes))
    with torch.no_grad():
        after = qat(calib)
    assert not torch.equal(before, after)  # the rounding changed what VALIDATION computes


def test_deployed_program_equals_validation_after_adaround(rounded):
    _, qat, _, _, _ = rounded
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        y = qat(x)
    program = irq.convert(qat, march="bayes")
    for i in range(len(x)):
        deployed, = reference_runtime.run(program, x[i:i + 1].numpy())
        np.testing.assert_array_equal(deployed, y[i:i + 1].numpy())


def test_adaround_brings_validation_closer_to_float_on_its_data(rounded):
    model, qat, calib, before, _ = rounded
    with torch.no_grad():
        ref, after = model(calib), qat(calib)

    def cosine(a, b):
        return F.cosine_similarity(a.double(), b.double(), dim=1).mean().item()
    assert cosine(ref, after) > cosine(ref, before)


def test_adaround_refuses_an_uncalibrated_model():
    model = _model()
    x = torch.randn(2, 3, 32, 32)
    qat = irq.prepare(model, (x[:1],), qconfig=BASE, check_model=False)
    with pytest.raises(ValueError, match="calibrated model.*irq.workflow.calibrate"):
        irq.quant.adaround(qat, [x])
