"""Small plain-torch models, one per op or layer issue 12 made deployable: each converts and runs bit-exact on
both marches (tests/test_user_models.py runs them through the whole user flow).

Split from tests/models/user_models.py (the day-one patterns: residual blocks, SE gates, UNets...), which
re-exports them, so `user_models.X` still names every model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# -- layers convert used to refuse (issue 12): each one converts and runs bit-exact now -----------------------
class Conv1dNet(nn.Module):
    """A 1-D signal model: Conv1d + BatchNorm1d + ReLU (fused), a strided dilated Conv1d, a residual add."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(3, 8, 5, padding=2, bias=False), nn.BatchNorm1d(8), nn.ReLU())
        self.down = nn.Conv1d(8, 8, 3, stride=2, padding=2, dilation=2, groups=2)
        self.mix = nn.Conv1d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.stem(x)
        z = F.relu(self.down(y))
        return self.mix(z) + z


class StandaloneBatchNorm(nn.Module):
    """Batch norms no conv absorbs: after a pool, after an add (BatchNorm2d) and on features (BatchNorm1d)."""

    def __init__(self) -> None:
        super().__init__()
        self.bn_in = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn_pool = nn.BatchNorm2d(6)
        self.bn_feat = nn.BatchNorm1d(6)
        self.fc = nn.Linear(6, 4)

    def forward(self, x: Tensor) -> Tensor:
        y = F.max_pool2d(F.relu(self.conv(self.bn_in(x))), 2)
        y = self.bn_pool(y + y.mean((2, 3), keepdim=True))
        return self.fc(self.bn_feat(y.mean((2, 3))))


class PReLUNet(nn.Module):
    """nn.PReLU with one slope per channel and with one shared slope (some learned negative)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.act1 = nn.PReLU(6)
        self.conv2 = nn.Conv2d(6, 4, 3, padding=1)
        self.act2 = nn.PReLU()
        with torch.no_grad():
            self.act1.weight.copy_(torch.tensor([0.25, -0.3, 0.0, 1.5, 0.01, 0.6]))
            self.act2.weight.fill_(-0.2)

    def forward(self, x: Tensor) -> Tensor:
        return self.act2(self.conv2(self.act1(self.conv1(x))))


class SuperResolution(nn.Module):
    """ESPCN-style upsampling: conv -> pixel_shuffle(2), and a space-to-depth stem (pixel_unshuffle)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(12, 8, 3, padding=1)
        self.up = nn.Conv2d(8, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.stem(F.pixel_unshuffle(x, 2)))
        return self.shuffle(self.up(y))


class StackSum(nn.Module):
    """torch.stack of two branches at different scales, a sum over the stacked dim and over channels."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = torch.stack([self.a(x), 3.0 * torch.sigmoid(self.b(x))], dim=1)
        return s.sum(dim=1), torch.sum(s, dim=(1, 2), keepdim=True)


class GroupNormNet(nn.Module):
    """GroupNorm the way detection heads use it (conv -> GN -> ReLU), with an affine and 2 / 4 groups."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn1 = nn.GroupNorm(2, 8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.gn2 = nn.GroupNorm(4, 8)
        with torch.no_grad():
            self.gn1.weight.copy_(torch.linspace(0.5, 1.5, 8))
            self.gn1.bias.copy_(torch.linspace(-0.3, 0.3, 8))

    def forward(self, x: Tensor) -> Tensor:
        return self.gn2(self.conv2(F.relu(self.gn1(self.conv1(x)))))


class TensorDivide(nn.Module):
    """Tensor / tensor: a gate normalised by a positive denominator, and a signed ratio of two branches."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, z = self.a(x), self.b(x)
        return y / (torch.sigmoid(z) + 0.5), torch.tanh(y) / (2.0 - torch.tanh(z))


# -- the last float islands (issue 12): each lowers to fixed-point bpu ops now -----------------------------------
class InstanceNormNet(nn.Module):
    """Style-transfer blocks: InstanceNorm2d with an affine and without one (input statistics), and an
    InstanceNorm1d that tracks running statistics (in eval it is a per-channel affine map)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.in1 = nn.InstanceNorm2d(6, affine=True)
        self.conv2 = nn.Conv2d(6, 4, 3, padding=1)
        self.in2 = nn.InstanceNorm2d(4)
        self.in3 = nn.InstanceNorm1d(4, track_running_stats=True)
        with torch.no_grad():
            self.in1.weight.copy_(torch.linspace(0.5, 1.5, 6))
            self.in1.bias.copy_(torch.linspace(-0.4, 0.4, 6))
            self.in3.running_mean.copy_(torch.linspace(-0.2, 0.2, 4))
            self.in3.running_var.copy_(torch.linspace(0.5, 2.0, 4))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))
        return y, self.in3(y.flatten(2))


class CumulativeSum(nn.Module):
    """Running totals (torch.cumsum) along a sequence dim and along channels, of a bounded and a signed branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.conv(x)
        return torch.cumsum(torch.sigmoid(y), dim=3), y.cumsum(1)


class RoundedDivide(nn.Module):
    """Integer quotients (bucketing, index arithmetic): floor and trunc division of two branches, and of a
    branch by positive and negative constants."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        y = 16.0 * self.a(x)
        g = torch.sigmoid(self.b(x))
        return (torch.div(y, g + 0.25, rounding_mode="floor"), torch.div(y, -0.5 - g, rounding_mode="trunc"),
                torch.div(y, 3.0, rounding_mode="floor"), torch.div(y, -2.5, rounding_mode="trunc"))


class FloorDivide(nn.Module):
    """Python's `//` on tensors (bucket indices, strided positions): tensor // tensor, tensor // scalar (positive and
    negative), torch.floor_divide, the Tensor method and the in-place `//=`."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        y = 16.0 * self.a(x)
        g = torch.sigmoid(self.b(x)) + 0.25
        z = y * 1.0
        z //= 1.5
        return y // g, y // 3.0, torch.floor_divide(y, -2.5), y.floor_divide(g), z


class AttentionBlock(nn.Module):
    """A hand-written transformer block's attention: nn.MultiheadAttention (its decomposition multiplies with
    torch.bmm) on a projected sequence, a residual and a LayerNorm."""

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.proj = nn.Linear(16, 16)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=batch_first)
        self.norm = nn.LayerNorm(16)

    def forward(self, x: Tensor) -> Tensor:
        y = self.proj(x if self.batch_first else x.transpose(0, 1))  # sequence-first: [L, N, E] inside
        y = self.norm(y + self.attn(y, y, y, need_weights=False)[0])
        return y if self.batch_first else y.transpose(0, 1)


class HandWrittenAttention(nn.Module):
    """Multi-head self-attention written out as users write it: a fused qkv projection, heads split off and
    merged with the batch (`[B * heads, N, d]`), `q @ k.transpose(-2, -1)`, a scaled softmax, `@ v`, and the
    heads merged back before the output projection."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, n, -1)
                   for t in (q, k, v))
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        y = (attn @ v).reshape(b, self.heads, n, -1).permute(0, 2, 1, 3).reshape(b, n, c)
        return x + self.out(y)


class LogSoftmaxHead(nn.Module):
    """A classifier's log-probabilities (NLL-loss heads) over classes, and a per-pixel log-softmax over channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.conv(x)
        return F.log_softmax(self.fc(y.mean((2, 3))), dim=1), torch.log_softmax(y, 1)


class SignOps(nn.Module):
    """abs and neg as users write them: an L1-style magnitude head, `-x` and `torch.neg` on a conv's output,
    and `x.abs()` feeding a residual."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.head = nn.Conv2d(6, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        y = self.conv(x)
        return torch.abs(y), -self.head(y), torch.neg(y) + y.abs()


class ScalarOverTensor(nn.Module):
    """`c / x` as users write it: an inverse-distance weight and a normalising reciprocal, on positive activations
    (a conv's relu shifted away from 0, and a sigmoid gate)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.conv(x)
        return 2.0 / (F.relu(y) + 1.0), 1 / (torch.sigmoid(y) + 0.25)


class SquareRoots(nn.Module):
    """sqrt and rsqrt as users write them: a magnitude from a non-negative activation and an inverse-root gain."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.conv(x)
        return torch.sqrt(F.relu(y) + 0.1), y * torch.rsqrt(torch.sigmoid(y) + 0.5)


class MaxMin(nn.Module):
    """torch.maximum / torch.minimum of two branches as users write them: a max-fusion of two conv branches, a
    soft clamp of one branch by another, and `Tensor.maximum` with a broadcast per-channel gate."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.gate = nn.Conv2d(3, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, b = self.a(x), self.b(x)
        g = torch.sigmoid(self.gate(x).mean((2, 3), keepdim=True))
        return torch.maximum(a, b), torch.minimum(a, torch.tanh(b)), a.maximum(g)


class ShiftedWindows(nn.Module):
    """Swin's cyclic shift as users write it: `torch.roll` by minus half a window on H and W before a windowed
    op, the reverse roll after, and a one-axis roll of the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.mix = nn.Conv2d(4, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.roll(self.conv(x), shifts=(-2, -2), dims=(2, 3))
        y = torch.roll(self.mix(y), shifts=(2, 2), dims=(2, 3))
        return y, y.roll(1, 1)


class SmoothActivations(nn.Module):
    """The activations and views of issue 12 in one net, as a user writes them: a Mish backbone (YOLOv4), ELU /
    SELU / Softplus heads, a `x ** 2` energy term, and a head split by narrow / swapaxes / unbind."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.Mish()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.elu = nn.ELU(alpha=0.5)
        self.fc = nn.Linear(4, 6)

    def forward(self, x: Tensor) -> Tensor:
        y = self.elu(self.conv(self.act(self.stem(x))))
        a = F.softplus(y.narrow(1, 0, 4), beta=2.0) + torch.selu(y.narrow(1, 4, 4)) ** 2
        rows = torch.swapaxes(a.mean(3), 1, 2).unbind(1)  # H x [N, 4]
        return self.fc(rows[0] - F.softsign(rows[-1]))
