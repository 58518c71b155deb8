"""Linear (activation x constant weight) and matmul (activation x activation) on an exact GEMM.

int8 and int16 linears with int8-valued weights on a VNNI CPU run the int8 GEMM with the epilogue
fused (`vnni.py`: int8 rows read in place, int16 rows split into exact byte planes, the offsets folded
into the bias); so do matmuls of two activations (the right operand packed at run time). Everything
else (weights or right operands wider than int8, no VNNI) casts its integer operands into planned
float buffers (`gemm.to_float`) and multiplies with BLAS in K chunks that stay exact
(`gemm.float_route`), then runs the shared epilogue (bias, declared accumulator width check,
requantize or raw high-precision output).
"""

from __future__ import annotations

import numpy as np

from . import vnni
from .conv_routes import vnni_route
from .gemm import ExactGemm, epilogue_raw, epilogue_requantize, float_route, to_float

_NO_RES = np.zeros((0, 0), np.int8)
_NO_RES_MULT = np.zeros(0, np.int64)
_TAP0 = np.zeros(1, np.int64)


class LinearPlan:
    """``y = x @ W.T + b`` for x (rows, K) codes and W (N, K) codes, buffers planned once."""

    def __init__(self, rows: int, x_dtype: np.dtype, weight: np.ndarray, bias: np.ndarray | None,
                 acc_range: tuple[int, int]):
        n, k = weight.shape
        x_dtype = np.dtype(x_dtype)
        self.rows, self.k = rows, k
        self.bias = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
        self.dual = x_dtype == np.int16
        self.acc_lo, self.acc_hi = acc_range
        x_abs = 128 if x_dtype == np.int8 else 32768
        if x_dtype in (np.int8, np.int16) and vnni.accumulator_proven(weight.T, self.bias, x_abs, acc_range):
            self.acc_lo, self.acc_hi = vnni.NO_CHECK  # no input can overflow: the per-element check is dead
        self.vnni = x_dtype in (np.int8, np.int16) and vnni_route(np.dtype(np.int8), weight, k)
        self._half_of = vnni.CachedHalf()
        if self.vnni:
            # int8 rows are read in place (the kernel flips their sign bit); int16 rows split into byte
            # planes; K not a multiple of 4 is copied into padded rows (the pad meets zero weights)
            self.gemm = vnni.VnniGemm(weight.T, self.dual)
            self.bias = self.bias + self.gemm.correction
            self.operand = vnni.RowOperand(rows, k, self.dual)
        else:
            fdt, chunk = float_route(x_dtype, np.int8 if weight.dtype == np.int64 else weight.dtype)
            self.w_packed = np.ascontiguousarray(weight.T).astype(fdt)
            self.x_float = np.empty((rows, k), fdt)
            self.gemm = ExactGemm(rows, k, n, fdt, chunk)
        self.out_features = n

    def accumulate(self, x2d: np.ndarray) -> np.ndarray:
        """The float route's accumulator (without bias)."""
        to_float(x2d, self.x_float)
        return self.gemm.result(self.x_float, self.w_packed)

    def _gemm_args(self, x2d: np.ndarray, epilogue: tuple, out2d: np.ndarray) -> tuple:
        """`vnni.VnniGemm.run`'s arguments: the rows of `x2d` (copied into padded rows first when K needs it)."""
        rows, kp = self.rows, self.operand.kp
        a_bytes, a_lo = self.operand.load(x2d)
        return (a_bytes, a_lo, kp, _TAP0, kp // 4, 1, 0, rows, rows, rows, 0, self.bias, self.acc_lo, self.acc_hi,
                epilogue, out2d)

    def _vnni_run(self, x2d: np.ndarray, epilogue: tuple, out2d: np.ndarray) -> int:
        return self.gemm.run(*self._gemm_args(x2d, epilogue, out2d))

    def _epilogue(self, mult, shift, mode, lo, hi, res, res_mult) -> tuple:
        """`vnni.VnniGemm.run`'s requantize epilogue (no residual: empty arrays)."""
        if res is None:
            res, res_mult = _NO_RES, _NO_RES_MULT
        return mult, shift, self._half_of(shift), mode, lo, hi, res, res_mult, False

    def requantize(self, x2d, out2d, mult, shift, mode, lo, hi, res=None, res_mult=None) -> int:
        if self.vnni:
            return self._vnni_run(x2d, self._epilogue(mult, shift, mode, lo, hi, res, res_mult), out2d)
        if res is None:
            res, res_mult = _NO_RES, _NO_RES_MULT
        acc = self.accumulate(x2d)
        return epilogue_requantize(acc, self.bias, self.acc_lo, self.acc_hi, mult, shift, mode, lo, hi,
                                   res, res_mult, out2d)

    def bind_requantize(self, x2d, out2d, mult, shift, mode, lo, hi, res=None, res_mult=None):
        """`requantize` on these arrays as a zero-argument callable (`vnni.VnniGemm.bind`: the kernel call
        packed once), or None where the call is not one fixed GEMM (the float route; rows copied into
        padded ones first). Only for arrays that live as long as the callable and never change."""
        if not (self.vnni and self.operand.in_place):
            return None
        epilogue = self._epilogue(mult, shift, mode, lo, hi, res, res_mult)
        return self.gemm.bind(*self._gemm_args(x2d, epilogue, out2d))

    def raw(self, x2d, out2d) -> int:
        if self.vnni:
            return self._vnni_run(x2d, (_NO_RES_MULT, _NO_RES_MULT, _NO_RES_MULT, 0, 0, 0, _NO_RES, _NO_RES_MULT,
                                        True), out2d)
        return epilogue_raw(self.accumulate(x2d), self.bias, self.acc_lo, self.acc_hi, out2d)


class MatmulPlan:
    """Batched ``z[b] = x[b] @ y[b]`` of two activations (batch, M, K) x (batch, K, N), buffers planned once.

    On VNNI (int8 or int16 x, int8 y) every run packs y into the GEMM's panel layout with its column
    correction (`vnni.pack_operands`, one pass over y) and runs the fused VNNI kernel over all batches in
    one call; otherwise both operands are cast to floats for the exact chunked BLAS route.
    """

    def __init__(self, batch: int, m: int, k: int, n: int, x_dtype: np.dtype, y_dtype: np.dtype,
                 acc_range: tuple[int, int]):
        x_dtype, y_dtype = np.dtype(x_dtype), np.dtype(y_dtype)
        self.batch, self.m, self.k, self.n = batch, m, k, n
        self.acc_lo, self.acc_hi = acc_range
        self.bias = np.zeros(n, np.int64)
        self.vnni = (x_dtype in (np.int8, np.int16) and y_dtype == np.int8 and k <= vnni.MAX_K
                     and vnni.available())
        self._half_of = vnni.CachedHalf()
        if not self.vnni:
            fdt, chunk = float_route(x_dtype, y_dtype)
            self.x_float = np.empty((batch, m, k), fdt)
            self.y_float = np.empty((batch, k, n), fdt)
            self.gemm = ExactGemm(m, k, n, fdt, chunk)
            return
        self.dual = x_dtype == np.int16
        self.kp = kp = vnni.padded_k(k)
        self.n_vectors = -(-n // 16)
        self.packed = np.zeros((batch, kp * 16 * self.n_vectors), np.int8)
        self.correction = np.zeros((batch, n), np.int64)
        self.operand = vnni.RowOperand(batch * m, k, self.dual)
        x_abs = 32768 if self.dual else 128
        if x_abs * 128 * k <= min(-int(acc_range[0]), int(acc_range[1])):
            self.acc_lo, self.acc_hi = vnni.NO_CHECK  # |y| <= 128: no input can overflow

    def run(self, x3d, y3d, out3d, requant=None) -> int:
        """`requant` is (mult, shift, mode, lo, hi) with per-column arrays, or None for the raw accumulator."""
        if self.vnni:
            return self._vnni_run(x3d, y3d, out3d, requant)
        b, m, k = x3d.shape
        n = y3d.shape[2]
        to_float(x3d.reshape(b * m, k), self.x_float.reshape(b * m, k))
        to_float(y3d.reshape(b * k, n), self.y_float.reshape(b * k, n))
        bad = 0
        for i in range(b):
            acc = self.gemm.result(self.x_float[i], self.y_float[i])
            if requant is None:
                bad += epilogue_raw(acc, self.bias, self.acc_lo, self.acc_hi, out3d[i])
            else:
                mult, shift, mode, lo, hi = requant
                bad += epilogue_requantize(acc, self.bias, self.acc_lo, self.acc_hi, mult, shift, mode, lo, hi,
                                           _NO_RES, _NO_RES_MULT, out3d[i])
        return bad

    def _vnni_run(self, x3d, y3d, out3d, requant) -> int:
        batch, m, n, kp = self.batch, self.m, self.n, self.kp
        rows = batch * m
        vnni.pack_operands(y3d, kp, self.n_vectors, self.dual, self.packed, self.correction)
        a_bytes, a_lo = self.operand.load(x3d)
        if requant is None:
            mult = shift = half = _NO_RES_MULT
            mode, lo, hi, raw = 0, 0, 0, True
        else:
            mult, shift, mode, lo, hi = requant
            half, raw = self._half_of(shift), False
        parts = vnni.gemm_epilogue.parts_for(rows * kp * n)
        return vnni.gemm_epilogue(parts, a_bytes, a_lo, kp, _TAP0, kp // 4, self.packed.reshape(-1),
                                  self.packed.shape[1], self.n_vectors, n, batch, m * kp, m, m, m, 0,
                                  self.correction.reshape(-1), n, self.acc_lo, self.acc_hi, mult, shift, half, mode, lo,
                                  hi, _NO_RES, _NO_RES_MULT, raw, 1, 0, *vnni.as_bytes(out3d.reshape(rows, n)))
