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


def transposes_fast(src: np.ndarray) -> bool:
    """True when `transpose_bytes16` takes `src` (batch, R, S): 1-byte elements, C-contiguous, and big enough
    to repay a kernel call (about 1 us; numpy's loop wins below a few thousand bytes)."""
    return src.dtype.itemsize == 1 and src.ndim == 3 and src.size >= 4096 and src.flags.c_contiguous


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
    where 8 x 8 scalar swaps (Hacker's Delight 7-3, on bytes) took about 15 integer operations per 8 bytes.
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
    """``dst[b, j, i] = src[b, i, j]`` for C-contiguous 1-byte (batch, R, S) / (batch, S, R), any R and S: 16 x 16
    blocks (`_transpose16`) over the first R - R % 16 rows and S - S % 16 columns, byte loops over the rest.
    The model boundary's NCHW <-> NHWC of the 56x56x64 conv benchmark took 0.021 ms each way through the
    8 x 8 scalar swaps this replaced. Measured 2026-12-03 (session 24, one thread, against the 8 x 8 swaps
    for multiples of 8 and numpy's byte-at-a-time copy for the rest): 3 x 50176 (a 3-channel 224x224 image)
    47 us against numpy's 408, 480 x 196 9.4 against 44, 72 x 784 11.8 against 17.7, 784 x 72 9.1 against
    18.1.

    Each 16-column strip of `src` passes over all of its rows, so `dst`'s 16 rows of the strip are written
    whole (full 64-byte lines for R = 64) before the next strip.
    """
    batch, r_n, s_n = src.shape
    r16, s16 = r_n - r_n % 16, s_n - s_n % 16
    sa, da = src.ctypes.data, dst.ctypes.data
    for b in range(batch):
        for jb in range(0, s16, 16):
            for ib in range(0, r16, 16):
                _transpose16(sa + (b * r_n + ib) * s_n + jb, s_n, da + (b * s_n + jb) * r_n + ib, r_n)
        for j in range(s16, s_n):  # the last columns of the block rows: one row of dst each
            for i in range(r16):
                dst[b, j, i] = src[b, i, j]
        for i in range(r16, r_n):  # the last rows (all of them when R < 16: a 3-channel image)
            for j in range(s_n):
                dst[b, j, i] = src[b, i, j]


def transpose_codes(src: np.ndarray, dst: np.ndarray) -> None:
    """``dst = src.transpose(0, 2, 1)`` for (batch, R, S) / C-contiguous (batch, S, R) arrays of one dtype."""
    if transposes_fast(src) and dst.flags.c_contiguous:
        transpose_bytes16(src, dst.reshape(src.shape[0], src.shape[2], src.shape[1]))
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
