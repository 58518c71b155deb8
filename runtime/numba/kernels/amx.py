"""Exact int8 GEMM on AMX tiles (`tdpbssd`), with the VNNI route's in-register requantize, from Numba.

Why: where the CPU has AMX-INT8 (Sapphire Rapids and later), one `tdpbssd` multiplies a 16 x 64 int8
tile by a 64 x 16 one into 16 x 16 int32 sums: 16,384 MACs per instruction against `vpdpbusd`'s 64.
Measured on the benchmark box (2026-12-02, one core, a plain 2 x 2 tile loop, int32 out): 3136 x 576
x 64 (the 56x56 64->64 3x3 conv's GEMM) 323 GMAC/s, 128 x 768 x 768 508 GMAC/s, against 235-278
for the 6 x 64 VNNI micro-kernel. Inside the runtime the gain shrinks (tile loads, the epilogue, copies):
1.0-1.4x on large GEMMs and nothing on MobileNetV2 end to end when every GEMM took it (docs/design.md,
"AMX route"), so by default it takes only the GEMMs whose shape `pays` (IRQ_AMX=1: all, 0: none).
The rest of the GEMM is vnni.py's: the same packed operands' geometry
(taps, virtual rows, images), the same bias (which carries ``-128 * colsum(W)``) and the same epilogue
(`vnni_microkernel._store_codes`, the exact half_up requantize the tests hold to the int64 oracle).

Arithmetic (Intel SDM, TDPBSSD): ``C[m, n] += sum_k A[m, k] * B[k, n]`` over signed bytes, in int32,
wrapping. vnni.py's contract is ``sum((x + 128) * w)`` (its callers fold ``-128 * colsum(W)`` into
the bias), so the driver adds ``128 * colsum(W)`` (`offsets`) to each column's bias constant
``bias * M + 2**(S-1)`` as ``offsets * M`` and the tiles start from zero (`tilezero`): every partial
sum ``sum(x * w)`` stays within ``K * 16384 < 2**31`` (K <= vnni.MAX_K), and ``(acc + offsets + bias) * M``
in wrapping int64 is the VNNI route's value, bit for bit. (The tiles had started at the offsets, loaded
with row stride 0 from an unaligned array: four loads per pass at 22 ns each, 10% of a 128x768x768
call.)

Overlap: the tile unit multiplies while the vector units are free, and the requantize (34 us of a
107 us 128x768x768 call, measured 2026-12-03) is vector work. So each block's codes are written a few
rows at a time between the *next* block's tile instructions (`_amx_codes`'s ``e_*`` arguments), from
one of two sums buffers (and one of two row tables, by chunk); the last block, or one before a panel
of another width, is flushed alone. The tile configuration is loaded once per driver call, not per block.

Layouts: a tile row is 64 bytes of K. Each tap's K (``4 * k4`` bytes, C padded to 4) is cut into
``kc = ceil(k4 / 16)`` chunks of 64 bytes; `pack_weights` stores B as ``[panel][tap][chunk][vector]``
tiles of 16 k4-rows x 64 bytes (16 columns x 4 k), rows past the tap's k4 zero. So A may read up to
63 bytes past a tap's channels (the next pixel's, or the zeros of a copied block): they meet zero
weights. A block is 32 *virtual* rows at a uniform stride (`tileloadd` has one stride): a stride-1
conv's rows with ``ox >= ow`` are computed and not stored (their row address is 0), as are rows past
the image. A block whose reads would leave the A buffer is first copied into zeroed scratch.

The OS grants AMX per process: Linux needs ``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``
before the first tile instruction (otherwise SIGILL), asked once here when the CPU has the features.
"""

from __future__ import annotations

import ctypes
import os
import sys

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .aligned import aligned_copy
from .launch import part_kernel
from .vnni_microkernel import PANEL, _store_codes, fill_panel_constants

#: Rows of a tile.
TILE_ROWS = 16
#: Rows of a block: two A tiles (2 x 2 blocking, `_C_TILES`).
ROWS = 32
#: Bytes of K per tile row (and per `tdpbssd` step).
KBYTES = 64
#: Blocks per parallel chunk: a panel of B passes over a chunk's rows while they are in L1/L2.
CHUNK_BLOCKS = 3

_SYS_ARCH_PRCTL = 158  # x86-64
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_granted: bool | None = None


def _request_permission() -> bool:
    """Ask Linux for the AMX tile data state for this process (all its threads); True when granted."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) == 0
    except (OSError, AttributeError):
        return False


def setting() -> str:
    """`IRQ_AMX`: "0" off, "1" every eligible GEMM (the tests' setting: small shapes meet the tiles' edges),
    unset or "auto" the GEMMs whose shape `pays` (the default)."""
    value = os.environ.get("IRQ_AMX", "auto").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    return "auto" if value in ("", "auto") else "all"


def available() -> bool:
    """True when GEMMs may run on AMX tiles: `IRQ_AMX` is not 0, `IRQ_NO_VNNI` (both int8 routes off) is
    not set, the CPU has AMX-INT8, Numba compiles for the host and the OS granted the tile state. Checked
    by each plan when it is built: the tests build plans under every setting."""
    global _granted
    if setting() == "off" or os.environ.get("IRQ_NO_VNNI", "") not in ("", "0"):
        return False
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    features = llvm.get_host_cpu_features()
    if not (features.get("amx-int8") and features.get("amx-tile")):
        return False
    if _granted is None:
        _granted = _request_permission()
    return _granted


#: The shape rule of the default setting, from per-shape runs of both routes in one process (one thread,
#: interleaved, best of 5 rounds, 2026-12-03 session 25, after the requantize began to overlap the tiles;
#: docs/design.md "The AMX route requantizes one block while the next one multiplies"): tiles win once
#: a GEMM has K x N >= 1024 per output row (12544x64x16 1.05x, 12544x32x24 1.05x, 12544x16x96 1.31x,
#: MobileNetV2's 1x1 convs 1.1-1.8x, 3x3 convs on 8-128 channels 1.03-4.0x) and lose below (12544x8x16
#: 0.65x, 3136x24x16 0.79x, 12544x48x16 0.98x): a block's requantize has little tile work to hide behind.
#: They lose with fewer than a block of rows (24x512x128 0.83x, 8x1280x1000 0.58x) and when each tap
#: fills little of its 64-byte chunks (a direct conv's tap is a kernel row, kw x C bytes): 3x3 convs on 3
#: or 4 channels, 12 bytes a tap, 0.69-0.83x, an 8-byte linear 0.99x; 3x3 on 8 channels (24 bytes) 1.03-1.39x,
#: 7x7 on 3 channels (28 bytes) 1.08x. (Until then the rule had been K >= 192 and half-filled chunks.)
MIN_KN = 1024
MIN_ROWS = 32
MIN_CHUNK_FILL = 0.25


def pays(k4: int, ntaps: int, n: int) -> bool:
    """Whether the AMX route is expected to beat VNNI on a GEMM of `ntaps` taps of ``4 * k4`` bytes of K
    each and `n` columns, given at least MIN_ROWS output rows (the caller checks those per call: the batch
    varies)."""
    kc = -(-k4 // TILE_ROWS)
    return ntaps * 4 * k4 * n >= MIN_KN and 4 * k4 >= MIN_CHUNK_FILL * kc * KBYTES


# -- the tile micro-kernel ------------------------------------------------------------------------------

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V16 = ir.VectorType(_I32, 16)
_VOID = ir.VoidType()
#: Tiles: four int32 sums (rows 0-15 / 16-31 x two 16-column vectors), two A tiles (the block's row halves)
#: and two B tiles (the vectors): 2 x 2 blocking loads one tile per `tdpbssd`. 16 x 64 blocks (one A, four B
#: tiles) took the 3136 x 576 x 64 GEMM 0.63 ms, 2 x 2 blocks 0.36 (2026-12-02). Measured alone on the
#: benchmark box (2026-12-03): `tdpbssd` 6.7 ns, a `tileloadd` of 64-byte aligned rows 4.8 ns from L1 and
#: 22 ns when its rows straddle cache lines (an earlier "23 ns whatever its stride" had timed unaligned
#: rows); a 2 x 2 loop over L1-resident tiles runs at the `tdpbssd` rate.
_C_TILES = ((0, 1), (2, 3))  # [row half][vector of the pass]
_A_TILES = (4, 5)
_B_TILES = (6, 7)


def _tile_config(builder) -> ir.Value:
    """A pointer to the 64-byte tile configuration (palette 1, all eight tiles 16 rows x 64 bytes)."""
    cfg = bytearray(64)
    cfg[0] = 1
    for t in range(8):
        cfg[16 + 2 * t] = KBYTES  # colsb, little-endian uint16
        cfg[48 + t] = TILE_ROWS
    mod = builder.module
    name = "irq_amx_tile_config"
    gv = mod.globals.get(name)
    if gv is None:
        ty = ir.ArrayType(_I8, 64)
        gv = ir.GlobalVariable(mod, ty, name=name)
        gv.initializer = ir.Constant(ty, cfg)
        gv.global_constant = True
        gv.linkage = "internal"
        gv.align = 64
    return builder.bitcast(gv, _I8.as_pointer())


def _codes_row(mod: ir.Module, nv: int) -> ir.Function:
    """The LLVM function ``row(sums, rows, col, q, lo, hi, has_res, res_delta, last_lanes, out_size, r)``: row r
    of a block's sums (ROWS x PANEL int32 at `sums`) requantized into int8 codes at ``rows[r] + col``
    (`_store_codes`, skipped when that address is 0). One function for the kernel's flush and its
    interleaved slices rather than the code emitted at each: LLVM optimises it once, then inlines it. The four
    variants compiled in 1.7 s with the code emitted at each place, 1.1 s with this function (1.0 s before
    the interleaving; one process each, an empty cache, 2026-12-03); marking it noinline saved 0.1 s more and
    cost the 128x768x768 call 2-4%."""
    name = f"irq_amx_codes_row_{nv}"
    existing = mod.globals.get(name)
    if existing is not None:
        return existing
    row_fn = ir.Function(mod, ir.FunctionType(_VOID, [_I64] * 11), name=name)
    row_fn.linkage = "internal"
    builder = ir.IRBuilder(row_fn.append_basic_block("entry"))
    sums_addr, rows_addr, col, *q_args, r = row_fn.args
    row = builder.gep(builder.inttoptr(sums_addr, _I32.as_pointer()), [builder.mul(r, ir.Constant(_I64, PANEL))])
    accs = [[builder.bitcast(builder.gep(row, [ir.Constant(_I64, 16 * v)]), _V16.as_pointer()) for v in range(nv)]]
    row_addr = builder.add(rows_addr, builder.mul(r, ir.Constant(_I64, 8)))
    _store_codes(builder, accs, [], q_args, row_addr, col, 1, nv, skip_null_rows=True)
    builder.ret_void()
    return row_fn


def _amx_codes(nv: int):
    """An intrinsic ``mk(a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi,
    has_res, res_delta, e_last_lanes, out_size)``.

    Tiles: ROWS rows x 16*nv columns of int32 sums, from zero, stored at `sums_addr` (ROWS x PANEL int32).
    Epilogue: the codes of an *earlier* block's sums (`e_sums`, its row table `e_rows`, column `e_col`,
    panel constants `e_q`, `e_last_lanes`), a few rows after each chunk's tile instructions, so that the
    vector requantize runs while the tile unit multiplies. ``e_rows == 0``: no earlier block;
    ``ntaps == 0``: no tiles, the earlier block's codes only (a flush).
    """

    def codegen(context, builder, signature, args):
        a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col = args[:10]
        q_args = args[10:]
        mod = builder.module
        ptr = _I8.as_pointer()

        def fn(name, arg_types):
            return cgutils.get_or_insert_function(mod, ir.FunctionType(_VOID, arg_types), name)

        load = fn("llvm.x86.tileloadd64", [_I8, ptr, _I64])
        store = fn("llvm.x86.tilestored64", [_I8, ptr, _I64])
        dot = fn("llvm.x86.tdpbssd", [_I8, _I8, _I8])
        zero = fn("llvm.x86.tilezero", [_I8])

        def tile(t):
            return ir.Constant(_I8, t)

        def at(addr):
            return builder.inttoptr(addr, ptr)

        row_fn = _codes_row(mod, nv)

        def code_rows(first, stop):
            # rows first .. stop of the earlier block, one call each (the requantize's one copy)
            with cgutils.for_range(builder, stop, start=first) as row_loop:
                builder.call(row_fn, [e_sums, e_rows, e_col, *q_args, row_loop.index])

        rows_const = ir.Constant(_I64, ROWS)
        zero64 = ir.Constant(_I64, 0)
        with builder.if_else(builder.icmp_signed("==", ntaps, zero64)) as (flush, tiles):
            with flush:
                code_rows(zero64, rows_const)
            with tiles:
                # rows of the earlier block's codes per chunk, so that they are done by the last chunk
                passes = [range(v0, min(nv, v0 + 2)) for v0 in range(0, nv, 2)]
                steps = builder.mul(builder.mul(ir.Constant(_I64, len(passes)), ntaps), kc)
                per_step = builder.sdiv(builder.add(steps, ir.Constant(_I64, ROWS - 1)), steps)
                cursor = cgutils.alloca_once(builder, _I64)
                no_earlier = builder.icmp_unsigned("==", e_rows, zero64)
                builder.store(builder.select(no_earlier, rows_const, zero64), cursor)
                taps = builder.inttoptr(taps_addr, _I64.as_pointer())
                tile_bytes = ir.Constant(_I64, TILE_ROWS * KBYTES)
                step_bytes = ir.Constant(_I64, nv * TILE_ROWS * KBYTES)  # one chunk's nv B tiles
                a_half = builder.mul(lda, ir.Constant(_I64, TILE_ROWS))
                for pass_vectors in passes:
                    for h in range(2):
                        for i in range(len(pass_vectors)):
                            builder.call(zero, [tile(_C_TILES[h][i])])
                    with cgutils.for_range(builder, ntaps) as tap_loop:
                        t = tap_loop.index
                        a_tap = builder.add(a_addr, builder.load(builder.gep(taps, [t])))
                        b_tap = builder.add(b_addr, builder.mul(builder.mul(t, kc), step_bytes))
                        with cgutils.for_range(builder, kc) as chunk_loop:
                            c = chunk_loop.index
                            a_c = builder.add(a_tap, builder.mul(c, ir.Constant(_I64, KBYTES)))
                            b_c = builder.add(b_tap, builder.mul(c, step_bytes))
                            b_at = [at(builder.add(b_c, builder.mul(ir.Constant(_I64, v), tile_bytes)))
                                    for v in pass_vectors]
                            builder.call(load, [tile(_A_TILES[0]), at(a_c), lda])
                            builder.call(load, [tile(_B_TILES[0]), b_at[0], ir.Constant(_I64, KBYTES)])
                            builder.call(dot, [tile(_C_TILES[0][0]), tile(_A_TILES[0]), tile(_B_TILES[0])])
                            builder.call(load, [tile(_A_TILES[1]), at(builder.add(a_c, a_half)), lda])
                            builder.call(dot, [tile(_C_TILES[1][0]), tile(_A_TILES[1]), tile(_B_TILES[0])])
                            if len(pass_vectors) == 2:
                                builder.call(load, [tile(_B_TILES[1]), b_at[1], ir.Constant(_I64, KBYTES)])
                                builder.call(dot, [tile(_C_TILES[0][1]), tile(_A_TILES[0]), tile(_B_TILES[1])])
                                builder.call(dot, [tile(_C_TILES[1][1]), tile(_A_TILES[1]), tile(_B_TILES[1])])
                            first = builder.load(cursor)
                            past = builder.add(first, per_step)
                            stop = builder.select(builder.icmp_signed("<", past, rows_const), past, rows_const)
                            code_rows(first, stop)
                            builder.store(stop, cursor)
                    for h in range(2):
                        for i, v in enumerate(pass_vectors):
                            dst = ir.Constant(_I64, (h * TILE_ROWS * PANEL + 16 * v) * 4)
                            builder.call(store, [tile(_C_TILES[h][i]), at(builder.add(sums_addr, dst)),
                                                 ir.Constant(_I64, PANEL * 4)])
        return context.get_dummy_value()

    @intrinsic
    def mk(typingctx, a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q,
           lo, hi, has_res, res_delta, e_last_lanes, out_size):
        return types.void(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64, types.int64,
                          types.int64, types.int64, types.int64, types.int64, types.int64, types.int64, types.int64,
                          types.int64, types.int64, types.int64), codegen

    return mk


def _tile_switch(on: bool):
    """An intrinsic that loads the tile configuration (`on`) or releases the tiles: once per driver call."""

    def codegen(context, builder, signature, args):
        mod = builder.module
        if on:
            cfg = cgutils.get_or_insert_function(mod, ir.FunctionType(_VOID, [_I8.as_pointer()]), "llvm.x86.ldtilecfg")
            builder.call(cfg, [_tile_config(builder)])
        else:
            builder.call(cgutils.get_or_insert_function(mod, ir.FunctionType(_VOID, []), "llvm.x86.tilerelease"), [])
        return context.get_dummy_value()

    @intrinsic
    def switch(typingctx):
        return types.void(), codegen

    return switch


_tiles_on, _tiles_off = _tile_switch(True), _tile_switch(False)
_mk1, _mk2, _mk3, _mk4 = (_amx_codes(nv) for nv in (1, 2, 3, 4))


@numba.njit(cache=True)
def _block(nv, a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi, has_res,
           res_delta, e_last_lanes):
    """One block of one panel: the `nv` (1-4) variant of the tile kernel (and an earlier block's codes)."""
    if nv == 4:
        _mk4(a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi, has_res,
             res_delta, e_last_lanes, 1)
    elif nv == 3:
        _mk3(a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi, has_res,
             res_delta, e_last_lanes, 1)
    elif nv == 2:
        _mk2(a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi, has_res,
             res_delta, e_last_lanes, 1)
    else:
        _mk1(a_addr, lda, taps_addr, ntaps, b_addr, kc, sums_addr, e_sums, e_rows, e_col, e_q, lo, hi, has_res,
             res_delta, e_last_lanes, 1)


@numba.njit(cache=True, inline="always")
def _flush(nv, e_sums, e_rows, e_col, e_q, lo, hi, has_res, res_delta, e_last_lanes):
    """The codes of a block whose sums wait in `e_sums`, with no tile work to hide them behind (`_block` with
    no taps)."""
    _block(nv, 0, 0, 0, 0, 0, 0, 0, e_sums, e_rows, e_col, e_q, lo, hi, has_res, res_delta, e_last_lanes)


# -- the driver -----------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _aligned(buf, align):
    """The first `align`-byte aligned address inside the uint8 array `buf`."""
    return (np.int64(buf.ctypes.data) + align - 1) // align * align


def scratch_bytes(panels: int, lda: int, tap_max: int, kc: int) -> int:
    """Bytes of one part's scratch in `gemm_codes` (`_carve`'s layout, with CHUNK_BLOCKS blocks a chunk)."""
    reach = (ROWS - 1) * lda + tap_max + kc * KBYTES
    return _layout(panels, CHUNK_BLOCKS, reach)[-1]


@numba.njit(cache=True, inline="always")
def _layout(panels, cb, reach):
    """Byte offsets of the scratch's parts: two sums buffers and the constants (each 64-byte aligned inside
    its slot: the epilogue's vector loads read both), row table, A blocks, copies, end."""
    sums = 0
    consts = sums + 2 * ROWS * PANEL * 4 + 64
    rows = consts + 4 * PANEL * panels * 8 + 64
    blocks = rows + 2 * cb * ROWS * 8
    copies = blocks + cb * 8
    copy_bytes = (reach + 63) // 64 * 64
    return sums, consts, rows, blocks, copies, copy_bytes, copies + cb * copy_bytes


@numba.njit(cache=True)
def _carve(buf, panels, cb, reach):
    """(consts, row table, A block addresses, aligned sums address, copies, bytes per copy) inside `buf`."""
    o_sums, o_consts, o_rows, o_blocks, o_copies, copy_bytes, end = _layout(panels, cb, reach)
    c_at = _aligned(buf[o_consts:o_rows], 64) - np.int64(buf.ctypes.data)
    consts = buf[c_at:c_at + 4 * PANEL * panels * 8].view(np.int64)
    rows_table = buf[o_rows:o_blocks].view(np.int64)
    a_blocks = buf[o_blocks:o_copies].view(np.int64)
    sums = _aligned(buf[o_sums:o_consts], 64)
    return consts, rows_table, a_blocks, sums, buf[o_copies:end], copy_bytes


@part_kernel(1 << 21)
def gemm_codes(part, workers, a, lda, taps, kc, packed, offsets, n_vectors, n, images, image_bytes, vrows, wp, ow,
               c0, bias, mult, shift, half, lo, hi, res, res_mult, rows_per_image, row_bytes, out, scratch):
    """`vnni.gemm_epilogue`'s in-register case on AMX tiles: int8 A, int8 codes out, half_up, no width check.

    The geometry arguments are `gemm_epilogue`'s (`a` the flat A bytes, image b's virtual row v at byte
    ``b * image_bytes + v * lda``, each of `taps` adding ``kc`` 64-byte chunks of K; `rows_per_image`
    and `row_bytes` for a strided conv's rows); `packed` and `offsets` come from `pack_weights`; `out` is
    the int8 (rows, columns) output whose columns ``c0 .. c0 + n`` this GEMM writes (the epilogue's arrays
    are indexed by output column), `res` a residual shaped like it or an empty (0, 0) array. A
    `launch.PartKernel`: part `part` of `workers` takes contiguous chunks of CHUNK_BLOCKS blocks of every
    image, or, when the rows make fewer than two chunks a part and there are at least two panels a part, a
    contiguous range of panels over every row. `scratch` is uint8 with a row of `scratch_bytes` per part.
    Returns 0 (no accumulator is checked: the plan proved the widths).

    Why the scratch comes from the caller: the tile instructions reach memory through integer addresses.
    LLVM 22 lets an allocation whose address escapes only as an integer (ptrtoint) be assumed untouched by
    calls, so with the sums' buffer allocated here the vector loads after `tilestored` read what the
    buffer held before (wrong codes in most calls, only with Numba's cache on; tests/test_numba_amx.py
    fails when such a buffer is planted back).
    The caller's array is opaque to that reasoning.
    """
    ntaps = taps.shape[0]
    panels = (n_vectors + 3) // 4
    oh = vrows // wp
    blocks = (vrows + ROWS - 1) // ROWS
    cb = CHUNK_BLOCKS
    # few rows and several panels: the parts split the columns, each reading its own panels of B once; a
    # split of so few rows had every part stream all of B (128x768x768 at 2 parts: 0.94-0.98x of one)
    by_columns = workers > 1 and images * ((blocks + cb - 1) // cb) < 2 * workers and panels >= 2 * workers
    if workers > 1 and not by_columns and images * ((blocks + cb - 1) // cb) < 2 * workers:
        cb = 1
    chunks = (blocks + cb - 1) // cb
    total = images * chunks
    p_lo, p_hi = 0, panels
    if by_columns:
        per_part = (panels + workers - 1) // workers
        p_lo, p_hi = part * per_part, min(panels, (part + 1) * per_part)
        if p_lo >= p_hi:
            return 0
        q_lo, q_hi = 0, total
    else:
        per = (total + workers - 1) // workers
        q_lo, q_hi = part * per, min(total, (part + 1) * per)
        if q_lo >= q_hi:
            return 0
    # addresses as int64: Numba types uint64 + int64 as float64
    a_addr = np.int64(a.ctypes.data)
    a_end = a_addr + a.shape[0]
    t_addr = np.int64(taps.ctypes.data)
    tap_max = 0
    for t in range(ntaps):
        tap_max = max(tap_max, taps[t])
    # a block reads up to its last row's last tap plus kc whole chunks
    reach = (ROWS - 1) * lda + tap_max + kc * KBYTES
    has_res = res.shape[0] > 0
    out_addr = np.int64(out.ctypes.data)
    ldo = out.shape[1]
    res_delta = np.int64(res.ctypes.data) - out_addr if has_res else np.int64(0)
    # per part: the panels' requantize constants (M, bias * M + 2**(S-1), S, Mr per column), the chunk's row
    # addresses, the sums' scratch and the copies of blocks whose reads would leave `a`
    consts, rows_table, a_blocks, sums, copies, copy_bytes = _carve(scratch[part], panels, cb, reach)
    # the tiles start from zero: the sums' 128 * colsum(W) joins the bias constant, (acc + offsets + bias) * M
    fill_panel_constants(consts, panels, n, c0, bias, mult, half, shift, res_mult, has_res, offsets)
    panel_bytes = ntaps * kc * 4 * TILE_ROWS * KBYTES
    rows_addr = np.int64(rows_table.ctypes.data)
    consts_addr = np.int64(consts.ctypes.data)
    sums_bytes = ROWS * PANEL * 4
    # each block's codes are written during the next block's tiles (of the same panel width) or flushed; the
    # row tables alternate between two halves by chunk, so a chunk's last block is written during the next's
    e_nv, e_sums, e_rows, e_col, e_q, e_last = 0, np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    which = 0
    _tiles_on()
    for q in range(q_lo, q_hi):
        table0 = (q - q_lo) % 2 * cb * ROWS  # this chunk's half of the row tables
        b = q // chunks
        blk0 = (q % chunks) * cb
        blk1 = min(blocks, blk0 + cb)
        img = a_addr + (b // rows_per_image) * image_bytes + (b % rows_per_image) * row_bytes
        out_b = b * oh * ow
        for i in range(blk1 - blk0):
            v0 = (blk0 + i) * ROWS
            for r in range(ROWS):
                v = v0 + r
                oy = v // wp
                ox = v - oy * wp
                stored = v < vrows and ox < ow
                rows_table[table0 + i * ROWS + r] = out_addr + (out_b + oy * ow + ox) * ldo if stored else 0
            start = img + v0 * lda
            if start + reach <= a_end:
                a_blocks[i] = start
            else:  # the buffer's last rows: copy what lies inside it, zeros after
                dst = copies[i * copy_bytes:(i + 1) * copy_bytes]
                dst[:] = 0
                inside = max(0, min(copy_bytes, a_end - start))
                dst[:inside] = a[start - a_addr:start - a_addr + inside]
                a_blocks[i] = np.int64(dst.ctypes.data)
        for p in range(p_lo, p_hi):
            nv = min(4, n_vectors - 4 * p)
            last_lanes = min(PANEL, n - p * PANEL) - 16 * (nv - 1)
            b_p = np.int64(packed.ctypes.data) + p * panel_bytes
            q_addr = consts_addr + 4 * PANEL * p * 8
            for i in range(blk1 - blk0):
                if e_rows != 0 and e_nv != nv:
                    _flush(e_nv, e_sums, e_rows, e_col, e_q, lo, hi, has_res, res_delta, e_last)
                    e_rows = 0
                cur = sums + which * sums_bytes
                _block(nv, a_blocks[i], lda, t_addr, ntaps, b_p, kc, cur, e_sums, e_rows, e_col, e_q, lo, hi,
                       has_res, res_delta, e_last)
                e_nv, e_sums, e_rows, e_last = nv, cur, rows_addr + (table0 + i * ROWS) * 8, last_lanes
                e_col, e_q = c0 + p * PANEL, q_addr
                which = 1 - which
    if e_rows != 0:
        _flush(e_nv, e_sums, e_rows, e_col, e_q, lo, hi, has_res, res_delta, e_last)
    _tiles_off()
    return 0


def pack_weights(w_kn: np.ndarray, ntaps: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(packed tiles, int32 offsets, chunks per tap) of a (K, N) int8-valued weight of `ntaps` equal taps.

    K is ``ntaps * 4 * k4`` (vnni.pack_weights' padded K); each tap's k4 rows are padded to ``16 * kc``.
    Panels of 64 columns hold ``nv`` = 4 vectors (fewer in the last); `offsets` is ``128 * colsum`` per
    column, zero past N, as int32 (wrapping like the sums it starts).
    """
    k, n = w_kn.shape
    if k % (4 * ntaps):
        raise ValueError(f"K = {k} is not {ntaps} taps of whole 4-byte groups")
    k4 = k // (4 * ntaps)
    kc = -(-k4 // TILE_ROWS)
    nvec = -(-n // 16)
    w = np.zeros((ntaps, kc * TILE_ROWS * 4, nvec * 16), np.int8)
    w[:, :4 * k4, :n] = np.asarray(w_kn).reshape(ntaps, 4 * k4, n)
    parts = []
    for p0 in range(0, nvec, 4):
        nv = min(4, nvec - p0)
        panel = w[:, :, p0 * 16:(p0 + nv) * 16].reshape(ntaps, kc, TILE_ROWS, 4, nv, 16)  # [t][c][k4][k][v][lane]
        parts.append(np.ascontiguousarray(panel.transpose(0, 1, 4, 2, 5, 3)).reshape(-1))  # [t][c][v][k4][lane][k]
    packed = aligned_copy(np.concatenate(parts)) if parts else np.zeros(0, np.int8)
    colsum = np.zeros(-(-nvec // 4) * PANEL, np.int64)
    colsum[:n] = np.asarray(w_kn, np.int64).sum(axis=0)
    offsets = (128 * colsum).astype(np.uint32).view(np.int32) if colsum.size else np.zeros(0, np.int32)
    return packed, offsets, kc
