"""One handler per bpu op: plans the op's kernel call (layouts, packed constants, bound arguments).

A handler runs once per plan, never per inference: it reads the op's attributes, packs constants
(weights to float GEMM operands, per-channel parameters to int64 arrays), asks the planner for its
operands in the layout its kernel wants, allocates its output and appends a step. Semantics are the
bpu dialect's (dialects/bpu.py docstring); a conv/linear/matmul whose only user is a requantize
becomes that requantize's fused epilogue.
"""

from __future__ import annotations

import numpy as np

from . import ops_shape  # noqa: F401 - importing it registers its handlers
from .kernels import conv_transpose, eltwise, embedding, lookup, normalize
from .kernels.requantize import clamp_codes, dequantize, quantize, quantize_to_nhwc, rounding_code
from .op_support import (  # noqa: F401 - re-exported for the executor and handler modules
    HANDLERS,
    _attr,
    _channels,
    _check,
    _clamp_bounds,
    _ints,
    _overflow_message,
    _pair,
    _range,
    handles,
    p_dtype,
)
from .ops_gemm import fusable_producer  # noqa: F401 - registers the GEMM family; the executor's import
from .planner import NHWC, PLAIN, Planner, op_error


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
        p.step("quantize", quantize_to_nhwc.bind(x.array, scale, lo, hi, out.array))  # packed once (bound_call)
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


# -- element-wise ------------------------------------------------------------------------------
def flat_operands(p: Planner, op):
    """Flat same-length views of every operand and of the output slot, plus a staging step that expands the
    broadcast operands into planned buffers (run before the kernel on every call)."""
    so = tuple(p.shape(op.results[0]))
    if all(tuple(p.shape(v)) == so for v in op.operands):
        first = p.input(op.operands[0])
        slots = [first] + [p.input(v, first.layout) for v in op.operands[1:]]
        out = p.new_slot(op.results[0], first.layout)
        return [s.flat() for s in slots], out.flat(), (lambda: None)
    slots = [p.input(v, PLAIN) for v in op.operands]
    out = p.new_slot(op.results[0], PLAIN)
    stages, flats = [], []
    for s in slots:
        if tuple(s.shape) == so:
            flats.append(s.flat())
        else:
            buf = np.empty(so, s.dtype)
            stages.append((s.array, buf))
            flats.append(buf.reshape(-1))

    def stage():
        for src, dst in stages:
            np.copyto(dst, np.broadcast_to(src, dst.shape))
    return flats, out.flat(), stage


def _binary_operands(p: Planner, op):
    """Flat same-length operand views and the output slot; broadcasts are expanded per run into staging."""
    (a, b), out, stage = flat_operands(p, op)
    return a, b, out, stage


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
    table = np.ascontiguousarray(p.constant(op.operands[1]))
    out = p.new_slot(op.results[0], x.layout)
    qmin, qmax = _range(x.dtype)
    if table.size != qmax - qmin + 1:  # the kernels index without bounds checks
        raise op_error(op, f"table has {table.size} entries, {x.dtype} inputs need {qmax - qmin + 1}")
    xf, of = x.flat(), out.flat()
    if x.dtype in lookup.UNSIGNED and table.dtype.kind in "iu":  # int8/int16 codes: index by a sign-bit flip
        codes, flip = lookup.unsigned_view(xf)
        table = table.reshape(-1)
        p.step("lut", lambda: lookup.lookup_flipped(codes, flip, table, of))
        return
    table = table.astype(np.int64).reshape(-1)
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


# handlers of the layer ops (bpu.prelu, bpu.pad, bpu.group_norm, bpu.div) and of the scans and row ops
# (bpu.cumsum, bpu.log_softmax) register themselves on import
from . import layer_ops, row_ops, select_ops  # noqa: E402, F401
