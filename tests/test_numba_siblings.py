"""Sibling linears (one input, several linear + requantize pairs: attention's Q/K/V) run as one GEMM in the
numba runtime (runtime/numba/siblings.py). Each output must be what its own linear + requantize gives in
the reference runtime, bit for bit, whatever the slices' widths, parameters and the input's extremes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.planner import ProgramError
from support.bpu_text import ProgramText

MODES = ["half_up", "half_even", "half_away", "floor"]
RANGES = {"i8": (-128, 127), "i16": (-32768, 32767)}
#: The largest K at which int16 x int8 extremes (-32768 x -128 = 2**22 per product) keep |acc| < 2**32,
#: the bound a fused requantize's input must hold.
K_MAX = (2**32 - 1) // 2**22


def _codes(rng, shape, dtype, extreme):
    lo, hi = RANGES[dtype]
    if extreme:
        return rng.choice(np.array([lo, hi]), size=shape).astype(f"int{dtype[1:]}")
    return rng.integers(lo, hi + 1, size=shape).astype(f"int{dtype[1:]}")


def _siblings(rows, k, widths, dtype, out_dtype, modes, per_tensor, biases, extreme, rng, weights=None):
    """A program: x -> [linear_i -> requantize_i] for each width, all returned."""
    p = ProgramText([("x", (rows, k), dtype)])
    names = []
    for i, n in enumerate(widths):
        w = weights[i] if weights is not None else _codes(rng, (n, k), "i8", extreme)
        p.const(f"w{i}", w, "i8")
        operands = ["x", f"w{i}"]
        if biases[i]:
            p.const(f"b{i}", rng.integers(-1000, 1000, size=n), "i32")
            operands.append(f"b{i}")
        p.op(f"acc{i}", "bpu.linear", operands, ((rows, n), "i64"), keywords={2: "bias"} if biases[i] else None)
        c = 1 if per_tensor[i] else n
        attrs = {"multiplier": ("array", rng.integers(2**30, 2**31, size=c)),
                 "shift": ("array", rng.integers(34, 48, size=c)), "rounding": modes[i], "axis": -1}
        p.op(f"y{i}", "bpu.requantize", [f"acc{i}"], ((rows, n), out_dtype), attrs)
        names.append(f"y{i}")
    return p.module(names)


def _assert_same(prog, x):
    want = reference.run(prog, x)
    compiled = rn.compile(prog)
    got = compiled(x)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    _, rows = compiled.profile(x)
    return [r[1] for r in rows]


@given(rows=st.integers(1, 5), k=st.sampled_from([1, 9, 384, K_MAX]),
       widths=st.lists(st.integers(1, 70), min_size=2, max_size=3), dtype=st.sampled_from(["i8", "i16"]),
       out_dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES), data=st.data(),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_siblings_equal_the_reference(rows, k, widths, dtype, out_dtype, mode, data, extreme, seed):
    rng = np.random.default_rng(seed)
    per_tensor = data.draw(st.lists(st.booleans(), min_size=len(widths), max_size=len(widths)))
    biases = data.draw(st.lists(st.booleans(), min_size=len(widths), max_size=len(widths)))
    prog = _siblings(rows, k, widths, dtype, out_dtype, [mode] * len(widths), per_tensor, biases, extreme, rng)
    labels = _assert_same(prog, _codes(rng, (rows, k), dtype, extreme))
    assert labels.count(f"linear+requantize x{len(widths)}") == 1  # fused: one GEMM, not one per sibling
    assert "linear+requantize" not in labels


@pytest.mark.parametrize("dtype", ["i8", "i16"])
@pytest.mark.parametrize("mode", ["half_up", "half_even"])
def test_extremes_at_the_largest_k(dtype, mode):
    """Every input code at its minimum against weights of -128 in one slice and 127 in another: the
    accumulators are the extreme sums (2**32 - 2**22 for int16), and each slice keeps its own parameters.
    half_up with the width proven takes the epilogue's branch-free loops (vnni.py), half_even the general one."""
    rng = np.random.default_rng(0)
    k = K_MAX
    weights = [np.full((5, k), -128), np.full((67, k), 127), rng.integers(-128, 128, size=(3, k))]
    prog = _siblings(2, k, [5, 67, 3], dtype, "i16", [mode] * 3, [False, True, False],
                     [False, True, True], False, rng, weights)
    x = np.full((2, k), RANGES[dtype][0], np.int16 if dtype == "i16" else np.int8)
    assert "linear+requantize x3" in _assert_same(prog, x)


def test_siblings_that_disagree_are_not_grouped():
    """Different rounding modes need different epilogues: the two run apart, the other two together."""
    rng = np.random.default_rng(1)
    prog = _siblings(3, 40, [4, 6, 8], "i16", "i8", ["half_up", "floor", "half_up"], [False] * 3, [True] * 3, True,
                     rng)
    labels = _assert_same(prog, _codes(rng, (3, 40), "i16", True))
    assert labels.count("linear+requantize x2") == 1 and labels.count("linear+requantize") == 1


def test_overflow_in_a_group_names_the_linear():
    """K one past the bound: the fused GEMM's accumulators reach 2**32, which the requantize contract forbids."""
    rng = np.random.default_rng(2)
    k = K_MAX + 1
    prog = _siblings(1, k, [2, 2], "i16", "i8", ["half_up"] * 2, [True] * 2, [False] * 2, False, rng,
                     [np.full((2, k), -128), np.full((2, k), -128)])
    with pytest.raises(ProgramError, match=r"'bpu.linear' accumulator overflow.*one GEMM with 'bpu.linear' at"):
        rn.compile(prog)(np.full((1, k), -32768, np.int16))
