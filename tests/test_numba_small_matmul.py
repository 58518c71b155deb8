"""Attention's batched small int8 matmuls on the numba runtime's small-pair kernel (kernels/small_matmul.py)
against the reference runtime, bit for bit: row counts around the 16- and 8-row blocks, one or two
16-column vectors, every rounding mode, int8/int16 outputs, the extremes up to the largest K the int32
lanes allow, and the shapes it leaves to the general route."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import vnni
from support.bpu_text import ProgramText

pytestmark = pytest.mark.skipif(not vnni.available(), reason="the small-pair kernel needs AVX-512 VNNI")
MODES = ["half_up", "half_even", "half_away", "floor"]


def _program(batch, m, k, n, out_dtype, mode, per_column, rng):
    p = ProgramText([("a", batch + (m, k), "i8"), ("b", batch + (k, n), "i8")])
    p.op("acc", "bpu.matmul", ["a", "b"], (batch + (m, n), "i32"))
    c = n if per_column else 1
    attrs = {"multiplier": ("array", rng.integers(2**30, 2**31, size=c)),
             "shift": ("array", rng.integers(30, 44, size=c)), "rounding": mode, "axis": -1}
    p.op("y", "bpu.requantize", ["acc"], (batch + (m, n), out_dtype), attrs)
    return p.module(["y"])


def _codes(rng, shape, extreme):
    if extreme:
        return rng.choice(np.array([-128, 127], np.int8), size=shape)
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _labels(prog, *inputs):
    compiled = rn.compile(prog)
    got = compiled(*inputs)
    np.testing.assert_array_equal(got, reference.run(prog, *inputs)[0])
    return [row[1] for row in compiled.profile(*inputs)[1]]


@given(batch=st.sampled_from([(1,), (3,), (2, 3)]), m=st.integers(1, 34), k=st.sampled_from([4, 16, 32, 260]),
       n=st.integers(1, 32), out_dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES),
       per_column=st.booleans(), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_small_pairs_equal_the_reference(batch, m, k, n, out_dtype, mode, per_column, extreme, seed):
    rng = np.random.default_rng(seed)
    prog = _program(batch, m, k, n, out_dtype, mode, per_column, rng)
    labels = _labels(prog, _codes(rng, batch + (m, k), extreme), _codes(rng, batch + (k, n), extreme))
    assert labels == ["matmul+requantize (small)"]


@pytest.mark.parametrize("n", [16, 17])
def test_extremes_at_the_largest_k(n):
    """-128 x -128 over K = 65,536 (every lane sum at its bound) and -128 x 127 in other columns."""
    rng = np.random.default_rng(0)
    k = vnni.MAX_K
    prog = _program((2,), 3, k, n, "i16", "half_up", True, rng)
    a = np.full((2, 3, k), -128, np.int8)
    b = np.full((2, k, n), -128, np.int8)
    b[:, :, 1::2] = 127
    assert _labels(prog, a, b) == ["matmul+requantize (small)"]


def test_shapes_it_leaves_to_the_general_route():
    """K not a multiple of 4 and N above two vectors: the general VNNI route, still exact."""
    rng = np.random.default_rng(1)
    for k, n in ((6, 8), (8, 33)):
        prog = _program((2,), 5, k, n, "i8", "half_even", True, rng)
        labels = _labels(prog, _codes(rng, (2, 5, k), True), _codes(rng, (2, k, n), True))
        assert labels == ["matmul+requantize"]


def test_a_batch_split_over_two_threads_equals_the_reference(monkeypatch):
    """Above the split threshold (52M MACs) the batch is shared between two parts, part 1 on the spinning pool.
    Bug caught: a part's share of the batch off by one pair, or parts writing the same pairs."""
    from irq.runtime.numba.kernels import launch, native_parts, spin_pool

    rng = np.random.default_rng(7)
    batch, m, k, n = (201,), 32, 256, 32  # 52.7M MACs: just above the threshold, and an odd batch
    prog = _program(batch, m, k, n, "i8", "half_up", True, rng)
    a, b = _codes(rng, batch + (m, k), False), _codes(rng, batch + (k, n), False)
    monkeypatch.setattr(launch.numba, "get_num_threads", lambda: 2)
    compiled = rn.compile(prog)
    posts = spin_pool.pool(1).board[native_parts.POST]
    got = compiled(a, b)
    assert spin_pool.pool(1).board[native_parts.POST] > posts
    np.testing.assert_array_equal(got, reference.run(prog, a, b)[0])
