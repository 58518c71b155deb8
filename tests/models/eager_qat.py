"""A model written for eager-mode quantization: stubs, FloatFunctional, modules fused by the user."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.ao.quantization import DeQuantStub as AoDeQuantStub
from torch.ao.quantization import QuantStub as AoQuantStub
from torch.ao.quantization import fuse_modules

import irq.nn as inn


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.skip_add = inn.FloatFunctional()
        self.cat = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn(self.conv(x)))
        y = self.skip_add.add_relu(y, x)
        return self.cat.cat([y, x], dim=1)


class EagerQATNet(nn.Module):
    def __init__(self, irq_stubs: bool = True) -> None:
        super().__init__()
        self.quant = inn.QuantStub(scale=1 / 128) if irq_stubs else AoQuantStub()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = Block(8)
        self.scale = inn.FloatFunctional()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 4)
        self.dequant = inn.DeQuantStub() if irq_stubs else AoDeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        x = self.block(self.stem(self.quant(x)))
        x = self.scale.mul_scalar(x, 0.5)
        return self.dequant(self.fc(torch.flatten(self.pool(x), 1)))

    def fuse_model(self) -> None:
        """As eager-mode users do before prepare (torch.ao fuse_modules, eval mode folds BN into the conv)."""
        fuse_modules(self, [["stem.0", "stem.1", "stem.2"]], inplace=True)
