"""The integer arithmetic every bpu op shares: rounding right shifts, saturation, clamps.

Written for clarity on numpy int64; where a product could leave int64 (the oracle never wraps), the
same formulas run on exact Python integers (numpy object arrays). The semantics are those stated in
the bpu dialect's docstring (`irq.dialects.bpu`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

INT64_LIMIT = 2**62  # |v| below this leaves room for the rounding term 2**(S-1) <= 2**61


def storage_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def rshift_round(v: np.ndarray, shift: np.ndarray, rounding: str) -> np.ndarray:
    """``v / 2**shift`` rounded to an integer by `rounding` (shift >= 1), on int64 or Python-int arrays."""
    one = np.ones_like(shift)
    floor = v >> shift
    if rounding == "floor":
        return floor
    if rounding == "half_up":
        return (v + (one << (shift - 1))) >> shift
    rem = v - (floor << shift)  # in [0, 2**shift)
    half = one << (shift - 1)
    return round_from_floor(floor, rem > half, rem == half, rounding)


def round_from_floor(floor: np.ndarray, above_half: np.ndarray, tie: np.ndarray, rounding: str) -> np.ndarray:
    """The integer a quotient rounds to by `rounding`, from its floor and where its fraction is above one half
    or exactly one half: the one statement of the tie rules (shifts and exact divisions both use it)."""
    if rounding == "floor":
        return floor
    if rounding == "half_up":
        up = above_half | tie
    elif rounding == "half_even":
        up = above_half | (tie & ((floor & 1) == 1))
    elif rounding == "half_away":
        up = above_half | (tie & (floor >= 0))  # a tie above zero rounds up, below zero stays (away from 0)
    else:
        raise ValueError(f"unknown rounding mode '{rounding}'")
    return floor + up.astype(floor.dtype if floor.dtype != object else np.int64)


def scaled_sum(terms: Sequence[tuple[np.ndarray, np.ndarray]], shift: np.ndarray, rounding: str) -> np.ndarray:
    """``rshift_round(sum_i x_i * M_i, S)`` exactly: int64 when the bound allows, else Python integers."""
    bound = sum(_absmax(x) * _absmax(m) for x, m in terms)
    exact = bound < INT64_LIMIT
    total = None
    for x, m in terms:
        if exact:
            prod = x.astype(np.int64) * np.asarray(m, dtype=np.int64)
        else:
            prod = x.astype(object) * np.asarray(m, dtype=np.int64).astype(object)
        total = prod if total is None else total + prod
    s = np.asarray(shift, dtype=np.int64)
    if not exact:
        s = s.astype(object)
    out = rshift_round(total, s, rounding)
    if not exact:
        # the result is saturated by the caller; bring it back to int64 range first
        lo, hi = -(2**63), 2**63 - 1
        out = np.array([min(max(int(v), lo), hi) for v in np.ravel(out)], dtype=np.int64).reshape(np.shape(out))
    return out


def _absmax(a) -> int:
    a = np.asarray(a)
    if a.size == 0:
        return 0
    return int(max(abs(int(a.max())), abs(int(a.min()))))


def saturate(v: np.ndarray, bits: int, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Clip to the dtype's range, then to the op's clamp bounds (a fused relu/relu6)."""
    qmin, qmax = storage_range(bits)
    out = np.clip(v, qmin, qmax)
    if lo is not None or hi is not None:
        out = np.clip(out, qmin if lo is None else lo, qmax if hi is None else hi)
    return out


def per_channel(values: Sequence[int], rank: int, axis: int) -> np.ndarray:
    """Parameters as an int64 array that broadcasts along `axis` of a rank-`rank` tensor (or a scalar)."""
    arr = np.asarray(list(values), dtype=np.int64)
    if arr.size == 1:
        return arr.reshape(())
    shape = [1] * rank
    shape[axis] = arr.size
    return arr.reshape(shape)
