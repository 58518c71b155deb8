"""An independent integer emulation of a *frozen* irq module, in numpy int64, for tests.

It reads the frozen level (hl + quant.qcast/dcast, docs/design.md "The frozen level") and
computes what the bpu program computes, op by op, on integer codes, taking the integer
parameters from irq.fixedpoint (the shared contract) but none of the arithmetic from irq: the
convolutions, requantization, pooling and concatenation are written here again, with numpy.
VALIDATION (irq.quant.validation, in torch) must equal it bit for bit.

Ops the design leaves in float (torch.call, ...) are computed in float32 with torch
on the dequantized values, as the deployed program's float islands are.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from irq.dialects.quant import UniformQuantizedPerAxisType

from irq import fixedpoint as fp


class Q:
    """Integer codes with their scale (scalar, or per channel along `axis`) and storage dtype."""

    def __init__(self, codes: np.ndarray, scale, dtype: str, axis: int | None = None) -> None:
        self.codes = codes.astype(np.int64)
        self.scale = scale
        self.dtype = dtype
        self.axis = axis

    def dequantize(self) -> np.ndarray:
        s = np.asarray(self.scale, dtype=np.float64)
        if self.axis is not None:
            shape = [1] * self.codes.ndim
            shape[self.axis] = -1
            s = s.reshape(shape)
        return (self.codes.astype(np.float64) * s).astype(np.float32)

    def like(self, codes: np.ndarray) -> Q:
        return Q(codes, self.scale, self.dtype, self.axis)


def _storage(t) -> tuple[object, str, tuple[int, int]]:
    e = t.element_type
    dtype = {8: "i8", 16: "i16"}[e.storage_type.width]
    return e, dtype, (e.storage_min, e.storage_max)


def requantize(acc: np.ndarray, m, s) -> np.ndarray:
    """(acc * M + 2**(S-1)) >> S, int64, arithmetic shift (half_up)."""
    m = np.asarray(m, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    return (acc * m + (np.int64(1) << (s - 1))) >> s


def _pad(x: np.ndarray, ph: int, pw: int, value=0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups: int) -> np.ndarray:
    """Exact int64 NCHW convolution."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = _pad(x, padding[0], padding[1])
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(2, 3))
    win = win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]  # n c ho wo kh kw
    ho, wo = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, cg, ho, wo, kh, kw)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True)
    return out.reshape(n, o, ho, wo)


def max_pool2d(q: np.ndarray, k, stride, padding, dilation, ceil_mode: bool) -> np.ndarray:
    if ceil_mode or any(d != 1 for d in dilation):
        raise NotImplementedError("max_pool2d with ceil_mode or dilation")
    xp = _pad(q, padding[0], padding[1], value=np.iinfo(np.int64).min)
    win = np.lib.stride_tricks.sliding_window_view(xp, tuple(k), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return win.max(axis=(-1, -2))


def _py(attr):
    """An attribute as a plain Python value (arrays as lists)."""
    from irq.ir.attributes import ArrayAttr
    if isinstance(attr, ArrayAttr):
        return [_py(x) for x in attr]
    return attr.value if hasattr(attr, "value") else attr


class Emulator:
    """Run a frozen module's `forward` on numpy inputs; returns float32 outputs."""

    def __init__(self, module) -> None:
        self.fn = next(op for op in module.walk() if op.name == "func.func")

    def run(self, *inputs: np.ndarray):
        block = self.fn.regions[0].blocks[0]
        env: dict = {a: np.asarray(x, dtype=np.float32) for a, x in zip(block.args, inputs)}
        for op in block.ops:
            if op.name == "func.return":
                outs = [self.as_float(env[v]) for v in op.operands]
                return outs[0] if len(outs) == 1 else tuple(outs)
            results = self.op(op, env)
            for r, v in zip(op.results, results if isinstance(results, tuple) else (results,)):
                env[r] = v
        raise ValueError("no return")

    @staticmethod
    def as_float(v):
        return v.dequantize() if isinstance(v, Q) else v

    # -- ops ----------------------------------------------------------------------------------
    def op(self, op, env):
        name = op.name
        args = [env.get(v) for v in op.operands]
        a = {k: _py(v) for k, v in op.properties.items()}
        if name == "torch.constant":
            return np.asarray(op.value.to_numpy())
        if name == "quant.qcast":
            e, dtype, (lo, hi) = _storage(op.results[0].type)
            x = args[0]
            if isinstance(x, Q):  # an integer op already produced codes at this scale
                return x
            if isinstance(e, UniformQuantizedPerAxisType):
                scale = np.asarray(e.scales, dtype=np.float64)
                shape = [1] * x.ndim
                shape[e.axis] = -1
                codes = np.clip(np.rint(x.astype(np.float64) / scale.reshape(shape)), lo, hi)
                return Q(codes, scale, dtype, e.axis)
            codes = np.clip(np.rint(x.astype(np.float64) / np.float64(e.scale)), lo, hi)
            return Q(codes, np.float64(e.scale), dtype)
        if name == "quant.dcast":
            return args[0]
        base = name.partition(".")[2]
        x = args[0] if args else None
        if name == "torch.call":
            return self.float_call(op, args)
        if name.startswith("torch.") and isinstance(x, Q):
            return self.movement(base, op, x, a)
        if name.startswith("torch."):
            return self.float_torch(base, op, args, a)
        return self.hl(base, op, args, a)

    def movement(self, base, op, x: Q, a):
        if base in ("dropout", "contiguous", "identity"):
            return x
        if base == "size":
            return x.codes.shape[a["dim"]] if "dim" in a else tuple(x.codes.shape)
        if base == "flatten":
            s = list(x.codes.shape)
            end = a["end_dim"] % len(s)
            return x.like(x.codes.reshape(s[: a["start_dim"]] + [-1] + s[end + 1:]))
        if base in ("reshape", "view"):
            return x.like(x.codes.reshape(op.results[0].type.shape))
        if base == "max_pool2d":
            return x.like(max_pool2d(x.codes, a["kernel_size"], a["stride"], a["padding"], a["dilation"],
                                     a["ceil_mode"]))
        raise NotImplementedError(f"emulator: data movement {base}")

    def float_call(self, op, args):
        from irq.dialects.torch_values import OperandRefAttr
        from irq.runtime.torch.resolve import resolve
        fn = resolve(op.get_attr("target").value)

        def decode(v):
            if isinstance(v, list):
                return [decode(x) for x in v]
            if isinstance(v, OperandRefAttr):
                return torch.from_numpy(np.ascontiguousarray(self.as_float(args[v.index])))
            return v

        out = fn(*decode(_py(op.get_attr("args"))))
        if isinstance(out, (tuple, list)):
            return tuple(o.numpy() for o in out)
        return out.numpy()

    def float_torch(self, base, op, args, a):
        raise NotImplementedError(f"emulator: float torch op {base}")

    @staticmethod
    def size(op, a):
        """An interpolate's output size: its `size`, read from the static result type (entries may be operand refs)."""
        return list(op.results[0].type.shape[2:]) if a.get("size") is not None else None

    def out_quant(self, op):
        """(scale, dtype, (lo, hi)) of the qcast that consumes op's result, or None (high precision)."""
        users = [u for u in op.results[0].users if u.name == "quant.qcast"]
        if not users:
            return None
        e, dtype, rng = _storage(users[0].results[0].type)
        return np.float64(e.scale), dtype, rng

    def hl(self, base, op, args, a):
        if base in ("conv2d", "linear"):
            return self.weighted(base, op, args, a)
        if base == "relu" and isinstance(args[0], Q):
            return args[0].like(np.maximum(args[0].codes, 0))
        if base == "interpolate" and a.get("mode") == "nearest" and isinstance(args[0], Q):
            t = torch.from_numpy(args[0].codes.astype(np.float64))
            out = F.interpolate(t, size=self.size(op, a), scale_factor=None if a.get("size") else a.get("scale_factor"),
                                mode="nearest")
            return args[0].like(np.rint(out.numpy()).astype(np.int64))
        qo = self.out_quant(op)
        if base == "quant_stub" or base == "dequant_stub":
            return self.as_float(args[0]) if base == "dequant_stub" else args[0]
        s_out, dtype, (lo, hi) = qo
        if base in ("add", "sub"):
            xa, xb = args
            m, s = fp.common_shift_multipliers([xa.scale / s_out, xb.scale / s_out])
            sign = 1 if base == "add" else -1
            acc = xa.codes * int(m[0]) + sign * xb.codes * int(m[1]) + (np.int64(1) << (int(s) - 1))
            return Q(np.clip(acc >> int(s), lo, hi), s_out, dtype)
        if base == "cat":
            parts = []
            for v in args:
                m, s = fp.quantize_multiplier(v.scale / s_out)
                parts.append(np.clip(requantize(v.codes, m, s), lo, hi))
            return Q(np.concatenate(parts, axis=a["dim"]), s_out, dtype)
        if base == "mul_scalar":
            c = float(a["other"])
            m, s = fp.quantize_multiplier(abs(args[0].scale * c / s_out))
            sign = -1 if c < 0 else 1
            return Q(np.clip(requantize(args[0].codes * sign, m, s), lo, hi), s_out, dtype)
        if base == "adaptive_avg_pool2d":
            x = args[0]
            h, w = x.codes.shape[-2:]
            oh, ow = a["output_size"]
            kh, kw = h // oh, w // ow
            assert kh * oh == h and kw * ow == w
            sums = x.codes.reshape(*x.codes.shape[:2], oh, kh, ow, kw).sum(axis=(3, 5))
            m, s = fp.quantize_multiplier(x.scale / (s_out * kh * kw))
            return Q(np.clip(requantize(sums, m, s), lo, hi), s_out, dtype)
        if base == "interpolate" and a.get("mode") == "bilinear" and isinstance(args[0], Q):
            size = list(op.results[0].type.shape[2:])
            return self.bilinear(args[0], size, bool(a.get("align_corners")), s_out, lo, hi, dtype)
        # float islands: computed in float32 from the dequantized input, quantized by the next qcast
        if base == "interpolate":
            t = torch.from_numpy(self.as_float(args[0]))
            factor = None if a.get("size") else a.get("scale_factor")
            return F.interpolate(t, size=self.size(op, a), scale_factor=factor, mode=a["mode"],
                                 align_corners=a.get("align_corners")).numpy()
        raise NotImplementedError(f"emulator: hl.{base}")

    @staticmethod
    def bilinear(x: Q, size, align_corners: bool, s_out, lo, hi, dtype) -> Q:
        """bpu.resize's bilinear (dialects/bpu.py): F-bit floored source positions, exact sum, one requantize."""
        f = fp.RESIZE_FRAC_BITS

        def taps(n_out, n_in):
            idx = []
            for d in range(n_out):
                if align_corners:
                    p = d * (n_in - 1) * (1 << f) // (n_out - 1) if n_out > 1 else 0
                else:
                    p = max(0, ((2 * d + 1) * n_in - n_out) * (1 << f) // (2 * n_out))
                i0 = p >> f
                idx.append((i0, min(i0 + 1, n_in - 1), (1 << f) - (p - (i0 << f)), p - (i0 << f)))
            return idx

        h, w = x.codes.shape[-2:]
        out = np.zeros((*x.codes.shape[:-2], *size), dtype=np.int64)
        for oy, (y0, y1, wy0, wy1) in enumerate(taps(size[0], h)):
            for ox, (x0, x1, wx0, wx1) in enumerate(taps(size[1], w)):
                c = x.codes
                out[..., oy, ox] = (c[..., y0, x0] * wy0 * wx0 + c[..., y0, x1] * wy0 * wx1
                                    + c[..., y1, x0] * wy1 * wx0 + c[..., y1, x1] * wy1 * wx1)
        m, s = fp.quantize_multiplier(x.scale / (s_out * 2.0 ** (2 * f)))
        return Q(np.clip(requantize(out, m, s), lo, hi), s_out, dtype)

    def weighted(self, base, op, args, a):
        x, w = args[0], args[1]
        bias = args[2] if op.bias is not None else None
        s_in, s_w = np.float64(x.scale), np.asarray(w.scale, dtype=np.float64)
        if base == "linear":
            acc = x.codes @ w.codes.T
        else:
            acc = conv2d(x.codes, w.codes, a["stride"], a["padding"], a["dilation"], a["groups"])
        ch_shape = [1] * acc.ndim
        ch_shape[-1 if base == "linear" else 1] = -1
        if bias is not None:
            acc = acc + fp.quantize_bias(bias, s_in, s_w).reshape(ch_shape)
        qo = self.out_quant(op)
        if qo is None:  # high-precision output: the accumulator at scale s_in * s_w
            acc = np.clip(acc, *fp.qrange("i32"))
            return (acc.astype(np.float64) * (s_in * s_w).reshape(ch_shape)).astype(np.float32)
        s_out, dtype, (lo, hi) = qo
        if op.residual is not None:
            r = args[[i for i, v in enumerate(op.operands) if v is op.residual][0]]
            m, s = fp.common_shift_multipliers(np.stack([s_in * s_w / s_out, np.full(s_w.shape, r.scale / s_out)]))
            total = acc * m[0].reshape(ch_shape) + r.codes * m[1].reshape(ch_shape)
            q = (total + (np.int64(1) << (s.reshape(ch_shape) - 1))) >> s.reshape(ch_shape)
        else:
            m, s = fp.quantize_multiplier(s_in * s_w / s_out)
            q = requantize(acc, m.reshape(ch_shape), s.reshape(ch_shape))
        q = np.clip(q, lo, hi)
        act = a.get("activation")
        if act is not None:
            clo, chi = fp.clamp_bounds(act, s_out, dtype)
            q = np.clip(q, clo, chi)
        return Q(q, s_out, dtype)
