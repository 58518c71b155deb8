"""Sibling linears: linears reading one input run as one GEMM over their concatenated weights.

A transformer's query, key and value projections read the same activation. Planned one by one, each
linear re-reads (and for int16 codes re-splits into byte planes) that input, and each is one kernel
launch. Grouped, the input is prepared once and one GEMM over ``concat(W_q, W_k, W_v)`` runs with the
epilogue of every slice (its bias, multiplier and shift per output column), writing one (rows, sum N)
block that a split step copies into each sibling's own output. The program is unchanged: this is a
plan-time decision of the numba runtime, and each output is the integers its own linear + requantize
would give (per-column parameters are per-column, so concatenating columns changes no arithmetic).

Measured (MiniLM's 512 x 384 -> 3 x 384, one thread, 2026-11-30): the CPU time is the same as three
GEMMs (the VNNI kernel already keeps the input in cache); with two threads each parallel GEMM call pays a
launch and a join, so one call instead of three saves most of that (docs/design.md, "MiniLM").

Siblings qualify when each is a `bpu.linear` fused into its only user, a `bpu.requantize` without a
residual (`fusable_producer`), and the group agrees on what the shared epilogue takes as scalars: the
accumulator dtype, the output dtype, the rounding mode and the clamp bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .kernels.linear import LinearPlan
from .kernels.requantize import rounding_code
from .op_support import _acc_range, _attr, _channels, _clamp_bounds, _ints, _multipliers, _overflow_message, p_dtype
from .planner import PLAIN, Planner, op_error


@dataclass
class SiblingGroup:
    """Linears (block order) reading one input, with the requantize each is fused into."""

    linears: list
    requantizes: list

    @property
    def lead(self):
        """The requantize where the group's step is planned: the first of the group in block order."""
        return self.requantizes[0]


def _epilogue_key(req, lin) -> tuple:
    out_dtype = np.dtype(p_dtype(req.results[0]))
    return (np.dtype(p_dtype(lin.results[0])), out_dtype, _attr(req, "rounding", "half_up"),
            _clamp_bounds(req, out_dtype))


def find_groups(ops: list, fused: dict) -> dict:
    """{requantize op: its SiblingGroup} for every group of two or more sibling linears in `ops`.

    `fused` maps each requantize to the producer planned as its epilogue (the executor's fusion map).
    """
    by_input: dict[tuple, list] = {}
    for op in ops:
        lin = fused.get(op)
        if lin is None or lin.name != "bpu.linear" or len(op.operands) != 1:
            continue
        x = lin.operands[0]
        if len(lin.results[0].type.shape) < 1:
            continue
        by_input.setdefault((x, _epilogue_key(op, lin)), []).append((lin, op))
    groups: dict = {}
    for members in by_input.values():
        if len(members) < 2:
            continue
        group = SiblingGroup([lin for lin, _ in members], [req for _, req in members])
        for req in group.requantizes:
            groups[req] = group
    return groups


@numba.njit(cache=True)
def split_columns(src, col0, dst):
    """``dst[:, :] = src[:, col0 : col0 + dst.shape[1]]`` for C-contiguous 2-D arrays (one sibling's slice).

    Flat views with unsigned indices: with ``dst[i, j] = src[i, col0 + j]`` each signed index kept its
    negative-index select and the loop did not vectorise (MiniLM's 512 x 1152 -> 3 x 384 split took
    0.46 ms, 0.022 ms this way; one thread, 2026-12-02)."""
    rows, n = dst.shape
    flat_src, flat_dst = src.reshape(-1), dst.reshape(-1)
    un, ut, uc = np.uint64(n), np.uint64(src.shape[1]), np.uint64(col0)
    for i in range(rows):
        s0 = np.uint64(i) * ut + uc
        d0 = np.uint64(i) * un
        for j in range(n):
            flat_dst[d0 + np.uint64(j)] = flat_src[s0 + np.uint64(j)]


def plan_group(p: Planner, group: SiblingGroup) -> None:
    """Plan the group's one GEMM + epilogue step and the split into each requantize's output slot."""
    first = group.linears[0]
    p.current_op = group.lead
    x = p.input(first.operands[0], PLAIN)
    k = x.shape[-1]
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    weights, biases, mults, shifts, widths = [], [], [], [], []
    for lin, req in zip(group.linears, group.requantizes):
        _constants_now(p, lin)
        w = np.asarray(p.constant(lin.operands[1]))
        if w.ndim != 2 or w.shape[1] != k:
            raise op_error(lin, f"weight {list(w.shape)} does not match {k} input features")
        n = w.shape[0]
        b = p.constant(lin.operands[2]) if len(lin.operands) > 2 else None
        weights.append(w)
        biases.append(np.zeros(n, np.int64) if b is None else np.asarray(b, np.int64).reshape(n))
        mults.append(_multipliers(_ints(req, "multiplier"), n, req, "multiplier"))
        shifts.append(_channels(_ints(req, "shift"), n, req, "shift"))
        widths.append(n)
    acc_dtype, out_dtype, rounding, (lo, hi) = _epilogue_key(group.lead, first)
    mode = rounding_code(rounding)
    # weights of different storage dtypes (int8 codes in an int64 constant) concatenate as int64
    w_all = np.concatenate([np.asarray(w, np.int64) for w in weights]) if len({w.dtype for w in weights}) > 1 \
        else np.concatenate(weights)
    plan = LinearPlan(rows, x.dtype, w_all, np.concatenate(biases), _acc_range(first, acc_dtype, True))
    mult, shift = np.concatenate(mults), np.concatenate(shifts)
    total = int(sum(widths))
    scratch_id, scratch = p.pool.allocate((rows, total), out_dtype)
    outs = [p.new_slot(req.results[0], PLAIN).array.reshape(rows, n) for req, n in zip(group.requantizes, widths)]
    p.pool.release(scratch_id)  # only this step uses it: later steps may reuse the buffer
    offsets = np.cumsum([0] + widths[:-1]).tolist()
    x2 = x.array.reshape(rows, k)
    others = ", ".join(f"'{lin.name}' at {_where(lin)}" for lin in group.linears[1:])
    message = _overflow_message(first, acc_dtype, True) + f" (this linear runs in one GEMM with {others})"

    def run() -> None:
        bad = plan.requantize(x2, scratch, mult, shift, mode, lo, hi)
        if bad:
            raise op_error(first, f"{message} ({bad} elements)")
        for out, col0 in zip(outs, offsets):
            split_columns(scratch, col0, out)
    p.step(f"linear+requantize x{len(widths)}", run)


def _constants_now(p: Planner, lin) -> None:
    """Plan a later sibling's weight and bias constants now (they may follow the lead in block order;
    planning a constant only records its data, so planning it again where it stands changes nothing)."""
    from .op_support import HANDLERS
    for v in lin.operands[1:]:
        producer = getattr(v, "op", None)
        if v not in p.constants and producer is not None and producer.name == "bpu.constant":
            HANDLERS["bpu.constant"](p, producer)


def _where(op) -> str:
    from irq.diagnostics import location_prefix
    return location_prefix(op.location)
