"""Requantize: the one rounding step of the fixed-point contract, as Numba scalar helpers and kernels.

Every integer op that rescales (conv/linear epilogues, add/sub/mul, concat, average pool) ends in
``sat(round_shift(p, S)) `` followed by the fused activation's clamp, where ``p`` is an int64 product
(``acc * M``, or a sum of such products for the element-wise ops) and the rounding mode decides exact
ties (docs/design.md, "Parameters and per-op integer semantics"). Keeping that step in one inlined
helper means every kernel rounds the same way, and the GEMM epilogue gets it fused for free.

Rounding modes are small integers inside kernels (Numba specialises on them cheaply); `ROUNDING`
maps the names used by the bpu dialect and `irq.fixedpoint.ROUNDING_MODES` to them.
"""

from __future__ import annotations

import numba
import numpy as np

from .launch import row_kernel

HALF_UP, HALF_EVEN, HALF_AWAY, FLOOR = 0, 1, 2, 3
#: Image rows per task of `quantize_to_nhwc` (each task allocates one row buffer).
QUANTIZE_ROWS = 16
#: Rounding mode name (bpu dialect / irq.fixedpoint) -> kernel code.
ROUNDING: dict[str, int] = {"half_up": HALF_UP, "half_even": HALF_EVEN, "half_away": HALF_AWAY, "floor": FLOOR}


def rounding_code(name: str) -> int:
    """Kernel code of a rounding mode name, with an error naming the valid ones."""
    try:
        return ROUNDING[name]
    except KeyError:
        raise ValueError(f"unknown rounding mode '{name}' (expected one of {', '.join(ROUNDING)})") from None


@numba.njit(inline="always", cache=True)
def round_from_floor(q: np.int64, above_half: bool, tie: bool, mode: int) -> np.int64:
    """The integer a quotient rounds to by `mode`, from its floor `q` and whether its fraction is above
    one half or exactly one half: the one statement of the four modes' tie rules, for a power-of-two
    divisor (`round_shift`) and a general one (`divide.divide_requantize`) alike. The reference runtime's
    `arithmetic.round_from_floor` is the same rule on arrays.
    """
    # 0/1 integers, not `and`/`or` on bools: with those LLVM branched on the parity or the sign of q,
    # which random data mispredicts (bpu.div 0.27 -> 0.56 ms for 65,536 elements in one mode or another)
    above, at_tie = np.int64(above_half), np.int64(tie)
    if mode == HALF_UP:
        up = above | at_tie
    elif mode == HALF_EVEN:
        up = above | (at_tie & q)  # bit 0: a tie rounds up from an odd floor
    elif mode == HALF_AWAY:
        up = above | (at_tie & np.int64(q >= 0))  # a tie above zero rounds up, below zero stays (away from 0)
    else:
        up = np.int64(0)
    return q + (up & 1)


@numba.njit(inline="always", cache=True)
def round_shift(p: np.int64, s: np.int64, mode: int) -> np.int64:
    """``p / 2**s`` rounded to an integer by `mode`; ``p`` is exact int64, ``1 <= s <= 62``.

    half_up is ``(p + 2**(s-1)) >> s`` (ties toward +inf, TFLite single rounding) and floor the bare
    arithmetic shift: both branch free, and equal to `round_from_floor` on the floor and remainder.
    half_even and half_away only differ from half_up on exact ties and go through `round_from_floor`.
    """
    if mode == FLOOR:
        return p >> s
    half = np.int64(1) << (s - 1)
    if mode == HALF_UP:
        return (p + half) >> s
    q = p >> s
    r = p - (q << s)
    return round_from_floor(q, r > half, r == half, mode)


@numba.njit(inline="always", cache=True)
def half_up_folded(acc, m, bm, s, lo, hi):
    """``clamp((acc * M + bm) >> S, lo, hi)``: the half_up requantize with its constant folded in.

    ``bm = bias * M + 2**(S-1)`` (plus a fused residual's ``res * M_res`` where there is one), so
    ``(acc + bias) * M + 2**(S-1)`` costs one multiply and one add per output. The two are the same
    int64 (equal modulo 2**64, so the bits agree even where a product wraps). The one definition of the
    branch-free half_up step of every Numba route (tile epilogue rows, depthwise, small matmuls);
    `vnni_microkernel._store_codes` emits the same steps on 16-lane int64 vectors, and the tests pin
    both against int64 and the reference runtime.
    """
    return min(max((acc * m + bm) >> s, lo), hi)


@numba.njit(inline="always", cache=True)
def clamp(v: np.int64, lo: np.int64, hi: np.int64) -> np.int64:
    """Saturation and the fused activation's clamp in one: `lo`/`hi` are already their intersection."""
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@row_kernel(lambda acc, mult, shift, mode, lo, hi, out: acc.shape[0])
def requantize_channels(r0, r1, acc, mult, shift, mode, lo, hi, out):
    """``out[..., c] = clamp(round_shift(acc[..., c] * M[c], S[c]))`` on 2-D views (rows, channels).

    `acc` is any integer array (int32 or int64 accumulators); `mult`/`shift` have one entry per
    channel (a per-tensor requantize passes arrays of length C filled with the same value).
    """
    acc, out = acc[r0:r1], out[r0:r1]
    rows, ch = acc.shape
    for i in range(rows):
        for c in range(ch):
            p = np.int64(acc[i, c]) * mult[c]
            out[i, c] = clamp(round_shift(p, shift[c], mode), lo, hi)


@row_kernel(lambda acc, res, mult, res_mult, shift, mode, lo, hi, out: acc.shape[0])
def requantize_axis(r0, r1, acc, res, mult, res_mult, shift, mode, lo, hi, out):
    """Requantize on 3-D views (outer, C, inner) with per-channel parameters along the middle axis.

    ``out = clamp(round_shift(acc * M[c] + res * Mr[c], S[c]))``; `res` is an empty (0, 0, 0) array when
    the op has no fused residual. Returns how many inputs had ``|acc| >= 2**32`` (whose product with M
    could overflow int64): the executor raises on any.
    """
    acc, res, out = acc[r0:r1], res[r0:r1], out[r0:r1]
    outer, ch, inner = acc.shape
    has_res = res.shape[0] > 0
    bad = 0
    limit = np.int64(1) << 32
    for o in range(outer):
        for c in range(ch):
            m = mult[c]
            s = shift[c]
            for i in range(inner):
                a = np.int64(acc[o, c, i])
                if a >= limit or a <= -limit:
                    bad += 1
                p = a * m
                if has_res:
                    p += np.int64(res[o, c, i]) * res_mult[c]
                out[o, c, i] = clamp(round_shift(p, s, mode), lo, hi)
    return bad


@row_kernel(lambda x, scale, lo, hi, out: out.shape[0])
def quantize(r0, r1, x, scale, lo, hi, out):
    """float -> codes: ``clamp(round_half_even(float64(x) / float64(scale)))`` on flat arrays (NaN -> 0)."""
    x, out = x[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        v = np.rint(np.float64(x[i]) / scale)
        if v != v:
            out[i] = 0
        elif v < lo:
            out[i] = lo
        elif v > hi:
            out[i] = hi
        else:
            out[i] = np.int64(v)


@row_kernel(lambda q, scale, out: q.shape[0])
def dequantize(r0, r1, q, scale, out):
    """codes -> float32: ``float32(float64(q) * float64(scale[c]))`` on (outer, C, inner) views."""
    q, out = q[r0:r1], out[r0:r1]
    outer, ch, inner = q.shape
    for o in range(outer):
        for c in range(ch):
            s = scale[c]
            for i in range(inner):
                out[o, c, i] = np.float32(np.float64(q[o, c, i]) * s)


@row_kernel(lambda x, lo, hi, out: out.shape[0])
def clamp_codes(r0, r1, x, lo, hi, out):
    """``out = min(max(x, lo), hi)`` on flat arrays (relu/relu6 on a quantized value)."""
    x, out = x[r0:r1], out[r0:r1]
    for i in range(out.shape[0]):
        out[i] = clamp(np.int64(x[i]), lo, hi)


@row_kernel(lambda x, scale, lo, hi, out: -(-(x.shape[0] * x.shape[2]) // QUANTIZE_ROWS))
def quantize_to_nhwc(blk0, blk1, x, scale, lo, hi, out):
    """`quantize` reading NCHW floats and writing NHWC codes: the model input lands in the conv layout.

    Each image row is quantized channel by channel into a planar row buffer (contiguous reads, a
    branch-free body: NaN -> 0 and the clamp as selects, so it vectorises), then interleaved into the
    NHWC row. For C = 3 (an RGB input) the interleave is written out as three stores per pixel, which
    LLVM turns into vector shuffles: MobileNetV2's 8x3x224x224 input 1.13 -> 0.19 ms (one core; the
    channel-strided stores of one pass took 1.13, a generic interleave loop 0.70).

    A `launch.RowKernel` over blocks ``blk0 .. blk1`` of `QUANTIZE_ROWS` image rows (no parallel wrapper
    to compile: launch.py).
    """
    n, c, h, w = x.shape
    flo, fhi = np.float64(lo), np.float64(hi)
    of = out.reshape(-1)
    uc, uw = np.uint64(c), np.uint64(w)
    rows = n * h
    buf = np.empty(c * w, out.dtype)  # one planar row buffer per call, not per row
    for blk in range(blk0, blk1):
        for r in range(blk * QUANTIZE_ROWS, min(rows, (blk + 1) * QUANTIZE_ROWS)):
            b = r // h
            y = r % h
            for ci in range(c):
                for xx in range(w):
                    v = np.rint(np.float64(x[b, ci, y, xx]) / scale)
                    v = 0.0 if v != v else min(max(v, flo), fhi)
                    buf[ci * w + xx] = np.int64(v)
            o = np.uint64(r) * uw * uc
            if c == 3:
                for xx in range(uw):
                    d = o + xx * np.uint64(3)
                    of[d] = buf[xx]
                    of[d + np.uint64(1)] = buf[uw + xx]
                    of[d + np.uint64(2)] = buf[uw + uw + xx]
            else:
                for xx in range(uw):
                    for ci in range(uc):
                        of[o + xx * uc + ci] = buf[ci * uw + xx]
