"""Plans a fused matmul + requantize of many small int8 pairs (attention) on `kernels/small_matmul.py`.

The executor asks `plan(p, requantize)` before the requantize's own handler: when the producer is a
`bpu.matmul` whose operands are int8 with one pair per output batch element (no broadcast), K a multiple
of 4 and N <= 32, and the accumulator width provably holds (``128 * 128 * K`` within it), the whole op is
one call of the small-pair kernel; anything else returns False and takes `ops_gemm`'s general route.
"""

from __future__ import annotations

import numpy as np

from .kernels import small_matmul, vnni
from .kernels.requantize import rounding_code
from .op_support import _acc_range, _attr, _channels, _clamp_bounds, _ints, _multipliers, p_dtype
from .planner import PLAIN, Planner


def plan(p: Planner, op) -> bool:
    """Plan requantize `op` with its fused matmul on the small-pair kernel; False when it does not apply."""
    producer = p.fused.get(op)
    if producer is None or producer.name != "bpu.matmul" or len(op.operands) != 1:
        return False
    a_v, b_v = producer.operands
    a_shape, b_shape, out_shape = p.shape(a_v), p.shape(b_v), p.shape(op.results[0])
    if len(a_shape) < 2 or a_shape[:-2] != out_shape[:-2] or b_shape[:-2] != out_shape[:-2]:
        return False
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    acc_dtype = np.dtype(p_dtype(producer.results[0]))
    acc_lo, acc_hi = _acc_range(producer, acc_dtype, True)
    if not small_matmul.applies(p_dtype(a_v), p_dtype(b_v), k, n) or 128 * 128 * k > min(-acc_lo, acc_hi):
        return False
    batch = int(np.prod(out_shape[:-2], dtype=np.int64))
    a, b = p.input(a_v, PLAIN), p.input(b_v, PLAIN)
    out = p.new_slot(op.results[0], PLAIN)
    out_dtype = out.dtype
    lo, hi = _clamp_bounds(op, out_dtype)
    mode = rounding_code(_attr(op, "rounding", "half_up"))
    mult = _multipliers(_ints(op, "multiplier"), n, op, "multiplier")
    shift = _channels(_ints(op, "shift"), n, op, "shift")
    half = vnni.half_of(shift)
    kernel = small_matmul.SmallMatmul(batch, m, k, n)
    a3, b3, o3 = a.array.reshape(batch, m, k), b.array.reshape(batch, k, n), out.array.reshape(batch, m, n)
    p.step("matmul+requantize (small)", lambda: kernel.run(a3, b3, o3, mult, shift, half, mode, lo, hi))
    return True
