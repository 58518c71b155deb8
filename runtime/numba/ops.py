"""One handler per bpu op: plans the op's kernel call (layouts, packed constants, bound arguments).

A handler runs once per plan, never per inference: it reads the op's attributes, packs constants
(weights to float GEMM operands, per-channel parameters to int64 arrays), asks the planner for its
operands in the layout its kernel wants, allocates its output and appends a step. Semantics are the
bpu dialect's (dialects/bpu.py docstring); a conv/linear/matmul whose only user is a requantize
becomes that requantize's fused epilogue.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .kernels import conv_transpose, eltwise, embedding, normalize, permute, pool
from .kernels.conv import Conv2dPlan
from .kernels.linear import LinearPlan, MatmulPlan
from .kernels.requantize import (
    clamp_codes,
    dequantize,
    quantize,
    quantize_to_nhwc,
    requantize_axis,
    rounding_code,
)
from .planner import NHWC, PLAIN, Planner, op_error

HANDLERS: dict[str, Callable[[Planner, object], None]] = {}
_NO_RES3 = np.zeros((0, 0, 0), np.int8)
_NO_MULT = np.zeros(0, np.int64)
#: The requantize contract: |acc| < 2**32 so that acc * M (M < 2**31) cannot overflow int64.
REQUANT_LIMIT = 2**32 - 1


def handles(*names: str):
    def register(fn):
        for n in names:
            HANDLERS[n] = fn
        return fn
    return register


# -- attribute helpers ----------------------------------------------------------------------------
def _attr(op, name, default=None):
    a = op.get_attr(name)
    if a is None:
        return default
    return getattr(a, "value", a)


def _ints(op, name, default=None) -> list[int] | None:
    a = op.get_attr(name)
    if a is None:
        return None if default is None else list(default)
    if hasattr(a, "value") and isinstance(a.value, int):
        return [a.value]
    return [int(getattr(x, "value", x)) for x in a]


def _pair(op, name, default) -> tuple[int, int]:
    v = _ints(op, name, default)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _padding4(op) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from [p], [ph, pw] or [top, left, bottom, right]."""
    p = _ints(op, "padding", [0])
    if len(p) == 1:
        return (p[0],) * 4
    if len(p) == 2:
        return (p[0], p[1], p[0], p[1])
    if len(p) == 4:
        return tuple(p)
    raise op_error(op, f"padding {p} must have 1, 2 or 4 entries")


def _range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _clamp_bounds(op, dtype: np.dtype) -> tuple[int, int]:
    lo, hi = _range(dtype)
    return max(lo, _attr(op, "min", lo)), min(hi, _attr(op, "max", hi))


def _channels(values: list[int], c: int, op, what: str) -> np.ndarray:
    if len(values) == 1:
        return np.full(c, values[0], np.int64)
    if len(values) != c:
        raise op_error(op, f"{what} has {len(values)} entries for {c} channels")
    return np.asarray(values, np.int64)


def _check(op, count: int, what: str) -> None:
    if count:
        raise op_error(op, f"{what} ({count} elements)")


def _acc_range(op, dtype: np.dtype, fused_requant: bool) -> tuple[int, int]:
    lo, hi = _range(dtype)
    if fused_requant:
        lo, hi = max(lo, -REQUANT_LIMIT), min(hi, REQUANT_LIMIT)
    return lo, hi


def _overflow_message(op, dtype: np.dtype, fused: bool) -> str:
    what = f"its declared {np.dtype(dtype).name} accumulator"
    if fused:
        what += " or the requantize input bound |acc| < 2^32"
    return f"accumulator overflow: results exceed {what}; the program's accumulator width is wrong"


# -- constants and the model boundary ------------------------------------------------------------
@handles("bpu.constant")
def _constant(p: Planner, op) -> None:
    value = op.get_attr("value")
    arr = np.asarray(value.to_numpy())
    shape = tuple(op.results[0].type.shape)
    p.constants[op.results[0]] = np.broadcast_to(arr, shape) if arr.shape != shape else arr


@handles("bpu.quantize")
def _quantize(p: Planner, op) -> None:
    x = p.input(op.operands[0])
    scale = float(_attr(op, "scale"))
    if len(x.shape) == 4 and x.layout == PLAIN:  # a model input: write it in the conv layout directly
        out = p.new_slot(op.results[0], NHWC)
        lo, hi = _range(out.dtype)
        xa, oa = x.array, out.array
        p.step("quantize", lambda: quantize_to_nhwc(xa, scale, lo, hi, oa))
        return
    out = p.new_slot(op.results[0], x.layout)
    lo, hi = _range(out.dtype)
    xf, of = x.flat(), out.flat()
    p.step("quantize", lambda: quantize(xf, scale, lo, hi, of))


@handles("bpu.dequantize")
def _dequantize(p: Planner, op) -> None:
    a = op.get_attr("scale")
    scales = [float(a.value)] if hasattr(a, "value") and isinstance(a.value, float) else [float(s) for s in a]
    x = p.input(op.operands[0])
    if len(scales) == 1:
        out = p.new_slot(op.results[0], x.layout)
        q3, o3 = x.flat().reshape(1, 1, -1), out.flat().reshape(1, 1, -1)
        sc = np.asarray(scales, np.float64)
    else:
        rank = len(x.shape)
        axis = _attr(op, "axis") % rank
        if x.layout == NHWC and axis == 1:
            out = p.new_slot(op.results[0], NHWC)
            c = x.shape[1]
            q3, o3 = x.array.reshape(-1, c, 1), out.array.reshape(-1, c, 1)
        else:
            x = p.input(op.operands[0], PLAIN)
            out = p.new_slot(op.results[0], PLAIN)
            pre = int(np.prod(x.shape[:axis], dtype=np.int64))
            q3, o3 = x.array.reshape(pre, x.shape[axis], -1), out.array.reshape(pre, x.shape[axis], -1)
        sc = np.asarray(scales, np.float64)
    p.step("dequantize", lambda: dequantize(q3, sc, o3))


# -- GEMM family: conv2d, linear, matmul (raw accumulator, or fused into a requantize) ----------
def _conv_plan(p: Planner, op, acc_dtype: np.dtype, fused: bool) -> tuple[Conv2dPlan, object]:
    x = p.input(op.operands[0], NHWC)
    w = p.constant(op.operands[1])
    b = p.constant(op.operands[2]) if len(op.operands) > 2 else None
    n, c, h, wd = x.shape
    try:
        plan = Conv2dPlan((n, h, wd, c), x.dtype, np.asarray(w), b, _pair(op, "stride", [1]), _padding4(op),
                          _pair(op, "dilation", [1]), _attr(op, "groups", 1), _acc_range(op, acc_dtype, fused))
    except ValueError as e:
        raise op_error(op, str(e)) from None
    expected = p.shape(op.results[0])
    if (plan.out_shape[0], plan.out_shape[3], plan.out_shape[1], plan.out_shape[2]) != expected:
        raise op_error(op, f"computes shape {list(plan.out_shape)} (NHWC), the IR says {list(expected)}")
    return plan, x


def _linear_plan(p: Planner, op, acc_dtype: np.dtype, fused: bool):
    x = p.input(op.operands[0], PLAIN)
    w = np.asarray(p.constant(op.operands[1]))
    b = p.constant(op.operands[2]) if len(op.operands) > 2 else None
    k = x.shape[-1]
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    if w.shape[1] != k:
        raise op_error(op, f"weight {list(w.shape)} does not match {k} input features")
    return LinearPlan(rows, x.dtype, w, b, _acc_range(op, acc_dtype, fused)), x


def _matmul_operands(p: Planner, op, acc_dtype: np.dtype, fused: bool):
    a, b = p.input(op.operands[0], PLAIN), p.input(op.operands[1], PLAIN)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise op_error(op, "1-D matmul operands are not supported by the numba runtime (reshape them to 2-D)")
    out_shape = p.shape(op.results[0])
    lead = out_shape[:-2]
    batch = int(np.prod(lead, dtype=np.int64))
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    plan = MatmulPlan(batch, m, k, n, a.dtype, b.dtype, _acc_range(op, acc_dtype, fused))
    # broadcast operands are expanded once per run into planned staging arrays (no allocation)
    if a.shape[:-2] == lead:
        xa = a.array.reshape(batch, m, k)
        stage_a = None
    else:
        xa = np.empty((batch, m, k), a.dtype)
        stage_a = (a.array, xa.reshape(lead + (m, k)))
    if b.shape[:-2] == lead:
        xb = b.array.reshape(batch, k, n)
        stage_b = None
    else:
        xb = np.empty((batch, k, n), b.dtype)
        stage_b = (b.array, xb.reshape(lead + (k, n)))

    def stage():
        for s in (stage_a, stage_b):
            if s is not None:
                np.copyto(s[1], np.broadcast_to(s[0], s[1].shape))
    return plan, xa, xb, stage, out_shape


@handles("bpu.conv2d")
def _conv2d(p: Planner, op) -> None:
    out_dtype = np.dtype(p_dtype(op.results[0]))
    plan, x = _conv_plan(p, op, out_dtype, fused=False)
    out = p.new_slot(op.results[0], NHWC)
    xa, oa = x.array, out.array
    msg = _overflow_message(op, out_dtype, False)
    p.step("conv2d", lambda: _check(op, plan.raw(xa, oa), msg))


@handles("bpu.linear")
def _linear(p: Planner, op) -> None:
    out_dtype = np.dtype(p_dtype(op.results[0]))
    plan, x = _linear_plan(p, op, out_dtype, fused=False)
    out = p.new_slot(op.results[0], PLAIN)
    x2, o2 = x.array.reshape(plan.rows, plan.k), out.array.reshape(-1, plan.out_features)
    msg = _overflow_message(op, out_dtype, False)
    p.step("linear", lambda: _check(op, plan.raw(x2, o2), msg))


@handles("bpu.matmul")
def _matmul(p: Planner, op) -> None:
    out_dtype = np.dtype(p_dtype(op.results[0]))
    plan, xa, xb, stage, out_shape = _matmul_operands(p, op, out_dtype, fused=False)
    out = p.new_slot(op.results[0], PLAIN)
    o3 = out.array.reshape(plan.batch, out_shape[-2], out_shape[-1])
    msg = _overflow_message(op, out_dtype, False)

    def run():
        stage()
        _check(op, plan.run(xa, xb, o3), msg)
    p.step("matmul", run)


def p_dtype(v) -> np.dtype:
    from .planner import element_dtype
    return element_dtype(v.type)


# -- requantize (standalone, or the epilogue of its producer) -------------------------------------
def fusable_producer(op, uses: dict) -> object | None:
    """The conv2d/linear/matmul whose only use is this requantize, when its kernel can take the epilogue."""
    src = op.operands[0]
    prod = getattr(src, "op", None)
    if prod is None or prod.name not in ("bpu.conv2d", "bpu.linear", "bpu.matmul") or uses.get(src, 0) != 1:
        return None
    rank = len(src.type.shape)
    axis = _attr(op, "axis", 1) % rank
    per_tensor = len(_ints(op, "multiplier")) == 1
    if prod.name == "bpu.conv2d" and (per_tensor or axis == 1):
        return prod
    if prod.name == "bpu.linear" and (per_tensor or axis == rank - 1):
        return prod
    if prod.name == "bpu.matmul" and (per_tensor or axis == rank - 1) and len(op.operands) == 1:
        return prod
    return None


@handles("bpu.requantize")
def _requantize(p: Planner, op) -> None:
    out_v = op.results[0]
    out_dtype = np.dtype(p_dtype(out_v))
    lo, hi = _clamp_bounds(op, out_dtype)
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    src = op.operands[0]
    rank = len(src.type.shape)
    axis = _attr(op, "axis", 1) % rank if rank else 0
    producer = p.fused.get(op)
    if producer is not None:  # the epilogue's channels: conv's C (axis 1), linear/matmul's last axis
        axis = 1 if producer.name == "bpu.conv2d" else rank - 1
    channels = p.shape(src)[axis] if rank else 1
    mult = _channels(_ints(op, "multiplier"), channels, op, "multiplier")
    shift = _channels(_ints(op, "shift"), channels, op, "shift")
    has_res = len(op.operands) > 1
    res_mult = _channels(_ints(op, "residual_multiplier"), channels, op, "residual_multiplier") if has_res \
        else _NO_MULT
    if producer is not None:
        acc_dtype = np.dtype(p_dtype(src))
        msg = _overflow_message(producer, acc_dtype, True)
        if producer.name == "bpu.conv2d":
            plan, x = _conv_plan(p, producer, acc_dtype, fused=True)
            res = p.input(op.operands[1], NHWC).array if has_res else None
            out = p.new_slot(out_v, NHWC)
            xa, oa = x.array, out.array
            rm = res_mult if has_res else None
            p.step("conv2d+requantize",
                   lambda: _check(producer, plan.requantize(xa, oa, mult, shift, mode, lo, hi, res, rm), msg))
        elif producer.name == "bpu.linear":
            plan, x = _linear_plan(p, producer, acc_dtype, fused=True)
            res = p.input(op.operands[1], PLAIN).array.reshape(-1, channels) if has_res else None
            out = p.new_slot(out_v, PLAIN)
            x2, o2 = x.array.reshape(plan.rows, plan.k), out.array.reshape(-1, channels)
            rm = res_mult if has_res else None
            p.step("linear+requantize",
                   lambda: _check(producer, plan.requantize(x2, o2, mult, shift, mode, lo, hi, res, rm), msg))
        else:
            plan, xa, xb, stage, out_shape = _matmul_operands(p, producer, acc_dtype, fused=True)
            out = p.new_slot(out_v, PLAIN)
            o3 = out.array.reshape(plan.batch, out_shape[-2], out_shape[-1])
            req = (mult, shift, mode, lo, hi)

            def run():
                stage()
                _check(producer, plan.run(xa, xb, o3, req), msg)
            p.step("matmul+requantize", run)
        return
    x = p.input(src)
    layout = x.layout
    out = p.new_slot(out_v, layout)
    res = p.input(op.operands[1], layout) if has_res else None
    a3, o3, r3 = _channel_views(x, out, res, axis)
    msg = "input exceeds |acc| < 2^32, the bound that keeps acc * multiplier inside int64"
    p.step("requantize", lambda: _check(op, requantize_axis(a3, r3, mult, res_mult, shift, mode, lo, hi, o3), msg))


def _channel_views(x, out, res, axis: int):
    """(outer, C, inner) views of same-layout slots, with C the logical `axis`."""
    if x.layout == NHWC:
        phys_axis = {0: 0, 1: 3, 2: 1, 3: 2}[axis]
    else:
        phys_axis = axis
    shape = x.array.shape
    outer = int(np.prod(shape[:phys_axis], dtype=np.int64))
    c = shape[phys_axis] if shape else 1
    views = [s.array.reshape(outer, c, -1) for s in (x, out)]
    r3 = res.array.reshape(outer, c, -1) if res is not None else _NO_RES3
    return views[0], views[1], r3


# -- element-wise ------------------------------------------------------------------------------
def _binary_operands(p: Planner, op):
    """Flat same-length operand views and the output slot; broadcasts are expanded per run into staging."""
    a_v, b_v = op.operands
    sa, sb, so = p.shape(a_v), p.shape(b_v), p.shape(op.results[0])
    if sa == sb == so:
        a = p.input(a_v)
        b = p.input(b_v, a.layout)
        out = p.new_slot(op.results[0], a.layout)
        return a.flat(), b.flat(), out.flat(), (lambda: None)
    a, b = p.input(a_v, PLAIN), p.input(b_v, PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    stages = []
    flats = []
    for s in (a, b):
        if s.shape == so:
            flats.append(s.flat())
        else:
            buf = np.empty(so, s.dtype)
            stages.append((s.array, buf))
            flats.append(buf.reshape(-1))

    def stage():
        for src, dst in stages:
            np.copyto(dst, np.broadcast_to(src, dst.shape))
    return flats[0], flats[1], out.flat(), stage


@handles("bpu.add", "bpu.sub")
def _add_sub(p: Planner, op) -> None:
    a, b, o, stage = _binary_operands(p, op)
    lo, hi = _clamp_bounds(op, o.dtype)
    ma, mb, s = _attr(op, "lhs_multiplier"), _attr(op, "rhs_multiplier"), _attr(op, "shift")
    sign = -1 if op.name == "bpu.sub" else 1
    mode = rounding_code(_attr(op, "rounding", "half_up"))

    def run():
        stage()
        eltwise.add_requantize(a, b, ma, mb, sign, s, mode, lo, hi, o)
    p.step(op.name[4:], run)


@handles("bpu.mul")
def _mul(p: Planner, op) -> None:
    a, b, o, stage = _binary_operands(p, op)
    lo, hi = _clamp_bounds(op, o.dtype)
    m, s = _attr(op, "multiplier"), _attr(op, "shift")
    mode = rounding_code(_attr(op, "rounding", "half_up"))

    def run():
        stage()
        eltwise.mul_requantize(a, b, m, s, mode, lo, hi, o)
    p.step("mul", run)


@handles("bpu.lut")
def _lut(p: Planner, op) -> None:
    x = p.input(op.operands[0])
    table = np.ascontiguousarray(p.constant(op.operands[1]), dtype=np.int64)
    out = p.new_slot(op.results[0], x.layout)
    qmin = _range(x.dtype)[0]
    xf, of = x.flat(), out.flat()
    p.step("lut", lambda: eltwise.lookup(xf, table, qmin, of))


@handles("bpu.clamp")
def _clamp(p: Planner, op) -> None:
    x = p.input(op.operands[0])
    out = p.new_slot(op.results[0], x.layout)
    lo, hi = _clamp_bounds(op, out.dtype)
    xf, of = x.flat(), out.flat()
    p.step("clamp", lambda: clamp_codes(xf, lo, hi, of))


@handles("bpu.concat")
def _concat(p: Planner, op) -> None:
    out_shape = p.shape(op.results[0])
    rank = len(out_shape)
    dim = _attr(op, "dim") % rank
    mults, shifts = _ints(op, "multiplier"), _ints(op, "shift")
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    first = p.input(op.operands[0])
    layout = NHWC if (first.layout == NHWC and dim == 1) else PLAIN
    ins = [p.input(v, layout) for v in op.operands]
    out = p.new_slot(op.results[0], layout)
    lo, hi = _range(out.dtype)
    if layout == NHWC:
        rows = out_shape[0] * out_shape[2] * out_shape[3]
        dst = out.array.reshape(rows, out_shape[1])
        srcs = [s.array.reshape(rows, s.shape[1]) for s in ins]
        offsets = np.cumsum([0] + [s.shape[1] for s in ins[:-1]])
    else:
        pre = int(np.prod(out_shape[:dim], dtype=np.int64))
        dst = out.array.reshape(pre, -1)
        srcs = [s.array.reshape(pre, -1) for s in ins]
        offsets = np.cumsum([0] + [s.shape[1] for s in srcs[:-1]])
    calls = [(src, mults[i], shifts[i], int(offsets[i])) for i, src in enumerate(srcs)]

    def run():
        for src, m, s, col0 in calls:
            eltwise.requantize_into(src, m, s, mode, lo, hi, dst, col0)
    p.step("concat", run)


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



@handles("bpu.conv_transpose2d")
def _conv_transpose2d(p: Planner, op) -> None:
    x = p.input(op.operands[0], NHWC)
    w = np.asarray(p.constant(op.operands[1]))
    groups = _attr(op, "groups", 1)
    n, cin, h, wd = x.shape
    if w.ndim != 4 or w.shape[0] != cin or cin % groups:
        raise op_error(op, f"weight {list(w.shape)} does not fit {cin} input channels in {groups} groups")
    wp = conv_transpose.pack_weight(w, groups)
    out = p.new_slot(op.results[0], NHWC)
    cout = out.shape[1]
    if wp.shape[2] != cout:
        raise op_error(op, f"weight gives {wp.shape[2]} output channels, the IR says {cout}")
    bias = np.zeros(cout, np.int64)
    if len(op.operands) > 2:
        bias[:] = np.asarray(p.constant(op.operands[2]), np.int64).reshape(-1)
    (sh, sw), (ph, pw), (dh, dw) = _pair(op, "stride", [1]), _pair(op, "padding", [0]), _pair(op, "dilation", [1])
    lo, hi = _range(out.dtype)
    xa, oa = x.array, out.array
    message = _overflow_message(op, out.dtype, False)

    def run() -> None:
        _check(op, conv_transpose.conv_transpose2d_nhwc(xa, wp, bias, sh, sw, ph, pw, dh, dw, lo, hi, oa), message)
    p.step("conv_transpose2d", run)


# -- row-wise normalisations (the transformer path) ----------------------------------------------
def _rows_around(shape: tuple[int, ...], dim: int) -> tuple[int, int, int]:
    """(outer, n, inner) such that a row-major array of `shape` reshapes with `dim` in the middle."""
    outer = int(np.prod(shape[:dim], dtype=np.int64))
    inner = int(np.prod(shape[dim + 1:], dtype=np.int64))
    return outer, shape[dim], inner


@handles("bpu.softmax")
def _softmax(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    lo_in, hi_in = _range(x.dtype)
    table = np.ascontiguousarray(p.constant(op.operands[1]))  # its own dtype: an int32 table is half the cache
    if table.dtype.kind not in "iu":
        raise op_error(op, f"exp_table has element type {table.dtype}, not an integer type")
    if table.shape != (hi_in - lo_in + 1,):
        raise op_error(op, f"exp_table has {table.size} entries, {x.dtype} inputs need {hi_in - lo_in + 1}")
    out = p.new_slot(op.results[0], PLAIN)
    dim = _attr(op, "dim") % len(x.shape)
    outer, n, inner = _rows_around(x.shape, dim)
    if inner == 1:  # the usual last axis: (rows, n) views
        kernel, xs, os_ = normalize.softmax_rows, x.array.reshape(outer, n), out.array.reshape(outer, n)
    else:
        view3 = (outer, n, inner)
        kernel, xs, os_ = normalize.softmax_strided, x.array.reshape(view3), out.array.reshape(view3)
    mult, shift = np.int64(_attr(op, "multiplier")), np.int64(_attr(op, "shift"))
    lo, hi = _range(out.dtype)
    span = np.int64(hi_in - lo_in)
    table_abs = np.int64(np.abs(table.astype(np.int64)).max())
    p.step("softmax", lambda: kernel(xs, table, table_abs, span, mult, shift, lo, hi, os_))


@handles("bpu.layer_norm")
def _layer_norm(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    n = x.shape[-1]
    gamma = np.ascontiguousarray(p.constant(op.operands[1]), dtype=np.int64).reshape(-1)
    beta = np.ascontiguousarray(p.constant(op.operands[2]), dtype=np.int64).reshape(-1)
    if gamma.shape != (n,) or beta.shape != (n,):
        raise op_error(op, f"gamma/beta have {gamma.size}/{beta.size} entries for a last dim of {n}")
    out = p.new_slot(op.results[0], PLAIN)
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    xs, os_ = x.array.reshape(rows, n), out.array.reshape(rows, n)
    f, eps = np.int64(_attr(op, "frac_bits")), np.int64(_attr(op, "eps"))
    g = np.int64(_attr(op, "sqrt_frac_bits", int(f)))
    mult, shift = np.int64(_attr(op, "multiplier")), np.int64(_attr(op, "shift"))
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)
    p.step("layer_norm",
           lambda: normalize.layer_norm_rows(xs, gamma, beta, f, g, eps, mult, shift, mode, lo, hi, os_))


@handles("bpu.embedding")
def _embedding(p: Planner, op) -> None:
    ids = p.input(op.operands[0], PLAIN)
    table = np.ascontiguousarray(p.constant(op.operands[1]), dtype=np.int8)
    rows, dim = table.shape
    mult = np.asarray(_ints(op, "multiplier"), np.int64)
    shift = np.asarray(_ints(op, "shift"), np.int64)
    if mult.size not in (1, rows) or shift.size != mult.size:
        raise op_error(op, f"has {mult.size} multipliers / {shift.size} shifts for a table of {rows} rows")
    out = p.new_slot(op.results[0], PLAIN)
    lo, hi = _range(out.dtype)
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    flat_ids, rows_out = ids.flat(), out.array.reshape(-1, dim)

    def run():
        bad = embedding.first_bad_index(flat_ids, rows)
        if bad >= 0:
            raise op_error(op, f"index {int(flat_ids[bad])} is outside the table's {rows} rows")
        embedding.gather_requantize(flat_ids, table, mult, shift, mode, lo, hi, rows_out)
    p.step("embedding", run)


# -- everything else the reference runtime executes (float islands) -----------
def reference_fallback(p: Planner, op) -> None:
    """Run the reference runtime's numpy implementation of `op` as a step (rare ops: correct, not fast).

    Float islands (torch/hl ops kept in float by `convert(..., float_fallback=True)`) and ops without a
    numba kernel execute exactly as in the oracle; results are stored like the reference stores them
    (float32, or integers checked against their dtype's range).
    """
    from irq.runtime.reference.ops import IMPLS

    impl = IMPLS[op.name]
    if not op.operands and op.name.endswith(".constant"):
        p.constants[op.results[0]] = np.asarray(impl(op))
        return
    if len(op.results) != 1:
        raise op_error(op, "has several results: not supported by the numba runtime")
    ins = [p.constant(v) if p.is_constant(v) else p.input(v, PLAIN).array for v in op.operands]
    consts = [p.is_constant(v) for v in op.operands]
    out = p.new_slot(op.results[0], PLAIN)
    dst = out.array
    is_int = dst.dtype.kind == "i"
    lo, hi = _range(dst.dtype) if is_int else (0, 0)
    if p.batch != p.program_batch and p.program_batch is not None:
        if p.program_batch != 1:
            raise op_error(op, f"runs through the reference implementation, which needs the program's batch "
                               f"size {p.program_batch}")
        if p.axes is not None and any(p.axes.axes.get(v) != p.axes.leading for v in op.operands
                                        if not p.is_constant(v)):
            raise op_error(op, "runs through the reference implementation one sample at a time, which needs the "
                               f"batch on dimension 0: this program only runs at batch {p.program_batch}")
        per_sample = True
    else:
        per_sample = False

    def store(value, target):
        v = np.asarray(value)
        if is_int and v.size and (v.min() < lo or v.max() > hi):
            raise op_error(op, f"produced values in [{int(v.min())}, {int(v.max())}], outside {dst.dtype}")
        np.copyto(target, v.reshape(target.shape), casting="unsafe")

    def run():
        if not per_sample:
            store(impl(op, *ins), dst)
            return
        for i in range(dst.shape[0]):
            store(impl(op, *[a if c else a[i:i + 1] for a, c in zip(ins, consts)]), dst[i:i + 1])
    p.step(op.name, run)
