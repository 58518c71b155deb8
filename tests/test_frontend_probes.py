"""Per-construct probes: every mapped torch function, Tensor method and nn.Module, against eager torch.

Each probe is a tiny module run through import (fx and export) -> functional-to-module,
fuse -> print -> parse -> `to_module`. The rebuilt module must give eager's outputs
(within 1e-5 of the output's scale; integers exactly), and every IR value must have the
shape and dtype the rebuilt module computes for it. A probe the frontend cannot express
exactly must raise a FrontendError naming this file and the probe's line instead:
never a different number without an error. The probe list is the per-op eager oracle
other suites (quantization) build on, so it covers the options users pass (pooling
ceil_mode/count_include_pad/dilation/padding, negative dims, keepdim, scalar-first
non-commutative operands, in-place mutation read afterwards).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from torch import fx, nn
from torch.utils import _pytree as pytree

import irq
from irq.frontend.mapping import FUNCTIONS, METHODS, MODULES
from irq.frontend.propagate import torch_dtype
from irq.ir.types import IntegerType, TensorType

PIPELINE = "builtin.module(func.func(functional-to-module, fuse))"


class _Fn1(nn.Module):
    def __init__(self, fn: Callable, mods: dict[str, Any]) -> None:
        super().__init__()
        self.fn = fn
        for k, v in mods.items():
            if isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter):
                self.register_buffer(k, v)
            else:
                setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


class _Fn2(_Fn1):
    def forward(self, x, y):
        return self.fn(self, x, y)


class _Fn3(_Fn1):
    def forward(self, x, y, z):
        return self.fn(self, x, y, z)


_ARITY = {1: _Fn1, 2: _Fn2, 3: _Fn3}


@dataclass
class Probe:
    name: str
    fn: Callable
    inputs: tuple
    mods: Callable[[], dict[str, Any]] = dict
    modes: tuple[str, ...] = ("fx", "export")
    refuse: tuple[str, ...] = ()  # modes in which the frontend must refuse with a located FrontendError
    opaque_ok: bool = False  # the probe may keep torch.call ops (they still rebuild by name)
    line: int = field(default=0)

    def make(self) -> tuple[nn.Module, tuple]:
        torch.manual_seed(0)
        mods = self.mods()
        model = _ARITY[len(self.inputs)](self.fn, mods).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._NormBase) and m.running_mean is not None:
                    m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                    m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
        xs = tuple(i() if callable(i) else torch.randn(*i) for i in self.inputs)
        return model, xs


PROBES: list[Probe] = []


def probe(name: str, fn: Callable, *inputs: Any, **kw: Any) -> None:
    import inspect

    PROBES.append(Probe(name, fn, inputs, line=inspect.currentframe().f_back.f_lineno, **kw))


def pos(*shape: int) -> Callable[[], torch.Tensor]:
    return lambda: torch.rand(*shape) + 0.5


def ints(*shape: int, high: int = 10) -> Callable[[], torch.Tensor]:
    return lambda: torch.randint(0, high, shape)


X4, X3, X2 = (2, 4, 8, 8), (2, 5, 6), (3, 4)

# -- element-wise activations: functions, methods, modules ------------------------------------------
probe("torch.relu", lambda m, x: torch.relu(x), X4)
probe("F.relu", lambda m, x: F.relu(x), X4)
probe("Tensor.relu", lambda m, x: x.relu(), X4)
probe("nn.ReLU", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.ReLU()})
probe("F.relu6", lambda m, x: F.relu6(x * 4), X4)
probe("nn.ReLU6", lambda m, x: m.act(x * 4), X4, mods=lambda: {"act": nn.ReLU6()})
probe("F.hardtanh", lambda m, x: F.hardtanh(x, -0.5, 0.25), X4)
probe("nn.Hardtanh", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.Hardtanh(-0.3, 0.7)})
probe("F.leaky_relu", lambda m, x: F.leaky_relu(x, 0.2), X4)
probe("nn.LeakyReLU", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.LeakyReLU(0.05)})
probe("F.hardswish", lambda m, x: F.hardswish(x * 4), X4)
probe("nn.Hardswish", lambda m, x: m.act(x * 4), X4, mods=lambda: {"act": nn.Hardswish()})
probe("F.hardsigmoid", lambda m, x: F.hardsigmoid(x * 4), X4)
probe("nn.Hardsigmoid", lambda m, x: m.act(x * 4), X4, mods=lambda: {"act": nn.Hardsigmoid()})
probe("torch.sigmoid", lambda m, x: torch.sigmoid(x), X4)
probe("F.sigmoid", lambda m, x: F.sigmoid(x), X4)
probe("Tensor.sigmoid", lambda m, x: x.sigmoid(), X4)
probe("nn.Sigmoid", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.Sigmoid()})
probe("torch.tanh", lambda m, x: torch.tanh(x), X4)
probe("F.tanh", lambda m, x: F.tanh(x), X4)
probe("Tensor.tanh", lambda m, x: x.tanh(), X4)
probe("nn.Tanh", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.Tanh()})
probe("F.silu", lambda m, x: F.silu(x), X4)
probe("Tensor.silu", lambda m, x: F.silu(x) + x.sigmoid() * x, X4)
probe("nn.SiLU", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.SiLU()})
probe("F.gelu", lambda m, x: F.gelu(x), X4)
probe("F.gelu tanh", lambda m, x: F.gelu(x, approximate="tanh"), X4)
probe("nn.GELU", lambda m, x: m.act(x), X4, mods=lambda: {"act": nn.GELU(approximate="tanh")})
probe("torch.exp", lambda m, x: torch.exp(x), X4)
probe("Tensor.exp", lambda m, x: x.exp(), X4)
probe("torch.neg", lambda m, x: torch.neg(x), X4)
probe("operator.neg", lambda m, x: -x, X4)
probe("Tensor.neg", lambda m, x: x.neg(), X4)
probe("torch.sqrt", lambda m, x: torch.sqrt(x), pos(*X4))
probe("Tensor.sqrt", lambda m, x: x.sqrt(), pos(*X4))
probe("torch.rsqrt", lambda m, x: torch.rsqrt(x), pos(*X4))
probe("Tensor.rsqrt", lambda m, x: x.rsqrt(), pos(*X4))
probe("torch.abs", lambda m, x: torch.abs(x), X4)
probe("Tensor.abs", lambda m, x: x.abs(), X4)
probe("F.softmax", lambda m, x: F.softmax(x, dim=-1), X3)
probe("torch.softmax", lambda m, x: torch.softmax(x, 1), X3)
probe("Tensor.softmax", lambda m, x: x.softmax(-2), X3)
probe("nn.Softmax", lambda m, x: m.act(x), X3, mods=lambda: {"act": nn.Softmax(dim=1)})
probe("F.log_softmax", lambda m, x: F.log_softmax(x, dim=1), X3)
probe("torch.log_softmax", lambda m, x: torch.log_softmax(x, -1), X3)
probe("Tensor.log_softmax", lambda m, x: x.log_softmax(0), X3)
probe("torch.clamp", lambda m, x: torch.clamp(x, -0.5, 0.5), X4)
probe("torch.clamp min", lambda m, x: torch.clamp(x, min=0.1), X4)
probe("torch.clip max", lambda m, x: torch.clip(x, max=0.2), X4)
probe("Tensor.clamp", lambda m, x: x.clamp(-1, 0.3), X4)
probe("Tensor.clip", lambda m, x: x.clip(min=-0.1), X4)

# -- binary arithmetic: tensor-tensor, tensor-scalar, scalar-first (non-commutative) -----------------
probe("x + y", lambda m, x, y: x + y, X3, X3)
probe("x + y broadcast", lambda m, x, y: x + y, X3, (5, 1))
probe("x + 2", lambda m, x: x + 2, X3)
probe("2 + x", lambda m, x: 2 + x, X3)
probe("x - y", lambda m, x, y: x - y, X3, (6,))
probe("x - 1.5", lambda m, x: x - 1.5, X3)
probe("1 - x", lambda m, x: 1 - x, X3)
probe("x * y", lambda m, x, y: x * y, X3, (1, 5, 1))
probe("3 * x", lambda m, x: 3 * x, X3)
probe("x / y", lambda m, x, y: x / y, X3, pos(*X3))
probe("x / 4", lambda m, x: x / 4, X3)
probe("2 / x", lambda m, x: 2 / x, pos(*X3))
probe("2 ** x", lambda m, x: 2**x, X3, opaque_ok=True)
probe("x ** 2", lambda m, x: x**2, X3, opaque_ok=True)
probe("torch.add alpha", lambda m, x, y: torch.add(x, y, alpha=2), X3, X3)
probe("torch.add scalar", lambda m, x: torch.add(x, 0.5), X3)
probe("torch.sub alpha", lambda m, x, y: torch.sub(x, y, alpha=0.5), X3, X3)
probe("torch.sub scalar", lambda m, x: torch.sub(x, 3), X3)
probe("torch.mul", lambda m, x, y: torch.mul(x, y), X3, X3)
probe("torch.div", lambda m, x, y: torch.div(x, y), X3, pos(*X3))
probe("torch.div floor", lambda m, x, y: torch.div(x, y, rounding_mode="floor"), X3, pos(*X3))
probe("torch.div trunc scalar", lambda m, x: torch.div(x * 5, 2, rounding_mode="trunc"), X3)
probe("Tensor.add", lambda m, x, y: x.add(y), X3, X3)
probe("Tensor.sub", lambda m, x: x.sub(2), X3)
probe("Tensor.mul", lambda m, x, y: x.mul(y), X3, X3)
probe("Tensor.div", lambda m, x, y: x.div(y), X3, pos(*X3))
probe("int tensor + 1", lambda m, x: x + 1, ints(3, 4))
probe("int / int", lambda m, x, y: x / (y + 1), ints(3, 4), ints(3, 4))
probe("torch.maximum", lambda m, x, y: torch.maximum(x, y), X3, (5, 1))
probe("torch.minimum", lambda m, x, y: torch.minimum(x, y), X3, X3)
probe("Tensor.maximum", lambda m, x, y: x.maximum(y), X3, X3)
probe("Tensor.minimum", lambda m, x, y: x.minimum(y), X3, (6,))
probe("torch.where", lambda m, x, y: torch.where(x > 0, x, y), X3, X3, opaque_ok=True)
probe("torch.where broadcast", lambda m, x, y: torch.where(y > 0, x, y * 2), X3, (5, 1), opaque_ok=True)
probe("torch.where scalar other", lambda m, x: torch.where(x > 0, x, 0.5), X3, opaque_ok=True)
probe("torch.where scalar first", lambda m, x, y: torch.where(y > 0, -1.0, x), X3, (6,), opaque_ok=True)
probe("torch.masked_fill", lambda m, x: torch.masked_fill(x, x < 0, 2.0), X3, opaque_ok=True)
probe("Tensor.masked_fill", lambda m, x, y: x.masked_fill(y > 0, float("-inf")).softmax(-1), X3, (5, 1), opaque_ok=True)
probe(
    "Tensor.masked_fill_ read after",
    lambda m, x: (lambda a: (a.masked_fill_(a > 0.5, 0.0), a * 2)[1])(x + 0),
    X3,
    opaque_ok=True,
)
probe("torch.zeros_like", lambda m, x: torch.zeros_like(x) + x, X3)
probe("torch.ones_like dtype", lambda m, x: torch.ones_like(x, dtype=torch.int64), X3)
probe("torch.full_like", lambda m, x: torch.full_like(x, 2.5) * x, X3)
probe("torch.full_like int", lambda m, x: torch.full_like(x, 7), ints(3, 4))

# -- matrix products --------------------------------------------------------------------------
probe("torch.matmul", lambda m, x, y: torch.matmul(x, y), X3, (6, 3))
probe("x @ y batched", lambda m, x, y: x @ y, (2, 3, 4), (2, 4, 5))
probe("matmul vector", lambda m, x, y: torch.matmul(x, y), X3, (6,))
probe("Tensor.matmul", lambda m, x, y: x.matmul(y), (4,), (4, 3))
probe("torch.bmm", lambda m, x, y: torch.bmm(x, y), (2, 3, 4), (2, 4, 5))
probe("Tensor.bmm", lambda m, x, y: x.bmm(y.transpose(1, 2)), (2, 3, 4), (2, 5, 4))

# -- concatenation and splitting ----------------------------------------------------------------
probe("torch.cat", lambda m, x, y: torch.cat([x, y], 1), X3, (2, 3, 6))
probe("torch.cat neg dim", lambda m, x, y: torch.cat((x, y), dim=-1), X3, (2, 5, 2))
probe("torch.concat", lambda m, x, y: torch.concat([x, y]), X3, (1, 5, 6))
probe("torch.stack", lambda m, x, y: torch.stack([x, y]), X3, X3)
probe("torch.stack neg dim", lambda m, x, y: torch.stack([x, y], dim=-1), X3, X3)
probe("torch.chunk", lambda m, x: torch.chunk(x, 2, 1)[1], X4)
probe("torch.chunk uneven", lambda m, x: torch.chunk(x, 4, -1)[-1], X3)
probe("torch.cat(chunk)", lambda m, x: torch.cat(torch.chunk(x, 2, 1), 1) * 2, X4)
probe("torch.cat(Tensor.chunk)", lambda m, x: torch.cat(x.chunk(2, 1), 1) + 1, X4)
probe("Tensor.chunk", lambda m, x: x.chunk(3, dim=-1)[0], X3)
probe("torch.split", lambda m, x: torch.split(x, 2, 1)[2], X3)
probe("torch.split sizes", lambda m, x: torch.split(x, [1, 4], dim=1)[1], X3)
probe("Tensor.split", lambda m, x: x.split(4, -1)[1], X3)

# -- shape and layout ---------------------------------------------------------------------------
probe("torch.flatten", lambda m, x: torch.flatten(x, 1), X4)
probe("Tensor.flatten", lambda m, x: x.flatten(), X4)
probe("Tensor.flatten range", lambda m, x: x.flatten(1, 2), X4)
probe("nn.Flatten", lambda m, x: m.f(x), X4, mods=lambda: {"f": nn.Flatten()})
probe("torch.reshape", lambda m, x: torch.reshape(x, (2, -1)), X4)
probe("Tensor.reshape", lambda m, x: x.reshape(-1), X4)
probe("Tensor.reshape size", lambda m, x: x.reshape(x.shape[0], 4, -1), X4)
probe("Tensor.view", lambda m, x: x.view(2, 4, 64), X4)
probe("Tensor.view size", lambda m, x: x.view(x.size(0), -1), X4)
probe("torch.permute", lambda m, x: torch.permute(x, (0, 2, 3, 1)), X4)
probe("Tensor.permute neg", lambda m, x: x.permute(0, -1, 1), X3)
probe("torch.transpose", lambda m, x: torch.transpose(x, 0, -1), X3)
probe("Tensor.transpose", lambda m, x: x.transpose(1, 2), X3)
probe("torch.unsqueeze", lambda m, x: torch.unsqueeze(x, -1), X3)
probe("Tensor.unsqueeze", lambda m, x: x.unsqueeze(0), X3)
probe("torch.squeeze", lambda m, x: torch.squeeze(x), (2, 1, 3, 1))
probe("Tensor.squeeze dim", lambda m, x: x.squeeze(1), (2, 1, 3, 1))
probe("Tensor.squeeze dims", lambda m, x: x.squeeze((1, 3)), (2, 1, 3, 1))
probe("Tensor.squeeze non-1 dim", lambda m, x: x.squeeze(-2), (2, 1, 3, 1))
probe("Tensor.contiguous", lambda m, x: x.transpose(1, 2).contiguous(), X3)
probe("getitem int", lambda m, x: x[0], X3)
probe("getitem slices", lambda m, x: x[:, 1:3], X3)
probe("getitem step", lambda m, x: x[..., ::2], X3)
probe("getitem None", lambda m, x: x[:, None], X3)
probe("getitem negative", lambda m, x: x[..., -1], X3)
probe("getitem mixed", lambda m, x: x[1:, :, 2], X3)
probe("getitem index tensor", lambda m, x, i: x[i], X3, lambda: torch.tensor([1, 0, 1]), opaque_ok=True)
probe("slice bound from shape", lambda m, x: x[..., : x.shape[-1] // 2], X3)
probe("index from size", lambda m, x: x[:, x.size(1) - 1], X3)
probe("slice bound from size", lambda m, x: x[:, : x.size(1) // 2 + 1] * 2, X3)

probe("Tensor.view tuple", lambda m, x: x.view((2, -1)), X4)
probe("Tensor.reshape list", lambda m, x: x.reshape([4, -1, 8]), X4)
probe("torch.flatten neg start", lambda m, x: torch.flatten(x, start_dim=-2), X4)
probe("Tensor.transpose neg", lambda m, x: x.transpose(-1, -2), X4)
probe("Tensor.unsqueeze neg", lambda m, x: x.unsqueeze(-2), X3)
probe("Tensor.mean keepdim positional", lambda m, x: x.mean(-1, True), X3)
probe("Tensor.sum keepdim", lambda m, x: x.sum(dim=1, keepdim=True), X3)
probe("int tensor * 0.5", lambda m, x: x * 0.5, ints(3, 4))
probe("int tensor - float tensor", lambda m, x, y: x - y, ints(3, 4), (3, 4))

probe("global avg pool from size", lambda m, x: F.avg_pool2d(x, x.size(2)), X4)
probe("chunks from size", lambda m, x: x.chunk(x.size(1) // 2, 1)[1], X4)
probe("roll by half a dim", lambda m, x: torch.roll(x, x.size(-1) // 2, -1), X3)
probe("transpose dim from dim()", lambda m, x: x.transpose(x.dim() - 1, 1), X4)
probe("scale factor from size", lambda m, x: F.interpolate(x, scale_factor=x.size(2) / 4), X4, opaque_ok=True)

# -- resizing, padding, pooling -------------------------------------------------------------------
probe("F.interpolate nearest", lambda m, x: F.interpolate(x, scale_factor=2), X4)
probe("F.interpolate bilinear", lambda m, x: F.interpolate(x, size=(5, 7), mode="bilinear"), X4)
probe(
    "F.interpolate align_corners",
    lambda m, x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
    X4,
)
probe("F.interpolate size of tensor", lambda m, x, y: F.interpolate(x, size=y.shape[-2:]) + y, X4, (2, 4, 16, 16))
probe("F.interpolate bicubic", lambda m, x: F.interpolate(x, scale_factor=2, mode="bicubic"), X4)
probe("F.interpolate nearest-exact", lambda m, x: F.interpolate(x, size=(5, 11), mode="nearest-exact"), X4)
probe("nn.Upsample", lambda m, x: m.up(x), X4, mods=lambda: {"up": nn.Upsample(scale_factor=2, mode="bilinear")})
probe("nn.UpsamplingBilinear2d", lambda m, x: m.up(x), X4, mods=lambda: {"up": nn.UpsamplingBilinear2d(size=(9, 10))})
probe("F.pad", lambda m, x: F.pad(x, (1, 2)), X4)
probe("F.pad value", lambda m, x: F.pad(x, (1, 1, 2, 0), value=0.5), X4)
probe("F.pad reflect", lambda m, x: F.pad(x, (1, 2, 2, 1), mode="reflect"), X4)
probe("F.pad replicate", lambda m, x: F.pad(x, (2, 2, 1, 1), mode="replicate"), X4)
probe("F.max_pool2d", lambda m, x: F.max_pool2d(x, 2), X4)
probe("F.max_pool2d stride pad", lambda m, x: F.max_pool2d(x, 3, 2, 1), X4)
probe("F.max_pool2d ceil", lambda m, x: F.max_pool2d(x, 3, 2, ceil_mode=True), (1, 2, 9, 9))
probe("F.max_pool2d dilation", lambda m, x: F.max_pool2d(x, 2, 1, 0, 2), X4)
probe("torch.max_pool2d", lambda m, x: torch.max_pool2d(x, (2, 3)), X4)
probe(
    "nn.MaxPool2d", lambda m, x: m.p(x), (1, 2, 9, 9), mods=lambda: {"p": nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)}
)
probe("nn.MaxPool2d dilation", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.MaxPool2d(2, dilation=2)})
probe("F.avg_pool2d", lambda m, x: F.avg_pool2d(x, 2), X4)
probe("F.avg_pool2d no pad count", lambda m, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), X4)
probe("F.avg_pool2d ceil", lambda m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 9, 9))
probe("F.avg_pool2d divisor", lambda m, x: F.avg_pool2d(x, 2, divisor_override=3), X4)
probe(
    "nn.AvgPool2d",
    lambda m, x: m.p(x),
    (1, 2, 9, 9),
    mods=lambda: {"p": nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)},
)
probe("F.adaptive_avg_pool2d", lambda m, x: F.adaptive_avg_pool2d(x, 1), X4)
probe("F.adaptive_avg_pool2d uneven", lambda m, x: F.adaptive_avg_pool2d(x, (3, 5)), X4)
probe("nn.AdaptiveAvgPool2d", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.AdaptiveAvgPool2d((2, 3))})

# -- reductions ---------------------------------------------------------------------------------
probe("torch.mean", lambda m, x: torch.mean(x), X4)
probe("torch.mean dims", lambda m, x: torch.mean(x, [1]), X4)
probe("Tensor.mean keepdim", lambda m, x: x.mean((2, 3), keepdim=True), X4)
probe("Tensor.mean neg dim", lambda m, x: x.mean(dim=-1, keepdim=True), X4)
probe("torch.sum", lambda m, x: torch.sum(x, 1), X4)
probe("Tensor.sum", lambda m, x: x.sum(), X4)
probe("Tensor.sum dims", lambda m, x: x.sum((-1, -2)), X4)
probe("Tensor.sum int", lambda m, x: x.sum(1), ints(3, 4))
probe("torch.cumsum", lambda m, x: torch.cumsum(x, 1), X3)
probe("Tensor.cumsum", lambda m, x: x.cumsum(-1), X3)
probe("torch.cumsum int", lambda m, x: torch.cumsum(x, 0), ints(3, 4))
probe("torch.topk", lambda m, x: torch.topk(x, 3), X3)
probe("torch.topk smallest", lambda m, x: torch.topk(x, 2, dim=1, largest=False), X3)
probe("Tensor.topk", lambda m, x: x.topk(2, 0)[0] * 2, X3)
probe("torch.roll", lambda m, x: torch.roll(x, 1), X3)
probe("torch.roll dims", lambda m, x: torch.roll(x, (1, -2), (1, 2)), X3)
probe("Tensor.roll", lambda m, x: x.roll(2, -1), X3)


# -- weighted layers ------------------------------------------------------------------------------
def _w(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(shape) * 0.3)


probe(
    "F.conv2d",
    lambda m, x: F.conv2d(x, m.w, m.b, stride=2, padding=1),
    X4,
    mods=lambda: {"w": _w(6, 4, 3, 3), "b": _w(6)},
)
probe(
    "F.conv2d same groups",
    lambda m, x: F.conv2d(x, m.w, None, padding="same", groups=2),
    X4,
    mods=lambda: {"w": _w(6, 2, 3, 3)},
)
probe(
    "F.conv2d valid dilation",
    lambda m, x: F.conv2d(x, m.w, padding="valid", dilation=2),
    X4,
    mods=lambda: {"w": _w(3, 4, 3, 3)},
)
probe("torch.conv2d", lambda m, x: torch.conv2d(x, m.w, m.b, 1, 1), X4, mods=lambda: {"w": _w(5, 4, 3, 3), "b": _w(5)})
probe("nn.Conv2d", lambda m, x: m.c(x), X4, mods=lambda: {"c": nn.Conv2d(4, 6, 3, 2, 1)})
probe(
    "nn.Conv2d reflect",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect")},
)
probe(
    "nn.Conv2d circular",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 4, 3, padding=2, dilation=2, padding_mode="circular", groups=4)},
)
probe("F.conv1d", lambda m, x: F.conv1d(x, m.w, m.b, padding=1), X3, mods=lambda: {"w": _w(4, 5, 3), "b": _w(4)})
probe("torch.conv1d", lambda m, x: torch.conv1d(x, m.w, stride=2), X3, mods=lambda: {"w": _w(4, 5, 2)})
probe("F.conv1d same", lambda m, x: F.conv1d(x, m.w, padding="same"), X3, mods=lambda: {"w": _w(4, 5, 3)})
probe("nn.Conv1d", lambda m, x: m.c(x), X3, mods=lambda: {"c": nn.Conv1d(5, 3, 3, padding=1)})
probe(
    "F.conv_transpose2d",
    lambda m, x: F.conv_transpose2d(x, m.w, m.b, stride=2, padding=1, output_padding=1),
    X4,
    mods=lambda: {"w": _w(4, 3, 3, 3), "b": _w(3)},
)
probe(
    "torch.conv_transpose2d",
    lambda m, x: torch.conv_transpose2d(x, m.w, None, 2),
    X4,
    mods=lambda: {"w": _w(4, 2, 2, 2)},
)
probe(
    "nn.ConvTranspose2d",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)},
)
probe("F.linear", lambda m, x: F.linear(x, m.w, m.b), X3, mods=lambda: {"w": _w(3, 6), "b": _w(3)})
probe("nn.Linear", lambda m, x: m.fc(x), X3, mods=lambda: {"fc": nn.Linear(6, 4)})
probe("nn.Linear no bias", lambda m, x: m.fc(x), X2, mods=lambda: {"fc": nn.Linear(4, 2, bias=False)})
probe("nn.Embedding", lambda m, i: m.e(i), ints(2, 5), mods=lambda: {"e": nn.Embedding(10, 4)})
probe(
    "nn.Embedding padding_idx", lambda m, i: m.e(i), ints(2, 5), mods=lambda: {"e": nn.Embedding(10, 4, padding_idx=0)}
)
probe("F.embedding", lambda m, i: F.embedding(i, m.w), ints(7), mods=lambda: {"w": _w(10, 3)})

# -- normalization --------------------------------------------------------------------------------
probe("nn.BatchNorm2d", lambda m, x: m.bn(x), X4, mods=lambda: {"bn": nn.BatchNorm2d(4)})
probe("nn.BatchNorm1d", lambda m, x: m.bn(x), X2, mods=lambda: {"bn": nn.BatchNorm1d(4)})
probe("nn.BatchNorm1d 3d", lambda m, x: m.bn(x), X3, mods=lambda: {"bn": nn.BatchNorm1d(5, affine=False)})
# what `SyncBatchNorm.convert_sync_batchnorm` leaves in a model; in eval it is a plain batch norm
probe("nn.SyncBatchNorm", lambda m, x: m.bn(x), X4, mods=lambda: {"bn": nn.SyncBatchNorm(4)})
probe(
    "F.batch_norm",
    lambda m, x: F.batch_norm(x, m.rm, m.rv, m.w, m.b, False, 0.1, 1e-3),
    X4,
    mods=lambda: {"rm": torch.randn(4) * 0.1, "rv": torch.rand(4) + 0.5, "w": _w(4), "b": _w(4)},
)
probe(
    "conv bn relu fused",
    lambda m, x: F.relu(m.bn(m.c(x))) + x,
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 4, 3, padding=1), "bn": nn.BatchNorm2d(4)},
)
probe("nn.LayerNorm", lambda m, x: m.ln(x), X3, mods=lambda: {"ln": nn.LayerNorm(6)})
probe("nn.LayerNorm 2 dims", lambda m, x: m.ln(x), X3, mods=lambda: {"ln": nn.LayerNorm((5, 6), eps=1e-3)})
probe("F.layer_norm", lambda m, x: F.layer_norm(x, (6,), m.w), X3, mods=lambda: {"w": _w(6)})
probe("nn.GroupNorm", lambda m, x: m.gn(x), X4, mods=lambda: {"gn": nn.GroupNorm(2, 4)})
probe("F.group_norm", lambda m, x: F.group_norm(x, 4, eps=1e-3), X4)
probe("nn.InstanceNorm2d", lambda m, x: m.n(x), X4, mods=lambda: {"n": nn.InstanceNorm2d(4)})
probe("nn.InstanceNorm2d affine", lambda m, x: m.n(x), X4, mods=lambda: {"n": nn.InstanceNorm2d(4, affine=True)})
probe(
    "nn.InstanceNorm2d running",
    lambda m, x: m.n(x),
    X4,
    mods=lambda: {"n": nn.InstanceNorm2d(4, track_running_stats=True)},
)
probe("nn.InstanceNorm1d", lambda m, x: m.n(x), X3, mods=lambda: {"n": nn.InstanceNorm1d(5)})
probe("nn.InstanceNorm3d", lambda m, x: m.n(x), (1, 2, 3, 4, 5), mods=lambda: {"n": nn.InstanceNorm3d(2)})
probe("F.instance_norm", lambda m, x: F.instance_norm(x, eps=1e-3), X4)
probe("nn.PReLU", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.PReLU()})
probe("nn.PReLU channels", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.PReLU(4, init=0.1)})
probe("F.prelu", lambda m, x: F.prelu(x, m.w), X4, mods=lambda: {"w": _w(4)})

probe("0-d parameter", lambda m, x: x * m.s + m.b, X3, mods=lambda: {"s": _w(), "b": torch.tensor(0.25)})

# -- data movement modules ----------------------------------------------------------------------
probe("nn.PixelShuffle", lambda m, x: m.ps(x), X4, mods=lambda: {"ps": nn.PixelShuffle(2)})
probe("F.pixel_shuffle", lambda m, x: F.pixel_shuffle(x, 2), X4)
probe("nn.PixelUnshuffle", lambda m, x: m.ps(x), X4, mods=lambda: {"ps": nn.PixelUnshuffle(2)})
probe("F.pixel_unshuffle", lambda m, x: F.pixel_unshuffle(x, 4), X4)
probe("nn.Dropout", lambda m, x: m.d(x), X4, mods=lambda: {"d": nn.Dropout(0.3)})
probe("F.dropout eval", lambda m, x: F.dropout(x, 0.5, training=False), X4)
probe("nn.Identity", lambda m, x: m.i(x) * 2, X4, mods=lambda: {"i": nn.Identity()})


# -- attention ----------------------------------------------------------------------------------
def _mha(**kw: Any) -> Callable[[], dict]:
    return lambda: {"a": nn.MultiheadAttention(8, 2, **kw)}


probe("nn.MultiheadAttention self", lambda m, x: m.a(x, x, x), (2, 5, 8), mods=_mha(batch_first=True))
probe("nn.MultiheadAttention seq-first", lambda m, x: m.a(x, x, x), (5, 2, 8), mods=_mha())
probe(
    "nn.MultiheadAttention cross",
    lambda m, x, y: m.a(x, y, y, average_attn_weights=False),
    (2, 3, 8),
    (2, 6, 8),
    mods=_mha(batch_first=True),
)
probe(
    "nn.MultiheadAttention no weights",
    lambda m, x, y, z: m.a(x, y, z, need_weights=False)[0],
    (3, 2, 8),
    (4, 2, 8),
    (4, 2, 8),
    mods=_mha(bias=False),
)
probe(
    "nn.MultiheadAttention kdim vdim",
    lambda m, x, y, z: m.a(x, y, z)[0],
    (2, 3, 8),
    (2, 4, 6),
    (2, 4, 5),
    mods=_mha(kdim=6, vdim=5, batch_first=True),
)


probe(
    "nn.MultiheadAttention bool masks",
    lambda m, x, am, kpm: m.a(x, x, x, attn_mask=am, key_padding_mask=kpm),
    (2, 4, 8),
    lambda: torch.ones(4, 4, dtype=torch.bool).triu(1),
    lambda: torch.tensor([[False] * 3 + [True], [False] * 4]),
    mods=_mha(batch_first=True),
    opaque_ok=True,
)
probe(
    "nn.MultiheadAttention float masks",
    lambda m, x, am, kpm: m.a(x, x, x, attn_mask=am, key_padding_mask=kpm)[0],
    (4, 2, 8),
    (4, 4, 4),
    (2, 4),
    mods=_mha(),
    opaque_ok=True,
)
probe(
    "F.scaled_dot_product_attention",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v),
    (2, 2, 5, 4),
    (2, 2, 6, 4),
    (2, 2, 6, 3),
)
probe(
    "F.scaled_dot_product_attention scale",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
    (2, 5, 4),
    (2, 6, 4),
    (2, 6, 4),
)


# -- in-place mutation read afterwards ------------------------------------------------------------
def _add_(m, x, y):
    a = x * 2
    b = a.add_(y)
    return a + b, a


def _relu_then_read(m, x):
    y = x - 0.5
    z = m.act(y)
    return y * 2 + z


def _iadd_alias(m, x, y):
    a = x * 1
    alias = a
    a += y
    return alias * 3 + a


def _chain(m, x):
    a = x + 0
    a.add_(1).mul_(2)
    return a


def _out_kwarg(m, x, y):
    c = x * 0
    torch.add(x, y, out=c)
    return c * 2


def _input_mutation(m, x):
    x.mul_(2)
    return x + 1


def _setitem(m, x):
    a = x * 1
    a[:, 0] = 0.0
    return a * 2


def _setitem_tensor(m, x, y):
    a = x + 1
    a[..., 1] = y[..., 0]
    return a.sum(-1)


def _view_then_mutate_view(m, x):
    a = x * 2
    v = a.view(-1)
    v.add_(1)
    return v


def _base_read_after_view_mutation(m, x):
    a = x * 2
    v = a.view(-1)
    v.add_(1)
    return a * 3


def _view_read_after_base_mutation(m, x):
    a = x * 2
    v = a[0]
    a.mul_(3)
    return v + 1


def _buffer_mutation(m, x):
    m.count.add_(1)
    return x * m.count


probe("Tensor.add_ read after", _add_, X3, X3)
probe("Tensor.mul_ read after", lambda m, x: (lambda a: (a.mul_(2), a + x)[1])(x * 1), X3)
probe("Tensor.sub_ read after", lambda m, x, y: (lambda a: (a.sub_(y), a * a)[1])(x + 0), X3, X3)
probe("Tensor.div_ read after", lambda m, x: (lambda a: (a.div_(4), a - x)[1])(x + 0), X3)
probe("Tensor.relu_ read after", lambda m, x: (lambda a: (a.relu_(), a + x)[1])(x - 0.2), X3)
probe("Tensor.sigmoid_ read after", lambda m, x: (lambda a: (a.sigmoid_(), a * x)[1])(x * 3), X3)
probe("Tensor.clamp_ read after", lambda m, x: (lambda a: (a.clamp_(-0.1, 0.1), a + x)[1])(x * 1), X3, opaque_ok=True)
probe("torch.relu_ read after", lambda m, x: (lambda a: (torch.relu_(a), a * 2)[1])(x + 0.1), X3)
probe("F.relu inplace read after", lambda m, x: (lambda a: (F.relu(a, inplace=True), a - x)[1])(x * 2), X3)
probe("F.hardtanh inplace read after", lambda m, x: (lambda a: (F.hardtanh(a, -0.2, 0.2, True), a - x)[1])(x * 2), X3)
probe("nn.ReLU(inplace) read after", _relu_then_read, X3, mods=lambda: {"act": nn.ReLU(inplace=True)})
probe("nn.ReLU6(inplace) read after", _relu_then_read, X3, mods=lambda: {"act": nn.ReLU6(inplace=True)})
probe("y += x through an alias", _iadd_alias, X3, X3)


def _augmented(m, x, y):
    a = x * 1
    b = a
    a -= y
    a *= 2
    a /= 3
    return a + b


probe("isub imul itruediv", _augmented, X3, X3)
probe("chained in-place", _chain, X3)
probe("in-place on an input", _input_mutation, X3)
probe("out= read after", _out_kwarg, X3, X3, opaque_ok=True)
# torch.export records an indexed assignment as a view plus an in-place fill/copy: refused there
probe("setitem read after", _setitem, X3, opaque_ok=True, refuse=("export",))
probe("setitem tensor value", _setitem_tensor, X3, X3, opaque_ok=True, refuse=("export",))
probe("in-place on a view, view read", _view_then_mutate_view, X3)
probe("in-place on a view, base read", _base_read_after_view_mutation, X3, refuse=("fx", "export"))
probe("in-place on a base, view read", _view_read_after_base_mutation, X3, refuse=("fx", "export"))
probe("in-place on a buffer", _buffer_mutation, X3, mods=lambda: {"count": torch.zeros(())}, refuse=("fx", "export"))


# -- the harness ----------------------------------------------------------------------------------
def _clone(xs: tuple) -> tuple:
    return tuple(x.clone() for x in xs)


class _TypeChecker(fx.Interpreter):
    """Runs the rebuilt module and checks each IR value's type against the tensor computed for it."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.checked = 0

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        for v in n.meta.get("irq_values", ()):
            t = v.type
            if isinstance(t, TensorType):
                assert isinstance(out, torch.Tensor), (n.name, t, type(out))
                assert tuple(out.shape) == tuple(t.shape), (
                    f"{v.op.name if hasattr(v, 'op') else n}: IR {t}, computed {tuple(out.shape)}"
                )
                assert out.dtype == torch_dtype(t.element_type), f"{n.name}: IR {t}, computed {out.dtype}"
                self.checked += 1
            elif isinstance(t, IntegerType) and t.width == 64:
                assert isinstance(out, int) and not isinstance(out, bool), (n.name, t, out)
        return out


def _assert_close(expected: Any, got: Any) -> None:
    e_leaves, e_spec = pytree.tree_flatten(expected)
    g_leaves, g_spec = pytree.tree_flatten(got)
    assert len(e_leaves) == len(g_leaves), f"{len(g_leaves)} outputs, eager has {len(e_leaves)}"
    for a, b in zip(e_leaves, g_leaves):
        if a is None:
            assert b is None
            continue
        assert isinstance(b, torch.Tensor) and b.shape == a.shape and b.dtype == a.dtype, (a.shape, a.dtype, b)
        if a.is_floating_point():
            nan = a.isnan()
            assert torch.equal(nan, b.isnan()), "NaNs differ"  # a fully masked softmax row is NaN in both
            a, b = a[~nan], b[~nan]
            finite = a.isfinite()
            assert torch.equal(a[~finite], b[~finite]), "infinities differ"
            a, b = a[finite], b[finite]
            scale = max(float(a.abs().max()) if a.numel() else 0.0, 1e-6)
            err = float((a - b).abs().max()) if a.numel() else 0.0
            assert err <= 1e-5 * scale, f"max error {err:.3g} at output scale {scale:.3g}"
        else:
            assert torch.equal(a, b)


@functools.cache
def outcome(index: int, method: str) -> tuple[str, str]:
    """("equal", detail) / ("refused", message) / ("error", message) / ("wrong", message) for one probe."""
    p = PROBES[index]
    model, xs = p.make()
    with torch.no_grad():
        expected = model(*_clone(xs))
    try:
        module = irq.import_torch(model, _clone(xs), method=method)
    except irq.FrontendError as e:
        return "refused", str(e)
    except Exception as e:  # noqa: BLE001 - reported as a failure with its text
        return "error", f"import: {type(e).__name__}: {e}"
    try:
        irq.PassManager.parse(PIPELINE).run(module)
        text = irq.print_module(module)
        parsed = irq.parse_module(text)
        gm = to_module(parsed)
        checker = _TypeChecker(gm)
        with torch.no_grad():
            got = checker.run(*_clone(xs))
        original, rebuilt = model.state_dict(), gm.state_dict()
        for k, v in original.items():  # the checkpoint round-trips: shapes (0-d too), dtypes, values
            r = rebuilt[k]
            assert r.shape == v.shape and r.dtype == v.dtype and torch.equal(r, v), k
        gm.load_state_dict(original, strict=True)
    except Exception as e:  # noqa: BLE001
        return "error", f"rebuild: {type(e).__name__}: {e}"
    try:
        _assert_close(expected, got)
    except AssertionError as e:
        return "wrong", str(e)
    calls = [op.get_attr("target").value for op in parsed.walk() if op.name == "torch.call"]
    if calls and not p.opaque_ok:
        return "error", f"kept opaque: {calls}"
    return "equal", f"{checker.checked} values type-checked"


CASES = [pytest.param(i, m, id=f"{p.name}-{m}") for i, p in enumerate(PROBES) for m in p.modes]


@pytest.mark.parametrize("index,method", CASES)
def test_probe_matches_eager(index: int, method: str) -> None:
    p = PROBES[index]
    kind, detail = outcome(index, method)
    if method in p.refuse:
        assert kind == "refused", f"{p.name} ({method}) should be refused, got {kind}: {detail}"
        assert f"{__file__}:" in detail, detail  # names the user's file:line
        return
    assert kind == "equal", f"{p.name} ({method}): {kind}: {detail}"


def test_no_probe_gives_a_different_number_without_an_error() -> None:
    """Across every probe and mode: equal to eager, or a FrontendError at the user's line."""
    wrong = []
    for i, p in enumerate(PROBES):
        for method in p.modes:
            kind, detail = outcome(i, method)
            if kind == "wrong":
                wrong.append(f"{p.name} ({method}): {detail}")
            elif kind == "refused":
                assert f"{__file__}:" in detail, f"{p.name} ({method}) refused without the user's line: {detail}"
    assert not wrong, "\n".join(wrong)


def _traced_targets() -> tuple[set, set, set]:
    from irq.frontend.importer import trace

    functions, methods, modules = set(), set(), set()
    for p in PROBES:
        if p.refuse:
            continue
        model, _ = p.make()
        graph, _ = trace(model)
        for n in graph.nodes:
            if n.op == "call_function":
                functions.add(n.target)
            elif n.op == "call_method":
                methods.add(n.target)
            elif n.op == "call_module":
                modules.add(type(model.get_submodule(n.target)))
        for m in model.modules():
            modules.add(type(m))
    return functions, methods, modules


def test_every_mapped_callable_has_a_probe() -> None:
    """The probe list covers every torch function, Tensor method and nn.Module the torch dialect maps."""
    from irq.frontend.wrapping import qualified_name

    functions, methods, modules = _traced_targets()
    # Python wrappers fx traces through (they call Tensor.sigmoid/tanh, which are covered);
    # the probes "F.sigmoid" and "F.tanh" still run them
    inlined = {F.sigmoid, F.tanh}
    missing = [qualified_name(f) for f in FUNCTIONS if f not in functions and f not in inlined]
    missing += [f"Tensor.{m}" for m in METHODS if m not in methods and hasattr(torch.Tensor, m)]
    missing += [c.__name__ for c, _ in MODULES if c not in modules]
    assert not missing, f"no probe exercises: {missing}"
