"""2-D convolution on NHWC codes: im2col into the exact float GEMM, and a direct depthwise kernel.

General and grouped convolutions become one GEMM per group: `im2col` writes, for every output pixel,
the (group, ky, kx, c) window as one row of float codes (padding reads as code 0: zero point 0), so
group g's reduction is a contiguous K slice and the GEMM result is already NHWC. Depthwise convs
(one input channel per group) have K = kh * kw, far too short for a GEMM to pay; `depthwise_requantize`
walks NHWC directly with int64 accumulators per channel (exact for any kernel size; each is still
checked against the width the program declares) and the requantize fused.
"""

from __future__ import annotations

import numba
import numpy as np

from .requantize import clamp, round_shift


def out_size(size: int, k: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Output extent of one spatial axis (PyTorch's formula)."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


@numba.njit(parallel=True, cache=True)
def im2col_rows(x, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, groups, cols):
    """Rows of `cols` (N*OH*OW, groups*kh*kw*Cg) are the receptive fields of NHWC `x`, in (g, ky, kx, c) order.

    Out-of-image taps are zeros (zero point 0). Parallel over output rows (n, oy).
    """
    n, h, w, c = x.shape
    cg = c // groups
    kg = kh * kw * cg
    for r in numba.prange(n * oh):
        b = r // oh
        oy = r % oh
        for ox in range(ow):
            row = (b * oh + oy) * ow + ox
            for g in range(groups):
                base = g * kg
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        col = base + (ky * kw + kx) * cg
                        if iy < 0 or iy >= h or ix < 0 or ix >= w:
                            for ci in range(cg):
                                cols[row, col + ci] = 0
                        else:
                            for ci in range(cg):
                                cols[row, col + ci] = x[b, iy, ix, g * cg + ci]


@numba.njit(parallel=True, cache=True)
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


class Conv2dPlan:
    """One conv2d's packed weights and buffers, planned once; `__call__` runs it with no allocation.

    `weight` is OIHW int codes (the IR layout), `bias` int per output channel (or None). The epilogue is
    either a fused requantize (`requant=(mult, shift, mode, lo, hi)`, optional residual) or the raw
    high-precision accumulator. `acc_range` is the declared accumulator's (min, max).
    """

    def __init__(self, x_shape: tuple[int, int, int, int], x_dtype: np.dtype, weight: np.ndarray,
                 bias: np.ndarray | None, stride: tuple[int, int], padding: tuple[int, int, int, int],
                 dilation: tuple[int, int], groups: int, acc_range: tuple[int, int]):
        from .gemm import ExactGemm, float_route

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
        self.bias = np.zeros(o, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(o)
        self.acc_lo, self.acc_hi = acc_range
        self.depthwise = groups == c and o == c and cg == 1
        if self.depthwise:
            self.w_dw = np.ascontiguousarray(weight[:, 0].transpose(1, 2, 0)).astype(np.int32)
            return
        fdt, chunk = float_route(x_dtype, weight.dtype if weight.dtype != np.int64 else np.int8)
        og = o // groups
        kg = kh * kw * cg
        # B for group g: (kg, og), rows in (ky, kx, c) order to match im2col
        self.w_packed = [np.ascontiguousarray(weight[g * og:(g + 1) * og].transpose(2, 3, 1, 0).reshape(kg, og))
                         .astype(fdt) for g in range(groups)]
        m = n * self.oh * self.ow
        self.cols = np.empty((m, groups * kg), dtype=fdt)
        self.gemms = [ExactGemm(m, kg, og, fdt, chunk) for _ in range(groups)]
        self.acc_full = np.empty((m, o), np.int64) if groups > 1 else None
        self.kg, self.og = kg, og

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        """The (N*OH*OW, O) accumulator without bias (GEMM route only)."""
        (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
        im2col_rows(x, self.oh, self.ow, self.kh, self.kw, sh, sw, pt, pl, dh, dw, self.groups, self.cols)
        if self.groups == 1:
            return self.gemms[0].result(self.cols, self.w_packed[0])
        for g, gemm in enumerate(self.gemms):
            part = gemm.result(self.cols[:, g * self.kg:(g + 1) * self.kg], self.w_packed[g])
            self.acc_full[:, g * self.og:(g + 1) * self.og] = part
        return self.acc_full

    def requantize(self, x, out, mult, shift, mode, lo, hi, res=None, res_mult=None) -> int:
        """Conv + fused requantize into NHWC `out`; returns the accumulator out-of-range count."""
        from .gemm import epilogue_requantize

        if self.depthwise:
            (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
            if res is None:
                res, res_mult = _NO_RES4, _NO_RES_MULT
            return depthwise_requantize(x, self.w_dw, self.bias, self.acc_lo, self.acc_hi, sh, sw, pt, pl, dh, dw,
                                        mult, shift, mode, lo, hi, res, res_mult, out)
        acc = self.accumulate(x)
        o = out.shape[-1]
        if res is None:
            res2, res_mult = _NO_RES, _NO_RES_MULT
        else:
            res2 = res.reshape(-1, o)
        return epilogue_requantize(acc, self.bias, self.acc_lo, self.acc_hi, mult, shift, mode, lo, hi,
                                   res2, res_mult, out.reshape(-1, o))

    def raw(self, x, out) -> int:
        """Conv with the high-precision accumulator as output (int32/int64 NHWC `out`)."""
        from .gemm import epilogue_raw

        acc = self.accumulate(x) if not self.depthwise else self._depthwise_acc(x)
        o = out.shape[-1]
        return epilogue_raw(acc, self.bias, self.acc_lo, self.acc_hi, out.reshape(-1, o))

    def _depthwise_acc(self, x):
        """Depthwise accumulators without bias, via the direct kernel with an identity requantize."""
        o = self.out_shape[-1]
        if not hasattr(self, "_dw_acc"):
            self._dw_acc = np.empty(self.out_shape, np.int64)
            self._dw_one = np.ones(o, np.int64)
            self._dw_zero_bias = np.zeros(o, np.int64)
        (sh, sw), (pt, pl, _, _), (dh, dw) = self.stride, self.padding, self.dilation
        depthwise_accumulate(x, self.w_dw, sh, sw, pt, pl, dh, dw, self._dw_acc)
        return self._dw_acc.reshape(-1, o)


_NO_RES = np.zeros((0, 0), np.int8)
_NO_RES4 = np.zeros((0, 0, 0, 0), np.int8)
_NO_RES_MULT = np.zeros(0, np.int64)


@numba.njit(parallel=True, cache=True)
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
