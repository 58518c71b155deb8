"""Pooling and nearest resize on NHWC codes.

Max pool and nearest resize do no arithmetic (codes pass through, the scale is unchanged). Average
pool sums its window exactly in int64 and requantizes with the (M, S) pair of that position's
divisor, from a table indexed by the divisor, so border windows (count_include_pad=False) round
exactly like the reference; global average pool is the single-divisor case.
"""

from __future__ import annotations

import numba
import numpy as np

from .requantize import clamp, round_shift


@numba.njit(parallel=True, cache=True)
def max_pool(x, kh, kw, sh, sw, pt, pl, dh, dw, out):
    """Max over each window; padded taps never win (they are skipped, not read as 0)."""
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            for ci in range(c):
                out[b, oy, ox, ci] = x[b, 0, 0, ci]  # overwritten by the first valid tap below
            first = True
            for ky in range(kh):
                iy = oy * sh - pt + ky * dh
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = ox * sw - pl + kx * dw
                    if ix < 0 or ix >= w:
                        continue
                    if first:
                        for ci in range(c):
                            out[b, oy, ox, ci] = x[b, iy, ix, ci]
                        first = False
                    else:
                        for ci in range(c):
                            v = x[b, iy, ix, ci]
                            if v > out[b, oy, ox, ci]:
                                out[b, oy, ox, ci] = v


@numba.njit(parallel=True, cache=True)
def avg_pool(x, kh, kw, sh, sw, pt, pl, count_include_pad, mult, shift, mode, lo, hi, out):
    """Window sum, then requantize with ``(mult[n], shift[n])`` where n is that window's divisor.

    The divisor is kh*kw when padding counts, else the number of in-image taps.
    """
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        acc = np.zeros(c, dtype=np.int64)
        for ox in range(ow):
            acc[:] = 0
            cnt = 0
            for ky in range(kh):
                iy = oy * sh - pt + ky
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = ox * sw - pl + kx
                    if ix < 0 or ix >= w:
                        continue
                    cnt += 1
                    for ci in range(c):
                        acc[ci] += x[b, iy, ix, ci]
            d = kh * kw if count_include_pad else cnt
            for ci in range(c):
                out[b, oy, ox, ci] = clamp(round_shift(acc[ci] * mult[d], shift[d], mode), lo, hi)


@numba.njit(parallel=True, cache=True)
def global_avg_pool(x, m, s, mode, lo, hi, out):
    """Sum over H*W per (n, c), then one requantize: `out` is (N, C)."""
    n, h, w, c = x.shape
    for b in numba.prange(n):
        acc = np.zeros(c, dtype=np.int64)
        for iy in range(h):
            for ix in range(w):
                for ci in range(c):
                    acc[ci] += x[b, iy, ix, ci]
        for ci in range(c):
            out[b, ci] = clamp(round_shift(acc[ci] * m, s, mode), lo, hi)


@numba.njit(parallel=True, cache=True)
def gather_rows_cols(x, src_y, src_x, out):
    """Nearest resize: ``out[b, oy, ox, :] = x[b, src_y[oy], src_x[ox], :]`` (indices planned once)."""
    n = x.shape[0]
    oh = src_y.shape[0]
    ow = src_x.shape[0]
    c = x.shape[3]
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        iy = src_y[oy]
        for ox in range(ow):
            ix = src_x[ox]
            for ci in range(c):
                out[b, oy, ox, ci] = x[b, iy, ix, ci]
