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
to pay: their kernels walk NHWC directly (depthwise.py). Which route a conv takes is conv_routes.py.
"""

from __future__ import annotations

import numba
import numpy as np

from . import vnni
from .conv_routes import block_diagonal, direct_route, group_merge, vnni_route
from .depthwise import depthwise_accumulate, depthwise_requantize, depthwise_requantize_i32, pair_weights
from .launch import kernel
from .vnni import pad_copy, pad_split16, pad_transpose, transposes_into_pad

#: Float scratch per conv row tile (im2col rows + GEMM result): about an L2 cache.
TILE_BYTES = 1 << 20
#: ...but at least this many output pixels per tile, so each BLAS call stays a real GEMM.
MIN_TILE_PIXELS = 256


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

    def _pad_call(self, x: np.ndarray) -> tuple | None:
        """(kernel, arguments) of the direct route's copy of `x` into the padded A buffer, None when it reads
        `x` in place: run by `_pad`, bound once by `_bind_pad`."""
        pt, pl = self.padding[0], self.padding[1]
        if self.nchw:
            return pad_transpose, (x, pt, pl, self.pad_views[0])
        if self.dual:
            return pad_split16, (x, pt, pl, *self.pad_views)
        return None if self.in_place else (pad_copy, (x, pt, pl, self.pad_views[0]))

    def _pad(self, x: np.ndarray) -> None:
        """The direct route's copy of `x` into the padded A buffer (none when it reads `x` in place)."""
        call = self._pad_call(x)
        if call is not None:
            call[0](*call[1])

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
        call = self._pad_call(x)
        return None if call is None else call[0].bind(*call[1])

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
