"""Transposed 2-D convolution of codes, as a gather over NHWC (no scatter buffer, no per-call allocation).

torch's ConvTranspose2d scatters ``x[iy, ix] * w[ki, kj]`` into ``out[iy*sh + ki*dh - ph, ...]``; the
reference runtime does exactly that into a zero-filled int64 image. Read backwards, each output pixel
gathers the taps with ``oy + ph - ki*dh = iy*sh`` for an integer ``0 <= iy < H``, so a thread owns whole
output rows and writes each element once: the sums are the same integers (int64, order-independent).
Output positions no input reaches (output_padding) hold the bias alone, as in the scatter form.
"""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel


def pack_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """torch's [Cin, Cout/g, KH, KW] -> [KH, KW, Cout, Cin/g] int64, so the inner loop runs over input channels."""
    cin, cout_g, kh, kw = w.shape
    wg = w.astype(np.int64).reshape(groups, cin // groups, cout_g, kh, kw)
    return np.ascontiguousarray(wg.transpose(3, 4, 0, 2, 1).reshape(kh, kw, groups * cout_g, cin // groups))


@kernel
def conv_transpose2d_nhwc(x, wp, bias, sh, sw, ph, pw, dh, dw, lo, hi, out):
    """``out[b, oy, ox, co] = bias[co] + sum x[b, iy, ix, ci] * w[ci, co, ki, kj]`` over the taps that reach it.

    `x` is NHWC codes, `wp` the packed weight, `bias` int64 per output channel (zeros when absent);
    returns how many sums fell outside [lo, hi], the declared accumulator's range (the caller raises).
    """
    n, h, wd, cin = x.shape
    kh, kw, cout, cin_g = wp.shape
    _, oh, ow, _ = out.shape
    cout_g = cout // (cin // cin_g)
    bad = 0
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            for co in range(cout):
                c0 = (co // cout_g) * cin_g
                acc = bias[co]
                for ki in range(kh):
                    ty = oy + ph - ki * dh
                    if ty < 0 or ty % sh != 0:
                        continue
                    iy = ty // sh
                    if iy >= h:
                        continue
                    for kj in range(kw):
                        tx = ox + pw - kj * dw
                        if tx < 0 or tx % sw != 0:
                            continue
                        ix = tx // sw
                        if ix >= wd:
                            continue
                        for ci in range(cin_g):
                            acc += np.int64(x[b, iy, ix, c0 + ci]) * wp[ki, kj, co, ci]
                if acc < lo or acc > hi:
                    bad += 1
                out[b, oy, ox, co] = acc
    return bad
