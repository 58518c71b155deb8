"""AdaRound (irq.quant.adaround) at reduced size: a 0.25-width MobileNetV2 on 32x32 inputs.

What users rely on: the learned rounding reconstructs each optimised layer's float output at least as
well as nearest rounding (strictly better on some), the weights written back lie on the quantization
grid so every later consumer (VALIDATION, freeze, lower-bpu) reproduces the learned codes, and the
deployed program still equals VALIDATION bit for bit.
"""

from __future__ import annotations

import copy

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


#: one inverted-residual block (expand, depthwise, project + residual): what blocks=True reconstructs jointly
BLOCK = ["features.3.conv.0.0", "features.3.conv.1.0", "features.3.conv.2"]


def _block_output_error(float_model, qat, x) -> float:
    """Mean squared error of features.3's output, VALIDATION (the deployed numbers) vs the float model:
    an oracle outside adaround (the float module's own output, the quantizer's exact codes)."""
    got = {}
    h1 = float_model.features[3].register_forward_hook(lambda _m, _a, out: got.__setitem__("float", out))
    h2 = qat.get_submodule("features.3.conv.2.out_quant").register_forward_hook(
        lambda _m, _a, out: got.__setitem__("validation", out))
    try:
        with torch.no_grad():
            float_model(x)
            qat(x)
    finally:
        h1.remove()
        h2.remove()
    return float((got["validation"].double() - got["float"].double()).pow(2).mean())


def test_blocks_are_the_inverted_residual_blocks():
    from irq.quant.adaround import _layers
    from irq.quant.adaround_blocks import blocks_of
    calib = torch.randn(4, 3, 32, 32)
    qat = calibrate(irq.prepare(_model(), (calib[:1],), qconfig=BASE, check_model=False), [calib], progress=False)
    groups = [[layer.owner for layer in g] for g in blocks_of(_layers(qat, None)[0], 3)]
    assert groups[:4] == [["features.0.0"], ["features.1.conv.0.0", "features.1.conv.1"],
                          ["features.2.conv.0.0", "features.2.conv.1.0", "features.2.conv.2"], BLOCK]
    assert groups[-2:] == [["features.18.0"], ["classifier.1"]]
    assert all(len({o.split(".")[1] for o in g}) == 1 for g in groups)  # never across two blocks


def test_block_reconstruction_lowers_the_block_output_error_and_deploys_as_validation():
    """adaround(blocks=True) on one block: the learned rounding of its three layers reconstructs the block's
    float output on held-out samples better than nearest rounding (its own report), and, measured outside
    adaround, the deployed block output (VALIDATION) is closer to the float block's on data it never saw."""
    model = _model()
    g = torch.Generator().manual_seed(3)
    calib, other = torch.randn(16, 3, 32, 32, generator=g), torch.randn(16, 3, 32, 32, generator=g)
    qat = calibrate(irq.prepare(model, (calib[:1],), qconfig=BASE, check_model=False), [calib], progress=False)
    before = _block_output_error(model, qat, other)
    report = irq.quant.adaround(qat, list(calib.split(4)), iters=80, owners=BLOCK, blocks=True)
    assert [r.owner for r in report.layers] == BLOCK and {r.block for r in report.layers} == {BLOCK[0]}
    r = report.layers[0]
    assert not r.kept_nearest and r.learned_error < r.nearest_error and all(x.flipped > 0 for x in report.layers)
    after = _block_output_error(model, qat, other)
    assert after < before, (before, after)
    x = other[:2]
    with torch.no_grad():
        y = qat(x)
    program = irq.convert(qat, march="bayes")
    deployed, = reference_runtime.run(program, x[:1].numpy())
    np.testing.assert_array_equal(deployed, y[:1].numpy())


#: consecutive layers whose inputs depend on the learned rounding of the one before, one with a residual
CHAIN = ["features.2.conv.0.0", "features.2.conv.1.0", "features.2.conv.2", "features.3.conv.0.0",
         "features.3.conv.2"]


def test_one_paused_forward_captures_what_a_forward_per_layer_captures():
    """Layer-wise AdaRound captures every layer's inputs from one forward of the model that pauses before each
    layer (irq.quant.adaround_capture). It must learn exactly what capturing each layer with its own forward
    learns (the path block reconstruction keeps, used here through chains of one layer): a pause after a
    layer's node would compute later layers' inputs with its nearest weights. And each model (the prepared
    one and the float copy) runs once per calibration batch, not once per layer."""
    model = _model()
    g = torch.Generator().manual_seed(4)
    calib = torch.randn(8, 3, 32, 32, generator=g)
    qat = calibrate(irq.prepare(model, (calib[:1],), qconfig=BASE, check_model=False), [calib], progress=False)
    per_layer = copy.deepcopy(qat)
    forwards = []
    hook = qat.get_submodule("x.input_quant").register_forward_hook(lambda *_: forwards.append(1))
    try:
        one = irq.quant.adaround(qat, list(calib.split(4)), iters=20, owners=CHAIN)
    finally:
        hook.remove()
    two = irq.quant.adaround(per_layer, list(calib.split(4)), iters=20, owners=CHAIN, blocks=True,
                             max_block_layers=1)
    assert [r.owner for r in one.layers] == CHAIN and sum(not r.kept_nearest for r in one.layers) >= 2
    assert [(r.nearest_error, r.learned_error, r.kept_nearest) for r in one.layers] == \
        [(r.nearest_error, r.learned_error, r.kept_nearest) for r in two.layers]
    a, b = qat.state_dict(), per_layer.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(forwards) == 2 * 2  # two batches, through the prepared model and its float copy
