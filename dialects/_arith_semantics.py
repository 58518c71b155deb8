"""The semantics of arith's folds and verifiers on plain Python numbers and types, apart from the ops.

Why a module of its own: these are the rules a wrong number comes from (a division rounding the
wrong way, a wrap at the wrong width, an IEEE corner of max/min, a comparison predicate), so they
are small pure functions testable without building IR; dialects/arith.py only wires them to ops.
They follow MLIR's arith folders: integers wrap at their width, division by zero and over-wide
shifts (undefined behaviour in MLIR) are never folded (the folder returns None).
"""

from __future__ import annotations

import math

from irq.ir.attributes import Attribute, BoolAttr, FloatAttr, IntegerAttr
from irq.ir.dense import DenseElementsAttr
from irq.ir.types import FloatType, IndexType, IntegerType, ShapedType, Type


def _element(t: Type) -> Type:
    return t.element_type if isinstance(t, ShapedType) else t


# -- folding binary ops on scalars ----------------------------------------------------------------
def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _fdiv(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _maximumf(a: float, b: float) -> float:  # IEEE maximum: NaN wins, +0 > -0
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0:
        return a if math.copysign(1.0, a) > 0 else b
    return max(a, b)


def _minimumf(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0:
        return a if math.copysign(1.0, a) < 0 else b
    return min(a, b)


def _maxnumf(a: float, b: float) -> float:  # IEEE maxNum: a NaN operand is ignored
    return b if math.isnan(a) else a if math.isnan(b) else _maximumf(a, b)


def _minnumf(a: float, b: float) -> float:
    return b if math.isnan(a) else a if math.isnan(b) else _minimumf(a, b)


#: Integer folders on the operands' signed values and the bit width; None: do not fold
#: (division by zero, signed overflow of a division, shifts by the width or more).
_INT_FNS = {
    "arith.addi": lambda a, b, w: a + b,
    "arith.subi": lambda a, b, w: a - b,
    "arith.muli": lambda a, b, w: a * b,
    "arith.maxsi": lambda a, b, w: max(a, b),
    "arith.minsi": lambda a, b, w: min(a, b),
    "arith.maxui": lambda a, b, w: a if a % (1 << w) >= b % (1 << w) else b,
    "arith.minui": lambda a, b, w: a if a % (1 << w) <= b % (1 << w) else b,
    "arith.divsi": lambda a, b, w: None if b == 0 or (a == -(1 << (w - 1)) and b == -1) else _trunc_div(a, b),
    "arith.divui": lambda a, b, w: None if b == 0 else (a % (1 << w)) // (b % (1 << w)),
    "arith.remsi": lambda a, b, w: None if b == 0 else a - b * _trunc_div(a, b),
    "arith.remui": lambda a, b, w: None if b == 0 else (a % (1 << w)) % (b % (1 << w)),
    "arith.ceildivsi": lambda a, b, w: None if b == 0 or (a == -(1 << (w - 1)) and b == -1) else -((-a) // b),
    "arith.floordivsi": lambda a, b, w: None if b == 0 or (a == -(1 << (w - 1)) and b == -1) else a // b,
    "arith.andi": lambda a, b, w: a & b,
    "arith.ori": lambda a, b, w: a | b,
    "arith.xori": lambda a, b, w: a ^ b,
    "arith.shli": lambda a, b, w: None if not 0 <= b % (1 << w) < w else a << (b % (1 << w)),
    "arith.shrsi": lambda a, b, w: None if not 0 <= b % (1 << w) < w else a >> (b % (1 << w)),
    "arith.shrui": lambda a, b, w: None if not 0 <= b % (1 << w) < w else (a % (1 << w)) >> (b % (1 << w)),
}
_FLOAT_FNS = {
    "arith.addf": lambda a, b: a + b,
    "arith.subf": lambda a, b: a - b,
    "arith.mulf": lambda a, b: a * b,
    "arith.divf": _fdiv,
    "arith.remf": lambda a, b: math.nan if b == 0 or math.isinf(a) else math.fmod(a, b),
    "arith.maximumf": _maximumf,
    "arith.minimumf": _minimumf,
    "arith.maxnumf": _maxnumf,
    "arith.minnumf": _minnumf,
}


def _wrap(value: int, t: IntegerType) -> int:
    w = t.width
    value &= (1 << w) - 1
    return value - (1 << w) if value >= 1 << (w - 1) and w > 1 else value



# -- comparisons ----------------------------------------------------------------------------------
def _cmpi(pred: str, a: int, b: int, w: int) -> bool:
    if pred[0] == "u":
        a, b, pred = a % (1 << w), b % (1 << w), pred[1:]
    elif pred[0] == "s":
        pred = pred[1:]
    return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[pred]


def _cmpf(pred: str, a: float, b: float) -> bool:
    if pred in ("false", "true"):
        return pred == "true"
    unordered = math.isnan(a) or math.isnan(b)
    if pred == "ord":
        return not unordered
    if pred == "uno":
        return unordered
    rel = {"eq": a == b, "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b, "ne": a != b}[pred[1:]]
    return (unordered or rel) if pred[0] == "u" else (not unordered and rel)



# -- canonicalization: recognising identity constants ----------------------------------------------
def _number(a: Attribute | None) -> float | int | None:
    """The value of a scalar constant or of a splat dense constant."""
    if isinstance(a, (IntegerAttr, FloatAttr)) and not isinstance(a, BoolAttr):
        return a.value
    if isinstance(a, DenseElementsAttr) and a.is_splat:
        return a.to_numpy().reshape(-1)[0].item()
    return None


def _is_scalar(a: Attribute | None, value: float) -> bool:
    """`a` is the constant `value` (for 0: the positive zero)."""
    v = _number(a)
    return v is not None and v == value and not (value == 0 and math.copysign(1.0, v) < 0)


def _is_negative_zero(a: Attribute | None) -> bool:
    v = _number(a)
    return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0


#: per op: the constant that is a right identity (`x op c == x`); x + 0.0 is not x when x is -0.0,
#: but x + (-0.0) is; x - 0.0 is x (also for -0.0 and nan)
_RIGHT_IDENTITY = {
    "arith.addi": lambda c: _is_scalar(c, 0),
    "arith.subi": lambda c: _is_scalar(c, 0),
    "arith.addf": _is_negative_zero,
    "arith.subf": lambda c: _is_scalar(c, 0.0),
    "arith.muli": lambda c: _is_scalar(c, 1),
    "arith.mulf": lambda c: _is_scalar(c, 1),
    "arith.divf": lambda c: _is_scalar(c, 1),
}



# -- cast verification: the width rules of extsi/trunci/bitcast/index_cast ------------------------
def _width(t: Type) -> int | None:
    e = _element(t)
    if isinstance(e, IntegerType):
        return e.width
    if isinstance(e, FloatType):
        return e.width
    return None


def _wider(a: Type, r: Type) -> str | None:
    return None if _width(r) > _width(a) else f"result type {r} must be wider than operand type {a}"


def _narrower(a: Type, r: Type) -> str | None:
    return None if _width(r) < _width(a) else f"result type {r} must be narrower than operand type {a}"


def _any(a: Type, r: Type) -> str | None:
    return None


def _index_pair(a: Type, r: Type) -> str | None:
    if isinstance(a, IndexType) != isinstance(r, IndexType):
        return None
    return f"exactly one of operand and result must be index, got {a} and {r}"


def _same_width(a: Type, r: Type) -> str | None:
    wa, wr = _width(a), _width(r)
    return None if wa is not None and wa == wr else f"operand and result must have the same bit width, got {a} and {r}"
