"""What every op handler shares: the handler registry, attribute readers and the overflow messages.

The handlers themselves live by concept (`ops.py`: the model boundary, element-wise, row-wise and
fallback ops; `ops_gemm.py`: conv2d/linear/matmul and requantize, their fused epilogue;
`ops_shape.py`: pools, resize and data movement); importing `irq.runtime.numba.ops` registers them all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .planner import Planner, op_error

HANDLERS: dict[str, Callable[[Planner, object], None]] = {}
_NO_RES3 = np.zeros((0, 0, 0), np.int8)
_NO_MULT = np.zeros(0, np.int64)
#: The requantize contract: |acc| < 2**32 so that acc * M (M < 2**31) cannot overflow int64.
REQUANT_LIMIT = 2**32 - 1


def handles(*names: str):
    def register(fn):
        for n in names:
            HANDLERS[n] = fn
        return fn
    return register


# -- attribute helpers ----------------------------------------------------------------------------
def _attr(op, name, default=None):
    a = op.get_attr(name)
    if a is None:
        return default
    return getattr(a, "value", a)


def _ints(op, name, default=None) -> list[int] | None:
    a = op.get_attr(name)
    if a is None:
        return None if default is None else list(default)
    if hasattr(a, "value") and isinstance(a.value, int):
        return [a.value]
    return [int(getattr(x, "value", x)) for x in a]


def _pair(op, name, default) -> tuple[int, int]:
    v = _ints(op, name, default)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _padding4(op) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from [p], [ph, pw] or [top, left, bottom, right]."""
    p = _ints(op, "padding", [0])
    if len(p) == 1:
        return (p[0],) * 4
    if len(p) == 2:
        return (p[0], p[1], p[0], p[1])
    if len(p) == 4:
        return tuple(p)
    raise op_error(op, f"padding {p} must have 1, 2 or 4 entries")


def _range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _clamp_bounds(op, dtype: np.dtype) -> tuple[int, int]:
    lo, hi = _range(dtype)
    return max(lo, _attr(op, "min", lo)), min(hi, _attr(op, "max", hi))


def _channels(values: list[int], c: int, op, what: str) -> np.ndarray:
    if len(values) == 1:
        return np.full(c, values[0], np.int64)
    if len(values) != c:
        raise op_error(op, f"{what} has {len(values)} entries for {c} channels")
    return np.asarray(values, np.int64)


def _multipliers(values: list[int], c: int, op, what: str) -> np.ndarray:
    """`_channels` of a requantize multiplier, refused outside the bpu dialect's [0, 2**31): the GEMM epilogues
    multiply it as a signed 32-bit factor (`vnni_microkernel._store_codes`), and the runtime does not run the
    verifier, so a program built past it would otherwise print wrong codes."""
    m = _channels(values, c, op, what)
    bad = m[(m < 0) | (m >= 2**31)]
    if bad.size:
        raise op_error(op, f"{what} {int(bad[0])} is outside [0, 2^31)")
    return m


def _check(op, count: int, what: str) -> None:
    if count:
        raise op_error(op, f"{what} ({count} elements)")


def _acc_range(op, dtype: np.dtype, fused_requant: bool) -> tuple[int, int]:
    lo, hi = _range(dtype)
    if fused_requant:
        lo, hi = max(lo, -REQUANT_LIMIT), min(hi, REQUANT_LIMIT)
    return lo, hi


def _overflow_message(op, dtype: np.dtype, fused: bool) -> str:
    what = f"its declared {np.dtype(dtype).name} accumulator"
    if fused:
        what += " or the requantize input bound |acc| < 2^32"
    return f"accumulator overflow: results exceed {what}; the program's accumulator width is wrong"


def p_dtype(v) -> np.dtype:
    """The numpy dtype of value `v`'s element type."""
    from .planner import element_dtype
    return element_dtype(v.type)
