"""Float islands: the torch/hl ops `convert(..., float_fallback=True)` keeps in float, executed in numpy.

They sit between `bpu.dequantize` and `bpu.quantize`, as horizon runs unsupported ops on the CPU, and
VALIDATION computes the same ops with torch on the same float32 inputs. Element-wise arithmetic (add, sub,
mul, div, their scalar forms) is one IEEE float32 operation, as in torch, so an island of those equals
VALIDATION bit for bit; the other ops are computed in float64 from their float32 inputs (torch's formulas)
and stored as float32 by the interpreter, within one float32 rounding of torch's kernels (a code can differ
only where the value lands on a quantization tie). Another runtime matches these bits by calling these
functions.
"""

from __future__ import annotations

import math

import numpy as np
from irq.runtime.reference.ops import attr, conv2d, impl, pair


def _register(base: str):
    def deco(fn):
        impl(f"torch.{base}")(fn)
        impl(f"hl.{base}")(fn)
        return fn
    return deco


def _f(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@impl("torch.constant")
@impl("arith.constant")
def float_constant(op) -> np.ndarray:
    return np.asarray(op.get_attr("value").to_numpy())


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_UNARY = {
    "sigmoid": _sigmoid, "tanh": np.tanh, "exp": np.exp, "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6), "silu": lambda x: x * _sigmoid(x),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6, "hardsigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "neg": np.negative, "abs": np.abs, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
    "identity": lambda x: x, "contiguous": lambda x: x, "dropout": lambda x: x,
}
for _name, _fn in _UNARY.items():
    _register(_name)(lambda op, x, _fn=_fn: _fn(_f(x)))


def _lut_function(kind: str):
    """Issue 12's element-wise functions in float: the float64 function their lookup tables are built from
    (irq.lut_functions), so a float island and the bpu.lut agree on the formula (torch's)."""
    from irq import lut_functions

    def run(op, x):
        attrs = {n: attr(op, n) for n in ("alpha", "beta", "threshold", "lambd", "exponent")
                 if op.get_attr(n) is not None}
        return lut_functions.function(kind, attrs)(_f(x))
    return run


for _name in ("elu", "celu", "selu", "softplus", "mish", "logsigmoid", "softsign", "tanhshrink", "hardshrink",
              "softshrink", "erf", "sin", "cos", "pow_scalar"):
    _register(_name)(_lut_function(_name))


@_register("gelu")
def gelu(op, x):
    x = _f(x)
    if attr(op, "approximate") == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2)))


@_register("leaky_relu")
def leaky_relu(op, x):
    x = _f(x)
    return np.where(x >= 0, x, x * attr(op, "negative_slope"))


@_register("hardtanh")
def hardtanh(op, x):
    return np.clip(_f(x), attr(op, "min_val"), attr(op, "max_val"))


@_register("clamp")
def clamp(op, x):
    lo, hi = attr(op, "min"), attr(op, "max")
    return np.clip(_f(x), -np.inf if lo is None else lo, np.inf if hi is None else hi)


@_register("softmax")
def softmax(op, x):
    x = _f(x)
    e = np.exp(x - x.max(axis=attr(op, "dim"), keepdims=True))
    return e / e.sum(axis=attr(op, "dim"), keepdims=True)


@_register("log_softmax")
def log_softmax(op, x):
    x = _f(x)
    d = attr(op, "dim")
    shifted = x - x.max(axis=d, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=d, keepdims=True))


@_register("layer_norm")
def layer_norm(op, x, *params):
    x = _f(x)
    dims = tuple(range(x.ndim - len(attr(op, "normalized_shape")), x.ndim))
    mean = x.mean(axis=dims, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=dims, keepdims=True)
    y = (x - mean) / np.sqrt(var + attr(op, "eps"))
    values = dict(zip([n for n in ("weight", "bias") if getattr(op, n, None) is not None], params))
    if "weight" in values:
        y = y * _f(values["weight"])
    if "bias" in values:
        y = y + _f(values["bias"])
    return y


def _arithmetic(fn, a, b):
    """torch's element-wise arithmetic on float32 tensors: one IEEE float32 operation, a Python scalar cast
    to float32 first (torch's type promotion keeps float32). Computing in float64 and rounding once
    differs: x / 2.828 differed from torch on 20% of random float32 inputs, enough to move codes at
    quantization ties, so a float island would not equal VALIDATION."""
    a = np.asarray(a)
    if a.dtype == np.float32 and (np.isscalar(b) or np.asarray(b).dtype == np.float32):
        return fn(a, np.float32(b) if np.isscalar(b) else np.asarray(b))
    return fn(_f(a), _f(b))


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _floor_divide(a, b):
    """torch's floor division of floats (c10's div_floor_floating, the formula): the quotient of ``a - fmod(a, b)``
    by b, moved down one where the remainder's sign differs from b's, then floored and corrected by its
    fraction, so it is exact where ``floor(a / b)`` would round first; b = 0 gives a / b (+-inf, nan)."""
    with np.errstate(all="ignore"):
        mod = np.fmod(a, b)
        div = (a - mod) / b
        div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
        floordiv = np.floor(div)
        floordiv = np.where(div - floordiv > 0.5, floordiv + 1, floordiv)
        out = np.where(div != 0, floordiv, np.copysign(np.zeros_like(div), a / b))
        return np.where(b == 0, a / b, out)


def _rounded_divide(mode: str):
    """torch.div with rounding_mode: floor as torch computes it, trunc as trunc(a / b); in float32 for float32
    inputs, as torch (a float island that divided truly instead printed a wrong number with no error)."""
    def fn(a, b):
        if mode == "trunc":
            with np.errstate(all="ignore"):
                return np.trunc(np.divide(a, b))
        if mode == "floor":
            return _floor_divide(a, b)
        raise ValueError(f"rounding_mode '{mode}' is not floor or trunc")
    return fn


def _binary_impl(fn):
    def run(op, a, b):
        alpha = attr(op, "alpha", 1)
        if fn in (np.add, np.subtract) and alpha != 1:
            return fn(_f(a), _f(b) * alpha)  # torch fuses a + alpha * b; not IEEE-pinned, kept in float64
        mode = attr(op, "rounding_mode") if fn is np.divide else None
        return _arithmetic(fn if mode is None else _rounded_divide(mode), a, b)
    return run


def _scalar_impl(fn):
    def run(op, a):
        mode = attr(op, "rounding_mode") if fn is np.divide else None
        return _arithmetic(fn if mode is None else _rounded_divide(mode), a, float(attr(op, "other")))
    return run


for _name, _fn in _BINARY.items():
    _register(_name)(_binary_impl(_fn))
    _register(f"{_name}_scalar")(_scalar_impl(_fn))


@_register("matmul")
def matmul(op, a, b):
    return np.matmul(_f(a), _f(b))


@_register("mean")
def mean(op, x):
    dims = attr(op, "dim")
    return _f(x).mean(axis=tuple(dims) if dims else None, keepdims=bool(attr(op, "keepdim")))


@_register("cat")
def cat(op, *xs):
    return np.concatenate([_f(x) for x in xs], axis=attr(op, "dim"))


def _to_result_shape(op, x, *_sizes):
    return np.reshape(x, tuple(op.results[0].type.shape))


for _name in ("reshape", "view", "flatten", "unsqueeze", "squeeze"):
    _register(_name)(_to_result_shape)


@_register("permute")
def permute(op, x):
    return np.transpose(x, attr(op, "dims"))


@_register("transpose")
def transpose(op, x):
    return np.swapaxes(x, attr(op, "dim0"), attr(op, "dim1"))


def _activation(op, y):
    act = attr(op, "activation")
    if act == "relu":
        return np.maximum(y, 0)
    if act == "relu6":
        return np.clip(y, 0, 6)
    return y


def _check_unfused_bn(op) -> None:
    if getattr(op, "bn_mean", None) is not None:
        raise ValueError("a float island cannot hold a batch norm that freeze did not fold")


def _pad_by_name(op, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, tuple[int, int] | None]:
    """torch's string paddings made explicit: "valid" is none, "same" pads dilation * (k - 1) per spatial dim,
    the odd unit at the end (torch.nn.Conv2d's rule; stride 1). An integer padding is left to conv2d."""
    mode = attr(op, "padding")
    if not isinstance(mode, str):
        return x, None
    if mode == "valid":
        return x, (0, 0)
    if mode != "same":
        raise ValueError(f"padding '{mode}' is not 'same', 'valid' or integers")
    if pair(op, "stride", 1) != (1, 1):
        raise ValueError("padding 'same' needs stride 1 (as torch requires)")
    total = [d * (k - 1) for d, k in zip(pair(op, "dilation", 1), w.shape[2:])]
    widths = [(0, 0), (0, 0)] + [(t // 2, t - t // 2) for t in total]
    return np.pad(x, widths), (0, 0)


@impl("hl.conv2d")
def float_conv2d(op, x, w, *rest):
    """A convolution kept in float (float_fallback): dequantized weights, fused residual and activation."""
    _check_unfused_bn(op)
    bias = rest[0] if op.bias is not None else None
    x, padding = _pad_by_name(op, _f(x), w)
    y = conv2d(op, x, _f(w), None if bias is None else _f(bias), dtype=np.float64, padding=padding)
    if op.residual is not None:
        y = y + _f(rest[-1])
    return _activation(op, y)


@impl("hl.linear")
def float_linear(op, x, w, *rest):
    _check_unfused_bn(op)
    y = np.matmul(_f(x), _f(w).T)
    if op.bias is not None:
        y = y + _f(rest[0])
    if op.residual is not None:
        y = y + _f(rest[-1])
    return _activation(op, y)
