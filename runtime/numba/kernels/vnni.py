"""Exact int8 GEMM on AVX-512 VNNI (`vpdpbusd`), register blocked, with the requantize fused, from Numba.

Why: on a VNNI CPU the int8 peers (onnxruntime, torch.ao) multiply with `vpdpbusd`, 64 int8 MACs per
instruction, and the float32-BLAS route tops out at the float FMA rate (docs/design.md, "Exact GEMM").
LLVM does not find `vpdpbusd` in a scalar loop, so the micro-kernel calls the LLVM intrinsic
`llvm.x86.avx512.vpdpbusd.512` directly, through `numba.extending.intrinsic`: the rest (threads,
tiling, epilogue) stays ordinary Numba code and the on-disk cache keeps working.

Arithmetic (Intel SDM, VPDPBUSD): each 32-bit lane adds four products of an *unsigned* byte of the
first source and a *signed* byte of the second to its int32 accumulator, wrapping. Activations are
signed int8 codes; the micro-kernel flips their top bit as it broadcasts them (``x ^ 0x80 = x + 128``
as an unsigned byte), so A is read straight from the activation or its im2col rows, never rewritten.
The GEMM then returns ``sum((x + 128) * w) = sum(x * w) + 128 * colsum(w)``; callers fold
``-128 * colsum(w)`` into the bias (an exact integer identity). Every lane sum is at most
``K * 255 * 128`` in magnitude, so it cannot wrap while ``K <= MAX_K`` (2**31 / 32640 > 65,793);
larger K takes the float route.

int16 activations split exactly into bytes, ``x = 256 * hi + lo`` with ``hi = x >> 8`` (signed) and
``lo = x & 255`` (unsigned). Both planes run the same micro-kernel on the same packed weights: the hi
plane as signed codes, the lo plane stored as ``lo ^ 0x80`` so that the kernel's flip gives back
``lo``. With ``C_hi = sum((hi + 128) * w)`` and ``C_lo = sum(lo * w)`` (each an int32 lane sum within
the same ``K * 255 * 128`` bound), ``sum(x * w) = 256 * C_hi + C_lo - 32768 * colsum(w)``, formed in
int64 in the epilogue (|sum| <= K * 32768 * 128 < 2**43 at MAX_K).

Convolutions skip im2col when they can (stride 1, one group, C a multiple of 4): the input is copied
once into a zero-padded NHWC buffer of width Wp, and output pixel (oy, ox) is *virtual row*
``oy * Wp + ox`` of a GEMM whose A rows are padded pixels (stride C bytes) and whose K runs over the
kh*kw taps, each tap a fixed byte offset ``(ky * dh * Wp + kx * dw) * C`` from the row. Virtual rows
with ``ox >= OW`` (Wp - OW per image row) are computed and dropped by the epilogue. A linear is the
same kernel with one tap and every row valid.

Layouts: B is packed by `pack_weights` in panels of 64 output columns, each ``[K/4][vectors][16
lanes][4 k]``, so the micro-kernel loads one 64-byte vector per 16 columns and 4 k, and broadcasts 4
bytes of A. Each MR x 64 result tile goes through the epilogue (bias, declared-width check,
requantize, clamp, optional residual) while it is in L1, and int8/int16 codes are written directly.
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
from .requantize import HALF_UP, clamp, round_shift

#: Rows per micro-kernel call: 6 rows x 4 vectors = 24 zmm accumulators + 4 B vectors + 1 broadcast
#: of 32 registers. Measured (3136x576x64, one core): 2 rows 160-172, 4 rows 163-210, 6 rows
#: 235-278, 8 rows 109-166 GMAC/s (spills).
MR = 6
#: Output columns per B panel: four 16-lane vectors.
PANEL = 64
#: Largest K whose int32 lane sums cannot wrap (K * 255 * 128 < 2**31).
MAX_K = 65536
#: (acc_lo, acc_hi) meaning "no accumulator can leave the declared width": the plan proved it from the
#: weights (`accumulator_proven`), so the epilogue skips the per-element range check.
NO_CHECK = (-2**63, 2**63 - 1)
#: Row blocks per parallel chunk: a chunk's A rows stay in L1/L2 while the B panels pass over them.
CHUNK_BLOCKS = 8

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I32, 16)
_FLIP4 = ir.Constant(_I32, -0x7F7F7F80)  # 0x80808080: the top bit of each of the 4 broadcast bytes


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


def _microkernel(mr: int, nv: int, requantize: bool = False):
    """An intrinsic ``mk(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)``.

    With `requantize` it is ``mk(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi)``
    and writes int8 codes instead of int32 sums: ``c[r, j] = clamp((acc * M + bm) >> S, lo, hi)`` with
    M, bm (``bias * M + 2**(S-1)``) and S read as int64 vectors from `q_addr` (``[M x 64][bm x 64][S x
    64]`` of the panel's columns), `c_addr` int8 with row stride `ldc` bytes; every lane is stored, so
    the caller guarantees 16 * nv valid columns (`_fused_ok`).

    ``C[mr, 16*nv] = sum over taps t of flip(A_t)[mr, 4*k4] @ B_t`` where ``A_t`` starts at
    ``a_addr + taps[t]`` (byte offsets, int64) with row stride `lda` bytes, and B_t is the t-th
    ``k4`` slice of one packed panel (consecutive in memory). `c_addr` is int32 with row stride `ldc`
    elements. The accumulators live in allocas that LLVM's SROA promotes to registers.
    """

    def codegen(context, builder, signature, args):
        a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc = args[:8]
        i64 = lda.type
        dot = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V16, [_V16, _V16, _V16]),
                                             "llvm.x86.avx512.vpdpbusd.512")
        a_base = builder.inttoptr(a_addr, _I8.as_pointer())
        b_base = builder.inttoptr(b_addr, _I8.as_pointer())
        c_base = builder.inttoptr(c_addr, _I32.as_pointer())
        taps = builder.inttoptr(taps_addr, i64.as_pointer())
        zero = ir.Constant(_V16, None)
        accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
        step = ir.Constant(i64, nv * 64)
        with cgutils.for_range(builder, ntaps) as tap_loop:
            t = tap_loop.index
            a_tap = builder.gep(a_base, [builder.load(builder.gep(taps, [t]))])
            rows = [builder.gep(a_tap, [builder.mul(lda, ir.Constant(i64, r))]) for r in range(mr)]
            b_tap = builder.gep(b_base, [builder.mul(builder.mul(t, k4), step)])
            with cgutils.for_range(builder, k4) as loop:
                kk = loop.index
                b_k = builder.gep(b_tap, [builder.mul(kk, step)])
                b_vecs = [builder.load(builder.bitcast(builder.gep(b_k, [ir.Constant(i64, v * 64)]),
                                                       _V16.as_pointer()), align=1) for v in range(nv)]
                k_off = builder.mul(kk, ir.Constant(i64, 4))
                for r in range(mr):
                    a4 = builder.load(builder.bitcast(builder.gep(rows[r], [k_off]), _I32.as_pointer()), align=1)
                    a4 = builder.xor(a4, _FLIP4)
                    one = builder.insert_element(ir.Constant(_V16, ir.Undefined), a4, ir.Constant(_I32, 0))
                    splat = builder.shuffle_vector(one, ir.Constant(_V16, ir.Undefined), ir.Constant(_V16, None))
                    for v in range(nv):
                        builder.store(builder.call(dot, [builder.load(accs[r][v]), splat, b_vecs[v]]), accs[r][v])
        if requantize:
            _store_codes(builder, accs, args[8:], c_addr, ldc, mr, nv)
            return context.get_dummy_value()
        for r in range(mr):
            for v in range(nv):
                c_off = builder.add(builder.mul(ldc, ir.Constant(i64, r)), ir.Constant(i64, v * 16))
                builder.store(builder.load(accs[r][v]), builder.bitcast(builder.gep(c_base, [c_off]),
                                                                       _V16.as_pointer()), align=1)
        return context.get_dummy_value()

    if requantize:
        @intrinsic
        def mkq(typingctx, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi):
            return types.void(types.uintp, types.intp, types.uintp, types.intp, types.uintp, types.intp,
                              types.uintp, types.intp, types.uintp, types.int64, types.int64), codegen

        return mkq

    @intrinsic
    def mk(typingctx, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc):
        return types.void(types.uintp, types.intp, types.uintp, types.intp, types.uintp, types.intp, types.uintp,
                          types.intp), codegen

    return mk


_I64 = ir.IntType(64)
_V16Q = ir.VectorType(_I64, 16)
_V16B = ir.VectorType(_I8, 16)


def _store_codes(builder, accs, q_args, c_addr, ldc, mr: int, nv: int) -> None:
    """The in-register half_up requantize of `_microkernel(..., requantize=True)`: int32 sums -> int8 codes.

    Each 16-lane accumulator is widened to int64 (the exact ``acc * M`` needs 62 bits), multiplied,
    offset by bm, shifted per lane, clamped and narrowed; the tile never goes through memory.
    """
    q_addr, lo, hi = q_args
    q_base = builder.inttoptr(q_addr, _I64.as_pointer())
    c_base = builder.inttoptr(c_addr, _I8.as_pointer())

    def vec(which: int, v: int):
        ptr = builder.gep(q_base, [ir.Constant(_I64, which * PANEL + v * 16)])
        return builder.load(builder.bitcast(ptr, _V16Q.as_pointer()), align=8)

    def splat(x):
        one = builder.insert_element(ir.Constant(_V16Q, ir.Undefined), x, ir.Constant(_I32, 0))
        return builder.shuffle_vector(one, ir.Constant(_V16Q, ir.Undefined), ir.Constant(ir.VectorType(_I32, 16), None))

    lo_v, hi_v = splat(lo), splat(hi)
    consts = [(vec(0, v), vec(1, v), vec(2, v)) for v in range(nv)]
    for r in range(mr):
        for v in range(nv):
            m, bm, sh = consts[v]
            p = builder.add(builder.mul(builder.sext(builder.load(accs[r][v]), _V16Q), m), bm)
            q = builder.ashr(p, sh)
            q = builder.select(builder.icmp_signed("<", q, lo_v), lo_v, q)
            q = builder.select(builder.icmp_signed(">", q, hi_v), hi_v, q)
            off = builder.add(builder.mul(ldc, ir.Constant(_I64, r)), ir.Constant(_I64, v * 16))
            builder.store(builder.trunc(q, _V16B), builder.bitcast(builder.gep(c_base, [off]), _V16B.as_pointer()),
                          align=1)


#: public for kernels that need other block shapes (kernels/small_matmul.py)
microkernel = _microkernel
_mk6_1, _mk6_2, _mk6_3, _mk6_4 = (_microkernel(MR, nv) for nv in (1, 2, 3, 4))
_mk1_1, _mk1_2, _mk1_3, _mk1_4 = (_microkernel(1, nv) for nv in (1, 2, 3, 4))
_mkq6_1, _mkq6_2, _mkq6_4 = (_microkernel(MR, nv, True) for nv in (1, 2, 4))


@numba.njit(cache=True)
def _panel_codes(nv, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi):
    """`_panel` of MR rows with the requantize in registers, writing int8 codes.

    Only 1, 2 and 4 vectors and MR rows: a block's last rows take the tile path (`_gemm_codes`), which is
    compiled anyway, and so does a last panel of 3 vectors (`_fused_ok`); each intrinsic instantiation
    costs seconds of cold compile.
    """
    if nv == 4:
        _mkq6_4(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi)
    elif nv == 2:
        _mkq6_2(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi)
    else:
        _mkq6_1(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi)


@numba.njit(cache=True)
def _panel(mr_full, nv, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc):
    """One micro-kernel call: MR rows when `mr_full`, else one row; `nv` vectors (1-4)."""
    if mr_full:
        if nv == 4:
            _mk6_4(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        elif nv == 3:
            _mk6_3(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        elif nv == 2:
            _mk6_2(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        else:
            _mk6_1(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
    else:
        if nv == 4:
            _mk1_4(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        elif nv == 3:
            _mk1_3(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        elif nv == 2:
            _mk1_2(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)
        else:
            _mk1_1(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)


@numba.njit(cache=True, inline="always")
def _tile(rows, nv, a_addr, lda, taps_addr, ntaps, b_addr, k4, t_addr):
    """The MR x 64 int32 tile at `t_addr` of `rows` (<= MR) virtual rows starting at `a_addr`."""
    if rows == MR:
        _panel(True, nv, a_addr, lda, taps_addr, ntaps, b_addr, k4, t_addr, PANEL)
    else:
        for r in range(rows):
            _panel(False, nv, a_addr + r * lda, lda, taps_addr, ntaps, b_addr, k4, t_addr + r * PANEL * 4, PANEL)


@numba.njit(cache=True, inline="always")
def _store_row(of8, of16, of32, of64, size, o0, acc, un):
    """``out[o0 : o0 + un] = acc[:un]`` in the output's element type (`size` bytes; values already in range)."""
    if size == 1:
        for j in range(un):
            of8[o0 + j] = acc[j]
    elif size == 2:
        for j in range(un):
            of16[o0 + j] = acc[j]
    elif size == 4:
        for j in range(un):
            of32[o0 + j] = acc[j]
    else:
        for j in range(un):
            of64[o0 + j] = acc[j]


@numba.njit(cache=True, inline="always")
def _requantize_row(tile, r, un, uc0, o0, bm, mult, shift, lo, hi, of):
    """``of[o0 + j] = clamp((tile[r, j] * M + bm[j]) >> S)`` for j < `un`: half_up, branch free.

    ``bm[j] = bias * M + 2**(S-1)`` of column ``uc0 + j`` (`_fold_bias`).
    """
    for j in range(un):
        c = uc0 + j
        of[o0 + j] = min(max((np.int64(tile[r, j]) * mult[c] + bm[j]) >> shift[c], lo), hi)


@numba.njit(cache=True, inline="always")
def _requantize_row_res(tile, r, un, uc0, o0, bm, mult, shift, lo, hi, rf, res_mult, of):
    """`_requantize_row` with the fused residual: ``(acc * M + res * M_res + bm) >> S``.

    ``res`` is read at the output's own offset (the residual has the output's shape).
    """
    for j in range(un):
        c = uc0 + j
        p = np.int64(tile[r, j]) * mult[c] + np.int64(rf[o0 + j]) * res_mult[c] + bm[j]
        of[o0 + j] = min(max(p >> shift[c], lo), hi)


@numba.njit(cache=True, inline="always")
def _fold_bias(bias, mult, half, uc0, un, bm):
    """``bm[j] = bias[c] * M[c] + 2**(S-1)`` for the tile's columns ``c = uc0 + j``.

    ``(acc + bias) * M + 2**(S-1)`` and ``acc * M + bm`` are the same int64 (equal modulo 2**64, so
    bit-identical even where the product wraps), and the row loops then load and add one constant less
    per output: 0.18 -> 0.14 ns per output for 64-column rows, 0.35 -> 0.29 for 16 (one core).
    """
    for j in range(un):
        c = uc0 + j
        bm[j] = bias[c] * mult[c] + half[c]


@numba.njit(cache=True)
def _epilogue(tile, tile_lo, dual, rows, v0, b, oh, wp, ow, c0, ncols, bias, acc_lo, acc_hi, mult, shift, half, mode,
              lo, hi, res, res_mult, raw, acc, out, size):
    """Bias, width check and requantize (or the raw accumulator) of one tile into `out`; returns the check count.

    Virtual row ``v0 + r`` is output pixel (oy, ox) = divmod(v, wp) of image `b`, dropped when
    ``ox >= ow``; output columns are ``c0 .. c0 + ncols``. `acc` is an int64 scratch row. `out` is the
    output's bytes, (rows, columns * size), with `size` its element size: one compiled kernel writes
    int8/int16 codes and int32/int64 raw accumulators (typed views made once here).
    """
    has_res = res.shape[0] > 0
    # Indices are unsigned offsets into flat views: with `bias[c0 + j]` Numba wraps negative indices
    # with a select per element, and a view per row (`out[orow, c0:]`) costs two atomic reference
    # count updates; either kept the 112x112 16->96 conv's epilogue at 0.45 ms instead of 0.1.
    check = acc_lo != NO_CHECK[0] or acc_hi != NO_CHECK[1]
    of8, rf = out.reshape(-1), res.reshape(-1)
    n8 = of8.shape[0]
    of16 = of8[:n8 - n8 % 2].view(np.int16)
    of32 = of8[:n8 - n8 % 4].view(np.int32)
    of64 = of8[:n8 - n8 % 8].view(np.int64)
    ldo = np.uint64(out.shape[1] // size)
    uc0 = np.uint64(c0)
    un = np.uint64(ncols)  # uint64 loop counters: uint64 + int64 would be float64 in Numba
    oy = v0 // wp  # one division per call: a 64-bit divide per row cost ~15% of a 1x1 conv
    ox = v0 - oy * wp - 1
    if not dual and not raw and mode == HALF_UP and not check and size <= 2:
        # the common case (int8/int16 codes, half_up, overflow impossible; with or without a residual) with
        # every test hoisted out of the row loop: the residual layers took the generic per-element path
        # below, 3.3 against 0.8 ns per output (MobileNetV2's 144->24 projection at batch 8)
        _fold_bias(bias, mult, half, uc0, un, acc)
        for r in range(rows):
            ox += 1
            if ox == wp:
                ox = 0
                oy += 1
            if ox >= ow:
                continue
            o0 = np.uint64((b * oh + oy) * ow + ox) * ldo + uc0
            if size == 1:
                if has_res:
                    _requantize_row_res(tile, r, un, uc0, o0, acc, mult, shift, lo, hi, rf, res_mult, of8)
                else:
                    _requantize_row(tile, r, un, uc0, o0, acc, mult, shift, lo, hi, of8)
            else:
                if has_res:
                    _requantize_row_res(tile, r, un, uc0, o0, acc, mult, shift, lo, hi, rf, res_mult, of16)
                else:
                    _requantize_row(tile, r, un, uc0, o0, acc, mult, shift, lo, hi, of16)
        return 0
    if not dual and not raw and mode == HALF_UP and has_res and not check and size <= 2:
        # int8 rows with a fused residual (a transformer's output projections): the general loop's scratch
        # row cost MiniLM's 512x1536 -> 384 linear 0.67 -> 0.94 ms over the same GEMM without residual
        for r in range(rows):
            ox += 1
            if ox == wp:
                ox = 0
                oy += 1
            if ox >= ow:
                continue
            o0 = np.uint64((b * oh + oy) * ow + ox) * ldo + uc0
            if size == 1:
                for j in range(un):
                    c = uc0 + j
                    p = (np.int64(tile[r, j]) + bias[c]) * mult[c] + np.int64(rf[o0 + j]) * res_mult[c]
                    of8[o0 + j] = min(max((p + half[c]) >> shift[c], lo), hi)
            else:
                for j in range(un):
                    c = uc0 + j
                    p = (np.int64(tile[r, j]) + bias[c]) * mult[c] + np.int64(rf[o0 + j]) * res_mult[c]
                    of16[o0 + j] = min(max((p + half[c]) >> shift[c], lo), hi)
        return 0
    if dual and not raw and mode == HALF_UP and not has_res and not check and size <= 2:
        # the same for int16 rows (the two byte planes joined per element): the general loop below went
        # through the int64 scratch row, 2.15 -> 1.73 ms for MiniLM's 512x384 -> 1536 int16 linear
        for r in range(rows):
            ox += 1
            if ox == wp:
                ox = 0
                oy += 1
            if ox >= ow:
                continue
            o0 = np.uint64((b * oh + oy) * ow + ox) * ldo + uc0
            if size == 1:
                for j in range(un):
                    c = uc0 + j
                    a = (np.int64(tile[r, j]) << 8) + tile_lo[r, j] + bias[c]
                    of8[o0 + j] = min(max((a * mult[c] + half[c]) >> shift[c], lo), hi)
            else:
                for j in range(un):
                    c = uc0 + j
                    a = (np.int64(tile[r, j]) << 8) + tile_lo[r, j] + bias[c]
                    of16[o0 + j] = min(max((a * mult[c] + half[c]) >> shift[c], lo), hi)
        return 0
    bad = 0
    for r in range(rows):
        ox += 1
        if ox == wp:
            ox = 0
            oy += 1
        if ox >= ow:
            continue
        o0 = np.uint64((b * oh + oy) * ow + ox) * ldo + uc0
        if not dual and not raw and mode == HALF_UP and not has_res and size == 1:
            # int8 codes, half_up, no residual, declared width checked: one branch-free loop
            for j in range(un):
                c = uc0 + j
                a = np.int64(tile[r, j]) + bias[c]
                bad += (a < acc_lo) | (a > acc_hi)
                of8[o0 + j] = min(max((a * mult[c] + half[c]) >> shift[c], lo), hi)
            continue
        if dual:
            for j in range(un):
                acc[j] = (np.int64(tile[r, j]) << 8) + tile_lo[r, j] + bias[uc0 + j]
        else:
            for j in range(un):
                acc[j] = np.int64(tile[r, j]) + bias[uc0 + j]
        for j in range(un):
            bad += (acc[j] < acc_lo) | (acc[j] > acc_hi)
        if not raw:
            if mode == HALF_UP:
                for j in range(un):
                    c = uc0 + j
                    p = acc[j] * mult[c]
                    if has_res:
                        p += np.int64(rf[o0 + j]) * res_mult[c]
                    acc[j] = min(max((p + half[c]) >> shift[c], lo), hi)
            else:
                for j in range(un):
                    c = uc0 + j
                    p = acc[j] * mult[c]
                    if has_res:
                        p += np.int64(rf[o0 + j]) * res_mult[c]
                    acc[j] = clamp(round_shift(p, shift[c], mode), lo, hi)
        _store_row(of8, of16, of32, of64, size, o0, acc, un)
    return bad


@numba.njit(cache=True, inline="always")
def _fused_ok(dual, raw, mode, has_res, acc_lo, acc_hi, size, wp, ow, n):
    """True when `gemm_epilogue` requantizes in the micro-kernel's registers (`_gemm_codes`).

    int8 codes, half_up, no residual, overflow proven impossible, no dropped virtual rows (every row is
    an output row: 1x1 and strided convs, linears, matmuls) and whole 16-column vectors (every store
    lands on the GEMM's own columns), the last panel of 1, 2 or 4 of them (`_panel_codes`).
    """
    return (not dual and not raw and mode == HALF_UP and not has_res and acc_lo == NO_CHECK[0]
            and acc_hi == NO_CHECK[1] and size == 1 and wp == ow and n % 16 == 0 and n % 64 != 48)


@numba.njit(cache=True)
def _gemm_codes(part, per, total, chunks, blocks, vrows, rows_per_image, image_bytes, row_bytes, a_addr, lda, t_addr,
                ntaps, b_addr, b_stride, panels, panel_bytes, n, n_vectors, k4, c0, bias, bias_stride, tail_args, qv,
                tile, out):
    """One worker part of `gemm_epilogue` with the requantize in the micro-kernel (`_fused_ok`).

    The int32 tile never goes through memory: each MR x 64 block's sums are requantized in registers
    and stored as int8 codes. With a tile, a 1x1 conv with a short K spent more time storing and
    reloading the tile and in the per-row epilogue loop than in the GEMM. `qv` is int64 scratch of 4 *
    PANEL: the panel's M, ``bias * M + 2**(S-1)`` and S; `tile` the int32 tile the last rows of an image
    (fewer than MR) go through, with `tail_args` the tile epilogue's arguments (the same variables as
    `gemm_epilogue`'s own call, so `_epilogue` compiles once). That epilogue reuses `qv` as its scratch
    row: the tail is a panel's last block, and the next panel refills `qv`.
    """
    dual, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, size = tail_args
    out_addr = out.ctypes.data
    ldo = out.shape[1]
    q_addr = qv.ctypes.data
    for q in range(part * per, min(total, (part + 1) * per)):
        b = q // chunks
        blk0 = (q % chunks) * CHUNK_BLOCKS
        blk1 = min(blocks, blk0 + CHUNK_BLOCKS)
        img = a_addr + (b // rows_per_image) * image_bytes + (b % rows_per_image) * row_bytes
        bias_b = bias[b * bias_stride:]
        for p in range(panels):
            nv = min(4, n_vectors - 4 * p)
            cc = c0 + p * PANEL
            for j in range(nv * 16):
                m = mult[cc + j]
                qv[j] = m
                qv[PANEL + j] = bias_b[cc + j] * m + half[cc + j]  # wraps like (acc + bias) * M + half: same bits
                qv[2 * PANEL + j] = shift[cc + j]
            b_p = b_addr + b * b_stride + p * panel_bytes
            for blk in range(blk0, blk1):
                v0 = blk * MR
                rows = min(MR, vrows - v0)
                if rows == MR:
                    o_addr = out_addr + (b * vrows + v0) * ldo + cc
                    _panel_codes(nv, img + v0 * lda, lda, t_addr, ntaps, b_p, k4, o_addr, ldo, q_addr, lo, hi)
                else:
                    _tile(rows, nv, img + v0 * lda, lda, t_addr, ntaps, b_p, k4, tile.ctypes.data)
                    _epilogue(tile, tile, dual, rows, v0, b, 1, vrows, vrows, cc, min(PANEL, n - p * PANEL), bias_b,
                              acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, qv, out, size)


@kernel
def gemm_epilogue(a, a_lo, lda, taps, k4, packed, b_stride, n_vectors, n, images, image_bytes, vrows, wp, ow, c0, bias,
                  bias_stride, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, rows_per_image,
                  row_bytes, workers, out, size):
    """Exact VNNI GEMM with the epilogue fused, writing codes (or the raw accumulator) to 2-D `out`.

    `out` is passed as its bytes (`as_bytes`: int8, (rows, columns * size)) with `size` its element
    size, so int8/int16 codes and int32/int64 raw outputs share one compiled signature (an int32
    classifier output used to cost a second full compile of this kernel).

    `a` is the flat byte buffer of the signed int8 A operand (the hi plane for int16), `a_lo` the
    int16 lo plane (``lo ^ 0x80``) or an empty array. Image `b`'s virtual row `v` starts at byte
    ``b * image_bytes + v * lda``; each of its `taps` (byte offsets) adds `k4` * 4 bytes of K.
    `packed` / `n_vectors` come from `pack_weights` (or `pack_operands`: image b's B then starts at
    byte ``b * b_stride`` and its bias at ``b * bias_stride``; both 0 for a constant weight); the
    GEMM's `n` columns go to ``out[:, c0:c0+n]`` (a group of a grouped conv), row
    ``(b * (vrows // wp) + oy) * ow + ox``. `bias` includes the unsigned-offset correction and is
    indexed by output column, as are `mult`, `shift`, `half`
    (2**(S-1), for the branch-free half_up path) and `res_mult`; `res` is a residual shaped like
    `out` or an empty (0, 0) array. Returns the count of accumulators outside [acc_lo, acc_hi].
    With `rows_per_image` > 1, "image" b is output row ``b % rows_per_image`` of real image
    ``b // rows_per_image``, starting at byte ``(b // rows_per_image) * image_bytes + (b % rows_per_image)
    * row_bytes`` (a strided conv's rows: no virtual row is computed and dropped); 1 and 0 otherwise.
    Parallel over `workers` contiguous parts of the chunks of MR-row blocks of every image (1 for the
    serial twin; an argument, because `numba.get_num_threads()` inside would make the kernel uncachable);
    inside a chunk each B panel passes over all its rows.
    """
    dual = a_lo.shape[0] > 0
    ntaps = taps.shape[0]
    a_addr = a.ctypes.data
    lo_addr = a_lo.ctypes.data
    t_addr = taps.ctypes.data
    b_addr = packed.ctypes.data
    panels = (n_vectors + 3) // 4
    panel_bytes = ntaps * k4 * 256
    oh = vrows // wp
    blocks = (vrows + MR - 1) // MR
    chunks = (blocks + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS
    total = images * chunks
    # one scratch set per worker part, not per chunk: three allocations per 48-row chunk cost about as
    # much as the GEMM of a short-K 1x1 conv
    parts = max(1, min(total, workers))
    per = (total + parts - 1) // parts
    in_registers = _fused_ok(dual, raw, mode, res.shape[0] > 0, acc_lo, acc_hi, size, wp, ow, n)
    bad = 0
    for part in numba.prange(parts):
        # one chunk's tiles are all computed before its epilogue reads them: reading a tile right after
        # the micro-kernel's 64-byte stores stalls on store forwarding (0.19 ms against 0.05 ms for the
        # 56x56 64->64 1x1 conv's epilogue)
        tile = np.empty((CHUNK_BLOCKS * MR, PANEL), np.int32)
        tile_lo = np.empty((CHUNK_BLOCKS * MR if dual else 0, PANEL), np.int32)
        acc = np.empty(4 * PANEL, np.int64)
        if in_registers:
            tail_args = (dual, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, size)
            _gemm_codes(part, per, total, chunks, blocks, vrows, rows_per_image, image_bytes, row_bytes, a_addr, lda,
                        t_addr, ntaps, b_addr, b_stride, panels, panel_bytes, n, n_vectors, k4, c0, bias, bias_stride,
                        tail_args, acc, tile, out)
            continue
        for q in range(part * per, min(total, (part + 1) * per)):
            b = q // chunks
            blk0 = (q % chunks) * CHUNK_BLOCKS
            blk1 = min(blocks, blk0 + CHUNK_BLOCKS)
            start = (b // rows_per_image) * image_bytes + (b % rows_per_image) * row_bytes
            img = a_addr + start
            img_lo = lo_addr + start
            v_first = blk0 * MR
            bias_b = bias[b * bias_stride:]
            v_end = min(vrows, blk1 * MR)
            for p in range(panels):
                nv = min(4, n_vectors - 4 * p)
                b_p = b_addr + b * b_stride + p * panel_bytes
                for blk in range(blk0, blk1):
                    v0 = blk * MR
                    rows = min(MR, vrows - v0)
                    t_row = (blk - blk0) * MR * PANEL * 4
                    _tile(rows, nv, img + v0 * lda, lda, t_addr, ntaps, b_p, k4, tile.ctypes.data + t_row)
                    if dual:
                        _tile(rows, nv, img_lo + v0 * lda, lda, t_addr, ntaps, b_p, k4, tile_lo.ctypes.data + t_row)
                bad += _epilogue(tile, tile_lo, dual, v_end - v_first, v_first, b, oh, wp, ow, c0 + p * PANEL,
                                 min(PANEL, n - p * PANEL), bias_b, acc_lo, acc_hi, mult, shift, half, mode, lo, hi,
                                 res, res_mult, raw, acc, out, size)
    return bad


def padded_k(k: int) -> int:
    """K rounded up to the 4 bytes one `vpdpbusd` lane reduces."""
    return -(-k // 4) * 4


def pack_weights(w_kn: np.ndarray) -> tuple[np.ndarray, int]:
    """(packed bytes, vector count) of a (K, N) int8-valued weight, in the micro-kernel's panel layout.

    Rows K..Kp-1 and columns N..16*vectors-1 are zeros, so padded A columns and C columns add nothing.
    A conv's K is (taps, C) with C a multiple of 4, so each tap's slice starts on a 4-row boundary.
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


@kernel
def pack_operands(y, kp, n_vectors, dual, packed, bias):
    """Pack each (K, N) int8 matrix ``y[b]`` like `pack_weights` into ``packed[b]`` and put its correction
    (``-128 * colsum``, or ``-32768 * colsum`` for int16 rows) in ``bias[b]``: `matmul`'s run-time B.

    `packed` is (batch, Kp * 16 * n_vectors) int8 with zeros beyond K and N (written here).
    """
    batch, k, n = y.shape
    width = n_vectors * 16
    scale = -32768 if dual else -128
    for b in numba.prange(batch):
        for c in range(width):
            p = c // PANEL
            v = (c % PANEL) // 16
            lane = c % 16
            nv = min(4, n_vectors - 4 * p)
            base = p * kp * PANEL + (v * 16 + lane) * 4
            s = np.int64(0)
            for kk in range(kp):
                val = np.int8(0)
                if kk < k and c < n:
                    val = y[b, kk, c]
                    s += val
                packed[b, base + (kk // 4) * nv * 64 + kk % 4] = val
            if c < n:
                bias[b, c] = scale * s


def column_correction(w_kn: np.ndarray, dual: bool = False) -> np.ndarray:
    """What turns the GEMM's offset sums back into ``sum(x * w)``, per column (int64).

    ``-128 * colsum(W)`` for int8 activations (``sum((x + 128) * w)``); ``-32768 * colsum(W)`` for the
    int16 split, whose hi plane carries the +128 offset and is weighted by 256.
    """
    return (-32768 if dual else -128) * np.asarray(w_kn, np.int64).sum(axis=0)


@kernel
def pad_copy(x, pt, pl, dst):
    """Copy int8 NHWC `x` into the interior of the zero-bordered NHWC buffer `dst` (border left alone).

    Three channels (an RGB input padded to 4 for the stem) are copied with the channel loop written out
    over flat views: the generic loop's 3-trip inner loop ran scalar (MobileNetV2's stem input at batch 8,
    one core: 0.60 ms, of the stem conv's 2.5).
    """
    n, h, w, c = x.shape
    _, hp, wp, cp = dst.shape
    xf, df = x.reshape(-1), dst.reshape(-1)
    uw, uc, ucp = np.uint64(w), np.uint64(c), np.uint64(cp)
    for r in numba.prange(n * h):
        b = r // h
        y = r % h
        if c == 3:
            s0 = np.uint64(r) * uw * uc
            d0 = np.uint64((b * hp + y + pt) * wp + pl) * ucp
            for xx in range(uw):
                s = s0 + xx * np.uint64(3)
                d = d0 + xx * ucp
                df[d] = xf[s]
                df[d + np.uint64(1)] = xf[s + np.uint64(1)]
                df[d + np.uint64(2)] = xf[s + np.uint64(2)]
            continue
        for xx in range(w):
            for ci in range(c):
                dst[b, y + pt, xx + pl, ci] = x[b, y, xx, ci]


@kernel
def pad_split16(x, pt, pl, hi, lo):
    """Split int16 NHWC `x` into byte planes inside zero-code borders: ``hi = x >> 8``, ``lo = (x & 255) ^ 0x80``.

    Border bytes stay as planned: hi 0 and lo -128 (``0 ^ 0x80``), i.e. code 0.
    """
    n, h, w, c = x.shape
    for r in numba.prange(n * h):
        b = r // h
        y = r % h
        for xx in range(w):
            for ci in range(c):
                v = np.int32(x[b, y, xx, ci])
                hi[b, y + pt, xx + pl, ci] = np.int8(v >> 8)
                lo[b, y + pt, xx + pl, ci] = np.int8((v & 255) - 128)


class RowOperand:
    """A GEMM's A operand of `rows` rows of K int8 or int16 codes, laid out as `gemm_epilogue` reads it.

    int8 rows with K a multiple of 4 are read where they lie; other int8 rows are copied into rows
    padded to Kp (the pad meets zero weights); int16 rows are split into the hi / lo byte planes (module
    doc). `LinearPlan` and `MatmulPlan` share this (each had its own copy of the buffers and the copy).
    """

    def __init__(self, rows: int, k: int, dual: bool):
        self.rows, self.k, self.dual = rows, k, dual
        self.kp = kp = padded_k(k)
        self.in_place = not dual and k == kp
        if dual:
            self.x_hi, self.x_lo = np.zeros((rows, kp), np.int8), np.full((rows, kp), -128, np.int8)
            self.a_bytes, self.a_lo = self.x_hi.reshape(-1).view(np.uint8), self.x_lo.reshape(-1).view(np.uint8)
        elif not self.in_place:
            self.x_pad = np.zeros((rows, kp), np.int8)
            self.a_bytes, self.a_lo = self.x_pad.reshape(-1).view(np.uint8), _NO_LO
        else:
            self.a_lo = _NO_LO

    def load(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A bytes, lo plane or empty) for the codes `x` (any shape of `rows` x K elements, C-contiguous)."""
        rows, k, kp = self.rows, self.k, self.kp
        if self.in_place:
            return x.reshape(-1).view(np.uint8), self.a_lo
        x4 = x.reshape(1, rows, 1, k)
        if self.dual:
            pad_split16(x4, 0, 0, self.x_hi.reshape(1, rows, 1, kp), self.x_lo.reshape(1, rows, 1, kp))
        else:
            pad_copy(x4, 0, 0, self.x_pad.reshape(1, rows, 1, kp))
        return self.a_bytes, self.a_lo


_NO_LO = np.zeros(0, np.uint8)

class VnniGemm:
    """A packed constant weight (K, N) for `gemm_epilogue`; `correction` goes into the caller's bias.

    `run` takes flat uint8 views of the A buffers (`a_lo` empty for int8) and the geometry (`lda`,
    `taps`, `k4`, `images`, `image_bytes`, `vrows`, `wp`, `ow`) saying where each output row's operand
    lies (see the module doc).
    """

    def __init__(self, w_kn: np.ndarray, dual: bool = False):
        k, n = w_kn.shape
        if k > MAX_K:
            raise ValueError(f"K = {k} exceeds the VNNI route's exact bound {MAX_K}")
        self.k, self.n = k, n
        self.packed, self.n_vectors = pack_weights(w_kn)
        self.correction = column_correction(w_kn, dual)

    def run(self, a_bytes, a_lo, lda, taps, k4, images, image_bytes, vrows, wp, ow, c0, bias, acc_lo, acc_hi,
            epilogue, out2d, rows_per_image: int = 1, row_bytes: int = 0) -> int:
        """`epilogue` is (mult, shift, half, mode, lo, hi, res, res_mult, raw), arrays indexed by out column;
        `rows_per_image` / `row_bytes` as in `gemm_epilogue` (`images` then counts output rows)."""
        mult, shift, half, mode, lo, hi, res, res_mult, raw = epilogue
        work = images * vrows * len(taps) * k4 * 4 * self.n
        # threads only when the GEMM repays a launch: ~400 MACs cost what one element pass costs
        run, workers = gemm_epilogue.pick_split(work // 400)
        return run(a_bytes, a_lo, lda, taps, k4, self.packed, 0, self.n_vectors, self.n, images, image_bytes, vrows, wp,
                   ow, c0, bias, 0, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, rows_per_image,
                   row_bytes, workers, *as_bytes(out2d))


def as_bytes(out2d: np.ndarray) -> tuple[np.ndarray, int]:
    """(int8 view (rows, columns * itemsize), itemsize) of a C-contiguous 2-D output, for `gemm_epilogue`."""
    if not out2d.flags.c_contiguous:
        raise ValueError("gemm_epilogue writes C-contiguous outputs only")
    return out2d.view(np.int8), out2d.dtype.itemsize


def accumulator_proven(w_kn: np.ndarray, bias: np.ndarray, x_abs: int, acc_range: tuple[int, int]) -> bool:
    """True when no input can push an accumulator outside `acc_range`: for every output column,
    ``x_abs * sum_k |w[k, n]| + |bias[n]|`` fits (x_abs = 128 for int8 codes, 32768 for int16).

    Then the range check the epilogue runs per element is dead code, and the plan passes `NO_CHECK`.
    """
    if w_kn.size == 0:
        return True
    bound = x_abs * np.abs(np.asarray(w_kn, np.int64)).sum(axis=0) + np.abs(np.asarray(bias, np.int64))
    limit = min(-int(acc_range[0]), int(acc_range[1]))
    return int(bound.max()) <= limit


def half_of(shift: np.ndarray) -> np.ndarray:
    """2**(S-1) per channel (0 where S = 0): the half_up rounding constant of the branch-free epilogue."""
    s = np.asarray(shift, np.int64)
    return np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
