"""Handlers of the GEMM family: conv2d, linear and matmul, raw or fused into the requantize that reads them.

A conv2d/linear/matmul whose only user is a requantize (`fusable_producer`) plans no step of its own:
the requantize's handler plans one kernel call that computes the GEMM and runs bias, the declared-width
check, rounding, the residual and the clamp on each tile (docs/design.md, "Fusion").
"""

from __future__ import annotations

import numpy as np

from .kernels.conv import Conv2dPlan
from .kernels.linear import LinearPlan, MatmulPlan
from .kernels.requantize import requantize_axis, rounding_code
from .op_support import (
    _NO_MULT,
    _NO_RES3,
    _acc_range,
    _attr,
    _channels,
    _check,
    _clamp_bounds,
    _ints,
    _multipliers,
    _overflow_message,
    _padding4,
    _pair,
    handles,
    p_dtype,
)
from .planner import NHWC, PLAIN, Planner, op_error


# -- GEMM family: conv2d, linear, matmul (raw accumulator, or fused into a requantize) ----------
def _conv_plan(p: Planner, op, acc_dtype: np.dtype, fused: bool) -> tuple[Conv2dPlan, object]:
    v = op.operands[0]
    given = p.input(v)  # as its producer laid it out (NCHW for a model input given as codes)
    w = p.constant(op.operands[1])
    b = p.constant(op.operands[2]) if len(op.operands) > 2 else None
    n, c, h, wd = given.shape
    try:
        plan = Conv2dPlan((n, h, wd, c), given.dtype, np.asarray(w), b, _pair(op, "stride", [1]), _padding4(op),
                          _pair(op, "dilation", [1]), _attr(op, "groups", 1), _acc_range(op, acc_dtype, fused))
    except ValueError as e:
        raise op_error(op, str(e)) from None
    if (given.layout == PLAIN and len(given.shape) == 4 and given.array.flags.c_contiguous
            and not p.has_layout(v, NHWC) and plan.reads_nchw):
        plan.take_nchw()  # the conv's own padded copy transposes: no NHWC copy of the input first
        x = given
    else:
        x = p.input(v, NHWC)
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
    mult = _multipliers(_ints(op, "multiplier"), channels, op, "multiplier")
    shift = _channels(_ints(op, "shift"), channels, op, "shift")
    has_res = len(op.operands) > 1
    res_mult = _multipliers(_ints(op, "residual_multiplier"), channels, op, "residual_multiplier") if has_res \
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
            run = plan.bind_requantize(xa, oa, mult, shift, mode, lo, hi, res, rm) \
                or (lambda: plan.requantize(xa, oa, mult, shift, mode, lo, hi, res, rm))
            p.step("conv2d+requantize", lambda: _check(producer, run(), msg))
        elif producer.name == "bpu.linear":
            plan, x = _linear_plan(p, producer, acc_dtype, fused=True)
            res = p.input(op.operands[1], PLAIN).array.reshape(-1, channels) if has_res else None
            out = p.new_slot(out_v, PLAIN)
            x2, o2 = x.array.reshape(plan.rows, plan.k), out.array.reshape(-1, channels)
            rm = res_mult if has_res else None
            # the slots never change: the GEMM call is packed once where it can be (its dispatch was 15 us)
            run = plan.bind_requantize(x2, o2, mult, shift, mode, lo, hi, res, rm) \
                or (lambda: plan.requantize(x2, o2, mult, shift, mode, lo, hi, res, rm))
            p.step("linear+requantize", lambda: _check(producer, run(), msg))
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
