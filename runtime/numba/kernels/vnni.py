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
kh*kw taps, each tap a fixed byte offset ``(ky * dh * Wp + kx * dw) * C`` from the row. The tile path
computes virtual rows with ``ox >= OW`` (Wp - OW per image row) and drops them in the epilogue; the
in-register path (`_gemm_codes`) reads each output pixel's row from a table of addresses and computes
none. A linear is the same kernel with one tap and every row valid.

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

from . import amx
from .aligned import aligned_copy
from .bound_call import PerThreadCount
from .launch import COPY_MIN_ELEMENTS, kernel, part_kernel, row_kernel
from .permute import _transpose16
from .requantize import HALF_UP
from .vnni_epilogue import NO_CHECK, _epilogue
from .vnni_microkernel import (  # noqa: F401 - microkernel and _mk*: used by small_matmul.py and tests
    MR,
    NO_LANE_BIAS,
    PANEL,
    TAIL_MR,
    _mk6_4,
    _pair_codes,
    _panel,
    _panel_codes,
    _tile,
    fill_panel_constants,
    microkernel,
)

#: Largest K whose int32 lane sums cannot wrap (K * 255 * 128 < 2**31).
MAX_K = 65536
#: Row blocks per parallel chunk: a chunk's A rows stay in L1/L2 while the B panels pass over them.
CHUNK_BLOCKS = 8



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




@numba.njit(cache=True, inline="always")
def _fused_ok(dual, raw, mode, res_size, acc_lo, acc_hi, size):
    """True when `gemm_epilogue` requantizes in the micro-kernel's registers (`_gemm_codes`).

    Int8 codes out with no residual or an int8 one (`res_size` is the residual's element size, 0 without
    one), from an int8 A or an int16 one (`dual`, which also takes an int16 residual beside int8 codes), or
    int16 codes out from an int16 A with no residual;
    half_up and overflow proven impossible. Any column count: a panel has 1-4 vectors (`_panel_codes`), its
    last vector possibly partial (a lane mask: 24 columns are 16 + 8). A stride-1 conv's output pixels
    are read through a table of A row addresses, not as evenly spaced virtual rows. The tile path took 2.9 ns
    per output against 0.3 here: MobileNetV2's residual projections and its two 24-channel ones
    (56x56 96 -> 24 at batch 8: 1.7 ms).
    """
    return (not raw and mode == HALF_UP and acc_lo == NO_CHECK[0] and acc_hi == NO_CHECK[1]
            and ((size == 1 and (res_size <= 1 or (dual and res_size == 2))) or (dual and res_size == 0 and size == 2)))


@numba.njit(cache=True, inline="always")
def _row_addresses(out_rows, a_rows, p0, count, b, oh, wp, ow, img, lda, out_addr, ldo):
    """Byte addresses of output pixels ``p0 .. p0 + count`` of image `b`: their output rows into `out_rows`
    and their A rows into `a_rows` (int64 scratch), one division per chunk, not per row or block.

    Output rows are consecutive. A rows are too when ``wp == ow`` (1x1 and strided convs, linears: written
    branch-free, since a per-row test cost a short-K 1x1 conv 25%, 112x112 32->16 at batch 8: 0.41 -> 0.52
    ms); a stride-1 conv's padded input has ``wp - ow`` pixels more per image row than its output, skipped
    here (virtual row ``oy * wp + ox``, module doc) instead of computed and dropped."""
    start = out_addr + (b * oh * ow + p0) * ldo
    for r in range(count):
        out_rows[r] = start + r * ldo
    if wp == ow:
        a0 = img + p0 * lda
        for r in range(count):
            a_rows[r] = a0 + r * lda
        return
    oy = p0 // ow
    ox = p0 - oy * ow
    for r in range(count):
        a_rows[r] = img + (oy * wp + ox) * lda
        ox += 1
        if ox == ow:
            ox = 0
            oy += 1


@numba.njit(cache=True, inline="always")
def codes_scratch(panels):
    """int64 entries of `_gemm_codes`' scratch: output and A row addresses and a tail row (PANEL each), then M,
    bm, S and the residual's Mr of every panel's 64 columns."""
    return 3 * PANEL + 4 * PANEL * panels


@numba.njit(cache=True)
def _chunk_blocks(blocks, images, workers):
    """Row blocks per chunk: CHUNK_BLOCKS, or fewer when that leaves the `workers` parts unequal.

    Parts take whole chunks, so 128 rows (22 blocks, 3 chunks of 8) at 2 workers went 16 blocks to one
    part and 6 to the other: the 128x768x768 matmul ran 0.36 -> 0.28-0.30 ms at 2 threads, not 0.19 (measured
    on Numba's OpenMP layer, session 12; the parts now run on `spin_pool`).
    The size kept is the largest whose busiest part has at most 10% more blocks than an even share: a
    smaller chunk streams the B panels past its rows more often.
    """
    if workers < 2:
        return CHUNK_BLOCKS
    even = (blocks * images + workers - 1) // workers
    for cb in range(CHUNK_BLOCKS, 1, -1):
        chunks = (blocks + cb - 1) // cb
        per = (images * chunks + workers - 1) // workers
        # the first part is the busiest: `per` chunks, of which a last, short one when an image ends there
        load = (per // chunks) * blocks + min(blocks, (per % chunks) * cb)
        if 10 * load <= 11 * even:
            return cb
    return 1


@numba.njit(cache=True)
def _gemm_codes(part, per, total, chunks, cb, blocks, pixels, oh, wp, ow, rows_per_image, image_bytes, row_bytes,
                a_addr, lda, t_addr, ntaps, b_addr, b_stride, panels, panel_bytes, n, n_vectors, k4, c0, bias,
                bias_stride, tail_args, qv, tile, tile_lo, lo_delta, out):
    """One worker part of `gemm_epilogue` with the requantize in the micro-kernel (`_fused_ok`).

    The int32 tile never goes through memory: each MR x 64 block's sums are requantized in registers
    and stored as int8 codes. With a tile, a 1x1 conv with a short K spent more time storing and
    reloading the tile and in the per-row epilogue loop than in the GEMM. Blocks are MR consecutive
    output pixels (`pixels` per image), each read from and stored to its own address (`_row_addresses`),
    so a stride-1 3x3 conv computes no virtual row it then drops and a block may straddle two image rows.
    `qv` is int64 scratch (`codes_scratch`): the chunk's output and A row addresses, the tail epilogue's
    scratch row, then each panel's M, ``bias * M + 2**(S-1)``, S and the residual's multiplier Mr, filled
    once per part (and again per image when the bias varies by image, `bias_stride`): refilled per chunk
    and panel, those 192 multiply-adds cost a short-K 1x1 conv about as much as its GEMM.
    An image's last pixels (fewer than MR) go two at a time through `_pair_codes` on full 4-vector panels;
    otherwise through `tile`, the int32 tile, with `tail_args` the tile epilogue's arguments (the same
    variables as `gemm_epilogue`'s own call, so `_epilogue` compiles once).
    """
    dual, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, size = tail_args
    has_res = res.shape[0] > 0
    # the residual has the output's shape: its row is the output's at a fixed byte distance (signed int64:
    # a uint64 difference unified with 0 would turn float64 in Numba); an int16 residual beside int8 codes
    # (a dual kernel's) at twice the output's byte offset: the distance from twice the output's address
    res_kind = res.itemsize if has_res else 0
    spread = 2 if res_kind == 2 and size == 1 else 1
    res_delta = np.int64(res.ctypes.data) - spread * np.int64(out.ctypes.data) if has_res else np.int64(0)
    out_addr = out.ctypes.data
    ldo = out.shape[1]
    # an image's last pixels go two at a time (`_pair_codes`) when there are two, an odd count recomputing
    # one row; only when rewriting a stored code cannot change a residual it reads (no overlap)
    out_bytes = np.int64(out.shape[0]) * ldo
    pairs_ok = pixels >= TAIL_MR and (not has_res or res_delta >= out_bytes or -res_delta >= out_bytes)
    rows_table = qv[:PANEL]
    a_table = qv[PANEL:2 * PANEL]
    scratch = qv[2 * PANEL:3 * PANEL]
    consts = qv[3 * PANEL:]
    filled = -1  # the image whose bias the panel constants hold (any image's when bias_stride == 0)
    for q in range(part * per, min(total, (part + 1) * per)):
        b = q // chunks
        blk0 = (q % chunks) * cb
        blk1 = min(blocks, blk0 + cb)
        img = a_addr + (b // rows_per_image) * image_bytes + (b % rows_per_image) * row_bytes
        bias_b = bias[b * bias_stride:]
        if filled < 0 or (bias_stride != 0 and b != filled):
            fill_panel_constants(consts, panels, n, c0, bias_b, mult, half, shift, res_mult, has_res, NO_LANE_BIAS)
            filled = b
        p_first = blk0 * MR
        # one entry before the chunk: an odd tail's last pair starts a row early (`pairs_ok`)
        tab0 = max(p_first - 1, 0)
        _row_addresses(rows_table, a_table, tab0, min(pixels, blk1 * MR) - tab0, b, oh, wp, ow, img, lda, out_addr,
                       ldo)
        for p in range(panels):
            nv = min(4, n_vectors - 4 * p)
            cc = c0 + p * PANEL
            q_addr = consts.ctypes.data + 4 * PANEL * p * 8
            last_lanes = min(PANEL, n - p * PANEL) - 16 * (nv - 1)
            b_p = b_addr + b * b_stride + p * panel_bytes
            for blk in range(blk0, blk1):
                p0 = blk * MR
                rows = min(MR, pixels - p0)
                if rows == MR:
                    at = (p0 - tab0) * 8
                    _panel_codes(nv, a_table.ctypes.data + at, lda, t_addr, ntaps, b_p, k4, rows_table.ctypes.data + at,
                                 cc * size, q_addr, lo, hi, res_kind, res_delta, last_lanes, size, lo_delta)
                elif nv == 4 and pairs_ok and not dual:
                    for s in range(p0, pixels, TAIL_MR):
                        at = (min(s, pixels - TAIL_MR) - tab0) * 8  # an odd count recomputes one row: same codes
                        _pair_codes(a_table.ctypes.data + at, lda, t_addr, ntaps, b_p, k4, rows_table.ctypes.data + at,
                                    cc * size, q_addr, lo, hi, has_res, res_delta, last_lanes, size)
                else:
                    for r in range(rows):
                        _panel(False, nv, a_table[p0 - tab0 + r], lda, t_addr, ntaps, b_p, k4,
                               tile.ctypes.data + r * PANEL * 4, PANEL)
                        if dual:
                            _panel(False, nv, a_table[p0 - tab0 + r] + lo_delta, lda, t_addr, ntaps, b_p, k4,
                                   tile_lo.ctypes.data + r * PANEL * 4, PANEL)
                    # pixel p0 + r is virtual row p0 + r of rows `ow` wide: the epilogue's row walk with wp = ow
                    _epilogue(tile, tile_lo, dual, rows, p0, b, oh, ow, ow, cc, min(PANEL, n - p * PANEL), bias_b,
                              acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, scratch, out, size)


#: MACs per call from which a GEMM splits over the threads. 52M (400 * PARALLEL_MIN_ELEMENTS) while a part went
#: through Python (31-73 us); with the native hand-off (`native_parts`, 15.5 us) bench/split_thresholds.py on the
#: idle box (2026-12-02, 2-thread / 1-thread median, rows at 2**15) gave MobileNetV2 b1 0.90 at 2M against 0.97
#: at 52M (none of its GEMMs at batch 1 reached 52M), b8 0.62 against 0.71; 8M was within the noise of 2M.
GEMM_MIN_WORK = 1 << 21


@part_kernel(GEMM_MIN_WORK)
def gemm_epilogue(part, workers, a, a_lo, lda, taps, k4, packed, b_stride, n_vectors, n, images, image_bytes, vrows, wp,
                  ow, c0, bias, bias_stride, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw,
                  rows_per_image, row_bytes, out, size):
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
    A `launch.PartKernel`: this call computes part `part` of `workers` contiguous parts of the chunks of
    MR-row blocks of every image (a part past the last chunk does nothing); inside a chunk each B panel
    passes over all its rows.
    """
    dual = a_lo.shape[0] > 0
    ntaps = taps.shape[0]
    a_addr = a.ctypes.data
    lo_addr = a_lo.ctypes.data
    # an int16 A's lo plane, as a signed distance from the hi plane (the in-register dual kernels' rows)
    lo_delta = np.int64(lo_addr) - np.int64(a_addr) if dual else np.int64(0)
    t_addr = taps.ctypes.data
    b_addr = packed.ctypes.data
    panels = (n_vectors + 3) // 4
    panel_bytes = ntaps * k4 * 256
    oh = vrows // wp
    in_registers = _fused_ok(dual, raw, mode, res.itemsize if res.shape[0] > 0 else 0, acc_lo, acc_hi, size)
    # the in-register path's blocks are output pixels, the tile path's virtual rows (dropped ones included)
    rows_n = oh * ow if in_registers else vrows
    blocks = (rows_n + MR - 1) // MR
    cb = _chunk_blocks(blocks, images, workers)
    chunks = (blocks + cb - 1) // cb
    total = images * chunks
    # one scratch set per worker part, not per chunk: three allocations per 48-row chunk cost about as
    # much as the GEMM of a short-K 1x1 conv
    parts = max(1, min(total, workers))
    per = (total + parts - 1) // parts
    bad = 0
    if part >= parts:
        return bad
    # one chunk's tiles are all computed before its epilogue reads them: reading a tile right after
    # the micro-kernel's 64-byte stores stalls on store forwarding (0.19 ms against 0.05 ms for the
    # 56x56 64->64 1x1 conv's epilogue)
    tile = np.empty((CHUNK_BLOCKS * MR, PANEL), np.int32)
    tile_lo = np.empty((CHUNK_BLOCKS * MR if dual else 0, PANEL), np.int32)
    acc = np.empty(codes_scratch(panels) if in_registers else PANEL, np.int64)
    if in_registers:
        tail_args = (dual, acc_lo, acc_hi, mult, shift, half, mode, lo, hi, res, res_mult, raw, size)
        _gemm_codes(part, per, total, chunks, cb, blocks, rows_n, oh, wp, ow, rows_per_image, image_bytes,
                    row_bytes, a_addr, lda, t_addr, ntaps, b_addr, b_stride, panels, panel_bytes, n, n_vectors,
                    k4, c0, bias, bias_stride, tail_args, acc, tile, tile_lo, lo_delta, out)
        return bad
    for q in range(part * per, min(total, (part + 1) * per)):
        b = q // chunks
        blk0 = (q % chunks) * cb
        blk1 = min(blocks, blk0 + cb)
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
    return aligned_copy(np.concatenate(parts)) if parts else np.zeros(0, np.int8), nvec


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


@row_kernel(lambda x, pt, pl, dst: x.shape[0] * x.shape[1], COPY_MIN_ELEMENTS)
def pad_copy(r0, r1, x, pt, pl, dst):
    """Copy int8 NHWC `x` into the interior of the zero-bordered NHWC buffer `dst` (border left alone).

    Three channels (an RGB input padded to 4 for the stem) are copied with the channel loop written out
    over flat views: the generic loop's 3-trip inner loop ran scalar (MobileNetV2's stem input at batch 8,
    one core: 0.60 ms, of the stem conv's 2.5). A `launch.RowKernel` over image rows ``r0 .. r1`` (of
    n * h): no parallel wrapper to compile.
    """
    n, h, w, c = x.shape
    _, hp, wp, cp = dst.shape
    xf, df = x.reshape(-1), dst.reshape(-1)
    uw, uc, ucp = np.uint64(w), np.uint64(c), np.uint64(cp)
    for r in range(r0, r1):
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


def transposes_into_pad(c: int, w: int, cp: int) -> bool:
    """True when `pad_transpose` takes an NCHW int8 input of `c` channels and width `w` (padded to `cp`)."""
    return c % 16 == 0 and cp == c and w >= 16


@row_kernel(lambda x, pt, pl, dst: x.shape[0] * x.shape[2], COPY_MIN_ELEMENTS)
def pad_transpose(r0, r1, x, pt, pl, dst):
    """`pad_copy` from an NCHW `x`: image rows ``r0 .. r1`` (of n * h) transposed straight into the
    zero-bordered NHWC buffer `dst`, in 16 x 16 byte blocks (`permute._transpose16`; `transposes_into_pad`).

    Why: a conv reading a model input given in NCHW otherwise transposed it into an NHWC buffer and then
    copied that into its padded buffer, two passes where one does. A row's last block overlaps the one
    before it when 16 does not divide the width (56 = 3 * 16 + 8): it writes the same bytes again, and no
    block ever reaches the border.
    """
    n, c, h, w = x.shape
    _, hp, wp, cp = dst.shape
    src, out = x.ctypes.data, dst.ctypes.data
    plane = h * w
    for r in range(r0, r1):
        b = r // h
        y = r % h
        row = out + ((b * hp + y + pt) * wp + pl) * cp
        for x0 in range(0, w, 16):
            x0 = min(x0, w - 16)
            for c0 in range(0, c, 16):
                _transpose16(src + ((b * c + c0) * h + y) * w + x0, plane, row + x0 * cp + c0, cp)


@row_kernel(lambda x, pt, pl, hi, lo: x.shape[0] * x.shape[1], COPY_MIN_ELEMENTS)
def pad_split16(r0, r1, x, pt, pl, hi, lo):
    """Split int16 NHWC `x` into byte planes inside zero-code borders: ``hi = x >> 8``, ``lo = (x & 255) ^ 0x80``.

    Border bytes stay as planned: hi 0 and lo -128 (``0 ^ 0x80``), i.e. code 0. A `launch.RowKernel` over
    image rows ``r0 .. r1`` (of n * h), like `pad_copy`: its `parallel=True` twin was a compile of its own.
    """
    n, h, w, c = x.shape
    for r in range(r0, r1):
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
        # the AMX route: the weight, kept to pack tiles for the taps of the first run; a per-part scratch
        self._w_kn = np.array(w_kn, np.int8) if not dual and amx.available() else None
        self._amx_every_shape = amx.setting() == "all"
        self._amx_routes: dict[tuple, tuple] = {}
        self._amx_scratch = np.zeros((0, 0), np.uint8)

    def _amx_route(self, lda, taps, k4, raw, mode, res, acc_lo, acc_hi, out2d):
        """(packed tiles, offsets, chunks per tap) when this call runs on AMX tiles, else None.

        A plan calls with the same geometry and epilogue every time, so the checks, the packing and the
        scratch sizing (a few microseconds of Python and dispatch per GEMM call) run once per kind of call;
        an entry holds its taps array and is redone for another one (their values size the scratch).
        """
        res_size = res.itemsize if res.shape[0] > 0 else 0
        key = (lda, k4, len(taps), raw, mode, res_size, acc_lo, acc_hi, out2d.dtype.itemsize)
        entry = self._amx_routes.get(key)
        if entry is not None and entry[0] is taps:
            return entry[1]
        route = None
        shape_pays = self._amx_every_shape or amx.pays(k4, len(taps), self.n)
        if out2d.dtype == np.int8 and shape_pays and _fused_ok(False, raw, mode, res_size, acc_lo, acc_hi, 1):
            w = self._w_kn
            if w.shape[0] < len(taps) * 4 * k4:  # K zero-padded to the taps' 4-byte groups
                w = np.concatenate([w, np.zeros((len(taps) * 4 * k4 - w.shape[0], w.shape[1]), np.int8)])
            packed, offsets, kc = amx.pack_weights(w, len(taps))
            size = -(-amx.scratch_bytes((self.n_vectors + 3) // 4, lda, int(taps.max()), kc) // 64) * 64
            if self._amx_scratch.shape[1] < size:
                self._amx_scratch = np.zeros((max(1, self._amx_scratch.shape[0]), size), np.uint8)
            route = (packed, offsets, kc)
        self._amx_routes[key] = (taps, route)
        return route

    def run(self, a_bytes, a_lo, lda, taps, k4, images, image_bytes, vrows, wp, ow, c0, bias, acc_lo, acc_hi,
            epilogue, out2d, rows_per_image: int = 1, row_bytes: int = 0) -> int:
        """`epilogue` is (mult, shift, half, mode, lo, hi, res, res_mult, raw), arrays indexed by out column;
        `rows_per_image` / `row_bytes` as in `gemm_epilogue` (`images` then counts output rows)."""
        kernel, parts, args = self._kernel_call(a_bytes, a_lo, lda, taps, k4, images, image_bytes, vrows, wp, ow, c0,
                                                bias, acc_lo, acc_hi, epilogue, out2d, rows_per_image, row_bytes)
        return kernel(parts, *args)

    def bind(self, *run_args):
        """`run` on these arguments as a zero-argument callable, for a plan whose arrays never change: the
        call, split or not, is packed once per thread count (`bound_call`)."""

        def make(threads: int):
            kernel, parts, args = self._kernel_call(*run_args)
            return kernel.bound(args, parts)

        return PerThreadCount(make, lambda: self.run(*run_args))

    def _kernel_call(self, a_bytes, a_lo, lda, taps, k4, images, image_bytes, vrows, wp, ow, c0, bias, acc_lo, acc_hi,
                     epilogue, out2d, rows_per_image: int = 1, row_bytes: int = 0) -> tuple:
        """(PartKernel, parts, its arguments after ``(part, parts)``) of this call: the route and the split."""
        mult, shift, half, mode, lo, hi, res, res_mult, raw = epilogue
        work = images * vrows * len(taps) * k4 * 4 * self.n
        route = None
        if self._w_kn is not None and (self._amx_every_shape or images * vrows >= amx.MIN_ROWS):
            route = self._amx_route(lda, taps, k4, raw, mode, res, acc_lo, acc_hi, out2d)
        if route is not None:
            packed, offsets, kc = route
            parts = amx.gemm_codes.parts_for(work)
            if self._amx_scratch.shape[0] < parts:
                self._amx_scratch = np.zeros((parts, self._amx_scratch.shape[1]), np.uint8)
            return amx.gemm_codes, parts, (a_bytes, lda, taps, kc, packed, offsets, self.n_vectors, self.n, images,
                                           image_bytes, vrows, wp, ow, c0, bias, mult, shift, half, lo, hi, res,
                                           res_mult, rows_per_image, row_bytes, out2d, self._amx_scratch)
        parts = gemm_epilogue.parts_for(work)
        return gemm_epilogue, parts, (a_bytes, a_lo, lda, taps, k4, self.packed, 0, self.n_vectors, self.n, images,
                                      image_bytes, vrows, wp, ow, c0, bias, 0, acc_lo, acc_hi, mult, shift, half, mode,
                                      lo, hi, res, res_mult, raw, rows_per_image, row_bytes, *as_bytes(out2d))


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


_NO_HALF = np.zeros(0, np.int64)


class CachedHalf:
    """`half_of(shift)` for the last `shift` array asked about: a plan passes the same array every run, so the
    constants are computed once, not allocated per run (one per plan, shared by its requantize paths)."""

    def __init__(self) -> None:
        self._key: np.ndarray | None = None
        self._half = _NO_HALF

    def __call__(self, shift: np.ndarray) -> np.ndarray:
        if self._key is not shift:
            self._half, self._key = half_of(shift), shift
        return self._half


def half_of(shift: np.ndarray) -> np.ndarray:
    """2**(S-1) per channel (0 where S = 0): the half_up rounding constant of the branch-free epilogue."""
    s = np.asarray(shift, np.int64)
    return np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
