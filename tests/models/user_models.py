"""Small plain-torch models of the kind a horizon_plugin_pytorch / torch.ao user brings on day one.

Each one exercises a pattern the zoo does not: a residual block with a strided downsample, a
squeeze-and-excitation gate, depthwise-separable convs with hardswish, a UNet with 3-way concat, a
tiny ViT block, a conv-transpose decoder, a multi-output detection head, scalar arithmetic in both
orders, in-place ops, padding modes, pooling options and every interpolate flavour. They are kept
tiny (a few channels, 16x16 inputs) so the whole user flow runs in seconds per model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.models.op_models import (  # noqa: F401  (re-exported: the layers and ops issue 12 made deployable)
    AttentionBlock,
    Conv1dNet,
    CumulativeSum,
    FloorDivide,
    GroupNormNet,
    HandWrittenAttention,
    InstanceNormNet,
    LogSoftmaxHead,
    MaxMin,
    PReLUNet,
    RoundedDivide,
    ScalarOverTensor,
    ShiftedWindows,
    SignOps,
    SmoothActivations,
    SquareRoots,
    StackSum,
    StandaloneBatchNorm,
    SuperResolution,
    TensorDivide,
)


def conv_bn_relu(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class DownsampleBlock(nn.Module):
    """torchvision's BasicBlock with a 1x1 strided downsample on the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNetDownsample(nn.Module):
    """stem -> two downsampling blocks -> AdaptiveAvgPool2d(1) -> flatten -> Linear."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, 8)
        self.layer1 = DownsampleBlock(8, 12)
        self.layer2 = DownsampleBlock(12, 16)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SqueezeExcite(nn.Module):
    """SE block: global mean -> 1x1 conv -> relu -> 1x1 conv -> sigmoid -> channel gate (mul)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class SENet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, 8)
        self.se = SqueezeExcite(8, 4)
        self.conv = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.se(self.stem(x)))


class DepthwiseSeparable(nn.Module):
    """MobileNetV3-style: depthwise 3x3 + BN + Hardswish (module), pointwise 1x1 + BN + hardswish (functional)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)
        self.dw_bn = nn.BatchNorm2d(8)
        self.act = nn.Hardswish()
        self.pw = nn.Conv2d(8, 16, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(16)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        x = F.hardswish(self.stem(x))
        x = self.act(self.dw_bn(self.dw(x)))
        x = F.hardswish(self.pw_bn(self.pw(x)))
        return x * self.gate(x)


class UNetCat3(nn.Module):
    """Encoder/decoder with nn.Upsample and a 3-way torch.cat of the upsampled path and two skips."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = conv_bn_relu(3, 4)
        self.enc2 = conv_bn_relu(4, 8)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.side = nn.Conv2d(3, 2, 1)
        self.dec = nn.Conv2d(8 + 4 + 2, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        return self.dec(torch.cat([self.up(e2), e1, self.side(x)], dim=1))


class TinyViTBlock(nn.Module):
    """Patch embedding + one pre-norm attention block + GELU MLP + a linear head on the first token
    (`pool="cls"`) or on the mean of the tokens (`pool="mean"`)."""

    def __init__(self, dim: int = 16, heads: int = 2, classes: int = 4, patch: int = 2, pool: str = "cls") -> None:
        super().__init__()
        self.heads, self.pool = heads, pool
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)            # B, N, C
        b, n, c = x.shape
        h = self.norm1(x)
        qkv = self.qkv(h).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.matmul(q, k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        attn = attn.softmax(dim=-1)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return self.head(x.mean(dim=1) if self.pool == "mean" else x[:, 0])


class ConvTransposeDecoder(nn.Module):
    """Strided conv encoder, ConvTranspose2d decoder (stride 2, output_padding) with BN + ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, 2, 1)
        self.dec1 = nn.ConvTranspose2d(8, 8, 3, 2, 1, output_padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dec2 = nn.ConvTranspose2d(8, 2, 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.enc(x))
        x = F.relu(self.bn(self.dec1(x)))
        return self.dec2(x)


class GlobalPoolHead(nn.Module):
    """Two classifier heads on one trunk: F.adaptive_avg_pool2d + flatten, and x.mean((2,3)) + view."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = conv_bn_relu(3, 8, stride=2)
        self.fc_a = nn.Linear(8, 3)
        self.fc_b = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        t = self.trunk(x)
        a = self.fc_a(F.adaptive_avg_pool2d(t, 1).flatten(1))
        b = self.fc_b(t.mean((2, 3)).view(t.shape[0], -1))
        return a + b


class DetectionHead(nn.Module):
    """Shared trunk, two FPN-like levels, per-level cls / box conv heads: returns a tuple of 4 maps."""

    def __init__(self, anchors: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.c1 = conv_bn_relu(3, 8, stride=2)
        self.c2 = conv_bn_relu(8, 8, stride=2)
        self.cls = nn.Conv2d(8, anchors * classes, 3, padding=1)
        self.box = nn.Conv2d(8, anchors * 4, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        p1 = self.c1(x)
        p2 = self.c2(p1)
        return self.cls(p1), self.box(p1), self.cls(p2), self.box(p2)


class ScalarOps(nn.Module):
    """Python scalars on both sides of + - * /, as users write normalisation and gating."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.sigmoid(self.conv(x))
        a = 1 - y
        b = y / 2
        c = 2.0 * y + 0.5
        d = y - 0.25
        e = -0.5 * y + y / -4 - 0.125
        return a + b + c * d + e


class InPlaceOps(nn.Module):
    """In-place activations, `+=` and functional inplace=True, as pretrained code is written."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.conv1(x))
        z = self.conv2(y)
        z += y
        z = F.relu(z, inplace=True)
        z = F.hardtanh(z, 0.0, 3.0, inplace=True)
        return z


class Cat4(nn.Module):
    """torch.cat of four branches with very different ranges (one scaled by 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(3, 3, 3, padding=1)
        self.c = nn.Conv2d(3, 1, 5, padding=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat((self.a(x), self.b(x) * 8.0, F.relu(self.c(x)), x), 1)


class PaddingModes(nn.Module):
    """Conv padding_mode zeros / reflect / replicate / circular, and F.pad constant and reflect."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode=mode)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class FunctionalPad(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (1, 2, 1, 0), mode=self.mode)
        return self.conv(x)


class AvgPoolOptions(nn.Module):
    """avg_pool2d with ceil_mode and count_include_pad in every combination (odd 15x15 maps)."""

    def __init__(self, ceil_mode: bool, count_include_pad: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=ceil_mode, count_include_pad=count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x))


class MaxPoolOptions(nn.Module):
    """max_pool2d with dilation 2, padding and ceil_mode."""

    def __init__(self, ceil_mode: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(self.conv(x), 3, stride=2, padding=1, dilation=2, ceil_mode=self.ceil_mode)


class Interpolate(nn.Module):
    """F.interpolate nearest (scale 2, explicit size) and bilinear with align_corners either way."""

    def __init__(self, mode: str, align_corners: bool | None, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.mode, self.align_corners, self.size = mode, align_corners, size

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.size is None:
            return F.interpolate(y, scale_factor=2, mode=self.mode, align_corners=self.align_corners)
        return F.interpolate(y, size=self.size, mode=self.mode, align_corners=self.align_corners)


class ClampFamily(nn.Module):
    """clamp, clamp_min, hardtanh, relu6, leaky_relu by module and by function, x.relu()."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = nn.Conv2d(4, 4, 3, padding=1)
        self.leaky = nn.LeakyReLU(0.1)
        self.hardtanh = nn.Hardtanh(-1.0, 1.0)
        self.relu6 = nn.ReLU6()

    def forward(self, x: Tensor) -> Tensor:
        a = torch.clamp(self.c1(x), -0.5, 2.0)
        b = self.leaky(self.c2(a))
        c = F.leaky_relu(self.c3(b), 0.2)
        return self.hardtanh(c) + self.relu6(b) + a.clamp_min(0.1) + c.relu()


class BatchReshape(nn.Module):
    """`view(x.shape[0], -1, 4)` then a softmax across the middle dim: torch.export records view([1, -1, 4])
    for a batch-1 example, which at batch 4 would softmax across the samples."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x).view(x.shape[0], -1, 4)
        return torch.softmax(y, dim=1).flatten(1)


class Indexing(nn.Module):
    """Basic indexing as users write it: an int on the batch, a channel, a negative int after Ellipsis,
    None, and strided slices; returns every piece."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        y = self.conv(x)
        return y[0], y[:, 1], y[:, -1, 2:], y[..., -1], y[:, None, 2:4, ::2], y[-1]


class ChunkGate(nn.Module):
    """GLU / CSP style: `a, b = conv(x).chunk(2, 1)` and `torch.split` with uneven sections."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.proj = nn.Conv2d(4, 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv(x).chunk(2, dim=1)
        c, d, e = torch.split(a, [1, 1, 2], dim=1)
        return torch.cat([self.proj(a) * torch.sigmoid(b), e, c + d], 1)


class ConvPlusBias(nn.Module):
    """A learnable [1, C, 1, 1] offset added after a conv: `fuse` took it as the conv's residual and
    VALIDATION then failed ("needs a quantized residual")."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.offset = nn.Parameter(torch.linspace(-0.5, 0.5, 4).reshape(1, 4, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + self.offset


class AdaptivePool(nn.Module):
    """nn.AdaptiveAvgPool2d to a 2x2 grid (SPP / PSP heads), then a linear on the flattened grid."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(F.relu(self.conv(x))).flatten(1))
