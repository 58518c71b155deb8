"""The two-slope requantize of bpu.prelu: one rounding per element with the multiplier of its sign."""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel
from .requantize import clamp, round_shift


@kernel
def prelu_requantize(x, m, mn, s, mode, lo, hi, out):
    """``out[i, c, k] = clamp(round_shift(x * (x >= 0 ? M[c] : Mn[c]), S[c]))`` on (outer, C, inner) views;
    |x| <= 2**15 and |M| < 2**31 keep every product inside int64."""
    for i in numba.prange(x.shape[0]):
        for c in range(x.shape[1]):
            for k in range(x.shape[2]):
                v = np.int64(x[i, c, k])
                mult = m[c] if v >= 0 else mn[c]
                out[i, c, k] = clamp(round_shift(v * mult, s[c], mode), lo, hi)
