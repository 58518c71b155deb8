"""A tiny, slow, obviously-correct int64 oracle for the Numba kernels (NCHW, Python-level rounding).

Independent of the runtime on purpose: rounding goes through `divmod` on Python ints, convolution
through padded slicing and einsum, pools through explicit windows. The reference runtime
(runtime/reference) is the project's oracle; this one lets the kernels be tested on their own.
"""

from __future__ import annotations

import numpy as np


def round_shift(p: int, s: int, mode: str) -> int:
    """p / 2**s rounded by `mode`, on Python ints."""
    q, r = divmod(int(p), 1 << s)  # floor division: q = floor(p / 2**s), 0 <= r < 2**s
    half = 1 << (s - 1)
    if mode == "floor":
        return q
    if r > half:
        return q + 1
    if r < half:
        return q
    # exact tie
    if mode == "half_up":
        return q + 1
    if mode == "half_even":
        return q + (q & 1)
    if mode == "half_away":
        return q + 1 if p > 0 else q
    raise ValueError(mode)


def requantize(p: np.ndarray, s, mode: str, lo: int, hi: int) -> np.ndarray:
    """Element-wise round_shift of int64 products `p` (shift broadcast like p), then clamp."""
    p = np.asarray(p, dtype=object)
    s = np.broadcast_to(np.asarray(s, dtype=object), p.shape)
    out = np.empty(p.shape, dtype=np.int64)
    flat_p, flat_s, flat_o = p.reshape(-1), s.reshape(-1), out.reshape(-1)
    for i in range(flat_p.size):
        flat_o[i] = min(hi, max(lo, round_shift(int(flat_p[i]), int(flat_s[i]), mode)))
    return out


def conv2d(x, w, b, stride, padding, dilation, groups) -> np.ndarray:
    """NCHW int64 conv: padding (top, left, bottom, right), zeros outside the image."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    pt, pl, pb, pr = padding
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow), np.int64)
    og = o // groups
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                y0, x0 = ky * dilation[0], kx * dilation[1]
                patch = xp[:, g * cg:(g + 1) * cg, y0:y0 + stride[0] * (oh - 1) + 1:stride[0],
                           x0:x0 + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, ky, kx])
    if b is not None:
        out += np.asarray(b, np.int64).reshape(1, -1, 1, 1)
    return out


def conv2d_nhwc(x_nhwc, w_oihw, stride, padding, dilation):
    """Direct int64 convolution, NHWC in and out, one group (the Numba conv kernels' own layout)."""
    n, h, wd, c = x_nhwc.shape
    o, _, kh, kw = w_oihw.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = stride, padding, dilation
    xp = np.pad(x_nhwc.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, oh, ow, o), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, ky * dh:ky * dh + sh * (oh - 1) + 1:sh, kx * dw:kx * dw + sw * (ow - 1) + 1:sw, :]
            out += patch @ w_oihw[:, :, ky, kx].astype(np.int64).T
    return out


def windows(h: int, k: int, s: int, p: int, d: int = 1):
    """In-image tap indices of each output position along one axis (no ceil mode)."""
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    return [[o * s - p + t * d for t in range(k) if 0 <= o * s - p + t * d < h] for o in range(oh)]
