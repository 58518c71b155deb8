"""bpu.int_div: torch.div with rounding_mode floor / trunc, one exact integer quotient per element, then a
requantize of that integer (the dialect's formula)."""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel
from .requantize import clamp, round_shift

_LIMIT = 2**31 - 1


@kernel
def int_divide_requantize(a, b, m, s, floor, mo, so, mode, lo, hi, out):
    """``k = floor(a' M / (|b| 2**S))`` (floor) or ``sign(a') floor(|a'| M / (|b| 2**S))`` (trunc), clamped to
    +-(2**31 - 1) (b = 0: by a's sign), then ``out = clamp(round_shift(k * M_out, S_out))`` on flat views."""
    for i in numba.prange(out.shape[0]):
        x = np.int64(a[i])
        d = np.int64(b[i])
        if d == 0:
            k = np.int64(_LIMIT) if x > 0 else (np.int64(-_LIMIT) if x < 0 else np.int64(0))
        else:
            if d < 0:
                x, d = -x, -d
            num = x * m
            den = d << s
            if floor or num >= 0:
                k = num // den  # numba's // on int64 is Python's floor division
            else:
                k = -((-num) // den)
            k = min(max(k, np.int64(-_LIMIT)), np.int64(_LIMIT))
        out[i] = clamp(round_shift(k * mo, so, mode), lo, hi)
