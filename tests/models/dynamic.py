"""Models that symbolic tracing cannot or must not take at face value."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DataDependent(nn.Module):
    """Branches on a tensor value: fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if y.mean() > 0:  # DATA-DEPENDENT BRANCH
            y = y * 2
        return y


class TrainingBranch(nn.Module):
    """Takes a different path in training: fx keeps only the branch of the traced mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.training:  # TRAINING BRANCH
            y = y + torch.randn_like(y) * 0.01
        return torch.relu(y)
