"""Exact int8 GEMM on AVX-512 VNNI (`vpdpbusd`), register blocked, emitted from Numba.

Why: on a VNNI CPU the int8 peers (onnxruntime, torch.ao) multiply with `vpdpbusd`, 64 int8 MACs per
instruction, and the float32-BLAS route tops out at the float FMA rate (docs/design.md, "Exact GEMM").
LLVM does not find `vpdpbusd` in a scalar loop, so the micro-kernel calls the LLVM intrinsic
`llvm.x86.avx512.vpdpbusd.512` directly, through `numba.extending.intrinsic`: the rest (threads,
tiling, epilogue) stays ordinary Numba code and the on-disk cache keeps working.

Arithmetic (Intel SDM, VPDPBUSD): each 32-bit lane adds four products of an *unsigned* byte of the
first source and a *signed* byte of the second to its int32 accumulator, wrapping. Activations are
signed int8 codes, so they enter as ``u = x + 128`` (`x ^ 0x80`) and the GEMM returns
``sum(u * w) = sum(x * w) + 128 * colsum(w)``; callers fold ``-128 * colsum(w)`` into the bias (an
exact integer identity). Every lane sum is at most ``K * 255 * 128`` in magnitude, so it cannot wrap
while ``K <= MAX_K`` (2**31 / 32640 > 65,793); larger K takes the float route.

Layouts: A is (M, Kp) uint8 rows (Kp = K rounded up to 4; the pad columns meet zero weights); B is
packed by `pack_weights` in panels of 64 output columns, each ``[K/4][vectors][16 lanes][4 k]``, so
the micro-kernel loads one 64-byte vector per 16 columns and 4 k, and broadcasts 4 bytes of A.
C is (M, Np) int32 with Np = N rounded up to 16.
"""

from __future__ import annotations

import os

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .launch import kernel

#: Rows per micro-kernel call: 6 rows x 4 vectors = 24 zmm accumulators + 4 B vectors + 1 broadcast
#: of 32 registers. Measured (3136x576x64, one core): 2 rows 160-172, 4 rows 163-210, 6 rows
#: 235-278, 8 rows 109-166 GMAC/s (spills).
MR = 6
#: Output columns per B panel: four 16-lane vectors.
PANEL = 64
#: Largest K whose int32 lane sums cannot wrap (K * 255 * 128 < 2**31).
MAX_K = 65536
#: Row blocks per parallel chunk: a chunk's A rows stay in L2 while the B panels pass over them.
CHUNK_BLOCKS = 8

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I32, 16)


def available() -> bool:
    """True when the host CPU has AVX-512 VNNI and Numba compiles for the host.

    `IRQ_NO_VNNI=1` turns the route off (tests compare both routes; a cache shared with machines
    without VNNI). A NUMBA_CPU_NAME other than host means portable code, where the intrinsic must not
    appear.
    """
    if os.environ.get("IRQ_NO_VNNI", "") not in ("", "0"):
        return False
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    features = llvm.get_host_cpu_features()
    return bool(features.get("avx512vnni")) and bool(features.get("avx512bw"))


def _microkernel(mr: int, nv: int):
    """An intrinsic ``mk(a_addr, lda, b_addr, k4, c_addr, ldc)``: C[mr, 16*nv] = A[mr, 4*k4] @ B-panel.

    Addresses are byte addresses (`arr.ctypes.data` plus offsets); `lda` is in bytes, `ldc` in int32s.
    The accumulators live in allocas that LLVM's SROA promotes to registers.
    """

    @intrinsic
    def mk(typingctx, a_addr, lda, b_addr, k4, c_addr, ldc):
        sig = types.void(types.uintp, types.intp, types.uintp, types.intp, types.uintp, types.intp)

        def codegen(context, builder, signature, args):
            a_addr, lda, b_addr, k4, c_addr, ldc = args
            i64 = lda.type
            dot = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V16, [_V16, _V16, _V16]),
                                                 "llvm.x86.avx512.vpdpbusd.512")
            a_base = builder.inttoptr(a_addr, _I8.as_pointer())
            b_base = builder.inttoptr(b_addr, _I8.as_pointer())
            c_base = builder.inttoptr(c_addr, _I32.as_pointer())
            zero = ir.Constant(_V16, None)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
            with cgutils.for_range(builder, k4) as loop:
                kk = loop.index
                b_off = builder.mul(kk, ir.Constant(i64, nv * 64))
                b_ptrs = [builder.gep(b_base, [builder.add(b_off, ir.Constant(i64, v * 64))]) for v in range(nv)]
                b_vecs = [builder.load(builder.bitcast(ptr, _V16.as_pointer()), align=1) for ptr in b_ptrs]
                k_off = builder.mul(kk, ir.Constant(i64, 4))
                for r in range(mr):
                    a_off = builder.add(builder.mul(lda, ir.Constant(i64, r)), k_off)
                    a4 = builder.load(builder.bitcast(builder.gep(a_base, [a_off]), _I32.as_pointer()), align=1)
                    one = builder.insert_element(ir.Constant(_V16, ir.Undefined), a4, ir.Constant(_I32, 0))
                    splat = builder.shuffle_vector(one, ir.Constant(_V16, ir.Undefined), ir.Constant(_V16, None))
                    for v in range(nv):
                        builder.store(builder.call(dot, [builder.load(accs[r][v]), splat, b_vecs[v]]), accs[r][v])
            for r in range(mr):
                for v in range(nv):
                    c_off = builder.add(builder.mul(ldc, ir.Constant(i64, r)), ir.Constant(i64, v * 16))
                    builder.store(builder.load(accs[r][v]), builder.bitcast(builder.gep(c_base, [c_off]),
                                                                           _V16.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return mk


_mk6_1, _mk6_2, _mk6_3, _mk6_4 = (_microkernel(MR, nv) for nv in (1, 2, 3, 4))
_mk1_1, _mk1_2, _mk1_3, _mk1_4 = (_microkernel(1, nv) for nv in (1, 2, 3, 4))


@numba.njit(cache=True)
def _panel(mr_full, nv, a_addr, lda, b_addr, k4, c_addr, ldc):
    """One micro-kernel call: MR rows when `mr_full`, else one row; `nv` vectors (1-4)."""
    if mr_full:
        if nv == 4:
            _mk6_4(a_addr, lda, b_addr, k4, c_addr, ldc)
        elif nv == 3:
            _mk6_3(a_addr, lda, b_addr, k4, c_addr, ldc)
        elif nv == 2:
            _mk6_2(a_addr, lda, b_addr, k4, c_addr, ldc)
        else:
            _mk6_1(a_addr, lda, b_addr, k4, c_addr, ldc)
    else:
        if nv == 4:
            _mk1_4(a_addr, lda, b_addr, k4, c_addr, ldc)
        elif nv == 3:
            _mk1_3(a_addr, lda, b_addr, k4, c_addr, ldc)
        elif nv == 2:
            _mk1_2(a_addr, lda, b_addr, k4, c_addr, ldc)
        else:
            _mk1_1(a_addr, lda, b_addr, k4, c_addr, ldc)


@kernel
def gemm_u8s8(a, m, packed, n_vectors, c):
    """``c[:m, :16*n_vectors] = a[:m] @ B`` (int32, exact) for uint8 `a` rows and `pack_weights` output.

    `a` is 2-D uint8 with unit column stride and a width that is a multiple of 4 (it may be a column
    slice of a wider buffer: its row stride is read from the array); `c` is C-contiguous int32.
    Parallel over chunks of MR-row blocks; inside a chunk each B panel passes over all its rows.
    """
    k4 = a.shape[1] // 4
    lda = a.strides[0]
    ldc = c.shape[1]
    a_addr = a.ctypes.data
    b_addr = packed.ctypes.data
    c_addr = c.ctypes.data
    panels = (n_vectors + 3) // 4
    blocks = (m + MR - 1) // MR
    chunks = (blocks + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS
    for ch in numba.prange(chunks):
        b0 = ch * CHUNK_BLOCKS
        b1 = min(blocks, b0 + CHUNK_BLOCKS)
        for p in range(panels):
            nv = min(4, n_vectors - 4 * p)
            b_p = b_addr + p * k4 * 256
            for blk in range(b0, b1):
                i0 = blk * MR
                if i0 + MR <= m:
                    _panel(True, nv, a_addr + i0 * lda, lda, b_p, k4, c_addr + (i0 * ldc + p * PANEL) * 4, ldc)
                else:
                    for i in range(i0, m):
                        _panel(False, nv, a_addr + i * lda, lda, b_p, k4, c_addr + (i * ldc + p * PANEL) * 4, ldc)


def padded_k(k: int) -> int:
    """K rounded up to the 4 bytes one `vpdpbusd` lane reduces."""
    return -(-k // 4) * 4


def pack_weights(w_kn: np.ndarray) -> tuple[np.ndarray, int]:
    """(packed bytes, vector count) of a (K, N) int8-valued weight, in `gemm_u8s8`'s panel layout.

    Rows K..Kp-1 and columns N..16*vectors-1 are zeros, so padded A columns and C columns add nothing.
    """
    k, n = w_kn.shape
    if w_kn.size and (w_kn.min() < -128 or w_kn.max() > 127):
        raise ValueError("VNNI route needs int8 weights")
    kp, nvec = padded_k(k), -(-n // 16)
    w = np.zeros((kp, nvec * 16), np.int8)
    w[:k, :n] = w_kn
    parts = []
    for p0 in range(0, nvec, 4):
        nv = min(4, nvec - p0)
        panel = w[:, p0 * 16:(p0 + nv) * 16].reshape(kp // 4, 4, nv, 16)   # [k4][k][v][lane]
        parts.append(np.ascontiguousarray(panel.transpose(0, 2, 3, 1)).reshape(-1))  # [k4][v][lane][k]
    return np.concatenate(parts) if parts else np.zeros(0, np.int8), nvec


def column_correction(w_kn: np.ndarray) -> np.ndarray:
    """``-128 * colsum(W)``: what turns ``sum((x + 128) * w)`` back into ``sum(x * w)``, per column."""
    return -128 * np.asarray(w_kn, np.int64).sum(axis=0)


@kernel
def to_unsigned(x, a):
    """``a[:, :K] = x + 128`` as uint8 (x int8 (rows, K)); `a` may be wider (its pad is left alone)."""
    for i in numba.prange(x.shape[0]):
        for j in range(x.shape[1]):
            a[i, j] = np.uint8(np.int32(x[i, j]) + 128)


class VnniGemm:
    """``C = X @ W`` for int8 X rows and a constant int8 W (K, N), exact, buffers planned once.

    `result(a)` takes the unsigned (M', Kp) operand (M' <= m rows) and returns the int32 (M', Np)
    accumulator, still offset by ``128 * colsum(W)``: add `correction` (callers fold it into the bias).
    """

    def __init__(self, m: int, w_kn: np.ndarray):
        k, n = w_kn.shape
        if k > MAX_K:
            raise ValueError(f"K = {k} exceeds the VNNI route's exact bound {MAX_K}")
        self.k, self.kp, self.n = k, padded_k(k), n
        self.packed, self.n_vectors = pack_weights(w_kn)
        self.correction = column_correction(w_kn)
        self.c = np.empty((m, self.n_vectors * 16), np.int32)

    def result(self, a: np.ndarray) -> np.ndarray:
        rows = a.shape[0]
        # threads only when the GEMM repays a launch: ~400 MACs cost what one element pass costs
        run = gemm_u8s8.pick(rows * self.kp * self.n // 400)
        run(a, rows, self.packed, self.n_vectors, self.c)
        return self.c[:rows]
