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
