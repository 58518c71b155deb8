"""The float64 functions behind bpu.lut tables: one definition for lower-bpu and VALIDATION.

A lookup table is ``fixedpoint.lookup_table(fn, s_in, s_out)``; if the compiler and VALIDATION
evaluated `fn` with different libraries (numpy's vs torch's erf for gelu), a value that lands
next to a rounding tie could give a different code and VALIDATION would stop being the deployed
program. Both therefore take `fn` from here. numpy only; no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from irq._lazy import _LazyModule

# numpy loads on first use: lower-bpu reads KINDS when every pipeline registers it (irq-opt start-up)
np = _LazyModule("numpy")

Fn = Callable[["np.ndarray"], "np.ndarray"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _gelu(attrs: Mapping[str, Any]) -> Fn:
    if attrs.get("approximate") == "tanh":  # torch.nn.functional.gelu(approximate="tanh")'s formula
        return lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return lambda x: 0.5 * x * (1 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2)))


def _clamp(attrs: Mapping[str, Any]) -> Fn:
    lo, hi = attrs.get("min"), attrs.get("max")
    return lambda x: np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


#: F.selu's constants (Klambauer et al. 2017, as torch.nn.SELU documents them)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _softplus(attrs: Mapping[str, Any]) -> Fn:
    """F.softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold. The switch is torch's, kept
    as it is: at a small threshold it is a visible step of log(1 + exp(-threshold)) / beta."""
    beta, threshold = float(attrs["beta"]), float(attrs["threshold"])
    return lambda x: np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def _alpha(attrs: Mapping[str, Any]) -> float:
    return 1.0 if attrs.get("alpha") is None else float(attrs["alpha"])


_PLAIN: dict[str, Fn] = {
    "sigmoid": _sigmoid, "tanh": lambda x: np.tanh(x), "silu": lambda x: x * _sigmoid(x),
    "hardsigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1), "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "exp": lambda x: np.exp(x), "relu": lambda x: np.maximum(x, 0), "relu6": lambda x: np.clip(x, 0, 6),
    "sqrt": lambda x: np.sqrt(np.maximum(x, 0)),
    "rsqrt": lambda x: 1 / np.sqrt(np.maximum(x, 0)),
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)), "logsigmoid": lambda x: -np.logaddexp(0, -x),
    "softsign": lambda x: x / (1 + np.abs(x)), "tanhshrink": lambda x: x - np.tanh(x),
    "erf": lambda x: np.vectorize(math.erf, otypes=[np.float64])(x), "sin": lambda x: np.sin(x),
    "cos": lambda x: np.cos(x),
}
_WITH_ATTRS: dict[str, Callable[[Mapping[str, Any]], Fn]] = {
    "gelu": _gelu,
    "hardtanh": lambda a: (lambda x: np.clip(x, float(a["min_val"]), float(a["max_val"]))),
    "leaky_relu": lambda a: (lambda x: np.where(x >= 0, x, x * float(a["negative_slope"]))),
    "clamp": _clamp,
    # Python scalars on either side (`x + 0.5`, `1 - x`): a table of the exact float64 result, as for every
    # element-wise op; alpha is torch.add / torch.sub's multiplier of `other`
    "add_scalar": lambda a: (lambda x: x + float(a["other"]) * _alpha(a)),
    "sub_scalar": lambda a: (lambda x: x - float(a["other"]) * _alpha(a)),
    "rsub_scalar": lambda a: (lambda x: float(a["other"]) - x),
    # `c / x` (and torch.reciprocal, c = 1): unbounded at 0, so the table saturates there (c / 0 is +-inf,
    # clipped to the output range the observer chose, irq.qconfig.UNBOUNDED_OUTPUT_RANGE; 0 / 0 is 0)
    "rdiv_scalar": lambda a: (lambda x: float(a["other"]) / x),
    # issue 12's functions, with the formulas torch.nn.functional documents for them
    "elu": lambda a: (lambda x: np.where(x > 0, x, float(a["alpha"]) * np.expm1(np.minimum(x, 0)))),
    "celu": lambda a: (lambda x: np.maximum(x, 0) + np.minimum(
        0, float(a["alpha"]) * np.expm1(np.minimum(x, 0) / float(a["alpha"])))),
    "softplus": _softplus,
    "hardshrink": lambda a: (lambda x: np.where(np.abs(x) > float(a["lambd"]), x, 0.0)),
    "softshrink": lambda a: (lambda x: np.sign(x) * np.maximum(np.abs(x) - float(a["lambd"]), 0.0)),
    "pow_scalar": lambda a: (lambda x: np.power(x, float(a["exponent"]))),
}
#: op kinds (hl/torch base names) that become lookup tables
KINDS = frozenset(_PLAIN) | frozenset(_WITH_ATTRS)


def function(kind: str, attrs: Mapping[str, Any]) -> Fn:
    """The float64 function of element-wise op `kind` with its attributes (approximate, min_val...)."""
    if kind in _PLAIN:
        return _PLAIN[kind]
    return _WITH_ATTRS[kind](attrs)
