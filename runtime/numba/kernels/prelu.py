"""The two-slope requantize of bpu.prelu: one rounding per element with the multiplier of its sign."""

from __future__ import annotations

import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_shift


@row_kernel(lambda x, m, mn, s, mode, lo, hi, out: x.shape[0])
def prelu_requantize(r0, r1, x, m, mn, s, mode, lo, hi, out):
    """``out[i, c, k] = clamp(round_shift(x * (x >= 0 ? M[c] : Mn[c]), S[c]))`` on (outer, C, inner) views;
    |x| <= 2**15 and |M| < 2**31 keep every product inside int64."""
    x, out = x[r0:r1], out[r0:r1]
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            for k in range(x.shape[2]):
                v = np.int64(x[i, c, k])
                mult = m[c] if v >= 0 else mn[c]
                out[i, c, k] = clamp(round_shift(v * mult, s[c], mode), lo, hi)
