"""A linear whose requantize adds a residual (a transformer's output projections: ``LN(x + W ctx)``) on the
numba runtime against the reference runtime, bit for bit: int8/int16 residuals and outputs, every rounding
mode (half_up with a proven width takes the VNNI epilogue's branch-free residual loop, the others its
general loop), multi-panel widths and the extremes at the largest K the requantize bound allows."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from support.bpu_text import ProgramText

MODES = ["half_up", "half_up", "half_even", "half_away", "floor"]
RANGES = {"i8": (-128, 127), "i16": (-32768, 32767)}
#: |acc| <= 128 * 128 * K must stay below 2**32 for the fused requantize: the largest such K
K_MAX = (2**32 - 1) // (128 * 128)


def _codes(rng, shape, dtype, extreme):
    lo, hi = RANGES[dtype]
    if extreme:
        return rng.choice(np.array([lo, hi]), size=shape).astype(f"int{dtype[1:]}")
    return rng.integers(lo, hi + 1, size=shape).astype(f"int{dtype[1:]}")


@given(rows=st.integers(1, 13), k=st.sampled_from([4, 384, K_MAX]), n=st.integers(1, 130),
       res_dtype=st.sampled_from(["i8", "i16"]), out_dtype=st.sampled_from(["i8", "i16"]),
       mode=st.sampled_from(MODES), per_tensor=st.booleans(), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_linear_with_residual_equals_the_reference(rows, k, n, res_dtype, out_dtype, mode, per_tensor, extreme, seed):
    rng = np.random.default_rng(seed)
    p = ProgramText([("x", (rows, k), "i8"), ("r", (rows, n), res_dtype)])
    p.const("w", _codes(rng, (n, k), "i8", extreme), "i8")
    p.const("b", rng.integers(-1000, 1000, size=n), "i32")
    p.op("acc", "bpu.linear", ["x", "w", "b"], ((rows, n), "i64"), keywords={2: "bias"})
    c = 1 if per_tensor else n
    attrs = {"multiplier": ("array", rng.integers(2**29, 2**31, size=c)),
             "shift": ("array", rng.integers(34, 46, size=c)),
             "residual_multiplier": ("array", rng.integers(0, 2**31, size=c)), "rounding": mode, "axis": -1}
    p.op("y", "bpu.requantize", ["acc", "r"], ((rows, n), out_dtype), attrs, keywords={1: "residual"})
    prog = p.module(["y"])
    x, r = _codes(rng, (rows, k), "i8", extreme), _codes(rng, (rows, n), res_dtype, extreme)
    np.testing.assert_array_equal(rn.compile(prog)(x, r), reference.run(prog, x, r)[0])
