"""Linear (activation x constant weight) and matmul (activation x activation) on an exact GEMM.

int8 linears on a VNNI CPU run the int8 GEMM (`vnni.VnniGemm`: activations shifted to unsigned bytes,
the offset folded into the bias). Everything else (int16 operands, weights wider than int8, no VNNI,
matmul of two activations) casts its integer operands into planned float buffers (`gemm.to_float`)
and multiplies with BLAS in K chunks that stay exact (`gemm.float_route`). Both finish with the shared
epilogue (bias, declared accumulator width check, requantize or raw high-precision output).
"""

from __future__ import annotations

import numpy as np

from . import vnni
from .conv import vnni_route
from .gemm import ExactGemm, epilogue_raw, epilogue_requantize, float_route, to_float

_NO_RES = np.zeros((0, 0), np.int8)
_NO_RES_MULT = np.zeros(0, np.int64)


class LinearPlan:
    """``y = x @ W.T + b`` for x (rows, K) codes and W (N, K) codes, buffers planned once."""

    def __init__(self, rows: int, x_dtype: np.dtype, weight: np.ndarray, bias: np.ndarray | None,
                 acc_range: tuple[int, int]):
        n, k = weight.shape
        self.rows, self.k = rows, k
        self.bias = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
        self.vnni = vnni_route(x_dtype, weight, k)
        if self.vnni:
            # unsigned activations (x + 128); the 128 * colsum(W) offset is folded into the bias
            self.gemm = vnni.VnniGemm(rows, weight.T)
            self.x_unsigned = np.full((rows, self.gemm.kp), 128, np.uint8)
            self.bias = self.bias + self.gemm.correction
        else:
            fdt, chunk = float_route(x_dtype, np.int8 if weight.dtype == np.int64 else weight.dtype)
            self.w_packed = np.ascontiguousarray(weight.T).astype(fdt)
            self.x_float = np.empty((rows, k), fdt)
            self.gemm = ExactGemm(rows, k, n, fdt, chunk)
        self.acc_lo, self.acc_hi = acc_range
        self.out_features = n

    def accumulate(self, x2d: np.ndarray) -> np.ndarray:
        if self.vnni:
            vnni.to_unsigned(x2d, self.x_unsigned)
            return self.gemm.result(self.x_unsigned)
        to_float(x2d, self.x_float)
        return self.gemm.result(self.x_float, self.w_packed)

    def requantize(self, x2d, out2d, mult, shift, mode, lo, hi, res=None, res_mult=None) -> int:
        acc = self.accumulate(x2d)
        if res is None:
            res, res_mult = _NO_RES, _NO_RES_MULT
        return epilogue_requantize(acc, self.bias, self.acc_lo, self.acc_hi, mult, shift, mode, lo, hi,
                                   res, res_mult, out2d)

    def raw(self, x2d, out2d) -> int:
        return epilogue_raw(self.accumulate(x2d), self.bias, self.acc_lo, self.acc_hi, out2d)


class MatmulPlan:
    """Batched ``z[b] = x[b] @ y[b]`` of two activations (batch, M, K) x (batch, K, N), buffers planned once."""

    def __init__(self, batch: int, m: int, k: int, n: int, x_dtype: np.dtype, y_dtype: np.dtype,
                 acc_range: tuple[int, int]):
        fdt, chunk = float_route(x_dtype, y_dtype)
        self.x_float = np.empty((batch, m, k), fdt)
        self.y_float = np.empty((batch, k, n), fdt)
        self.gemm = ExactGemm(m, k, n, fdt, chunk)
        self.bias = np.zeros(n, np.int64)
        self.acc_lo, self.acc_hi = acc_range
        self.batch = batch

    def run(self, x3d, y3d, out3d, requant=None) -> int:
        """`requant` is (mult, shift, mode, lo, hi) with per-column arrays, or None for the raw accumulator."""
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
