"""bpu.requantize in the reference runtime against an exact rational oracle (fractions), every rounding mode.

The oracle computes ``(acc * M + r * Mr) / 2**S`` as a Fraction and rounds it by the mode's definition, so
it shares no code (and no shift tricks) with the runtime's int64 arithmetic.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime.reference import run
from support.bpu_programs import one_op_program, tensor_type

MODES = ("half_up", "half_even", "half_away", "floor")
RANGES = {"i8": (-128, 127), "i16": (-32768, 32767), "i32": (-(2**31), 2**31 - 1)}


def oracle_round(x: Fraction, mode: str) -> int:
    if mode == "floor":
        return math.floor(x)
    if mode == "half_up":
        return math.floor(x + Fraction(1, 2))
    if mode == "half_even":
        return round(x)  # Fraction.__round__ rounds exact ties to even
    if mode == "half_away":
        return int(math.copysign(math.floor(abs(x) + Fraction(1, 2)), x))
    raise AssertionError(mode)


def oracle(acc, m, s, mode, out, lo=None, hi=None, residual=None, rm=0):
    qmin, qmax = RANGES[out]
    lo = qmin if lo is None else lo
    hi = qmax if hi is None else hi
    res = []
    for i, a in enumerate(acc):
        num = int(a) * m + (int(residual[i]) * rm if residual is not None else 0)
        v = oracle_round(Fraction(num, 2**s), mode)
        res.append(min(max(min(max(v, qmin), qmax), lo), hi))
    return res


def requantize(acc: np.ndarray, in_dtype: str, out: str, m: int, s: int, mode: str, lo=None, hi=None,
               residual: np.ndarray | None = None, rm: int | None = None) -> list[int]:
    attrs = {"multiplier": ("array", [m]), "shift": ("array", [s]), "rounding": mode}
    if lo is not None:
        attrs["min"] = lo
    if hi is not None:
        attrs["max"] = hi
    types = [tensor_type(acc.shape, in_dtype)]
    keywords = {}
    inputs = [acc]
    if residual is not None:
        attrs["residual_multiplier"] = ("array", [rm])
        types.append(tensor_type(residual.shape, "i8"))
        keywords[1] = "residual"
        inputs.append(residual)
    prog = one_op_program("bpu.requantize", types, tensor_type(acc.shape, out), attrs, keywords)
    (y,) = run(prog, *inputs)
    assert y.dtype == np.dtype({"i8": np.int8, "i16": np.int16, "i32": np.int32}[out])
    return y.tolist()


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
# (M, S): exact halving (ties at every odd input), a 31-bit multiplier with a small and a large shift,
# the largest multiplier, and multipliers that saturate i8 in both directions
PARAMS = [(2**30, 31), (2**30, 30), (1518500250, 31), (1518500250, 40), (2**31 - 1, 31), (2**31 - 1, 25),
          (1, 1), (3, 2), (1431655765, 32), (2**30, 62), (2**31 - 1, 62), (1073741823, 29)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("m,s", PARAMS)
def test_exhaustive_int8_inputs(mode, m, s):
    assert requantize(ALL_INT8, "i8", "i8", m, s, mode) == oracle(ALL_INT8, m, s, mode, "i8")


@pytest.mark.parametrize("mode", MODES)
def test_exhaustive_int8_with_relu6_clamp_and_i16_output(mode):
    assert requantize(ALL_INT8, "i8", "i8", 2**30, 28, mode, lo=0, hi=94) == oracle(ALL_INT8, 2**30, 28, mode, "i8",
                                                                                       0, 94)
    assert requantize(ALL_INT8, "i8", "i16", 2**31 - 1, 20, mode) == oracle(ALL_INT8, 2**31 - 1, 20, mode, "i16")


def test_ties_round_as_each_mode_says():
    # acc / 2 for acc = -3, -1, 1, 3: exact ties at -1.5, -0.5, 0.5, 1.5
    acc = np.array([-3, -1, 1, 3], dtype=np.int32)
    got = {mode: requantize(acc, "i32", "i8", 2**30, 31, mode) for mode in MODES}
    assert got == {"half_up": [-1, 0, 1, 2], "half_even": [-2, 0, 0, 2], "half_away": [-2, -1, 1, 2],
                   "floor": [-2, -1, 0, 1]}


def test_saturation_at_both_ends():
    acc = np.array([-(2**31), -1000, 1000, 2**31 - 1], dtype=np.int32)
    assert requantize(acc, "i32", "i8", 2**30, 30, "half_up") == [-128, -128, 127, 127]
    assert requantize(acc, "i32", "i16", 2**30, 30, "half_up") == [-32768, -1000, 1000, 32767]


@given(acc=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=32),
       m=st.integers(0, 2**31 - 1), s=st.integers(1, 62), mode=st.sampled_from(MODES),
       out=st.sampled_from(["i8", "i16"]))
@settings(max_examples=300, deadline=None)
def test_int32_accumulators_property(acc, m, s, mode, out):
    a = np.array(acc, dtype=np.int32)
    assert requantize(a, "i32", out, m, s, mode) == oracle(acc, m, s, mode, out)


@given(data=st.data(), m=st.integers(0, 2**31 - 1), rm=st.integers(0, 2**31 - 1), s=st.integers(1, 62),
       mode=st.sampled_from(MODES))
@settings(max_examples=150, deadline=None)
def test_fused_residual_is_one_rounding(data, m, rm, s, mode):
    n = data.draw(st.integers(1, 16))
    acc = data.draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n))
    res = data.draw(st.lists(st.integers(-128, 127), min_size=n, max_size=n))
    got = requantize(np.array(acc, dtype=np.int32), "i32", "i8", m, s, mode, residual=np.array(res, dtype=np.int8),
                     rm=rm)
    assert got == oracle(acc, m, s, mode, "i8", residual=res, rm=rm)


@given(acc=st.lists(st.integers(-(2**32) + 1, 2**32 - 1), min_size=1, max_size=16),
       m=st.integers(2**30, 2**31 - 1), s=st.integers(1, 62), mode=st.sampled_from(MODES))
@settings(max_examples=150, deadline=None)
def test_int64_accumulators_never_wrap(acc, m, s, mode):
    # |acc * M| reaches 2**63: the runtime must stay exact (it falls back to Python integers), not wrap
    assert requantize(np.array(acc, dtype=np.int64), "i64", "i16", m, s, mode) == oracle(acc, m, s, mode, "i16")


def test_per_channel_parameters_apply_along_the_axis():
    acc = np.arange(-12, 12, dtype=np.int32).reshape(1, 3, 2, 4)
    prog = one_op_program("bpu.requantize", [tensor_type(acc.shape, "i32")], tensor_type(acc.shape, "i8"),
                          {"multiplier": ("array", [2**30, 2**30, 2**30]), "shift": ("array", [30, 31, 32])})
    (y,) = run(prog, acc)
    for c, s in enumerate([30, 31, 32]):
        assert y[0, c].ravel().tolist() == oracle(acc[0, c].ravel(), 2**30, s, "half_up", "i8")
