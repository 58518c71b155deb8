"""Numba handlers of bpu's scans and row ops along one dim added with the last float islands (bpu.cumsum,
bpu.log_softmax); registered into ops.HANDLERS on import.

Semantics are the bpu dialect's (dialects/bpu.py docstring); tests check these handlers against the
reference runtime bit for bit.
"""

from __future__ import annotations

from .kernels.prefix_sum import prefix_sum
from .op_support import _attr, handles
from .ops import _rows_around
from .planner import PLAIN, Planner


@handles("bpu.cumsum")
def _cumsum(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    shape = tuple(x.shape)
    view = _rows_around(shape, _attr(op, "dim") % len(shape))
    xs, os_ = x.array.reshape(view), out.array.reshape(view)
    p.step("cumsum", lambda: prefix_sum(xs, os_))
