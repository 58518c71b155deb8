"""Exact integer GEMM on float BLAS, with the requantize epilogue fused.

Why floats: on this CPU class (AVX2 + FMA, no VNNI) the float32 BLAS GEMM runs at about 49 GMAC/s
per core, while the best int32-accumulator Numba GEMM (vpmaddwd, register blocked) reaches 17-24
(docs/design.md "Numba runtime", ANCHORS.md "Kernel speed"). It is *exact* for integer operands:
an int8 x int8 product is at most 2**14 in magnitude, so any partial sum of at most 1024 of them,
in any order BLAS picks, stays within 2**24 and every such integer is a float32. Longer reductions are
split into chunks of at most `max_chunk` terms whose float results are added as int64. int16
operands use float64 (products < 2**30, partial sums exact to 2**53), the same way.

The epilogue reads the float (or int64) accumulator, adds the int32 bias, checks the accumulator
against the width the compiler chose (overflow never wraps silently), optionally adds a fused
residual, requantizes, saturates and clamps, all in one pass over the output.
"""

from __future__ import annotations

import numba
import numpy as np

from . import blas_threads
from .launch import kernel
from .requantize import clamp, round_shift

#: Largest magnitude of a storage code, by numpy dtype.
_CODE_ABSMAX = {np.dtype(np.int8): 128, np.dtype(np.int16): 32768}


def float_route(a_dtype: np.dtype, b_dtype: np.dtype) -> tuple[np.dtype, int]:
    """(float dtype, largest exact K chunk) for an integer GEMM of these operand dtypes.

    The chunk is the largest K with ``K * max|a| * max|b| <= 2**p`` (p = 24 for float32, 53 for
    float64): every partial sum, whatever the order of additions, is then an exactly representable
    integer. float32 is used whenever it allows chunks of at least 64 terms.
    """
    try:
        prod = _CODE_ABSMAX[np.dtype(a_dtype)] * _CODE_ABSMAX[np.dtype(b_dtype)]
    except KeyError:
        raise ValueError(f"no exact GEMM for operands {np.dtype(a_dtype)} x {np.dtype(b_dtype)} "
                         "(int8 or int16 expected)") from None
    k32 = 2**24 // prod
    if k32 >= 64:
        return np.dtype(np.float32), min(k32, 1024)
    return np.dtype(np.float64), 2**53 // prod


@kernel
def to_float(src, dst):
    """Cast integer codes to the float GEMM operand (2-D, same shape), in parallel over rows."""
    for i in numba.prange(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]


@kernel
def accumulate(part, acc, first):
    """``acc (+)= int64(part)`` for one K chunk: chunks add as integers, never as floats."""
    for i in numba.prange(part.shape[0]):
        if first:
            for j in range(part.shape[1]):
                acc[i, j] = np.int64(part[i, j])
        else:
            for j in range(part.shape[1]):
                acc[i, j] += np.int64(part[i, j])


@kernel
def epilogue_requantize(acc, bias, acc_lo, acc_hi, mult, shift, mode, lo, hi, res, res_mult, out):
    """``out = clamp(round_shift((acc + bias) * M [+ res * M_res], S))`` per channel (last axis).

    `acc` is the (rows, channels) accumulator (float with integer values, or int64); `res` is an empty
    (0, 0) array when there is no fused residual. Returns how many accumulators fell outside
    [acc_lo, acc_hi], the range of the accumulator width the program declares (0 when it holds).
    """
    rows, ch = out.shape
    has_res = res.shape[0] > 0
    bad = 0
    for i in numba.prange(rows):
        for c in range(ch):
            a = np.int64(acc[i, c]) + bias[c]
            if a < acc_lo or a > acc_hi:
                bad += 1
            p = a * mult[c]
            if has_res:
                p += np.int64(res[i, c]) * res_mult[c]
            out[i, c] = clamp(round_shift(p, shift[c], mode), lo, hi)
    return bad


@kernel
def epilogue_raw(acc, bias, acc_lo, acc_hi, out):
    """``out = acc + bias`` for a high-precision (int32/int64) output; returns the out-of-range count."""
    rows, ch = out.shape
    bad = 0
    for i in numba.prange(rows):
        for c in range(ch):
            a = np.int64(acc[i, c]) + bias[c]
            if a < acc_lo or a > acc_hi:
                bad += 1
            out[i, c] = a
    return bad


class ExactGemm:
    """``C = A @ B`` for integer-valued float operands A (M, K) and B (K, N), exact, buffers planned once.

    `result(a, b)` returns the accumulator to feed an epilogue: the float product itself when K fits one
    chunk (no extra pass), else an int64 array summing the chunk products. `a` may have fewer than `m`
    rows (the last row tile of a conv); `work` is the whole op's MAC count, which sets the BLAS threads.
    """

    def __init__(self, m: int, k: int, n: int, float_dtype: np.dtype, max_chunk: int, work: int | None = None):
        self.m, self.k, self.n = m, k, n
        self.chunks = [(k0, min(k, k0 + max_chunk)) for k0 in range(0, k, max_chunk)] or [(0, 0)]
        self.part = np.empty((m, n), dtype=float_dtype)
        self.acc = np.empty((m, n), dtype=np.int64) if len(self.chunks) > 1 else None
        self.threads = blas_threads.threads_for(m * k * n if work is None else work)

    def result(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        blas_threads.use(self.threads)
        rows = a.shape[0]
        part = self.part[:rows]
        if self.acc is None:
            np.matmul(a, b, out=part)
            return part
        acc = self.acc[:rows]
        for idx, (k0, k1) in enumerate(self.chunks):
            np.matmul(a[:, k0:k1], b[k0:k1], out=part)
            accumulate(part, acc, idx == 0)
        return acc
