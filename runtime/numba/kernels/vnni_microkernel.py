"""The VNNI micro-kernels: LLVM IR calling `llvm.x86.avx512.vpdpbusd.512`, generated per block shape.

Split from vnni.py (which keeps the GEMM driver, packing and the plan objects) because this is the one
part written against llvmlite rather than in Numba: `_microkernel` builds an MR x (16 * nv) register
block as an intrinsic, `_store_codes` its in-register half_up requantize, and `_panel`/`_panel_codes`/
`_tile` are the Numba-level dispatch over the compiled shapes. The arithmetic is vnni.py's docstring.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Rows per micro-kernel call: 6 rows x 4 vectors = 24 zmm accumulators + 4 B vectors + 1 broadcast
#: of 32 registers. Measured (3136x576x64, one core): 2 rows 160-172, 4 rows 163-210, 6 rows
#: 235-278, 8 rows 109-166 GMAC/s (spills).
MR = 6
#: Output columns per B panel: four 16-lane vectors.
PANEL = 64
#: `fill_panel_constants`' `lane_bias` of the VNNI route: none (a global, so no call allocates it).
NO_LANE_BIAS = np.zeros(0, np.int32)

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I32, 16)
_FLIP4 = ir.Constant(_I32, -0x7F7F7F80)  # 0x80808080: the top bit of each of the 4 broadcast bytes


def _microkernel(mr: int, nv: int, requantize: bool = False, dual: bool = False):
    """An intrinsic ``mk(a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc)``.

    With `requantize` it is ``mk(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi,
    has_res, res_delta, last_lanes, out_size)`` and writes int8 codes (a `dual` kernel int16 codes when
    `out_size` is 2, `col` in bytes) instead of int32 sums. A row r then starts at the
    int64 address ``a_rows[r]`` (`lda` is unused): a stride-1 3x3 conv's output pixels are not evenly spaced
    in its padded input (each image row skips ``wp - ow`` pixels), and computing the skipped ones as rows
    and dropping them cost 3.4% of the 56x56 conv's GEMM. ``c[r, j] = clamp((acc *
    M + bm + res * Mr) >> S, lo, hi)`` with M, bm (``bias * M + 2**(S-1)``), S and Mr read as int64
    vectors from `q_addr` (``[M x 64][bm x 64][S x 64][Mr x 64]`` of the panel's columns); the residual
    term only when `has_res`, its int8 codes at byte ``res_delta`` from each output byte (the residual
    has the output's shape). Row r's codes go to byte address ``rows[r] + col`` with `rows_addr`
    pointing at MR int64 addresses: the jump from one output image row to the next inside a block is the
    caller's table, not a tile round trip. The last vector stores (and reads residuals of) its
    first `last_lanes` lanes only, through masked moves (a 24-column projection is 16 + 8 lanes).

    ``C[mr, 16*nv] = sum over taps t of flip(A_t)[mr, 4*k4] @ B_t`` where ``A_t`` starts at
    ``a_addr + taps[t]`` (byte offsets, int64) with row stride `lda` bytes, and B_t is the t-th
    ``k4`` slice of one packed panel (consecutive in memory). `c_addr` is int32 with row stride `ldc`
    elements. The accumulators live in allocas that LLVM's SROA promotes to registers.

    With `dual` (requantize only) the A operand is an int16 activation's two byte planes (vnni.py's
    module doc): row r's hi plane at ``a_rows[r]``, its lo plane `lda` bytes further (the planes'
    distance: `lda` is otherwise unused here), both multiplied by the same B vectors into two sets of
    accumulators, joined in int64 as ``256 * C_hi + C_lo`` before the requantize. Two planes of 24
    registers do not fit, so dual kernels take 3 rows (3 x 4 x 2 = 24 zmm accumulators): each B vector
    still feeds 6 `vpdpbusd` per load, as in the 6-row kernel.
    """
    assert not dual or requantize

    def codegen(context, builder, signature, args):
        a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc = args[:8]
        i64 = lda.type
        dot = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V16, [_V16, _V16, _V16]),
                                             "llvm.x86.avx512.vpdpbusd.512")
        a_base = builder.inttoptr(a_addr, _I8.as_pointer())
        a_table = builder.inttoptr(a_addr, i64.as_pointer())
        b_base = builder.inttoptr(b_addr, _I8.as_pointer())
        c_base = builder.inttoptr(c_addr, _I32.as_pointer())
        taps = builder.inttoptr(taps_addr, i64.as_pointer())
        zero = ir.Constant(_V16, None)
        accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)]
        accs_lo = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)] if dual else []
        step = ir.Constant(i64, nv * 64)
        with cgutils.for_range(builder, ntaps) as tap_loop:
            t = tap_loop.index
            tap_off = builder.load(builder.gep(taps, [t]))
            if requantize:  # a table of row addresses
                rows = [builder.gep(builder.inttoptr(builder.load(builder.gep(a_table, [ir.Constant(i64, r)])),
                                                     _I8.as_pointer()), [tap_off]) for r in range(mr)]
            else:
                a_tap = builder.gep(a_base, [tap_off])
                rows = [builder.gep(a_tap, [builder.mul(lda, ir.Constant(i64, r))]) for r in range(mr)]
            b_tap = builder.gep(b_base, [builder.mul(builder.mul(t, k4), step)])
            with cgutils.for_range(builder, k4) as loop:
                kk = loop.index
                b_k = builder.gep(b_tap, [builder.mul(kk, step)])
                b_vecs = [builder.load(builder.bitcast(builder.gep(b_k, [ir.Constant(i64, v * 64)]),
                                                       _V16.as_pointer()), align=1) for v in range(nv)]
                k_off = builder.mul(kk, ir.Constant(i64, 4))

                def broadcast(row):
                    a4 = builder.load(builder.bitcast(builder.gep(row, [k_off]), _I32.as_pointer()), align=1)
                    a4 = builder.xor(a4, _FLIP4)
                    one = builder.insert_element(ir.Constant(_V16, ir.Undefined), a4, ir.Constant(_I32, 0))
                    return builder.shuffle_vector(one, ir.Constant(_V16, ir.Undefined), ir.Constant(_V16, None))

                for r in range(mr):
                    splat = broadcast(rows[r])
                    for v in range(nv):
                        builder.store(builder.call(dot, [builder.load(accs[r][v]), splat, b_vecs[v]]), accs[r][v])
                    if dual:
                        splat = broadcast(builder.gep(rows[r], [lda]))
                        for v in range(nv):
                            builder.store(builder.call(dot, [builder.load(accs_lo[r][v]), splat, b_vecs[v]]),
                                          accs_lo[r][v])
        if requantize:
            _store_codes(builder, accs, accs_lo, args[8:], c_addr, ldc, mr, nv)  # c_addr, ldc: rows_addr, col
            return context.get_dummy_value()
        for r in range(mr):
            for v in range(nv):
                c_off = builder.add(builder.mul(ldc, ir.Constant(i64, r)), ir.Constant(i64, v * 16))
                builder.store(builder.load(accs[r][v]), builder.bitcast(builder.gep(c_base, [c_off]),
                                                                       _V16.as_pointer()), align=1)
        return context.get_dummy_value()

    if requantize:
        @intrinsic
        def mkq(typingctx, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc, q_addr, lo, hi, has_res,
                res_delta, last_lanes, out_size):
            return types.void(types.uintp, types.intp, types.uintp, types.intp, types.uintp, types.intp,
                              types.uintp, types.intp, types.uintp, types.int64, types.int64, types.int64,
                              types.int64, types.int64, types.int64), codegen

        return mkq

    @intrinsic
    def mk(typingctx, a_addr, lda, taps_addr, ntaps, b_addr, k4, c_addr, ldc):
        return types.void(types.uintp, types.intp, types.uintp, types.intp, types.uintp, types.intp, types.uintp,
                          types.intp), codegen

    return mk


_I64 = ir.IntType(64)
_I16 = ir.IntType(16)
_V16Q = ir.VectorType(_I64, 16)
_V16B = ir.VectorType(_I8, 16)
_V16W = ir.VectorType(_I16, 16)


@numba.njit(cache=True, inline="always")
def fill_panel_constants(consts, panels, n, c0, bias, mult, half, shift, res_mult, has_res, lane_bias):
    """Write what `_store_codes` reads at `q_addr`: per panel of PANEL columns, ``[M][bias * M + 2**(S-1)][S][Mr]``
    (PANEL int64 each) of output columns ``c0 + p * PANEL + j``; lanes past `n` zero (masked, but defined).

    ``bias * M + half`` wraps like ``(acc + bias) * M + half`` does: the same bits. The VNNI and AMX drivers
    fill it once per part (a refill per chunk cost a short-K 1x1 conv about as much as its GEMM).
    `lane_bias` (indexed by panel lane ``p * PANEL + j``, or empty) joins the bias: the AMX route's
    ``128 * colsum(W)``, since its tiles start from zero.
    """
    lanes = lane_bias.shape[0] > 0
    for p in range(panels):
        cc = c0 + p * PANEL
        k0 = 4 * PANEL * p
        consts[k0:k0 + 4 * PANEL] = 0
        for j in range(min(PANEL, n - p * PANEL)):
            m = mult[cc + j]
            consts[k0 + j] = m
            b = bias[cc + j] + (np.int64(lane_bias[p * PANEL + j]) if lanes else np.int64(0))
            consts[k0 + PANEL + j] = b * m + half[cc + j]
            consts[k0 + 2 * PANEL + j] = shift[cc + j]
            if has_res:
                consts[k0 + 3 * PANEL + j] = res_mult[cc + j]


def _store_codes(builder, accs, accs_lo, q_args, rows_addr, col, mr: int, nv: int,
                 skip_null_rows: bool = False) -> None:
    """The in-register half_up requantize of `_microkernel(..., requantize=True)`: int32 sums -> int8 codes.

    Each 16-lane accumulator is widened to int64 (the exact ``acc * M`` needs 62 bits), multiplied,
    offset by bm (and by ``res * Mr`` when `has_res`: the residual's codes, sign-extended), shifted per
    lane, clamped and narrowed; the tile never goes through memory. Row r is stored at ``rows[r] + col``,
    the last vector through a lane mask of `last_lanes`. With `accs_lo` (a dual kernel) the int64 sum
    is ``256 * hi + lo`` of the two planes' accumulators.
    The steps are `requantize.half_up_folded`'s with ``bm + res * Mr`` as its constant, lane by lane (that
    function is the definition every Numba route calls; LLVM IR cannot call it on vectors, and the tests
    hold both to the same int64 oracle). int64 adds wrap alike in any order, so the bits equal the tile
    epilogue's `_requantize_row_res`. With `skip_null_rows` (the AMX kernel's sums, read from memory) a row
    whose address is 0 is not stored: a virtual row no output pixel holds.
    """
    q_addr, lo, hi, has_res, res_delta, last_lanes, out_size = q_args
    q_base = builder.inttoptr(q_addr, _I64.as_pointer())
    rows = builder.inttoptr(rows_addr, _I64.as_pointer())
    i1 = ir.IntType(1)
    v16i1 = ir.VectorType(i1, 16)
    store_fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [_V16B, _V16B.as_pointer(), _I32, v16i1]),
        "llvm.masked.store.v16i8.p0")
    store16_fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [_V16W, _V16W.as_pointer(), _I32, v16i1]),
        "llvm.masked.store.v16i16.p0")
    load_fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_V16B, [_V16B.as_pointer(), _I32, v16i1, _V16B]),
        "llvm.masked.load.v16i8.p0")
    load16_fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_V16W, [_V16W.as_pointer(), _I32, v16i1, _V16W]),
        "llvm.masked.load.v16i16.p0")

    def vec(which: int, v: int):
        ptr = builder.gep(q_base, [ir.Constant(_I64, which * PANEL + v * 16)])
        return builder.load(builder.bitcast(ptr, _V16Q.as_pointer()), align=8)

    def multiplier(which: int, v: int):
        # M and Mr are in [0, 2**31) (the bpu verifier's range): sign-extending their low 32 bits changes
        # nothing, and tells LLVM that both factors of an int32 sum's product fit 32 bits, so it multiplies
        # with one-uop `vpmuldq` instead of three-uop `vpmullq` (the dual kernel's 40-bit sums keep vpmullq)
        m = vec(which, v)
        if accs_lo:
            return m
        thirty_two = ir.Constant(_V16Q, [32] * 16)
        return builder.ashr(builder.shl(m, thirty_two), thirty_two)

    def splat(x):
        one = builder.insert_element(ir.Constant(_V16Q, ir.Undefined), x, ir.Constant(_I32, 0))
        return builder.shuffle_vector(one, ir.Constant(_V16Q, ir.Undefined), ir.Constant(ir.VectorType(_I32, 16), None))

    def splat_byte(x):
        # x clamped into [-128, 127] first: int8 outputs' bounds are, and the byte clamp must not wrap
        x = builder.select(builder.icmp_signed("<", x, ir.Constant(_I64, -128)), ir.Constant(_I64, -128), x)
        x = builder.select(builder.icmp_signed(">", x, ir.Constant(_I64, 127)), ir.Constant(_I64, 127), x)
        one = builder.insert_element(ir.Constant(_V16B, ir.Undefined), builder.trunc(x, _I8), ir.Constant(_I32, 0))
        return builder.shuffle_vector(one, ir.Constant(_V16B, ir.Undefined), ir.Constant(ir.VectorType(_I32, 16), None))

    def splat_word(x):
        x = builder.select(builder.icmp_signed("<", x, ir.Constant(_I64, -32768)), ir.Constant(_I64, -32768), x)
        x = builder.select(builder.icmp_signed(">", x, ir.Constant(_I64, 32767)), ir.Constant(_I64, 32767), x)
        one = builder.insert_element(ir.Constant(_V16W, ir.Undefined), builder.trunc(x, _I16), ir.Constant(_I32, 0))
        return builder.shuffle_vector(one, ir.Constant(_V16W, ir.Undefined), ir.Constant(ir.VectorType(_I32, 16), None))

    lo_b, hi_b = splat_byte(lo), splat_byte(hi)
    min8, max8 = ir.Constant(_V16Q, [-128] * 16), ir.Constant(_V16Q, [127] * 16)
    min16, max16 = ir.Constant(_V16Q, [-32768] * 16), ir.Constant(_V16Q, [32767] * 16)
    lanes = ir.Constant(_V16Q, list(range(16)))
    mask = builder.icmp_signed("<", lanes, splat(last_lanes))  # the last vector's valid lanes
    full = ir.Constant(v16i1, [1] * 16)

    def wide_sum(r: int, v: int):
        # widened where used: 24 int64 vectors made up front would not fit the registers
        hi_sum = builder.sext(builder.load(accs[r][v]), _V16Q)
        if not accs_lo:
            return hi_sum
        return builder.add(builder.shl(hi_sum, ir.Constant(_V16Q, [8] * 16)),
                           builder.sext(builder.load(accs_lo[r][v]), _V16Q))
    row_starts = [builder.load(builder.gep(rows, [ir.Constant(_I64, r)])) for r in range(mr)]
    outs = [builder.add(start, col) for start in row_starts]

    def store_rows(with_res: bool, words: bool = False, res_words: bool = False) -> None:
        # straight-line code, one copy with the residual and one without: a branch per row or vector made
        # LLVM shuffle the 24 sums between registers (15 zmm moves per row) around each join
        code_t, store, size = (_V16W, store16_fn, 2) if words else (_V16B, store_fn, 1)
        q_min, q_max = (min16, max16) if words else (min8, max8)
        c_lo, c_hi = (splat_word(lo), splat_word(hi)) if words else (lo_b, hi_b)
        for r in range(mr):
            if skip_null_rows:
                stored = builder.append_basic_block(f"row{r}")
                after = builder.append_basic_block(f"row{r}_done")
                builder.cbranch(builder.icmp_unsigned("!=", row_starts[r], ir.Constant(_I64, 0)), stored, after)
                builder.position_at_end(stored)
            for v in range(nv):
                lane_mask = mask if v == nv - 1 else full
                # the constants are loaded where used (the stores may alias them, so they stay memory operands)
                p = builder.add(builder.mul(wide_sum(r, v), multiplier(0, v)), vec(1, v))
                if with_res and res_words:
                    # an int16 residual beside int8 codes: its row is at twice the output's byte offset, so
                    # the driver passes ``res_delta = res - 2 * out`` (`vnni._gemm_codes`)
                    res_ptr = builder.inttoptr(builder.add(builder.add(builder.shl(outs[r], ir.Constant(_I64, 1)),
                                                                       res_delta), ir.Constant(_I64, v * 32)),
                                               _V16W.as_pointer())
                    codes = builder.call(load16_fn, [res_ptr, ir.Constant(_I32, 2), lane_mask,
                                                     ir.Constant(_V16W, None)])
                elif with_res:
                    res_ptr = builder.inttoptr(builder.add(builder.add(outs[r], res_delta), ir.Constant(_I64, v * 16)),
                                               _V16B.as_pointer())
                    codes = builder.call(load_fn, [res_ptr, ir.Constant(_I32, 1), lane_mask, ir.Constant(_V16B, None)])
                if with_res:
                    p = builder.add(p, builder.mul(builder.sext(codes, _V16Q), multiplier(3, v)))
                # saturate to the code type as it narrows (one `vpmovsqb` / `vpmovsqw`), then clamp to [lo, hi]
                # in its lanes: the same codes as clamping the int64 lanes, since [lo, hi] lies inside the type
                q = builder.ashr(p, vec(2, v))
                q = builder.select(builder.icmp_signed("<", q, q_min), q_min, q)
                q = builder.select(builder.icmp_signed(">", q, q_max), q_max, q)
                c = builder.trunc(q, code_t)
                c = builder.select(builder.icmp_signed("<", c, c_lo), c_lo, c)
                c = builder.select(builder.icmp_signed(">", c, c_hi), c_hi, c)
                c_ptr = builder.inttoptr(builder.add(outs[r], ir.Constant(_I64, v * 16 * size)), code_t.as_pointer())
                builder.call(store, [c, c_ptr, ir.Constant(_I32, size), lane_mask])
            if skip_null_rows:
                builder.branch(after)
                builder.position_at_end(after)

    if accs_lo:
        # a dual kernel (an int16 input): int16 codes, or int8 codes with no residual, an int8 one (`has_res`
        # 1) or an int16 one (2) (`vnni._fused_ok`; MobileNetV2's residual projections reading an int16
        # depthwise output, their residual int8 or int16 as mixed precision chose)
        with builder.if_else(builder.icmp_signed("==", out_size, ir.Constant(_I64, 2))) as (wide, narrow):
            with wide:
                store_rows(False, words=True)
            with narrow:
                with builder.if_else(builder.icmp_unsigned("==", has_res, ir.Constant(_I64, 0))) as (plain, res):
                    with plain:
                        store_rows(False)
                    with res:
                        with builder.if_else(builder.icmp_unsigned("==", has_res, ir.Constant(_I64, 2))) as (r16, r8):
                            with r16:
                                store_rows(True, res_words=True)
                            with r8:
                                store_rows(True)
        return
    # int8 inputs: int8 codes only; an int16 output copy here cost every cold start for a rare case
    with builder.if_else(builder.icmp_unsigned("!=", has_res, ir.Constant(_I64, 0))) as (then, otherwise):
        with then:
            store_rows(True)
        with otherwise:
            store_rows(False)


#: public for kernels that need other block shapes (kernels/small_matmul.py)
microkernel = _microkernel
_mk6_1, _mk6_2, _mk6_3, _mk6_4 = (_microkernel(MR, nv) for nv in (1, 2, 3, 4))
_mk1_1, _mk1_2, _mk1_3, _mk1_4 = (_microkernel(1, nv) for nv in (1, 2, 3, 4))
_mkq6_1, _mkq6_2, _mkq6_3, _mkq6_4 = (_microkernel(MR, nv, True) for nv in (1, 2, 3, 4))
#: Rows per call of the dual (int16 input) micro-kernels: two calls make an MR-row block.
DUAL_MR = 3
_mkqd3_1, _mkqd3_2, _mkqd3_3, _mkqd3_4 = (_microkernel(DUAL_MR, nv, True, True) for nv in (1, 2, 3, 4))
#: Rows per call of the tail micro-kernel (`_pair_codes`).
TAIL_MR = 2
_mkq2_4 = _microkernel(TAIL_MR, 4, True)


@numba.njit(cache=True)
def _panel_codes(nv, a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res,
                 res_delta, last_lanes, out_size, lo_delta):
    """`_panel` of MR rows read from ``a_rows[r]`` with the requantize (and residual) in registers, writing int8
    (or int16) codes to ``rows[r] + col``.

    1-4 vectors and MR rows: a block's last rows take the tile path (`_gemm_codes`), which is compiled
    anyway. A last panel of 3 vectors had taken it too, and with it the whole GEMM: 2-4x slower convs with
    40, 48, 112 or 240 output channels (docs/design.md, "A last panel of 3 vectors stays in registers").
    The residual, the output width and the lane mask are run-time arguments, not variants: each intrinsic
    instantiation costs compile time. A non-zero `lo_delta` is an int16 activation's lo plane distance: the
    block runs as two DUAL_MR-row dual calls.
    """
    if lo_delta != 0:
        half = DUAL_MR * 8  # the second call's rows: DUAL_MR int64 addresses further in both tables
        for h in range(2):
            a_h = a_rows_addr + h * half
            r_h = rows_addr + h * half
            if nv == 4:
                _mkqd3_4(a_h, lo_delta, taps_addr, ntaps, b_addr, k4, r_h, col, q_addr, lo, hi, has_res, res_delta,
                         last_lanes, out_size)
            elif nv == 3:
                _mkqd3_3(a_h, lo_delta, taps_addr, ntaps, b_addr, k4, r_h, col, q_addr, lo, hi, has_res, res_delta,
                         last_lanes, out_size)
            elif nv == 2:
                _mkqd3_2(a_h, lo_delta, taps_addr, ntaps, b_addr, k4, r_h, col, q_addr, lo, hi, has_res, res_delta,
                         last_lanes, out_size)
            else:
                _mkqd3_1(a_h, lo_delta, taps_addr, ntaps, b_addr, k4, r_h, col, q_addr, lo, hi, has_res, res_delta,
                         last_lanes, out_size)
        return
    if nv == 4:
        _mkq6_4(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
                last_lanes, out_size)
    elif nv == 3:
        _mkq6_3(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
                last_lanes, out_size)
    elif nv == 2:
        _mkq6_2(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
                last_lanes, out_size)
    else:
        _mkq6_1(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
                last_lanes, out_size)


@numba.njit(cache=True)
def _pair_codes(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
                last_lanes, out_size):
    """`_panel_codes` of TAIL_MR rows and 4 vectors: an image's last pixels (fewer than MR) two at a time.

    Why: one row per call loads the whole B panel for 4 `vpdpbusd` per k-step, so a K = 768 panel streamed
    from L2 at its bandwidth, and the 2 tail rows of a 128-row linear cost as much as a full 6-row block
    (128x768x768: 0.358 ms against 0.343 for 126 rows); two rows per call halve that traffic and skip the
    int32 tile. Only the full 4-vector panel: each variant costs seconds of cold compile.
    """
    _mkq2_4(a_rows_addr, lda, taps_addr, ntaps, b_addr, k4, rows_addr, col, q_addr, lo, hi, has_res, res_delta,
            last_lanes, out_size)


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

