"""The tile epilogue of the VNNI GEMM: bias, declared-width check, requantize, residual, store.

Split from vnni.py: the micro-kernel leaves an MR x 64 int32 tile (two byte-plane tiles for int16
inputs) in L1, and `_epilogue` turns its rows into output codes, with branch-free loops for the common
half_up cases and one general loop for every other rounding, raw int32/int64 outputs and checked widths.
"""

from __future__ import annotations

import numba
import numpy as np

from .requantize import HALF_UP, clamp, half_up_folded, round_shift

#: (acc_lo, acc_hi) meaning "no accumulator can leave the declared width": the plan proved it from the
#: weights (`accumulator_proven`), so the epilogue skips the per-element range check.
NO_CHECK = (-2**63, 2**63 - 1)

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
        of[o0 + j] = half_up_folded(np.int64(tile[r, j]), mult[c], bm[j], shift[c], lo, hi)


@numba.njit(cache=True, inline="always")
def _requantize_row_res(tile, r, un, uc0, o0, bm, mult, shift, lo, hi, rf, res_mult, of):
    """`_requantize_row` with the fused residual: ``(acc * M + res * M_res + bm) >> S``.

    ``res`` is read at the output's own offset (the residual has the output's shape).
    """
    for j in range(un):
        c = uc0 + j
        of[o0 + j] = half_up_folded(np.int64(tile[r, j]), mult[c], np.int64(rf[o0 + j]) * res_mult[c] + bm[j],
                                    shift[c], lo, hi)


@numba.njit(cache=True, inline="always")
def _requantize_row_dual(tile, tile_lo, r, un, uc0, o0, bm, mult, shift, lo, hi, of):
    """`_requantize_row` for an int16 input's two byte-plane tiles: ``acc = 256 * hi + lo``."""
    for j in range(un):
        c = uc0 + j
        a = (np.int64(tile[r, j]) << 8) + tile_lo[r, j]
        of[o0 + j] = half_up_folded(a, mult[c], bm[j], shift[c], lo, hi)


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


#: `_next_row`'s offset for a virtual row that is computed but not stored (``ox >= ow``).
_DROPPED = np.uint64(2**64 - 1)


@numba.njit(cache=True, inline="always")
def _next_row(oy, ox, b, oh, wp, ow, ldo, uc0):
    """Advance to the next virtual row: its (oy, ox) and its first output element's offset, or `_DROPPED`.

    Virtual rows run along padded image rows of `wp` pixels, of which the first `ow` are output pixels
    (a stride-1 conv computes the ``wp - ow`` others and drops them). Both row loops of `_epilogue` walk
    rows this way; stating it once keeps them from drifting apart (an off-by-one here shifts every
    output row of a 3x3 conv, which only the differential tests would see).
    """
    ox += 1
    if ox == wp:
        ox = 0
        oy += 1
    if ox >= ow:
        return oy, ox, _DROPPED
    return oy, ox, np.uint64((b * oh + oy) * ow + ox) * ldo + uc0


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
    if not raw and mode == HALF_UP and not check and size <= 2 and not (dual and has_res):
        # the common case (int8/int16 codes, half_up, overflow impossible; with or without a residual) with
        # every test hoisted out of the row loop: the residual layers took the generic per-element path
        # below, 3.3 against 0.8 ns per output (MobileNetV2's 144->24 projection at batch 8)
        _fold_bias(bias, mult, half, uc0, un, acc)
        for r in range(rows):
            oy, ox, o0 = _next_row(oy, ox, b, oh, wp, ow, ldo, uc0)
            if o0 == _DROPPED:
                continue
            if dual:
                # int16 rows, the two byte planes joined per element (MiniLM's 512x384 -> 1536 int16 linear
                # took 2.15 ms through the general loop's int64 scratch row, 1.73 here)
                if size == 1:
                    _requantize_row_dual(tile, tile_lo, r, un, uc0, o0, acc, mult, shift, lo, hi, of8)
                else:
                    _requantize_row_dual(tile, tile_lo, r, un, uc0, o0, acc, mult, shift, lo, hi, of16)
            elif size == 1:
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
    bad = 0
    for r in range(rows):
        oy, ox, o0 = _next_row(oy, ox, b, oh, wp, ow, ldo, uc0)
        if o0 == _DROPPED:
            continue
        if not dual and not raw and mode == HALF_UP and not has_res and size == 1:
            # int8 codes, half_up, no residual, declared width checked: one branch-free loop
            for j in range(un):
                c = uc0 + j
                a = np.int64(tile[r, j]) + bias[c]
                bad += (a < acc_lo) | (a > acc_hi)
                of8[o0 + j] = half_up_folded(a, mult[c], half[c], shift[c], lo, hi)
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
