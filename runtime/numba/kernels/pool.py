"""Pooling and nearest resize on NHWC codes.

Max pool and nearest resize do no arithmetic (codes pass through, the scale is unchanged). Average
pool sums its window exactly in int64 and requantizes with the (M, S) pair of that position's
divisor, from a table indexed by the divisor, so border windows (count_include_pad=False) round
exactly like the reference; global average pool is the single-divisor case.
"""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel, row_kernel
from .requantize import clamp, round_shift


@kernel
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


@kernel
def avg_pool(x, kh, kw, sh, sw, pt, pl, count_include_pad, divisor_override, mult, shift, mode, lo, hi, out):
    """Window sum, then requantize with ``(mult[n], shift[n])`` where n is that window's divisor.

    The divisor follows torch.nn.AvgPool2d: the window clipped to the padded input (count_include_pad)
    or to the image, or `divisor_override` when > 0. `mult`/`shift` are indexed by the divisor itself
    (the executor scatters the op's `divisors` table into them; a 0 shift marks a divisor the table
    lacks). Returns how many windows had such a missing divisor (0 when the table is complete).
    """
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    missing = 0
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        acc = np.zeros(c, dtype=np.int64)
        y0 = oy * sh - pt
        y1 = min(y0 + kh, h + pt)
        ya, yb = max(y0, 0), min(y1, h)
        for ox in range(ow):
            x0 = ox * sw - pl
            x1 = min(x0 + kw, w + pl)
            xa, xb = max(x0, 0), min(x1, w)
            acc[:] = 0
            for iy in range(ya, yb):
                for ix in range(xa, xb):
                    for ci in range(c):
                        acc[ci] += x[b, iy, ix, ci]
            if divisor_override > 0:
                d = divisor_override
            elif count_include_pad:
                d = (y1 - y0) * (x1 - x0)
            else:
                d = (yb - ya) * (xb - xa)
            if d <= 0 or d >= shift.shape[0] or shift[d] == 0:
                missing += 1
                d = 0
            for ci in range(c):
                out[b, oy, ox, ci] = clamp(round_shift(acc[ci] * mult[d], max(shift[d], 1), mode), lo, hi)
    return missing


@row_kernel(lambda x, m, s, mode, lo, hi, out: x.shape[0])
def global_avg_pool(b0, b1, x, m, s, mode, lo, hi, out):
    """Sum over H*W per (n, c), then one requantize: `out` is (N, C). A `launch.RowKernel` over images
    ``b0 .. b1``: its `parallel=True` twin was a compile of its own for a kernel a network calls once."""
    n, h, w, c = x.shape
    for b in range(b0, b1):
        acc = np.zeros(c, dtype=np.int64)
        for iy in range(h):
            for ix in range(w):
                for ci in range(c):
                    acc[ci] += x[b, iy, ix, ci]
        for ci in range(c):
            out[b, ci] = clamp(round_shift(acc[ci] * m, s, mode), lo, hi)


@kernel
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


@kernel
def bilinear(x, y0, y1, wy0, wy1, x0, x1, wx0, wx1, m, s, mode, lo, hi, out):
    """Bilinear resize with F-bit fixed-point weights (planned per axis), then one requantize.

    ``acc = sum over the 4 neighbours of x * ly * lx`` exactly in int64 (scale 2**-2F), then
    ``sat(round_shift(acc * M, S))``, as the bpu dialect defines it.
    """
    n = x.shape[0]
    c = x.shape[3]
    oh = y0.shape[0]
    ow = x0.shape[0]
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        ya, yb, la, lb = y0[oy], y1[oy], wy0[oy], wy1[oy]
        for ox in range(ow):
            xa, xb, ka, kb = x0[ox], x1[ox], wx0[ox], wx1[ox]
            for ci in range(c):
                acc = (np.int64(x[b, ya, xa, ci]) * la * ka + np.int64(x[b, ya, xb, ci]) * la * kb
                       + np.int64(x[b, yb, xa, ci]) * lb * ka + np.int64(x[b, yb, xb, ci]) * lb * kb)
                out[b, oy, ox, ci] = clamp(round_shift(acc * m, s, mode), lo, hi)
