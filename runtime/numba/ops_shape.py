"""Handlers of pools, resize and data movement (reshape, permute, slice, take, reduce_max / reduce_min, topk): no GEMM,
few parameters."""

from __future__ import annotations

import numpy as np

from .kernels import permute, pool
from .kernels.reduce import reduce_rows
from .kernels.requantize import rounding_code
from .op_support import _attr, _check, _ints, _padding4, _pair, _range, handles
from .planner import NHWC, PLAIN, Planner, op_error


# -- pools and resize ----------------------------------------------------------------------------
def _pool_geometry(op):
    kh, kw = _pair(op, "kernel_size", None)
    sh, sw = _pair(op, "stride", [kh, kw]) if _ints(op, "stride") else (kh, kw)
    pt, pl, _, _ = _padding4(op)
    return kh, kw, sh, sw, pt, pl


@handles("bpu.max_pool2d")
def _max_pool(p: Planner, op) -> None:
    x = p.input(op.operands[0], NHWC)
    out = p.new_slot(op.results[0], NHWC)
    kh, kw, sh, sw, pt, pl = _pool_geometry(op)
    dh, dw = _pair(op, "dilation", [1])
    xa, oa = x.array, out.array
    p.step("max_pool2d", lambda: pool.max_pool(xa, kh, kw, sh, sw, pt, pl, dh, dw, oa))


@handles("bpu.avg_pool2d")
def _avg_pool(p: Planner, op) -> None:
    x = p.input(op.operands[0], NHWC)
    out = p.new_slot(op.results[0], NHWC)
    kh, kw, sh, sw, pt, pl = _pool_geometry(op)
    divisors, mults, shifts = _ints(op, "divisors"), _ints(op, "multiplier"), _ints(op, "shift")
    size = max(divisors) + 1
    m_by_d, s_by_d = np.zeros(size, np.int64), np.zeros(size, np.int64)
    m_by_d[divisors], s_by_d[divisors] = mults, shifts
    include_pad = bool(_attr(op, "count_include_pad", True))
    override = int(_attr(op, "divisor_override", 0) or 0)
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)
    xa, oa = x.array, out.array
    msg = "a window's divisor is missing from the op's divisors table"
    p.step("avg_pool2d", lambda: _check(op, pool.avg_pool(xa, kh, kw, sh, sw, pt, pl, include_pad, override, m_by_d,
                                                          s_by_d, mode, lo, hi, oa), msg))


@handles("bpu.global_avg_pool")
def _global_avg_pool(p: Planner, op) -> None:
    x = p.input(op.operands[0], NHWC)
    out = p.new_slot(op.results[0], NHWC)
    m, s = _attr(op, "multiplier"), _attr(op, "shift")
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)
    xa, o2 = x.array, out.array.reshape(out.shape[0], out.shape[1])
    p.step("global_avg_pool", lambda: pool.global_avg_pool(xa, m, s, mode, lo, hi, o2))


@handles("bpu.resize")
def _resize(p: Planner, op) -> None:
    mode = _attr(op, "mode")
    x = p.input(op.operands[0], NHWC)
    out = p.new_slot(op.results[0], NHWC)
    (_, _, ih, iw), (_, _, oh, ow) = x.shape, out.shape
    xa, oa = x.array, out.array
    if mode == "nearest":
        sy = np.minimum(np.arange(oh, dtype=np.int64) * ih // oh, ih - 1)
        sx = np.minimum(np.arange(ow, dtype=np.int64) * iw // ow, iw - 1)
        p.step("resize", lambda: pool.gather_rows_cols(xa, sy, sx, oa))
        return
    f = _attr(op, "frac_bits")
    align = bool(_attr(op, "align_corners", False))
    ys, xs = _bilinear_axis(ih, oh, f, align), _bilinear_axis(iw, ow, f, align)
    m, s = _attr(op, "multiplier"), _attr(op, "shift")
    rnd = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)
    p.step("resize", lambda: pool.bilinear(xa, *ys, *xs, m, s, rnd, lo, hi, oa))


def _bilinear_axis(size_in: int, size_out: int, f: int, align_corners: bool):
    """(i0, i1, l0, l1) per output index, the dialect's F-bit fixed-point source positions."""
    dst = np.arange(size_out, dtype=np.int64)
    if align_corners:
        pos = dst * (size_in - 1) * (1 << f) // (size_out - 1) if size_out > 1 else np.zeros(size_out, np.int64)
    else:
        pos = np.maximum(0, ((2 * dst + 1) * size_in - size_out) * (1 << f) // (2 * size_out))
    i0 = pos >> f
    i1 = np.minimum(i0 + 1, size_in - 1)
    l1 = pos - (i0 << f)
    l0 = (1 << f) - l1
    return i0, i1, l0, l1


# -- data movement ----------------------------------------------------------------------------
@handles("bpu.reshape")
def _reshape(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    shape = p.shape(op.results[0])
    p.alias(op.results[0], x, x.array.reshape(shape))


@handles("bpu.permute")
def _permute(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    dims = tuple(d % len(x.shape) for d in _ints(op, "dims"))
    if len(dims) > permute.RANK:
        src, dst = x.array, out.array
        p.step("permute", lambda: np.copyto(dst, src.transpose(dims)))
        return
    rank = len(dims)
    if rank >= 2 and dims == tuple(range(rank - 2)) + (rank - 1, rank - 2) \
            and permute.transposes_fast(x.array.reshape(-1, x.shape[-2], x.shape[-1])):
        # keys transposed for attention's q @ k^T: 16x16 byte blocks in registers (32x12x16x32 int8 51 -> 13 us)
        src3 = x.array.reshape(-1, x.shape[-2], x.shape[-1])
        dst3 = out.array.reshape(-1, x.shape[-1], x.shape[-2])
        p.step("permute", lambda: permute.transpose_codes(src3, dst3))
        return
    shape, step = permute.plan(x.shape, dims)
    src, dst = x.flat(), out.flat()
    p.step("permute", lambda: permute.permute_copy(src, shape, step, dst))


@handles("bpu.slice")
def _slice(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    rank = len(x.shape)
    dim = _attr(op, "dim") % rank
    index = [slice(None)] * rank
    index[dim] = slice(_attr(op, "start"), _attr(op, "end"), _attr(op, "step", 1))
    view = x.array[tuple(index)]
    if view.shape != out.array.shape:
        raise op_error(op, f"slices {list(view.shape)}, the IR says {list(out.shape)}")
    dst = out.array
    p.step("slice", lambda: np.copyto(dst, view))


@handles("bpu.take")
def _take(p: Planner, op) -> None:
    """numpy.take along a dim into the result's slot (flip, index_select, repeat, expand of a size-1 dim)."""
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    dim = _attr(op, "dim") % len(x.shape)
    idx = np.asarray(_ints(op, "indices"), dtype=np.intp)
    src, dst = x.array, out.array
    p.step("take", lambda: np.take(src, idx, axis=dim, out=dst))


def _reduce(fn):
    def handler(p: Planner, op) -> None:
        x = p.input(op.operands[0], PLAIN)
        out = p.new_slot(op.results[0], PLAIN)
        dims = tuple(sorted({d % len(x.shape) for d in _ints(op, "dims")}))
        keep = bool(_attr(op, "keepdim", False))
        src, dst = x.array, out.array
        label = op.name.partition(".")[2]
        first = len(x.shape) - len(dims)
        n = int(np.prod(x.shape[first:], dtype=np.int64))
        if dims == tuple(range(first, len(x.shape))) and n >= 1 and src.flags.c_contiguous \
                and dst.flags.c_contiguous:  # trailing dims: one loop per row (kernels/reduce.py)
            rows2, out1 = src.reshape(-1, n), dst.reshape(-1)
            take_max = fn is np.max
            p.step(label, lambda: reduce_rows(rows2, take_max, out1))
            return
        p.step(label, lambda: fn(src, axis=dims, keepdims=keep, out=dst))
    return handler


handles("bpu.reduce_max")(_reduce(np.max))
handles("bpu.reduce_min")(_reduce(np.min))


def _arg_reduce(fn):
    """numpy's argmax / argmin along one dim (the first index on ties, as torch) into the i64 result's slot."""

    def handler(p: Planner, op) -> None:
        x = p.input(op.operands[0], PLAIN)
        out = p.new_slot(op.results[0], PLAIN)
        dim = _attr(op, "dim") % len(x.shape)
        keep = bool(_attr(op, "keepdim", False))
        src, dst = x.array, out.array
        p.step(op.name.partition(".")[2], lambda: np.copyto(dst, fn(src, axis=dim, keepdims=keep)))

    return handler


handles("bpu.argmax")(_arg_reduce(np.argmax))
handles("bpu.argmin")(_arg_reduce(np.argmin))


@handles("bpu.topk")
def _topk(p: Planner, op) -> None:
    """numpy's sort along the dim, then the k entries from the right end (largest) or the left."""
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    dim, k = _attr(op, "dim") % len(x.shape), _attr(op, "k")
    n = x.shape[dim]
    idx = np.arange(n - 1, n - k - 1, -1) if _attr(op, "largest", True) else np.arange(k)
    src, dst = x.array, out.array
    p.step("topk", lambda: np.take(np.sort(src, axis=dim), idx, axis=dim, out=dst))
