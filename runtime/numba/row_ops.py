"""Numba handlers of bpu's scans and row ops along one dim added with the last float islands (bpu.cumsum,
bpu.log_softmax); registered into ops.HANDLERS on import.

Semantics are the bpu dialect's (dialects/bpu.py docstring); tests check these handlers against the
reference runtime bit for bit.
"""

from __future__ import annotations

import numpy as np

from .kernels.log_softmax import log_softmax_rows
from .kernels.prefix_sum import prefix_sum
from .kernels.requantize import rounding_code
from .op_support import _attr, _range, handles
from .ops import _rows_around
from .planner import PLAIN, Planner, op_error


@handles("bpu.cumsum")
def _cumsum(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    shape = tuple(x.shape)
    view = _rows_around(shape, _attr(op, "dim") % len(shape))
    xs, os_ = x.array.reshape(view), out.array.reshape(view)
    p.step("cumsum", lambda: prefix_sum(xs, os_))


@handles("bpu.log_softmax")
def _log_softmax(p: Planner, op) -> None:
    x = p.input(op.operands[0], PLAIN)
    lo_in, hi_in = _range(x.dtype)
    exp_table = np.ascontiguousarray(p.constant(op.operands[1]), dtype=np.int64)
    log_table = np.ascontiguousarray(p.constant(op.operands[2]), dtype=np.int64)
    if exp_table.shape != (hi_in - lo_in + 1,):
        raise op_error(op, f"exp_table has {exp_table.size} entries, {x.dtype} inputs need {hi_in - lo_in + 1}")
    b = (log_table.size - 1).bit_length() - 1
    if b < 1 or log_table.size != 2**b + 1:
        raise op_error(op, f"log_table has {log_table.size} entries, not 2^B + 1")
    out = p.new_slot(op.results[0], PLAIN)
    shape = tuple(x.shape)
    view = _rows_around(shape, _attr(op, "dim") % len(shape))
    xs, os_ = x.array.reshape(view), out.array.reshape(view)
    args = (exp_table, log_table, np.int64(hi_in - lo_in), np.int64(_attr(op, "exp_bits")), np.int64(b),
            np.int64(_attr(op, "log_frac_bits")), np.int64(_attr(op, "multiplier")),
            np.int64(_attr(op, "log_multiplier")), np.int64(_attr(op, "shift")),
            rounding_code(_attr(op, "rounding", "half_up")), *_range(out.dtype))
    p.step("log_softmax", lambda: log_softmax_rows(xs, *args, os_))
