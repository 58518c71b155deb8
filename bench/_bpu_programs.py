"""bpu programs for the runtime benchmark: one conv, one matmul, MobileNetV2 (torchvision's layer shapes).

The MobileNetV2 program has the structure `irq.convert` gives a quantized MobileNetV2 (conv + requantize
with the relu6 clamp, depthwise convs, projection convs with the residual fused into the requantize,
global average pool, linear), with random int8 weights: the kernels' speed does not depend on the
values, and exactness is what the tests check. Why not the converted model: this program needs no
weights package and no calibration, so bench/runtime.py runs on any checkout in seconds; the real
model, quantized and converted, is timed by bench/end_to_end.py (MobileNetV2 with the shipped weights).
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.bpu_text import ProgramText  # noqa: E402

CONV_ATTRS = {"dilation": [1, 1]}


def conv_program(n: int = 1, c: int = 64, hw: int = 56, k: int = 3):
    """int8 codes in, one 3x3 conv + per-channel requantize, int8 codes out (NCHW at the boundary)."""
    rng = np.random.default_rng(0)
    p = ProgramText([("x", (n, c, hw, hw), "i8")])
    p.const("w", rng.integers(-127, 128, size=(c, c, k, k)), "i8")
    p.const("b", rng.integers(-1000, 1000, size=c), "i32")
    p.op("acc", "bpu.conv2d", ["x", "w", "b"], ((n, c, hw, hw), "i32"),
         {"stride": [1, 1], "padding": [k // 2, k // 2], "dilation": [1, 1], "groups": 1}, keywords={2: "bias"})
    p.op("y", "bpu.requantize", ["acc"], ((n, c, hw, hw), "i8"),
         {"multiplier": ("array", rng.integers(2**30, 2**31, size=c)), "shift": ("array", [40] * c)})
    return p.module(["y"])


def matmul_program(m: int = 128, k: int = 768, n: int = 768):
    """int8 x (m, k) times a constant (k, n) weight (bpu.linear with w = (n, k)) + requantize."""
    rng = np.random.default_rng(1)
    p = ProgramText([("x", (m, k), "i8")])
    p.const("w", rng.integers(-127, 128, size=(n, k)), "i8")
    p.op("acc", "bpu.linear", ["x", "w"], ((m, n), "i32"))
    p.op("y", "bpu.requantize", ["acc"], ((m, n), "i8"),
         {"multiplier": ("array", [2**30]), "shift": ("array", [40]), "axis": -1})
    return p.module(["y"])


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class _Net:
    def __init__(self, p: ProgramText, rng):
        self.p, self.rng, self.i = p, rng, 0

    def conv(self, x, shape_in, cout, k, stride, groups, relu6=True, residual=None):
        n, cin, h, w = shape_in
        pad = (k - 1) // 2
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        self.i += 1
        wname, bname, acc, out = f"w{self.i}", f"b{self.i}", f"acc{self.i}", f"y{self.i}"
        self.p.const(wname, self.rng.integers(-127, 128, size=(cout, cin // groups, k, k)), "i8")
        self.p.const(bname, self.rng.integers(-2000, 2000, size=cout), "i32")
        self.p.op(acc, "bpu.conv2d", [x, wname, bname], ((n, cout, oh, ow), "i32"),
                  {"stride": [stride, stride], "padding": [pad, pad], "dilation": [1, 1], "groups": groups},
                  keywords={2: "bias"})
        kdim = cin // groups * k * k
        shift = int(np.log2(kdim * 127 * 40)) + 30 - 7  # keeps typical outputs inside int8
        attrs = {"multiplier": ("array", self.rng.integers(2**30, 2**31, size=cout)),
                 "shift": ("array", [shift] * cout)}
        if relu6:
            attrs.update(min=0, max=47)
        operands, kw = [acc], None
        if residual is not None:
            attrs["residual_multiplier"] = ("array", [2**31 - 1] * cout)
            operands.append(residual)
            kw = {1: "residual"}
        self.p.op(out, "bpu.requantize", operands, ((n, cout, oh, ow), "i8"), attrs, keywords=kw)
        return out, (n, cout, oh, ow)


def mobilenet_v2_program(batch: int = 1, size: int = 224, num_classes: int = 1000):
    """MobileNetV2 (width 1.0) as a bpu program: float input, quantize, ..., dequantized logits."""
    rng = np.random.default_rng(2)
    p = ProgramText([("x", (batch, 3, size, size), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((batch, 3, size, size), "i8"), {"scale": 0.0207})
    net = _Net(p, rng)
    x, shape = net.conv("q", (batch, 3, size, size), 32, 3, 2, 1)
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)]:
        cout = _make_divisible(c)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            block_in = x
            if t != 1:
                x, shape = net.conv(x, shape, hidden, 1, 1, 1)
            x, shape = net.conv(x, shape, hidden, 3, stride, hidden)
            res = block_in if (stride == 1 and cin == cout) else None
            x, shape = net.conv(x, shape, cout, 1, 1, 1, relu6=False, residual=res)
            cin = cout
    x, shape = net.conv(x, shape, 1280, 1, 1, 1)
    n, c, h, w = shape
    gm = int(round(2**30 / (h * w)))
    p.op("gap", "bpu.global_avg_pool", [x], ((n, c, 1, 1), "i8"), {"multiplier": gm, "shift": 30})
    p.op("flat", "bpu.reshape", ["gap"], ((n, c), "i8"))
    p.const("fcw", rng.integers(-127, 128, size=(num_classes, c)), "i8")
    p.const("fcb", rng.integers(-5000, 5000, size=num_classes), "i32")
    p.op("logits", "bpu.linear", ["flat", "fcw", "fcb"], ((n, num_classes), "i32"), keywords={2: "bias"})
    p.op("out", "bpu.dequantize", ["logits"], ((n, num_classes), "f32"), {"scale": 1e-4})
    return p.module(["out"])


MOBILENET_V2_MACS = 300_774_272  # per 224x224 image (conv + linear multiply-accumulates)
