"""bpu.log_softmax along the middle axis of (outer, n, inner) views: the softmax's max-subtract and exp table,
an exact row sum, its integer log2 (leading bit + mantissa table), one rounding per element."""

from __future__ import annotations

import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_shift


@row_kernel(lambda x, exp_table, log_table, span, e_bits, b, f, m, ml, s, mode, lo, hi, out: x.shape[0])
def log_softmax_rows(r0, r1, x, exp_table, log_table, span, e_bits, b, f, m, ml, s, mode, lo, hi, out):
    """``L = (k - E) 2**F + log_table[((sum >> (k - B - 1)) + 1) >> 1 - 2**B]`` with k the sum's leading bit
    (the verifier proved sum >= 2**E > 2**(B + 1)), then ``clamp(round_shift(d M - L M_log, S))``."""
    x, out = x[r0:r1], out[r0:r1]
    outer, n, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            mx = np.int64(x[o, 0, i])
            for c in range(1, n):
                mx = max(mx, np.int64(x[o, c, i]))
            total = np.int64(0)
            for c in range(n):
                total += np.int64(exp_table[np.int64(x[o, c, i]) - mx + span])
            k = np.int64(0)
            v = total
            while v > 1:
                v >>= 1
                k += 1
            t = total >> (k - b - 1)
            j = ((t + 1) >> 1) - (np.int64(1) << b)
            log2_sum = ((k - e_bits) << f) + np.int64(log_table[j])
            for c in range(n):
                d = np.int64(x[o, c, i]) - mx
                out[o, c, i] = clamp(round_shift(d * m - log2_sum * ml, s, mode), lo, hi)
