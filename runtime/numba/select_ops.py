"""Numba handlers of bpu.compare and bpu.select (issue 12); registered into ops.HANDLERS on import.

The semantics are the bpu dialect's (dialects/bpu.py docstring); tests check these handlers against the
reference runtime bit for bit and against an integer oracle (tests/test_compare_select.py).
"""

from __future__ import annotations

import numpy as np

from .kernels.select import PREDICATE_CODES, compare_tensors, compare_threshold, select_codes
from .ops import _attr, handles
from .planner import PLAIN, Planner


def _flat_operands(p: Planner, op):
    """Flat same-length views of every operand and of the output slot, plus a staging step that expands the
    broadcast operands into planned buffers (run before the kernel on every call)."""
    so = p.shape(op.results[0])
    shapes = [p.shape(v) for v in op.operands]
    if all(s == so for s in shapes):
        first = p.input(op.operands[0])
        slots = [first] + [p.input(v, first.layout) for v in op.operands[1:]]
        out = p.new_slot(op.results[0], first.layout)
        return [s.flat() for s in slots], out.flat(), (lambda: None)
    slots = [p.input(v, PLAIN) for v in op.operands]
    out = p.new_slot(op.results[0], PLAIN)
    stages, flats = [], []
    for s in slots:
        if tuple(s.shape) == tuple(so):
            flats.append(s.flat())
        else:
            buf = np.empty(so, s.dtype)
            stages.append((s.array, buf))
            flats.append(buf.reshape(-1))

    def stage():
        for src, dst in stages:
            np.copyto(dst, np.broadcast_to(src, dst.shape))
    return flats, out.flat(), stage


@handles("bpu.compare")
def _compare(p: Planner, op) -> None:
    ins, o, stage = _flat_operands(p, op)
    pred = PREDICATE_CODES[_attr(op, "predicate")]
    if len(ins) == 1:
        t = np.int64(_attr(op, "threshold"))
        a = ins[0]

        def run():
            stage()
            compare_threshold(a, t, pred, o)
    else:
        a, b = ins

        def run():
            stage()
            compare_tensors(a, b, pred, o)
    p.step("compare", run)


@handles("bpu.select")
def _select(p: Planner, op) -> None:
    (c, a, b), o, stage = _flat_operands(p, op)

    def run():
        stage()
        select_codes(c, a, b, o)
    p.step("select", run)
