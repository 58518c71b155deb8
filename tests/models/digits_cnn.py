"""A small residual CNN for scikit-learn's 8x8 digits, its data split and its (seconds-long) training.

The demo, the CLI tests and bench/end_to_end.py share it: a conv-bn-relu stem, one residual block
(conv-bn-relu, conv-bn, add, relu: the fusions irq's `fuse` pass makes), global average pooling and
a linear classifier. Trained from a fixed seed, it reaches 98.7% on the held-out split.

The trained weights are checked in (digits_cnn.pt, 20 KB) because training takes seconds on an idle
machine but minutes on a shared 2-core one; `python -m tests.models.digits_cnn` regenerates them.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CHECKPOINT = Path(__file__).with_name("digits_cnn.pt")


class DigitsResNet(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + x)
        return self.fc(torch.flatten(self.pool(y), 1))


def build_model() -> DigitsResNet:
    """Factory for `irq quantize tests/models/digits_cnn.py:build_model` (untrained, fixed seed)."""
    torch.manual_seed(0)
    return DigitsResNet().eval()


def load_split(n_train: int = 1400) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test): the 1,797 digits scaled to [0, 1], shuffled with seed 0."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def train(model: nn.Module, x: Tensor, y: Tensor, epochs: int = 30, lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """Adam, batches of 64 in a seeded order; returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def pretrained() -> DigitsResNet:
    """The model trained by `train` on the training split of `load_split` (the checked-in checkpoint)."""
    model = DigitsResNet()
    model.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True))
    return model.eval()


if __name__ == "__main__":
    x_train, y_train, x_test, y_test = load_split()
    net = train(build_model(), x_train, y_train)
    with torch.no_grad():
        print(f"test accuracy {(net(x_test).argmax(1) == y_test).float().mean().item():.4f}")
    torch.save(net.state_dict(), CHECKPOINT)
