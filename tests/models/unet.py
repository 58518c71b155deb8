"""A small UNet: down path with max pooling, up path with F.interpolate and torch.cat skips."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, cin: int = 3, classes: int = 2, width: int = 8) -> None:
        super().__init__()
        self.inc = DoubleConv(cin, width)
        self.down1 = DoubleConv(width, width * 2)
        self.down2 = DoubleConv(width * 2, width * 4)
        self.pool = nn.MaxPool2d(2)
        self.up1 = DoubleConv(width * 6, width * 2)
        self.up2 = DoubleConv(width * 3, width)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.outc = nn.Conv2d(width, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.inc(x)
        x2 = self.down1(self.pool(x1))
        x3 = self.down2(self.pool(x2))
        u = F.interpolate(x3, scale_factor=2, mode="bilinear", align_corners=False)
        u = self.up1(torch.cat([u, x2], dim=1))
        u = F.interpolate(u, size=x1.shape[-2:], mode="bilinear", align_corners=True)
        u = self.up2(torch.cat((x1, u), 1))
        return self.outc(u) + self.upsample(self.pool(self.outc(u)))
