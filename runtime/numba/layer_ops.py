"""Numba handlers of the bpu ops users' layers add (prelu, pad, group_norm, div, int_div); registered into
ops.HANDLERS.

Kept apart from ops.py (the core ops' handlers) so each file stays one concept; the semantics are the
bpu dialect's (dialects/bpu.py docstring), and tests check these handlers against the reference runtime
bit for bit.
"""

from __future__ import annotations

import numpy as np

from .kernels import normalize
from .kernels.divide import divide_requantize
from .kernels.int_divide import int_divide_requantize
from .kernels.prelu import prelu_requantize
from .kernels.requantize import rounding_code
from .ops import _attr, _binary_operands, _channels, _ints, _range, _rows_around, handles
from .planner import PLAIN, Planner, op_error

#: torch.nn.functional.pad's modes by numpy.pad's names (numpy pads an index ramp to find each source)
_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@handles("bpu.prelu")
def _prelu(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    shape = tuple(x.shape)
    axis = _attr(op, "axis", 1) % max(len(shape), 1)
    outer, c, inner = _rows_around(shape, axis) if shape else (1, 1, 1)
    m = _channels(_ints(op, "multiplier"), c, op, "multiplier")
    mn = _channels(_ints(op, "negative_multiplier"), c, op, "negative_multiplier")
    s = _channels(_ints(op, "shift"), c, op, "shift")
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)
    xs, os_ = x.array.reshape(outer, c, inner), out.array.reshape(outer, c, inner)
    p.step("prelu", lambda: prelu_requantize(xs, m, mn, s, mode, lo, hi, os_))


@handles("bpu.pad")
def _pad(p: Planner, op) -> None:
    """Planned once: the source index of every output position per dim (constant mode: the interior
    window and the fill code), so each run is one gather or one fill and copy."""
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    src, dst = x.array, out.array
    pads = _ints(op, "pad")
    widths = [(0, 0)] * src.ndim
    for i in range(len(pads) // 2):
        widths[src.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    mode = _attr(op, "mode", "constant")
    if mode == "constant":
        value = _attr(op, "value", 0)
        src_win, dst_win = [], []
        for n, (before, after) in zip(src.shape, widths):
            lo_s, hi_s = max(-before, 0), n - max(-after, 0)
            src_win.append(slice(lo_s, hi_s))
            dst_win.append(slice(max(before, 0), max(before, 0) + max(hi_s - lo_s, 0)))
        inner_src, inner_dst = src[tuple(src_win)], dst[tuple(dst_win)]
        if inner_src.shape != inner_dst.shape:
            raise op_error(op, f"pads {list(src.shape)} by {pads} into {list(dst.shape)}")

        def run_constant() -> None:
            dst.fill(value)
            np.copyto(inner_dst, inner_src)
        p.step("pad", run_constant)
        return
    if mode not in _NUMPY_PAD_MODES:
        raise op_error(op, f"unknown pad mode '{mode}'")
    index = np.ix_(*[np.pad(np.arange(n), w, mode=_NUMPY_PAD_MODES[mode]) for n, w in zip(src.shape, widths)])
    if tuple(len(i) for i in (np.ravel(a) for a in index)) != dst.shape:
        raise op_error(op, f"pads {list(src.shape)} by {pads} into {list(dst.shape)}")
    p.step("pad", lambda: np.copyto(dst, src[index]))


@handles("bpu.group_norm")
def _group_norm(p: Planner, op) -> None:
    """One layer_norm_rows call per group on the (N, m) rows of that group, with the group's channels'
    gamma/beta repeated over the spatial size: the same integer steps as bpu.layer_norm."""
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    groups = _attr(op, "num_groups")
    n_batch, c = x.shape[:2]
    spatial = int(np.prod(x.shape[2:], dtype=np.int64))
    gamma = np.ascontiguousarray(p.constant(op.operands[1]), dtype=np.int64).reshape(-1)
    beta = np.ascontiguousarray(p.constant(op.operands[2]), dtype=np.int64).reshape(-1)
    if gamma.shape != (c,) or beta.shape != (c,) or c % groups:
        raise op_error(op, f"gamma/beta of {gamma.size}/{beta.size} entries and {groups} groups for {c} channels")
    cg = c // groups
    gammas = [np.ascontiguousarray(np.repeat(gamma[k * cg:(k + 1) * cg], spatial)) for k in range(groups)]
    betas = [np.ascontiguousarray(np.repeat(beta[k * cg:(k + 1) * cg], spatial)) for k in range(groups)]
    xs, os_ = x.array.reshape(n_batch, groups, cg * spatial), out.array.reshape(n_batch, groups, cg * spatial)
    f, eps = np.int64(_attr(op, "frac_bits")), np.int64(_attr(op, "eps"))
    g = np.int64(_attr(op, "sqrt_frac_bits", int(f)))
    mult, shift = np.int64(_attr(op, "multiplier")), np.int64(_attr(op, "shift"))
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    lo, hi = _range(out.dtype)

    def run() -> None:
        for k in range(groups):
            normalize.layer_norm_rows(xs[:, k, :], gammas[k], betas[k], f, g, eps, mult, shift, mode, lo, hi,
                                      os_[:, k, :])
    p.step("group_norm", run)


@handles("bpu.div")
def _div(p: Planner, op) -> None:
    a, b, o, stage = _binary_operands(p, op)
    lo, hi = _range(o.dtype)
    m, s = np.int64(_attr(op, "multiplier")), np.int64(_attr(op, "shift"))
    mode = rounding_code(_attr(op, "rounding", "half_up"))

    def run() -> None:
        stage()
        divide_requantize(a, b, m, s, mode, lo, hi, o)
    p.step("div", run)


@handles("bpu.int_div")
def _int_div(p: Planner, op) -> None:
    a_v, b_v = op.operands
    if p.is_constant(b_v):  # a division by a constant (torch.div(x, c, rounding_mode=...)): expanded once
        x = p.input(a_v, PLAIN)
        out = p.new_slot(op.results[0], PLAIN)
        if tuple(x.shape) != tuple(out.shape):
            raise op_error(op, f"a constant divisor needs the dividend's shape {list(out.shape)}, got {list(x.shape)}")
        a, o = x.flat(), out.flat()
        b = np.ascontiguousarray(np.broadcast_to(p.constant(b_v), out.shape).astype(np.int64)).reshape(-1)

        def stage() -> None:
            return None
    else:
        a, b, o, stage = _binary_operands(p, op)
    lo, hi = _range(o.dtype)
    m, s = np.int64(_attr(op, "multiplier")), np.int64(_attr(op, "shift"))
    dv = np.int64(_attr(op, "divisor", 1))
    mo, so = np.int64(_attr(op, "out_multiplier")), np.int64(_attr(op, "out_shift"))
    floor = _attr(op, "rounding_mode") == "floor"
    mode = rounding_code(_attr(op, "rounding", "half_up"))

    def run() -> None:
        stage()
        int_divide_requantize(a, b, m, dv, s, floor, mo, so, mode, lo, hi, o)
    p.step("int_div", run)
