"""Bias correction (irq.quant.bias_correction) at reduced size.

What users rely on: after the correction the quantized model's mean output error against float is
smaller than before, on samples the correction never saw; the correction lives in float parameters
only (bias or batch-norm beta), so the deployed program still equals VALIDATION bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import irq
from irq.workflow import calibrate
from tests.test_quant_copy import Net


def _data(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) + 0.5


@pytest.fixture(scope="module")
def corrected():
    torch.manual_seed(0)
    model = Net().eval()
    calib = _data(64, 2)
    qat = calibrate(irq.prepare(model, (calib[:2],), check_model=False), list(calib.split(16)), progress=False)
    held_out = _data(256, 5)
    with torch.no_grad():
        before = qat(held_out)
    report = irq.quant.bias_correction(qat, list(calib.split(16)))
    return model, qat, held_out, before, report


def test_bias_correction_reduces_the_mean_output_error_on_new_samples(corrected):
    model, qat, held_out, before, report = corrected
    assert list(report.layers) == ["conv", "conv2", "fc"] and not report.skipped
    for owner, (shift, left) in report.layers.items():
        assert left < shift, owner  # on the calibration samples the (significant part of the) shift is removed
    with torch.no_grad():
        ref, after = model(held_out), qat(held_out)
    mean_error = lambda y: (y - ref).mean(0).abs().mean().item()  # noqa: E731
    assert mean_error(after) < 0.8 * mean_error(before)
    assert "conv2" in str(report)


def test_the_corrected_model_deploys_equal_to_validation(corrected):
    _, qat, held_out, _, _ = corrected
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in irq.quant.state.fake_quant_modules(qat))
    with torch.no_grad():
        validation = qat(held_out[:16])
    deployed = torch.from_numpy(np.asarray(irq.run(irq.convert(qat, march="bayes"), held_out[:16].numpy())))
    assert torch.equal(deployed, validation)


def test_with_z_0_every_channel_is_corrected_exactly_on_the_calibration_samples():
    torch.manual_seed(0)
    model = Net().eval()
    calib = _data(32, 2)
    qat = calibrate(irq.prepare(model, (calib[:2],), check_model=False), list(calib.split(16)), progress=False)
    report = irq.quant.bias_correction(qat, list(calib.split(16)), z=0)
    for owner, (shift, left) in report.layers.items():
        assert left < 1e-3 * shift, owner


def test_each_layer_is_corrected_on_inputs_that_carry_every_earlier_correction():
    """The layers' inputs come from one paused forward: a second pass over the corrected model, towards the
    same float model, must find nothing left to correct in any layer (it would, in the layers after the
    first, if their inputs had been computed before an earlier layer's correction was written)."""
    import copy

    torch.manual_seed(0)
    model = Net().eval()
    calib = _data(32, 2)
    qat = calibrate(irq.prepare(model, (calib[:2],), check_model=False), list(calib.split(16)), progress=False)
    floats = copy.deepcopy(qat)
    first = irq.quant.bias_correction(qat, list(calib.split(16)), z=0, reference=floats)
    second = irq.quant.bias_correction(qat, list(calib.split(16)), z=0, reference=floats)
    assert list(second.layers) == list(first.layers) == ["conv", "conv2", "fc"]
    for owner, (shift, _) in second.layers.items():
        assert shift < 1e-3 * first.layers[owner][0], owner


def test_a_layer_without_bias_or_batch_norm_is_skipped_with_the_reason():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.ReLU()).eval()
    calib = _data(8, 1)
    qat = calibrate(irq.prepare(model, (calib[:2],), check_model=False), [calib], progress=False)
    report = irq.quant.bias_correction(qat, [calib])
    assert not report.layers and "no bias" in report.skipped["0"]


def test_adaround_handles_a_layer_whose_input_is_also_its_residual():
    # conv2 computes relu(conv2(y) + y): one quantizer is both its input and its residual (it raised KeyError)
    torch.manual_seed(0)
    model = Net().eval()
    calib = _data(16, 2)
    qat = calibrate(irq.prepare(model, (calib[:2],), check_model=False), list(calib.split(8)), progress=False)
    report = irq.quant.adaround(qat, list(calib.split(8)), iters=20, owners=["conv2"])
    assert [r.owner for r in report.layers] == ["conv2"]
    with torch.no_grad():
        validation = qat(calib)
    deployed = torch.from_numpy(np.asarray(irq.run(irq.convert(qat, march="bayes"), calib.numpy())))
    assert torch.equal(deployed, validation)
