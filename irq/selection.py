"""The fixed-point parameters of comparisons and selection (issue 12): what lower-bpu writes into `bpu.compare`
and `bpu.select` and what VALIDATION (irq/quant/validation_select.py) emulates, derived once here so the two agree
by construction (as irq.fixedpoint is for every other op). No numpy, no torch: exact rationals.

- A comparison of codes q at scale s with a number c, ``q s <pred> c``, is ``q <pred'> t`` for one integer t:
  with r = c / s exactly, ``q > r <=> q > floor(r)``, ``q >= r <=> q >= ceil(r)``, ``q < r <=> q < ceil(r)``,
  ``q <= r <=> q <= floor(r)``; eq / ne hold only where r is an integer. So the deployed mask is the mask of the
  real values ``q s`` for every code, never one code off (float32 ``q * s`` rounds: at c = 0.5, s = 0.1 in
  float32 the product 5 s is 0.50000000745 but rounds to 0.5). Results that hold for no code or for every code
  (c = +-inf, nan, an eq with a non-integer r) are the predicates ``q < -2**63`` / ``q >= -2**63``.
- A comparison of two tensors at different scales compares them at the finer scale: the coarser operand is
  requantized once (half up) to the finer one, saturated to i16, which holds every i8 code of the finer side, so
  a saturated value still compares right against it. Two i16 operands at different scales are refused (their
  finer-scale codes need an i32, and a saturated one would compare wrong at the range's end).
- A fill value (where with a number, masked_fill) is ``clip(round_half_even(c / s_out))``; -inf is the output
  range's minimum, +inf its maximum (the float value saturated, as a quantizer saturates it); nan is refused.
"""

from __future__ import annotations

import math
from fractions import Fraction

PREDICATES = ("gt", "ge", "lt", "le", "eq", "ne")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: ``q < -2**63`` holds for no int64 code, ``q >= -2**63`` for every one
NEVER, ALWAYS = ("lt", INT64_MIN), ("ge", INT64_MIN)
_RANGES = {"i8": (-128, 127), "i16": (-32768, 32767)}


def holds(predicate: str, a: int, b: int) -> bool:
    """``a <predicate> b`` on Python integers (the oracle the runtimes' masks are checked against)."""
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b, "eq": a == b, "ne": a != b}[predicate]


def _check(predicate: str) -> None:
    if predicate not in PREDICATES:
        raise ValueError(f"unknown comparison predicate '{predicate}' (one of {', '.join(PREDICATES)})")


def compare_threshold(predicate: str, value: float, scale: float) -> tuple[str, int]:
    """(predicate', t) with ``q <predicate'> t`` exactly when ``q * scale <predicate> value`` (exact rationals),
    for every integer code q. `scale` is the float64 of the value's scale (1.0 for raw integer inputs)."""
    _check(predicate)
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"a comparison needs a positive finite scale, got {scale}")
    if math.isnan(value):
        return ALWAYS if predicate == "ne" else NEVER
    if math.isinf(value):
        above = value > 0  # every code lies below +inf and above -inf
        if predicate in ("eq", "ne"):
            return NEVER if predicate == "eq" else ALWAYS
        holds_all = (predicate in ("lt", "le")) == above
        return ALWAYS if holds_all else NEVER
    r = Fraction(value) / Fraction(scale)
    lo, hi = math.floor(r), math.ceil(r)
    if predicate in ("eq", "ne"):
        if lo != hi:
            return NEVER if predicate == "eq" else ALWAYS
        return predicate, _clip64(lo)
    t = {"gt": lo, "ge": hi, "lt": hi, "le": lo}[predicate]
    if t > INT64_MAX:  # beyond every code
        return NEVER if predicate in ("gt", "ge") else ALWAYS
    if t < INT64_MIN:
        return ALWAYS if predicate in ("gt", "ge") else NEVER
    return predicate, t


def _clip64(t: int) -> int:
    return min(max(t, INT64_MIN), INT64_MAX)


def fill_code(value: float, scale: float, dtype: str) -> int:
    """The code of a fill value at the output's scale: ``clip(round_half_even(value / scale))``, +-inf saturated."""
    lo, hi = _RANGES[dtype]
    if math.isnan(value):
        raise ValueError("a nan fill value has no code")
    if math.isinf(value):
        return hi if value > 0 else lo
    r = Fraction(value) / Fraction(scale)
    return min(max(round(r), lo), hi)  # Python's round of a Fraction: half to even


def common_compare_scale(scale_a: float, dtype_a: str, scale_b: float, dtype_b: str) -> tuple[int | None, str]:
    """Which operand of a two-tensor comparison is requantized to the other's (finer) scale: (0, 1 or None for
    neither, the dtype both are compared in). Raises for two i16 operands at different scales."""
    if scale_a == scale_b:
        return None, "i16" if "i16" in (dtype_a, dtype_b) else "i8"
    coarser = 0 if scale_a > scale_b else 1
    finer_dtype = (dtype_a, dtype_b)[1 - coarser]
    if finer_dtype == "i16":
        raise ValueError("comparing two tensors at different scales needs the finer one in i8 (an i16 operand's "
                         "finer-scale codes need an i32); give both operands one quantizer")
    return coarser, "i16"
