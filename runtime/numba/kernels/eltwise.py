"""Element-wise integer kernels: add/sub/mul with requantize, lookup tables, requantize-into-slice (concat).

Operands arrive as flat, same-length views (the executor expands broadcasts once, into a planned
buffer); every output is rounded once, as the contract says: add/sub compute
``a * M_a +/- b * M_b`` in int64 before the shared shift, mul computes ``a * b * M``.
"""

from __future__ import annotations

import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_shift


@row_kernel(lambda a, b, ma, mb, sign, s, mode, lo, hi, out: out.shape[0])
def add_requantize(r0, r1, a, b, ma, mb, sign, s, mode, lo, hi, out):
    """``out = clamp(round_shift(a * M_a + sign * b * M_b, S))``; sign is +1 (add) or -1 (sub)."""
    a, b, out = a[r0:r1], b[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        p = np.int64(a[i]) * ma + sign * (np.int64(b[i]) * mb)
        out[i] = clamp(round_shift(p, s, mode), lo, hi)


@row_kernel(lambda a, b, m, s, mode, lo, hi, out: out.shape[0])
def mul_requantize(r0, r1, a, b, m, s, mode, lo, hi, out):
    """``out = clamp(round_shift(a * b * M, S))`` (int16 x int16 products are < 2**30, times M < 2**61)."""
    a, b, out = a[r0:r1], b[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        p = np.int64(a[i]) * np.int64(b[i]) * m
        out[i] = clamp(round_shift(p, s, mode), lo, hi)


@row_kernel(lambda x, table, qmin, out: out.shape[0])
def lookup(r0, r1, x, table, qmin, out):
    """``out = table[x - qmin]``: one entry per input code (256 for int8, 65536 for int16)."""
    x, out = x[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        out[i] = table[np.int64(x[i]) - qmin]


@row_kernel(lambda src, m, s, mode, lo, hi, dst, col0: src.shape[0])
def requantize_into(r0, r1, src, m, s, mode, lo, hi, dst, col0):
    """``dst[:, col0:col0+C] = clamp(round_shift(src * M, S))`` for contiguous 2-D (rows, C) `src` and (rows, W)
    `dst`: one concat input.

    The identity rescale (M = 2**30, S = 30) is exact, so it takes the copy path. Flat views with unsigned
    indices: ``dst[i, col0 + c]`` kept each signed index's negative-index select and the row loops did not
    vectorise (a 512x384 int8 input into a 512x1152 output took 165 us, 5 us this way; one core, 2026-12-02).
    """
    src, dst = src[r0:r1], dst[r0:r1]
    rows, ch = src.shape
    identity = m == (np.int64(1) << s)
    flat_src, flat_dst = src.reshape(-1), dst.reshape(-1)
    uch, uw, uc0 = np.uint64(ch), np.uint64(dst.shape[1]), np.uint64(col0)
    for i in range(rows):
        s0 = np.uint64(i) * uch
        d0 = np.uint64(i) * uw + uc0
        if identity:
            for c in range(uch):
                flat_dst[d0 + c] = min(max(np.int64(flat_src[s0 + c]), lo), hi)
        else:
            for c in range(uch):
                flat_dst[d0 + c] = clamp(round_shift(np.int64(flat_src[s0 + c]) * m, s, mode), lo, hi)
