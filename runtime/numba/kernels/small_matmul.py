"""Batched matmul of small int8 matrices (attention's q k^T and p v) on AVX-512 VNNI, requantize fused.

A transformer's attention multiplies one small matrix pair per (sample, head): MiniLM's 384 pairs per
layer are 16x32 @ 32x16 and 16x16 @ 16x32. The general VNNI GEMM (`vnni.gemm_epilogue`) tiles 6-row
blocks, so 16 rows take two 6-row calls and four 1-row calls per pair, and its per-call set-up then
outweighs the 8 k-steps of work: 0.24 ms per matmul. Here one micro-kernel call covers the pair: 16 rows
x 16 columns (16 accumulators) or 8 rows x 32 columns per call, the micro-kernel being vnni.py's
(`vnni.microkernel`: same arithmetic, the A sign-bit flip corrected by ``-128 * colsum`` from
`vnni.pack_operands`). Measured (one core, MiniLM's shapes, packing included): 0.24 -> 0.12 ms and
0.25 -> 0.14 ms; what is left is mostly the packing of the right operand.

Exact for int8 x int8 with ``K * 255 * 128 < 2**31`` (the lane bound) and an accumulator width the
caller has proven (``128 * 128 * K`` within it), as `MatmulPlan`'s VNNI route.
"""

from __future__ import annotations

import numba
import numpy as np

from . import vnni
from .launch import PARALLEL_MIN_ELEMENTS, part_kernel
from .requantize import HALF_UP, clamp, half_up_folded, round_shift

#: (rows per call, 16-column vectors) of the micro-kernels: 16 or 8 accumulators of 32.
_mk16_1 = vnni.microkernel(16, 1)
_mk8_2 = vnni.microkernel(8, 2)
_mk1_1 = vnni.microkernel(1, 1)
_mk1_2 = vnni.microkernel(1, 2)
_TAP0 = np.zeros(1, np.int64)
#: Largest N (two 16-lane vectors) and the K bound of the int32 lanes.
MAX_N = 32
MAX_K = vnni.MAX_K


def applies(a_dtype, b_dtype, k: int, n: int) -> bool:
    """True when this kernel can run an (M, K) x (K, N) matmul of these operand dtypes exactly."""
    return (np.dtype(a_dtype) == np.int8 and np.dtype(b_dtype) == np.int8 and k % 4 == 0 and 0 < k <= MAX_K
            and 0 < n <= MAX_N and vnni.available())


@numba.njit(cache=True, inline="always")
def _rows(nv, m, a_addr, k, t_addr, b_addr, tile_addr, width):
    """The (m, 16 * nv) int32 tile of one pair: full blocks, then one row at a time."""
    k4 = k // 4
    block = 16 if nv == 1 else 8
    r0 = 0
    while r0 + block <= m:
        if nv == 1:
            _mk16_1(a_addr + r0 * k, k, t_addr, 1, b_addr, k4, tile_addr + r0 * width * 4, width)
        else:
            _mk8_2(a_addr + r0 * k, k, t_addr, 1, b_addr, k4, tile_addr + r0 * width * 4, width)
        r0 += block
    while r0 < m:
        if nv == 1:
            _mk1_1(a_addr + r0 * k, k, t_addr, 1, b_addr, k4, tile_addr + r0 * width * 4, width)
        else:
            _mk1_2(a_addr + r0 * k, k, t_addr, 1, b_addr, k4, tile_addr + r0 * width * 4, width)
        r0 += 1


@part_kernel(PARALLEL_MIN_ELEMENTS)
def matmul_requantize(part, parts, a, packed, nv, correction, mult, shift, half, mode, lo, hi, taps, out):
    """``out[b] = clamp(requantize(a[b] @ y[b]))`` for int8 `a` (batch, M, K), `packed` / `correction` from
    `vnni.pack_operands(y, K, nv, False, ...)`, per-column `mult`/`shift`/`half` (2**(S-1)); a
    `launch.PartKernel`: this call computes part `part` of `parts` contiguous shares of the batch."""
    batch, m, n = out.shape
    k = a.shape[2]
    width = nv * 16
    per = (batch + parts - 1) // parts
    stride = packed.shape[1]
    tile = np.empty((m, width), np.int32)
    t_addr = taps.ctypes.data
    for b in range(min(batch, part * per), min(batch, (part + 1) * per)):
        _rows(nv, m, a.ctypes.data + b * m * k, k, t_addr, packed.ctypes.data + b * stride, tile.ctypes.data,
              width)
        if mode == HALF_UP:
            for i in range(m):
                for j in range(n):
                    acc = np.int64(tile[i, j]) + correction[b, j]
                    out[b, i, j] = half_up_folded(acc, mult[j], half[j], shift[j], lo, hi)
        else:
            for i in range(m):
                for j in range(n):
                    acc = np.int64(tile[i, j]) + correction[b, j]
                    out[b, i, j] = clamp(round_shift(acc * mult[j], shift[j], mode), lo, hi)


class SmallMatmul:
    """Buffers for one planned matmul: the packed right operands and their corrections."""

    def __init__(self, batch: int, m: int, k: int, n: int):
        self.nv = -(-n // 16)
        self.k = k
        self.packed = np.zeros((batch, k * 16 * self.nv), np.int8)
        self.correction = np.zeros((batch, n), np.int64)
        self.work = batch * m * k * n

    def run(self, a3, y3, out3, mult, shift, half, mode, lo, hi) -> None:
        vnni.pack_operands(y3, self.k, self.nv, False, self.packed, self.correction)
        parts = matmul_requantize.parts_for(self.work // 400)
        matmul_requantize(parts, a3, self.packed, self.nv, self.correction, mult, shift, half, mode, lo, hi, _TAP0,
                          out3)
