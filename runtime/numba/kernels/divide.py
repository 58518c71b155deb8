"""bpu.div: one exact integer division per element, rounded by the op's mode (the dialect's formula)."""

from __future__ import annotations

import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_from_floor


@row_kernel(lambda a, b, m, s, mode, lo, hi, out: out.shape[0])
def divide_requantize(r0, r1, a, b, m, s, mode, lo, hi, out):
    """``out = clamp(round(a' M / (|b| 2**S)))`` with ``a' = a sign(b)`` on flat views, rounded by `mode`
    (requantize's codes) from the floor quotient and its remainder (`round_from_floor`, the tie rules
    `round_shift` uses too); b = 0 gives hi / lo / 0 by the sign of a.
    Python's floor division is numba's ``//`` on int64."""
    a, b, out = a[r0:r1], b[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        x = np.int64(a[i])
        d = np.int64(b[i])
        if d == 0:
            out[i] = hi if x > 0 else (lo if x < 0 else 0)
            continue
        if d < 0:
            x, d = -x, -d
        den = d << s
        n = x * m
        q = n // den
        twice_r = 2 * (n - q * den)
        out[i] = clamp(round_from_floor(q, twice_r > den, twice_r == den, mode), lo, hi)
