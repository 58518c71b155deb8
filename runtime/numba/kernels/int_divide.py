"""bpu.int_div: torch.div with rounding_mode floor / trunc, one exact integer quotient per element, then a
requantize of that integer (the dialect's formula)."""

from __future__ import annotations

import numba
import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_shift

_LIMIT = 2**31 - 1
_STEP = 16  # bits of one long-division step: the remainder (< 2**46) times 2**16 stays below 2**62


@numba.njit(cache=True, inline="always")
def floor_quotient(x, y, s):
    """floor(x / (y 2**s)) exactly for |x|, y < 2**46 (y > 0) and s of either sign; a value past the
    +-(2**31 - 1) clamp is only kept beyond it (the caller clamps)."""
    if s >= 0:
        return (x // y) >> min(s, np.int64(62))  # numba's // on int64 is Python's floor division
    if s >= -_STEP:
        return (x << -s) // y  # |x| < 2**46: one exact division
    k = x // y  # and % is Python's too: 0 <= r < y
    r = x % y
    bound = np.int64(_LIMIT) + 1
    left = -s
    while left > 0:
        c = min(left, np.int64(_STEP))
        r = r << c
        k = (k << c) + r // y
        k = min(max(k, -bound), bound)  # beyond the clamp it stays beyond: k 2^c + [0, 2^c)
        r = r % y
        left -= c
    return k


@row_kernel(lambda a, b, m, dv, s, floor, mo, so, mode, lo, hi, out: out.shape[0])
def int_divide_requantize(r0, r1, a, b, m, dv, s, floor, mo, so, mode, lo, hi, out):
    """``k = floor(a' M / (|b| D 2**S))`` (floor) or ``sign(a') floor(|a'| M / (|b| D 2**S))`` (trunc), clamped
    to +-(2**31 - 1) (b = 0: by a's sign), then ``out = clamp(round_shift(k * M_out, S_out))`` on flat views."""
    a, b, out = a[r0:r1], b[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        x = np.int64(a[i])
        d = np.int64(b[i])
        if d == 0:
            k = np.int64(_LIMIT) if x > 0 else (np.int64(-_LIMIT) if x < 0 else np.int64(0))
        else:
            if d < 0:
                x, d = -x, -d
            num = x * m
            den = d * dv
            if floor or num >= 0:
                k = floor_quotient(num, den, s)
            else:
                k = -floor_quotient(-num, den, s)
            k = min(max(k, np.int64(-_LIMIT)), np.int64(_LIMIT))
        out[i] = clamp(round_shift(k * mo, so, mode), lo, hi)
