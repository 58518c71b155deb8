"""bpu.div: one exact, half-up rounded integer division per element (the dialect's formula)."""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel
from .requantize import clamp


@kernel
def divide_requantize(a, b, m, s, lo, hi, out):
    """``out = clamp(floor((2 a' M + |b| 2**S) / (2 |b| 2**S)))`` with ``a' = a sign(b)`` on flat views;
    b = 0 gives hi / lo / 0 by the sign of a. Python's floor division is numba's ``//`` on int64."""
    for i in numba.prange(out.shape[0]):
        x = np.int64(a[i])
        d = np.int64(b[i])
        if d == 0:
            out[i] = hi if x > 0 else (lo if x < 0 else 0)
            continue
        if d < 0:
            x, d = -x, -d
        den = d << s
        out[i] = clamp((2 * x * m + den) // (2 * den), lo, hi)
