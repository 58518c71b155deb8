"""Numba handlers of bpu.compare and bpu.select (issue 12); registered into ops.HANDLERS on import.

The semantics are the bpu dialect's (dialects/bpu.py docstring); tests check these handlers against the
reference runtime bit for bit and against an integer oracle (tests/test_compare_select.py).
"""

from __future__ import annotations

import numpy as np

from .kernels.select import PREDICATE_CODES, compare_tensors, compare_threshold, select_codes
from .ops import _attr, flat_operands, handles
from .planner import Planner


@handles("bpu.compare")
def _compare(p: Planner, op) -> None:
    ins, o, stage = flat_operands(p, op)
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
    (c, a, b), o, stage = flat_operands(p, op)

    def run():
        stage()
        select_codes(c, a, b, o)
    p.step("select", run)
