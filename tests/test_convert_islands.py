"""The last float islands, lowered to fixed point (issue 12): each new bpu op on the reference and numba
runtimes against an independent oracle (exact Python integers, torch float64), and its verifier.

- bpu.cumsum: prefix sums of codes equal Python's running sums (i8 and i16, every axis, i32 and i64
  accumulators); the verifier refuses an accumulator the sums could overflow.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from support.bpu_text import ProgramText

import irq


def _run_both(prog, *inputs) -> np.ndarray:
    ref = reference.run(prog, *inputs)[0]
    got = rn.compile(prog)(*inputs)
    got = got[0] if isinstance(got, (list, tuple)) else got
    np.testing.assert_array_equal(got, ref)
    assert got.dtype == ref.dtype
    return ref


def _codes(rng, shape, dtype: str, extreme: bool) -> np.ndarray:
    lo, hi = (-128, 127) if dtype == "i8" else (-32768, 32767)
    npt = np.int8 if dtype == "i8" else np.int16
    if extreme:
        return rng.choice([lo, hi, 0, 1, -1], size=shape).astype(npt)
    return rng.integers(lo, hi + 1, size=shape).astype(npt)


# -- bpu.cumsum -----------------------------------------------------------------------------------------
@given(dtype=st.sampled_from(["i8", "i16"]), dim=st.integers(-3, 2), acc=st.sampled_from(["i32", "i64"]),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_cumsum_equals_python_running_sums(dtype, dim, acc, extreme, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 5, 7)
    x = _codes(rng, shape, dtype, extreme)
    p = ProgramText([("x", shape, dtype)])
    p.op("y", "bpu.cumsum", ["x"], (shape, acc), {"dim": dim})
    got = _run_both(p.module(["y"]), x)
    want = np.empty(shape, dtype=np.int64)
    d = dim % 3
    for idx in itertools.product(*[range(n) for i, n in enumerate(shape) if i != d]):
        total = 0
        for k in range(shape[d]):
            full = (*idx[:d], k, *idx[d:])
            total += int(x[full])
            want[full] = total
    np.testing.assert_array_equal(got, want)


def test_cumsum_verifier_proves_the_accumulator_width():
    p = ProgramText([("x", (1, 70000), "i16")])
    p.op("y", "bpu.cumsum", ["x"], ((1, 70000), "i32"), {"dim": 1})
    with pytest.raises(irq.VerifyError, match=r"accumulator i32 cannot hold prefix sums of 70000 i16 codes"):
        p.module(["y"])
    p = ProgramText([("x", (2, 4), "i8")])
    p.op("y", "bpu.cumsum", ["x"], ((2, 4), "i32"), {"dim": 2})
    with pytest.raises(irq.VerifyError, match="dim 2 is out of range for rank 2"):
        p.module(["y"])
