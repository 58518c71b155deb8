"""2-D convolution on NHWC codes: a direct or im2col exact GEMM, and a direct depthwise kernel.

On a VNNI CPU, int8 and int16 convs with one group and stride 1 (MobileNetV2's 1x1 expansions and
projections, ResNet-style 3x3s), or an equal stride over at most 128 channels (`direct_route`), run
*directly*: the input is copied once into a zero-bordered NHWC buffer (C padded to 4) and the VNNI GEMM
reads its rows in place, one K slice per tap, with the requantize fused per tile (`vnni.py`, module
doc). Other int8 convs (grouped, wider strided ones) on VNNI become one GEMM per group over
`im2col_bytes` rows, the same fused kernel writing each group's output columns. Everything else (int16
outside the direct route, no VNNI) writes float codes for the exact float GEMM (`gemm.py`,
`im2col_rows`). In both im2col forms each output pixel's (group, ky, kx, c) window is one row (padding
reads as code 0: zero point 0), so group g's reduction is a contiguous K slice and the GEMM result is
already NHWC. Depthwise convs (one input channel per group) have K = kh * kw, far too short for a GEMM
to pay; `depthwise_requantize` walks NHWC directly with int64 accumulators per channel (exact for any
kernel size; each is still checked against the width the program declares) and the requantize fused.
"""

from __future__ import annotations

import numba
import numpy as np

from . import vnni
from .launch import kernel, row_kernel
from .requantize import HALF_UP, clamp, half_up_folded, round_shift
from .vnni import pad_copy, pad_split16, pad_transpose, transposes_into_pad

#: Float scratch per conv row tile (im2col rows + GEMM result): about an L2 cache.
TILE_BYTES = 1 << 20
#: ...but at least this many output pixels per tile, so each BLAS call stays a real GEMM.
MIN_TILE_PIXELS = 256


def vnni_route(x_dtype: np.dtype, weight: np.ndarray, k: int) -> bool:
    """True when a GEMM of `x_dtype` activations and `weight` over K = `k` runs exactly on VNNI.

    Needs int8 activations, weights whose values fit int8 (constants may be stored wider), K within
    the int32 lane bound, and the CPU feature; anything else takes the float route.
    """
    if np.dtype(x_dtype) != np.int8 or k > vnni.MAX_K or not vnni.available():
        return False
    if weight.dtype == np.int8:
        return True
    return weight.dtype.kind == "i" and (weight.size == 0 or (weight.min() >= -128 and weight.max() <= 127))


#: Strided convs run direct up to this many channels per pixel (C padded to 4). The direct route reads
#: every stride-th padded pixel of each output row in place, one output row per "image" (`row_images`);
#: im2col copies each tap's C bytes per output pixel first. Measured 2026-12-03 (session 24, one thread,
#: the conv step alone, both routes in one process, best of 4 rounds; AMX / VNNI): the 3-channel stems
#: go 4.2-4.8x faster direct (7x7 s2 3->64 at 224: 5.6 -> 1.2 ms), 3x3 s2 convs of 16-128 channels
#: 1.05-1.61x / 1.06-1.62x; from 256 channels im2col wins (3x3 s2 256->256 at 28x28 0.85x / 0.86x,
#: 512->512 at 14x14 0.39x / 0.81x: the rows' long K keeps im2col's GEMM efficient and a short output
#: row leaves the direct route's blocks part-empty). Until then the rule was K <= 64 (the 3-channel 3x3
#: stem only), set when the direct route still computed and dropped every other row.
DIRECT_STRIDED_MAX_C = 128


def direct_route(x_dtype: np.dtype, weight: np.ndarray, c: int, stride: tuple[int, int], groups: int) -> bool:
    """True when the conv runs as a direct VNNI GEMM over the padded input (no im2col; module doc).

    Needs one group, int8 or int16 activations and int8-valued weights within the lane bound, and
    stride 1 or an equal stride on both axes with at most `DIRECT_STRIDED_MAX_C` channels. C is padded
    to a multiple of 4 in the copy (each tap's K slice on a 4-byte boundary).
    """
    o, cg, kh, kw = weight.shape
    if groups != 1 or np.dtype(x_dtype) not in (np.int8, np.int16):
        return False
    sh, sw = stride
    cp = -(-c // 4) * 4
    k = kh * kw * cp
    if (sh, sw) != (1, 1) and (sh != sw or cp > DIRECT_STRIDED_MAX_C):
        return False
    return vnni_route(np.dtype(np.int8), weight, k)


def out_size(size: int, k: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Output extent of one spatial axis (PyTorch's formula)."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


@kernel
def im2col_rows(x, r0, r1, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, groups, group_stride, offset, cols):
    """Rows of `cols` are the receptive fields of NHWC `x` plus `offset`, in (g, ky, kx, c) order.

    Group g's kh*kw*Cg taps start at column ``g * group_stride`` (the VNNI route pads each group to a
    multiple of 4 columns; the pad is never written). `offset` is 0 for the float route and 128 for
    the VNNI route's unsigned bytes. Only output image rows ``r0 <= n*OH + oy < r1`` (one row tile)
    are written, from `cols` row 0 on. Out-of-image taps are code 0 (zero point 0), i.e. `offset`.
    Parallel over output rows (n, oy).
    """
    n, h, w, c = x.shape
    cg = c // groups
    for rr in numba.prange(r1 - r0):
        r = r0 + rr
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            row = rr * ow + ox
            for g in range(groups):
                base = g * group_stride
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        col = base + (ky * kw + kx) * cg
                        if iy < 0 or iy >= h or ix < 0 or ix >= w:
                            for ci in range(cg):
                                cols[row, col + ci] = offset
                        else:
                            for ci in range(cg):
                                cols[row, col + ci] = np.int32(x[b, iy, ix, g * cg + ci]) + offset


@kernel
def im2col_bytes(xb, r0, r1, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, groups, group_stride, cols):
    """`im2col_rows` for the VNNI route: int8 codes copied as bytes (`xb`, `cols` uint8); padding taps are 0.

    The VNNI micro-kernel flips the sign bit itself, so codes are copied unchanged. Indices into flat
    views are unsigned on purpose: Numba wraps negative signed indices with a select per element,
    which kept LLVM from vectorising the channel copy (0.31 ms against 0.028 ms for the 56x56x64 3x3
    conv's 1232-row tile).
    """
    n, h, w, c = xb.shape
    cg = c // groups
    xf = xb.reshape(-1)
    cf = cols.reshape(-1)
    ld = cols.shape[1]
    ucg = np.uint64(cg)
    zero = np.uint8(0)
    for rr in numba.prange(r1 - r0):
        r = r0 + rr
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            row = rr * ow + ox
            for g in range(groups):
                base = g * group_stride
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        d = np.uint64(row * ld + base + (ky * kw + kx) * cg)
                        if iy < 0 or iy >= h or ix < 0 or ix >= w:
                            for ci in range(ucg):
                                cf[d + ci] = zero
                        else:
                            src = np.uint64(((b * h + iy) * w + ix) * c + g * cg)
                            for ci in range(ucg):
                                cf[d + ci] = xf[src + ci]


@kernel
def depthwise_requantize(x, w, bias, acc_lo, acc_hi, sh, sw, pt, pl, dh, dw, mult, shift, mode, lo, hi, res, res_mult,
                         out):
    """Depthwise conv (groups = C, one filter per channel) on NHWC codes with the requantize fused.

    `w` is (kh, kw, C) int32, `out` (N, OH, OW, C); `res` is a fused residual of `out`'s shape (an empty
    (0, 0, 0, 0) array when there is none). Returns the count of accumulators outside [acc_lo, acc_hi]
    (the declared accumulator width), so overflow is reported, never wrapped.
    """
    has_res = res.shape[0] > 0
    n, h, wd, c = x.shape
    kh, kw, _ = w.shape
    _, oh, ow, _ = out.shape
    bad = 0
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        acc = np.empty(c, dtype=np.int64)
        for ox in range(ow):
            for ci in range(c):
                acc[ci] = bias[ci]
            for ky in range(kh):
                iy = oy * sh - pt + ky * dh
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = ox * sw - pl + kx * dw
                    if ix < 0 or ix >= wd:
                        continue
                    for ci in range(c):
                        acc[ci] += np.int32(x[b, iy, ix, ci]) * w[ky, kx, ci]
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


#: Grouped convs run as one dense conv over a block-diagonal weight (`block_diagonal`) when their input has at
#: most this many channels, or, for 1x1 convs, their groups have under `DENSE_GROUP_MAX_K` channels, for at most
#: `DENSE_MAX_GROUPS` groups. Why: one GEMM per group of a few channels runs at 1-60 GMAC/s, the dense conv
#: at 70-310 even with `groups` times the MACs (the zeros). Measured 2026-12-03 (session 24, one thread, the
#: conv step alone, 28x28, grouped / dense): 64 channels 1x1 g2 110 / 48 us, g32 1256 / 48; 128 3x3 g4
#: 553 / 411, g32 3367 / 411; 256 1x1 g8 386 / 244 (merged to 64 channels: 316; the dense 1x1 reads its
#: input in place, a grouped one through im2col). Past 128 channels a kxk conv's groups are merged to 64
#: channels instead (`group_merge`): 256 3x3 g32 as given / dense / merged 3805 / 1314 / 941 us, at
#: 56x56 6507 (dense) / 3763 (merged), g16 949 / 942 (dense / merged).
DENSE_GROUP_MAX_CHANNELS = 128
DENSE_GROUP_MAX_K = 128
DENSE_MAX_GROUPS = 64
#: Otherwise groups of fewer channels are merged up to this many channels (`group_merge`): one 64-column
#: panel of the GEMM when the merged group has as many outputs as inputs.
MERGED_GROUP_CHANNELS = 64


def block_diagonal_pays(c: int, groups: int, cg: int, kh: int, kw: int) -> bool:
    """True when a conv of `groups` groups of `cg` channels runs faster as one dense conv (module constants)."""
    return groups <= DENSE_MAX_GROUPS and (c <= DENSE_GROUP_MAX_CHANNELS or (kh * kw == 1 and cg < DENSE_GROUP_MAX_K))


def group_merge(c: int, groups: int, cg: int, kh: int, kw: int) -> int:
    """How many neighbouring groups `Conv2dPlan` merges into one: all of them (one dense conv) where that pays,
    else as many as keep a merged group within `MERGED_GROUP_CHANNELS` channels (1: the groups as given).

    Why merge at all where the dense conv does not pay: one GEMM per group of under 64 channels stays slow
    even with a long K. Measured (2026-12-03, session 24, one thread, the conv step alone, as given / merged
    to 64 channels, best of 6 rounds in one process): 3x3 512 g32 at 14x14 1184 / 734 us, 256 g8 at 28x28
    1181 / 916, 1024 g32 at 7x7 5259 / 2643, 512 g16 at 7x7 1272 / 729, 384 g12 at 14x14 707 / 479."""
    if block_diagonal_pays(c, groups, cg, kh, kw):
        return groups
    if cg >= MERGED_GROUP_CHANNELS:
        return 1
    return max(m for m in range(1, groups + 1) if groups % m == 0 and cg * m <= MERGED_GROUP_CHANNELS)


def block_diagonal(weight: np.ndarray, groups: int, merge: int) -> np.ndarray:
    """The (O, C / groups * merge, kh, kw) weight of a grouped (O, C / groups, kh, kw) one whose groups are merged
    `merge` at a time: within each merged group, group g's filters on its own channels and zeros elsewhere.
    Exact: a zero weight adds nothing, and every output's sum of |w| (the accumulator bound) is unchanged."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    merged = np.zeros((o, cg * merge, kh, kw), weight.dtype)
    for g in range(groups):
        at = g % merge
        merged[g * og:(g + 1) * og, at * cg:(at + 1) * cg] = weight[g * og:(g + 1) * og]
    return merged


class Conv2dPlan:
    """One conv2d's packed weights and buffers, planned once; calls run it with no allocation.

    `weight` is OIHW int codes (the IR layout), `bias` int per output channel (or None). The epilogue is
    either a fused requantize (`requantize`, optional residual) or the raw high-precision accumulator
    (`raw`). `acc_range` is the declared accumulator's (min, max). `route` is "depthwise", "direct"
    (VNNI over the padded input), "im2col" (VNNI over im2col rows) or "float" (module doc).
    """

    def __init__(self, x_shape: tuple[int, int, int, int], x_dtype: np.dtype, weight: np.ndarray,
                 bias: np.ndarray | None, stride: tuple[int, int], padding: tuple[int, int, int, int],
                 dilation: tuple[int, int], groups: int, acc_range: tuple[int, int]):
        n, h, w, c = x_shape
        o, cg, kh, kw = weight.shape
        if c != cg * groups or o % groups:
            raise ValueError(f"conv2d: weight {weight.shape} does not fit {c} input channels in {groups} groups")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        pt, pl, pb, pr = padding
        self.oh = out_size(h, kh, stride[0], pt, pb, dilation[0])
        self.ow = out_size(w, kw, stride[1], pl, pr, dilation[1])
        if self.oh <= 0 or self.ow <= 0:
            raise ValueError(f"conv2d: empty output for input {x_shape} and kernel {kh}x{kw}")
        self.out_shape = (n, self.oh, self.ow, o)
        self.kh, self.kw = kh, kw
        self.in_channels, self.in_width = c, w
        self.nchw = False  # the input arrives NHWC unless the planner hands it over as NCHW (`take_nchw`)
        self.bias = np.zeros(o, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(o)
        self.acc_lo, self.acc_hi = acc_range
        self._half_of = vnni.CachedHalf()  # 2**(S-1) per channel, for this plan's `shift` array
        x_abs = 128 if np.dtype(x_dtype) == np.int8 else 32768
        w_cols = np.moveaxis(np.asarray(weight), 0, -1).reshape(-1, o)  # (cg*kh*kw, O): each output's taps
        if np.dtype(x_dtype) in (np.int8, np.int16) and vnni.accumulator_proven(w_cols, self.bias, x_abs, acc_range):
            self.acc_lo, self.acc_hi = vnni.NO_CHECK
        depthwise = groups == c and o == c and cg == 1
        merge = group_merge(c, groups, cg, kh, kw) if groups > 1 and not depthwise else 1
        if merge > 1:
            weight, groups, cg = block_diagonal(weight, groups, merge), groups // merge, cg * merge
            self.groups = groups
        if depthwise:
            self.route = "depthwise"
            self.w_dw = np.ascontiguousarray(weight[:, 0].transpose(1, 2, 0)).astype(np.int32)
            x_abs = 128 if np.dtype(x_dtype) == np.int8 else 32768
            w_abs = int(np.abs(weight.astype(np.int64)).max()) if weight.size else 0
            # int32 tap sums are exact when even the worst case fits (always, for int8 codes)
            self.dw_int32 = kh * kw * x_abs * w_abs < 2**31 and np.dtype(x_dtype) in (np.int8, np.int16)
            self.w_dw16 = pair_weights(self.w_dw, np.dtype(x_dtype), w_abs)
        elif direct_route(x_dtype, weight, c, stride, groups):
            self.route = "direct"
            self._plan_direct(x_shape, np.dtype(x_dtype), weight)
        else:
            og = o // groups
            kg = kh * kw * cg
            # B for group g: (kg, og), rows in (ky, kx, c) order to match im2col
            w_groups = [weight[g * og:(g + 1) * og].transpose(2, 3, 1, 0).reshape(kg, og) for g in range(groups)]
            self.route = "im2col" if vnni_route(x_dtype, weight, kg) else "float"
            self._plan_im2col(x_shape, x_dtype, weight, w_groups, kg, og)
        self.vnni = self.route in ("direct", "im2col")

    def _plan_direct(self, x_shape, x_dtype: np.dtype, weight: np.ndarray) -> None:
        """The zero-bordered input buffer(s), the taps' byte offsets and the packed (taps * Cp, O) weight.

        Channels are padded to Cp (a multiple of 4) with zero codes and zero weights. With stride s,
        virtual row v = oy * Wp + ox starts at byte ``v * s * Cp`` = padded pixel (s * oy, s * ox), so
        rows with ox >= OW (about (s - 1) / s of them) are computed and dropped.
        """
        n, h, w, c = x_shape
        o, _, kh, kw = weight.shape
        pt, pl, pb, pr = self.padding
        dh, dw = self.dilation
        s = self.stride[0]
        cp = -(-c // 4) * 4
        hp, wp = h + pt + pb, w + pl + pr
        self.dual = x_dtype == np.int16
        # a 1x1 unpadded stride-1 int8 conv reads the activation itself; everything else a padded copy
        self.in_place = not self.dual and kh == kw == 1 and not any(self.padding) and s == 1 and cp == c
        self.pad_shape = (n, hp, wp, cp)
        # the last virtual rows reach about s image rows plus (kw - 1) * dw pixels past the last image
        size = n * hp * wp * cp
        slack = (s * wp + (kw - 1) * dw + 1) * cp + 64
        if self.dual:
            self.x_hi = np.zeros(size + slack, np.int8)
            self.x_lo = np.full(size + slack, -128, np.int8)  # code 0's lo byte, 0 ^ 0x80
            self.pad_views = (self.x_hi[:size].reshape(self.pad_shape), self.x_lo[:size].reshape(self.pad_shape))
            self.a_bytes, self.a_lo = self.x_hi.view(np.uint8), self.x_lo.view(np.uint8)
        elif not self.in_place:
            self.x_pad = np.zeros(size + slack, np.int8)
            # the padded buffer's NHWC view, made once: a call's np.prod and reshape cost microseconds, about 2%
            # of the 56x56 3x3 conv
            self.pad_views = (self.x_pad[:size].reshape(self.pad_shape),)
            self.a_bytes, self.a_lo = self.x_pad.view(np.uint8), _NO_LO
        else:
            self.a_lo = _NO_LO
        if dw == 1:
            # the kw taps of one kernel row are one contiguous run of kw * Cp bytes (and B's rows are in the
            # same (ky, kx, c) order): one tap per kernel row with a kw times longer K. The micro-kernel's
            # inner loop over 16 k-steps per tap ran at 314 GMAC/s on the 56x56 64->64 3x3 conv, 48 at 3xx
            self.taps = np.array([ky * dh * wp * cp for ky in range(kh)], np.int64)
            k4 = kw * cp // 4
        else:
            self.taps = np.array([(ky * dh * wp + kx * dw) * cp for ky in range(kh) for kx in range(kw)], np.int64)
            k4 = cp // 4
        self.geometry = (s * cp, self.taps, k4, n, hp * wp * cp, self.oh * wp, wp, self.ow)
        # Strided: the kernel's "images" are output rows (OW virtual rows each, s * Wp * Cp bytes apart), so
        # no virtual row is computed and dropped (half of them at stride 2: the 3->32 stem at batch 8
        # 3.0 -> 2.2-2.3 ms, batch 1 0.47 -> 0.35); at stride 1 only (kw - 1) * dw per row are, and whole
        # images keep the row blocks full.
        self.row_images = s > 1
        w_pad = np.zeros((kh, kw, cp, o), np.int64)
        w_pad[:, :, :c] = weight.transpose(2, 3, 1, 0)
        self.gemm = vnni.VnniGemm(w_pad.reshape(kh * kw * cp, o), self.dual)
        self.bias = self.bias + self.gemm.correction

    def _plan_im2col(self, x_shape, x_dtype, weight, w_groups, kg: int, og: int) -> None:
        """Row tiles, the im2col buffer and one GEMM per group (VNNI or exact float)."""
        from .gemm import ExactGemm, float_route

        n, h, w, c = x_shape
        o = weight.shape[0]
        groups = self.groups
        if self.route == "im2col":
            kstride, elem, col_dtype = vnni.padded_k(kg), 1, np.uint8
            self.gemms = [vnni.VnniGemm(wg) for wg in w_groups]
            self.bias = self.bias + np.concatenate([g.correction for g in self.gemms])
            out_elem = 0  # the epilogue writes codes straight from the tile
        else:
            fdt, chunk = float_route(x_dtype, weight.dtype if weight.dtype != np.int64 else np.int8)
            kstride, elem, col_dtype = kg, np.dtype(fdt).itemsize, fdt
            self.w_packed = [np.ascontiguousarray(wg).astype(fdt) for wg in w_groups]
            out_elem = elem
        # Row tiles: im2col, GEMM and epilogue run per block of output image rows, so the scratch
        # (cols + GEMM result) stays about TILE_BYTES whatever the batch size; one untiled pass made it
        # grow with N*OH*OW (38 MB for MobileNetV2's 112x112 16->96 expansion at batch 8), out of cache.
        row_bytes = self.ow * (groups * kstride * elem + o * out_elem)
        self.tile_rows = max(1, min(n * self.oh, max(TILE_BYTES // row_bytes, -(-MIN_TILE_PIXELS // self.ow))))
        m = self.tile_rows * self.ow
        # the VNNI route's pad columns (kg..kstride) are never written: any byte meets a zero weight
        self.cols = np.zeros((m, groups * kstride), dtype=col_dtype)
        self.cols_flat = self.cols.reshape(-1)
        if self.route == "float":
            work = n * self.oh * self.ow * kg * og
            self.gemms = [ExactGemm(m, kg, og, fdt, chunk, work) for _ in range(groups)]
            self.acc_full = np.empty((m, o), np.int64) if groups > 1 else None
        else:
            self.group_taps = [np.array([g * kstride], np.int64) for g in range(groups)]
        self.kg, self.og, self.kstride = kg, og, kstride

    def tiles(self):
        """(first image row, end image row, first pixel, end pixel) of each row tile."""
        total = self.out_shape[0] * self.oh
        for r0 in range(0, total, self.tile_rows):
            r1 = min(total, r0 + self.tile_rows)
            yield r0, r1, r0 * self.ow, r1 * self.ow

    def _im2col(self, x: np.ndarray, r0: int, r1: int) -> None:
        (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
        if self.route == "im2col":
            im2col_bytes(x.view(np.uint8), r0, r1, self.oh, self.ow, self.kh, self.kw, sh, sw, pt, pl, dh, dw,
                         self.groups, self.kstride, self.cols)
        else:
            im2col_rows(x, r0, r1, self.oh, self.ow, self.kh, self.kw, sh, sw, pt, pl, dh, dw, self.groups,
                        self.kstride, 0, self.cols)

    def accumulate(self, x: np.ndarray, r0: int, r1: int) -> np.ndarray:
        """The float route's accumulator of output image rows [r0, r1) without bias, ((r1-r0)*OW, O)."""
        m = (r1 - r0) * self.ow
        self._im2col(x, r0, r1)
        if self.groups == 1:
            return self.gemms[0].result(self.cols[:m], self.w_packed[0])
        ks = self.kstride
        for g in range(self.groups):
            part = self.gemms[g].result(self.cols[:m, g * ks:(g + 1) * ks], self.w_packed[g])
            self.acc_full[:m, g * self.og:(g + 1) * self.og] = part[:, :self.og]
        return self.acc_full[:m]

    @property
    def reads_nchw(self) -> bool:
        """True when the direct route can take its input in NCHW (`take_nchw`): the int8 padded copy is then a
        16 x 16 block transpose (`vnni.pad_transpose`), and the planner skips the NCHW -> NHWC conversion."""
        return (self.route == "direct" and not self.dual and not self.in_place
                and transposes_into_pad(self.in_channels, self.in_width, self.pad_shape[3]))

    def take_nchw(self) -> None:
        """From now on `requantize` / `raw` receive the input as NCHW (only when `reads_nchw`)."""
        assert self.reads_nchw
        self.nchw = True

    def _pad(self, x: np.ndarray) -> None:
        """The direct route's copy of `x` into the padded A buffer (none when it reads `x` in place)."""
        pt, pl = self.padding[0], self.padding[1]
        if self.nchw:
            pad_transpose(x, pt, pl, self.pad_views[0])
        elif self.dual:
            pad_split16(x, pt, pl, *self.pad_views)
        elif not self.in_place:
            pad_copy(x, pt, pl, self.pad_views[0])

    def _direct_args(self, x: np.ndarray, epilogue: tuple, out2: np.ndarray) -> tuple:
        """`vnni.VnniGemm.run`'s arguments for the direct route on input `x` (padded first by `_pad`)."""
        a_bytes = x.reshape(-1).view(np.uint8) if self.in_place else self.a_bytes
        lda, taps, k4, images, image_bytes, vrows, wp_, ow = self.geometry
        if not self.row_images:
            return (a_bytes, self.a_lo, lda, taps, k4, images, image_bytes, vrows, wp_, ow, 0, self.bias, self.acc_lo,
                    self.acc_hi, epilogue, out2)
        row_bytes = self.stride[0] * wp_ * self.pad_shape[3]
        return (a_bytes, self.a_lo, lda, taps, k4, images * self.oh, image_bytes, ow, ow, ow, 0, self.bias,
                self.acc_lo, self.acc_hi, epilogue, out2, self.oh, row_bytes)

    def _fused_epilogue(self, out, mult, shift, mode, lo, hi, res, res_mult) -> tuple[tuple, np.ndarray]:
        """(`vnni.VnniGemm.run`'s requantize epilogue, `out` as 2-D rows of output channels)."""
        o = out.shape[-1]
        res2 = _NO_RES if res is None else res.reshape(-1, o)
        rm = _NO_RES_MULT if res is None else res_mult
        return (mult, shift, self._half_of(shift), mode, lo, hi, res2, rm, False), out.reshape(-1, o)

    def bind_requantize(self, x, out, mult, shift, mode, lo, hi, res=None, res_mult=None):
        """`requantize` on these arrays as a zero-argument callable, each kernel call packed once per thread
        count (`bound_call`: the direct route's padded copy and GEMM, `vnni.VnniGemm.bind`, or the int32
        depthwise kernel), or None on the other routes. Only for arrays that live as long as the callable
        and never change."""
        if self.route == "depthwise":
            if not self.dw_int32:
                return None
            return depthwise_requantize_i32.bind(*self._depthwise_i32_args(x, out, mult, shift, mode, lo, hi, res,
                                                                           res_mult))
        if self.route != "direct":
            return None
        epilogue, out2 = self._fused_epilogue(out, mult, shift, mode, lo, hi, res, res_mult)
        gemm = self.gemm.bind(*self._direct_args(x, epilogue, out2))
        pad = self._bind_pad(x)
        if pad is None:
            return gemm

        def padded_then_gemm() -> int:
            pad()
            return gemm()

        return padded_then_gemm

    def _bind_pad(self, x: np.ndarray):
        """`_pad(x)` as a bound zero-argument call, None when the route reads `x` in place."""
        pt, pl = self.padding[0], self.padding[1]
        if self.nchw:
            return pad_transpose.bind(x, pt, pl, self.pad_views[0])
        if self.dual:
            return pad_split16.bind(x, pt, pl, *self.pad_views)
        return None if self.in_place else pad_copy.bind(x, pt, pl, self.pad_views[0])

    def _depthwise_i32_args(self, x, out, mult, shift, mode, lo, hi, res, res_mult) -> tuple:
        """`depthwise_requantize_i32`'s arguments for `requantize` on these arrays."""
        (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
        if res is None:
            res, res_mult = _NO_RES4, _NO_RES_MULT
        half = self._half_of(shift)
        bm = self._folded_bias(mult, half)
        return (x, self.w_dw, self.w_dw16, self.bias, self.acc_lo, self.acc_hi, sh, sw, pt, pl, dh, dw, mult, shift,
                half, bm, mode, lo, hi, res, res_mult, out)

    def _vnni_run(self, x: np.ndarray, epilogue: tuple, out2: np.ndarray) -> int:
        """Direct or im2col VNNI GEMM with the fused `epilogue` (see `vnni.VnniGemm.run`) into 2-D `out2`."""
        if self.route == "direct":
            self._pad(x)
            return self.gemm.run(*self._direct_args(x, epilogue, out2))
        mult, shift, half, mode, lo, hi, res, res_mult, raw = epilogue
        lda = self.cols.shape[1]
        bad = 0
        for r0, r1, p0, p1 in self.tiles():
            self._im2col(x, r0, r1)
            m = p1 - p0
            tile_ep = (mult, shift, half, mode, lo, hi, res[p0:p1] if res.shape[0] else res, res_mult, raw)
            for g, gemm in enumerate(self.gemms):
                bad += gemm.run(self.cols_flat, _NO_LO, lda, self.group_taps[g], self.kstride // 4, 1, 0, m, m, m,
                                g * self.og, self.bias, self.acc_lo, self.acc_hi, tile_ep, out2[p0:p1])
        return bad

    def requantize(self, x, out, mult, shift, mode, lo, hi, res=None, res_mult=None) -> int:
        """Conv + fused requantize into NHWC `out`; returns the accumulator out-of-range count."""
        from .gemm import epilogue_requantize

        if self.route == "depthwise":
            if self.dw_int32:
                return depthwise_requantize_i32(*self._depthwise_i32_args(x, out, mult, shift, mode, lo, hi, res,
                                                                          res_mult))
            (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
            if res is None:
                res, res_mult = _NO_RES4, _NO_RES_MULT
            return depthwise_requantize(x, self.w_dw, self.bias, self.acc_lo, self.acc_hi, sh, sw, pt, pl, dh, dw,
                                        mult, shift, mode, lo, hi, res, res_mult, out)
        epilogue, out2 = self._fused_epilogue(out, mult, shift, mode, lo, hi, res, res_mult)
        if self.vnni:
            return self._vnni_run(x, epilogue, out2)
        res2, rm = epilogue[6:8]  # the float route's residual rows and multipliers
        bad = 0
        for r0, r1, p0, p1 in self.tiles():
            acc = self.accumulate(x, r0, r1)
            tile_res = res2[p0:p1] if res is not None else _NO_RES
            bad += epilogue_requantize(acc, self.bias, self.acc_lo, self.acc_hi, mult, shift, mode, lo, hi,
                                       tile_res, rm, out2[p0:p1])
        return bad

    def _folded_bias(self, mult: np.ndarray, half: np.ndarray) -> np.ndarray:
        """``bias * M + 2**(S-1)`` per channel (int64, wrapping like the kernels' own arithmetic), computed on
        the first call for these `mult` / `half` arrays: the depthwise interior's folded constant."""
        key = (id(mult), id(half))
        if getattr(self, "_bm_key", None) != key:
            with np.errstate(over="ignore"):
                self._bm = self.bias * np.asarray(mult, np.int64) + half
            self._bm_key, self._bm_refs = key, (mult, half)  # the refs keep the ids from being reused
        return self._bm

    def raw(self, x, out) -> int:
        """Conv with the high-precision accumulator as output (int32/int64 NHWC `out`)."""
        from .gemm import epilogue_raw

        o = out.shape[-1]
        if self.route == "depthwise":
            return epilogue_raw(self._depthwise_acc(x), self.bias, self.acc_lo, self.acc_hi, out.reshape(-1, o))
        out2 = out.reshape(-1, o)
        if self.vnni:
            return self._vnni_run(x, (_NO_RES_MULT, _NO_RES_MULT, _NO_RES_MULT, 0, 0, 0, _NO_RES, _NO_RES_MULT,
                                      True), out2)
        return sum(epilogue_raw(self.accumulate(x, r0, r1), self.bias, self.acc_lo, self.acc_hi, out2[p0:p1])
                   for r0, r1, p0, p1 in self.tiles())

    def _depthwise_acc(self, x):
        """Depthwise accumulators without bias, via the direct kernel with an identity requantize."""
        o = self.out_shape[-1]
        if not hasattr(self, "_dw_acc"):
            self._dw_acc = np.empty(self.out_shape, np.int64)
        (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
        depthwise_accumulate(x, self.w_dw, sh, sw, pt, pl, dh, dw, self._dw_acc)
        return self._dw_acc.reshape(-1, o)


_NO_LO = np.zeros(0, np.uint8)
_NO_RES = np.zeros((0, 0), np.int8)
_NO_RES4 = np.zeros((0, 0, 0, 0), np.int8)
_NO_RES_MULT = np.zeros(0, np.int64)


@kernel
def depthwise_accumulate(x, w, sh, sw, pt, pl, dh, dw, out):
    """Depthwise accumulators (no bias) into int64 NHWC `out`, for raw outputs and fused residuals."""
    n, h, wd, c = x.shape
    kh, kw, _ = w.shape
    _, oh, ow, _ = out.shape
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            for ci in range(c):
                out[b, oy, ox, ci] = 0
            for ky in range(kh):
                iy = oy * sh - pt + ky * dh
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = ox * sw - pl + kx * dw
                    if ix < 0 or ix >= wd:
                        continue
                    for ci in range(c):
                        out[b, oy, ox, ci] += np.int64(x[b, iy, ix, ci]) * w[ky, kx, ci]
