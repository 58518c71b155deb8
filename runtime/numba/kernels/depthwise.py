"""Depthwise conv2d (one input channel per group) on NHWC codes, the requantize fused.

K = kh * kw is far too short for a GEMM to pay, so these kernels walk NHWC directly over the channels:
`depthwise_requantize` with int64 accumulators (exact for any kernel size and operand width),
`depthwise_requantize_i32` with int32 tap sums where the worst case provably fits (always for int8 codes;
the 3x3 interior in one pass over the channels, in int16 pairs where exact), and `depthwise_accumulate`
for raw accumulators. Each still counts accumulators outside the width the program declares. Split from
conv.py, which plans them (`Conv2dPlan`, route "depthwise").
"""

from __future__ import annotations

import numba
import numpy as np

from . import vnni
from .launch import kernel, row_kernel
from .requantize import HALF_UP, clamp, half_up_folded, round_shift


@numba.njit(cache=True, inline="always")
def _add_window(x, w, b, oy, ox, sh, sw, pt, pl, dh, dw, acc):
    """``acc[c] += sum of x * w`` over output pixel (oy, ox)'s taps that fall inside image `b` (int64, any
    kernel size and operand width): the int64 kernels' one window walk."""
    _, h, wd, c = x.shape
    kh, kw, _ = w.shape
    for ky in range(kh):
        iy = oy * sh - pt + ky * dh
        if iy < 0 or iy >= h:
            continue
        for kx in range(kw):
            ix = ox * sw - pl + kx * dw
            if ix < 0 or ix >= wd:
                continue
            for ci in range(c):
                acc[ci] += np.int64(x[b, iy, ix, ci]) * w[ky, kx, ci]


@kernel
def depthwise_requantize(x, w, bias, acc_lo, acc_hi, sh, sw, pt, pl, dh, dw, mult, shift, mode, lo, hi, res, res_mult,
                         out):
    """Depthwise conv (groups = C, one filter per channel) on NHWC codes with the requantize fused.

    `w` is (kh, kw, C) int32, `out` (N, OH, OW, C); `res` is a fused residual of `out`'s shape (an empty
    (0, 0, 0, 0) array when there is none). Returns the count of accumulators outside [acc_lo, acc_hi]
    (the declared accumulator width), so overflow is reported, never wrapped.
    """
    has_res = res.shape[0] > 0
    n, c = x.shape[0], x.shape[3]
    _, oh, ow, _ = out.shape
    bad = 0
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        acc = np.empty(c, dtype=np.int64)
        for ox in range(ow):
            for ci in range(c):
                acc[ci] = bias[ci]
            _add_window(x, w, b, oy, ox, sh, sw, pt, pl, dh, dw, acc)
            for ci in range(c):
                a = acc[ci]
                if a < acc_lo or a > acc_hi:
                    bad += 1
                p = a * mult[ci]
                if has_res:
                    p += np.int64(res[b, oy, ox, ci]) * res_mult[ci]
                out[b, oy, ox, ci] = clamp(round_shift(p, shift[ci], mode), lo, hi)
    return bad


@row_kernel(lambda x, *rest: x.shape[0] * rest[-1].shape[1])
def depthwise_requantize_i32(r0, r1, x, w, w16, bias, acc_lo, acc_hi, sh, sw, pt, pl, dh, dw, mult, shift, half, bm,
                             mode, lo, hi, res, res_mult, out):
    """`depthwise_requantize` with int32 tap sums, for kernels whose sums provably fit int32.

    The caller checks ``kh * kw * max|x| * max|w| < 2**31`` (always true for int8 codes), so the int32
    sum is exact; bias, the declared-width check and the requantize run in int64 as before. Flat views
    with unsigned offsets let LLVM vectorise the channel loops, and the common case (half_up, no
    residual: `half` = 2**(S-1) per channel) runs a branch-free epilogue. Measured on MobileNetV2's
    depthwise layers (one core): 1.2-2.1x the int64 kernel (14x14x576: 0.121 -> 0.057 ms).

    A `launch.RowKernel` over output rows ``r0 .. r1`` (of n * OH): its `parallel=True` twin cost 11-13
    s of MobileNetV2's cold start against the serial function's 4-5 s. Returns the rows' check count.

    `w16` is `w` as int16 when the 3x3 interior may sum taps in pairs in int16 (`pair_weights`: int8 codes
    and |w| <= 127, so ``|x0*w0 + x1*w1| <= 2 * 128 * 127 = 32512``), else an empty (0, 0, 0) array. The
    pairs are exact by that bound and let LLVM multiply and add in 16-bit lanes, widening five partial
    sums instead of nine products: 1.05-1.4x the int32 taps on MobileNetV2's depthwise shapes at batch 8
    (plans A/B in one process, 512-bit vectors, 2026-12-03).
    """
    has_res = res.shape[0] > 0
    fast = mode == HALF_UP and not has_res
    check = acc_lo != vnni.NO_CHECK[0] or acc_hi != vnni.NO_CHECK[1]
    n, h, wd, c = x.shape
    kh, kw, _ = w.shape
    _, oh, ow, _ = out.shape
    xf = x.reshape(-1)
    wf = w.reshape(-1)
    w16f = w16.reshape(-1)
    pairs16 = w16.shape[0] == 3
    of = out.reshape(-1)
    rf = res.reshape(-1)
    uc = np.uint64(c)
    # output columns whose 3 taps all fall inside the image (the 3x3 interior path below)
    ox_lo = min(ow, max(0, -(-pl // sw)))
    ox_hi = max(ox_lo, min(ow, (wd - 1 - 2 * dw + pl) // sw + 1)) if kw == 3 else ox_lo
    bad = 0
    acc = np.empty(c, dtype=np.int32)
    for r in range(r0, r1):
        b = r // oh
        oy = r % oh
        iy0 = oy * sh - pt
        interior_row = kh == 3 and kw == 3 and fast and not check and iy0 >= 0 and iy0 + 2 * dh < h
        for ox in range(ow):
            o0 = np.uint64(((b * oh + oy) * ow + ox) * c)
            if interior_row and ox_lo <= ox < ox_hi:
                # 3x3 interior pixel, half_up, no residual, no possible overflow: all nine taps and the
                # requantize in one pass over the channels, the sum in registers (3x the tap-by-tap loop
                # with its accumulator array on MobileNetV2's 112x112x32 layer)
                ix0 = ox * sw - pl
                s0 = np.uint64(((b * h + iy0) * wd + ix0) * c)
                s1 = s0 + np.uint64(dw * c)
                s2 = s1 + np.uint64(dw * c)
                row = np.uint64(dh * wd * c)
                s3, s4, s5 = s0 + row, s1 + row, s2 + row
                s6, s7, s8 = s3 + row, s4 + row, s5 + row
                # two passes over the channels: the nine taps in int32 (16 lanes), then the int64 requantize
                # with the bias folded (``bm = bias * M + 2**(S-1)``, `half_up_folded`). In one loop LLVM
                # vectorised both at the requantize's 8 int64 lanes, about 60 instructions per 8 outputs with
                # pointer reloads: 0.43-0.65 -> 0.33-0.46 ns per output (same-run A/B, C = 16-384)
                if pairs16:
                    for ci in range(uc):
                        acc[ci] = (np.int32(np.int16(np.int16(xf[s0 + ci]) * w16f[ci]
                                                     + np.int16(xf[s1 + ci]) * w16f[uc + ci]))
                                   + np.int32(np.int16(np.int16(xf[s2 + ci]) * w16f[2 * uc + ci]
                                                       + np.int16(xf[s3 + ci]) * w16f[3 * uc + ci]))
                                   + np.int32(np.int16(np.int16(xf[s4 + ci]) * w16f[4 * uc + ci]
                                                       + np.int16(xf[s5 + ci]) * w16f[5 * uc + ci]))
                                   + np.int32(np.int16(np.int16(xf[s6 + ci]) * w16f[6 * uc + ci]
                                                       + np.int16(xf[s7 + ci]) * w16f[7 * uc + ci]))
                                   + np.int32(np.int16(np.int16(xf[s8 + ci]) * w16f[8 * uc + ci])))
                else:
                    for ci in range(uc):
                        acc[ci] = np.int32(
                            np.int32(xf[s0 + ci]) * wf[ci] + np.int32(xf[s1 + ci]) * wf[uc + ci]
                            + np.int32(xf[s2 + ci]) * wf[2 * uc + ci] + np.int32(xf[s3 + ci]) * wf[3 * uc + ci]
                            + np.int32(xf[s4 + ci]) * wf[4 * uc + ci] + np.int32(xf[s5 + ci]) * wf[5 * uc + ci]
                            + np.int32(xf[s6 + ci]) * wf[6 * uc + ci] + np.int32(xf[s7 + ci]) * wf[7 * uc + ci]
                            + np.int32(xf[s8 + ci]) * wf[8 * uc + ci])
                # M in [0, 2**31) (the planners refuse others) and the int32 sum: both factors sign-extended
                # from 32 bits, so LLVM multiplies with `vpmuldq`, not `vpmullq`'s three uops per 8 lanes
                # (docs/design.md, "The depthwise interior's multiply is 32-bit too")
                for ci in range(uc):
                    of[o0 + ci] = half_up_folded(np.int64(acc[ci]), np.int64(np.int32(mult[ci])), bm[ci], shift[ci],
                                                 lo, hi)
                continue
            for ci in range(uc):
                acc[ci] = 0
            for ky in range(kh):
                iy = oy * sh - pt + ky * dh
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = ox * sw - pl + kx * dw
                    if ix < 0 or ix >= wd:
                        continue
                    src = np.uint64(((b * h + iy) * wd + ix) * c)
                    tap = np.uint64((ky * kw + kx) * c)
                    for ci in range(uc):
                        acc[ci] += np.int32(xf[src + ci]) * wf[tap + ci]
            if fast:
                for ci in range(uc):
                    a = np.int64(acc[ci]) + bias[ci]
                    bad += (a < acc_lo) | (a > acc_hi)
                    of[o0 + ci] = half_up_folded(a, mult[ci], half[ci], shift[ci], lo, hi)
            else:
                for ci in range(uc):
                    a = np.int64(acc[ci]) + bias[ci]
                    if a < acc_lo or a > acc_hi:
                        bad += 1
                    p = a * mult[ci]
                    if has_res:
                        p += np.int64(rf[o0 + ci]) * res_mult[ci]
                    of[o0 + ci] = clamp(round_shift(p, shift[ci], mode), lo, hi)
    return bad


_NO_W16 = np.zeros((0, 0, 0), np.int16)


def pair_weights(w_dw: np.ndarray, x_dtype: np.dtype, w_abs: int) -> np.ndarray:
    """The (3, 3, C) depthwise weights as int16 when two taps' products sum exactly in int16: int8 codes
    (|x| <= 128) and |w| <= 127, so ``|x0*w0 + x1*w1| <= 32512``; else `_NO_W16` (the int32 taps run).
    A weight of -128 (outside the contract's [-127, 127], possible in a hand-written program) would reach
    2 * 128 * 128 = 32768, one past int16."""
    if x_dtype == np.int8 and w_abs <= 127 and w_dw.shape[:2] == (3, 3):
        return np.ascontiguousarray(w_dw.astype(np.int16))
    return _NO_W16


@kernel
def depthwise_accumulate(x, w, sh, sw, pt, pl, dh, dw, out):
    """Depthwise accumulators (no bias) into int64 NHWC `out`, for raw outputs and fused residuals."""
    n, oh, ow, _ = out.shape
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            acc = out[b, oy, ox]
            acc[:] = 0
            _add_window(x, w, b, oy, ox, sh, sw, pt, pl, dh, dw, acc)
