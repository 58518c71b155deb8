"""bpu.permute as one Numba loop nest over the destination, in order, reading the source by strides.

A transformer permutes every head split and merge (MiniLM: 30 per run, `[0, 2, 1, 3]` and the
keys' `[0, 1, 3, 2]`). numpy's `copyto` of a transposed view spent 35 us on each 24x16x12x32 int8
tensor; here the rank is padded to 6 with leading size-1 dimensions, the destination is written
contiguously, and the innermost source stride of 1 (a permute that keeps the last axis) makes the
inner loop a straight copy.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .launch import row_kernel

RANK = 6


def plan(src_shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(destination shape, source element strides per destination axis), both padded to `RANK` axes."""
    if len(src_shape) > RANK:
        raise ValueError(f"permute of rank {len(src_shape)} (the kernel takes up to {RANK})")
    strides = [1] * len(src_shape)
    for i in range(len(src_shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * src_shape[i + 1]
    pad = RANK - len(src_shape)
    shape = [1] * pad + [src_shape[d] for d in dims]
    step = [0] * pad + [strides[d] for d in dims]
    return np.asarray(shape, np.uint64), np.asarray(step, np.uint64)


@row_kernel(lambda src, shape, step, dst: int(shape[0] * shape[1] * shape[2] * shape[3]))
def permute_copy(r0, r1, src, shape, step, dst):
    """``dst[i0, ..., i5] = src[sum(i_k * step[k])]`` for flat `src` and `dst` (destination order); a
    `launch.RowKernel` over the first four destination axes taken together (a rank-4 permute's leading two,
    after the padding), the last two in inner loops that run from 0."""
    s1, s2, s3, s4, s5 = shape[1], shape[2], shape[3], shape[4], shape[5]
    t0, t1, t2, t3, t4, t5 = step[0], step[1], step[2], step[3], step[4], step[5]
    for outer in range(r0, r1):
        u = np.uint64(outer)
        i3 = u % s3
        u //= s3
        i2 = u % s2
        u //= s2
        base3 = (u // s1) * t0 + (u % s1) * t1 + i2 * t2 + i3 * t3
        o = np.uint64(outer) * s4 * s5
        for i4 in range(s4):
            base4 = base3 + i4 * t4
            for i5 in range(s5):
                dst[o + i5] = src[base4 + i5 * t5]
            o += s5


@numba.njit(cache=True, inline="always")
def _swap(a, b, mask, bits):
    """Exchange the bytes of `a` selected by ``mask << bits`` with the bytes of `b` selected by `mask`."""
    t = ((a >> bits) ^ b) & mask
    return a ^ (t << bits), b ^ t


def transposes_fast(src: np.ndarray) -> bool:
    """True when `transpose_bytes` takes `src` (batch, R, S): 1-byte elements, R and S multiples of 8, and
    big enough to repay a kernel call (about 1 us; numpy's loop wins below a few thousand bytes)."""
    return (src.dtype.itemsize == 1 and src.ndim == 3 and src.shape[1] % 8 == 0 and src.shape[2] % 8 == 0
            and src.size >= 4096 and src.flags.c_contiguous)


@numba.njit(cache=True)
def transpose_bytes(src, dst):
    """``dst[b, j, i] = src[b, i, j]`` for uint64 views of 1-byte (batch, R, S) and (batch, S, R) arrays.

    `src` is (batch, R, S / 8) and `dst` (batch, S, R / 8) uint64 (`transposes_fast`): NCHW <-> NHWC of
    int8 codes. Why not numpy: ``copyto(dst, src.transpose(...))`` moves one byte per step, 0.04-0.06 ms
    for each of the 56x56x64 conv benchmark's two boundary conversions. Here each 8 x 8 byte block is
    8 words transposed in registers in three swap rounds (4-, 2-, then 1-byte blocks: the 8x8 transpose
    of Hacker's Delight 7-3, on bytes), one 8-byte load and store per row.
    """
    batch, r_n, s_w = src.shape
    m4, m2, m1 = np.uint64(0x00000000FFFFFFFF), np.uint64(0x0000FFFF0000FFFF), np.uint64(0x00FF00FF00FF00FF)
    b32, b16, b8 = np.uint64(32), np.uint64(16), np.uint64(8)
    for b in range(batch):
        for ib in range(r_n // 8):
            i0 = ib * 8
            for jb in range(s_w):
                j0 = jb * 8
                x0, x1, x2, x3 = src[b, i0, jb], src[b, i0 + 1, jb], src[b, i0 + 2, jb], src[b, i0 + 3, jb]
                x4, x5, x6, x7 = src[b, i0 + 4, jb], src[b, i0 + 5, jb], src[b, i0 + 6, jb], src[b, i0 + 7, jb]
                x0, x4 = _swap(x0, x4, m4, b32)
                x1, x5 = _swap(x1, x5, m4, b32)
                x2, x6 = _swap(x2, x6, m4, b32)
                x3, x7 = _swap(x3, x7, m4, b32)
                x0, x2 = _swap(x0, x2, m2, b16)
                x1, x3 = _swap(x1, x3, m2, b16)
                x4, x6 = _swap(x4, x6, m2, b16)
                x5, x7 = _swap(x5, x7, m2, b16)
                x0, x1 = _swap(x0, x1, m1, b8)
                x2, x3 = _swap(x2, x3, m1, b8)
                x4, x5 = _swap(x4, x5, m1, b8)
                x6, x7 = _swap(x6, x7, m1, b8)
                dst[b, j0, ib], dst[b, j0 + 1, ib], dst[b, j0 + 2, ib], dst[b, j0 + 3, ib] = x0, x1, x2, x3
                dst[b, j0 + 4, ib], dst[b, j0 + 5, ib], dst[b, j0 + 6, ib], dst[b, j0 + 7, ib] = x4, x5, x6, x7


_V16B = ir.VectorType(ir.IntType(8), 16)
#: `shufflevector` masks interleaving the low / high 8 bytes of two 16-byte rows (SSE2 punpcklbw / punpckhbw)
_LO = ir.Constant(ir.VectorType(ir.IntType(32), 16), [j // 2 + 16 * (j % 2) for j in range(16)])
_HI = ir.Constant(ir.VectorType(ir.IntType(32), 16), [8 + j // 2 + 16 * (j % 2) for j in range(16)])


@intrinsic
def _transpose16(typingctx, src, lds, dst, ldd):
    """``dst[j * ldd + i] = src[i * lds + j]`` for a 16 x 16 byte block at addresses `src` / `dst`.

    Sixteen 16-byte rows in vector registers, four rounds of ``row'[2i], row'[2i+1] = interleave(row[i],
    row[i + 8])`` (low and high halves); after log2(16) rounds row j holds column j (the perfect-shuffle
    transpose). LLVM lowers each interleave to one `punpcklbw` / `punpckhbw`: 64 shuffles per 256 bytes,
    where `transpose_bytes`' scalar swaps take about 15 integer operations per 8 bytes.
    """
    def codegen(context, builder, signature, args):
        src_addr, lds_, dst_addr, ldd_ = args
        i8p = ir.IntType(8).as_pointer()
        s0, d0 = builder.inttoptr(src_addr, i8p), builder.inttoptr(dst_addr, i8p)
        i64 = lds_.type
        rows = [builder.load(builder.bitcast(builder.gep(s0, [builder.mul(lds_, ir.Constant(i64, i))]),
                                             _V16B.as_pointer()), align=1) for i in range(16)]
        for _ in range(4):
            nxt = []
            for i in range(8):
                nxt.append(builder.shuffle_vector(rows[i], rows[i + 8], _LO))
                nxt.append(builder.shuffle_vector(rows[i], rows[i + 8], _HI))
            rows = nxt
        for j in range(16):
            builder.store(rows[j], builder.bitcast(builder.gep(d0, [builder.mul(ldd_, ir.Constant(i64, j))]),
                                                   _V16B.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.void(types.uintp, types.intp, types.uintp, types.intp), codegen


@numba.njit(cache=True)
def transpose_bytes16(src, dst):
    """``dst[b, j, i] = src[b, i, j]`` for C-contiguous 1-byte (batch, R, S) / (batch, S, R), R and S
    multiples of 16, in 16 x 16 blocks (`_transpose16`). The model boundary's NCHW <-> NHWC of the
    56x56x64 conv benchmark took 0.021 ms each way through `transpose_bytes`' 8 x 8 scalar swaps.

    Each 16-column strip of `src` passes over all of R, so `dst`'s 16 rows of the strip are written whole
    (full 64-byte lines for R = 64) before the next strip.
    """
    batch, r_n, s_n = src.shape
    sa, da = src.ctypes.data, dst.ctypes.data
    for b in range(batch):
        for jb in range(0, s_n, 16):
            for ib in range(0, r_n, 16):
                _transpose16(sa + (b * r_n + ib) * s_n + jb, s_n, da + (b * s_n + jb) * r_n + ib, r_n)


def transpose_codes(src: np.ndarray, dst: np.ndarray) -> None:
    """``dst = src.transpose(0, 2, 1)`` for (batch, R, S) / C-contiguous (batch, S, R) arrays of one dtype."""
    if transposes_fast(src) and dst.flags.c_contiguous and src.shape[1] % 16 == 0 and src.shape[2] % 16 == 0:
        transpose_bytes16(src, dst.reshape(src.shape[0], src.shape[2], src.shape[1]))
    elif transposes_fast(src) and dst.flags.c_contiguous:
        b, r, s = src.shape
        transpose_bytes(src.view(np.uint64).reshape(b, r, s // 8), dst.reshape(b, s, r).view(np.uint64))
    else:
        np.copyto(dst, src.transpose(0, 2, 1))


def to_layout(src: np.ndarray, dst: np.ndarray, nhwc: bool) -> None:
    """Copy 4-D `src` into `dst` in the other layout: NCHW -> NHWC when `nhwc`, else NHWC -> NCHW."""
    if not (src.flags.c_contiguous and dst.flags.c_contiguous):  # reshapes below must be views
        np.copyto(dst, src.transpose((0, 2, 3, 1) if nhwc else (0, 3, 1, 2)))
        return
    if nhwc:
        n, c, h, w = src.shape
        transpose_codes(src.reshape(n, c, h * w), dst.reshape(n, h * w, c))
    else:
        n, h, w, c = src.shape
        transpose_codes(src.reshape(n, h * w, c), dst.reshape(n, c, h * w))
