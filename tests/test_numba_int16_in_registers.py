"""The in-register requantize for int16 activations (two byte planes joined as ``256 * hi + lo`` in the dual
micro-kernel), to int8 or int16 codes, against an int64 oracle computed here, bit for bit.

Mixed-precision programs (`irq.quant.accurate_ptq` raises a dozen MobileNetV2 owners to int16) took the
int32-tile path for every int16 input or output; these are the cases that now skip the tile: 1x1 and
strided convs, stride-1 3x3 convs read through the row-address table, im2col rows, linears; 6-row blocks
run as two 3-row dual calls and end in 1-row tails; panels of 1-4 vectors with partial last vectors;
every code at an extreme of its type."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from irq.runtime.numba.kernels import vnni
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.linear import LinearPlan
from support.int_oracle import conv2d_nhwc

RANGES = {np.int8: (-128, 127), np.int16: (-32768, 32767)}


def _draw(rng, shape, dtype, extreme):
    lo, hi = RANGES[dtype]
    if extreme:
        return rng.choice(np.array([lo, hi]), size=shape).astype(dtype)
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def _requantize_oracle(rng, acc, out_dtype, relu):
    """Multipliers and shifts that leave most codes unsaturated, and the half_up codes they give."""
    o = acc.shape[-1]
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    top = np.abs(acc * mult).reshape(-1, o).max(axis=0)
    bits = 7 if out_dtype == np.int8 else 15
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - bits, 1).astype(np.int64)
    lo, hi = RANGES[out_dtype]
    if relu:
        lo = 0
    want = np.clip((acc * mult + (np.int64(1) << (shift - 1))) >> shift, lo, hi)
    return mult, shift, lo, hi, want


@given(n=st.integers(1, 2), c=st.sampled_from([4, 16, 24]), h=st.integers(1, 9), w=st.integers(1, 20),
       o=st.sampled_from([8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 144]), k=st.sampled_from([1, 3]),
       s=st.sampled_from([1, 2]),
       x_dtype=st.sampled_from([np.int8, np.int16]), out_dtype=st.sampled_from([np.int8, np.int16]),
       relu=st.booleans(), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_int16_conv_requantized_in_registers_matches_int64(n, c, h, w, o, k, s, x_dtype, out_dtype, relu, extreme,
                                                           seed):
    rng = np.random.default_rng(seed)
    pad = (0,) * 4 if k == 1 else (1, 1, 1, 1)
    x, wt = _draw(rng, (n, h, w, c), x_dtype, extreme), _draw(rng, (o, c, k, k), np.int8, extreme)
    bias = rng.integers(-2**20, 2**20, o)
    plan = Conv2dPlan(x.shape, np.dtype(x_dtype), wt, bias, (s, s), pad, (1, 1), 1, (-2**31, 2**31 - 1))
    # int16 im2col (a strided 3x3) runs in float BLAS, exact but not VNNI: not this test's subject
    assume(plan.route in ("direct", "im2col"))
    assert (plan.acc_lo, plan.acc_hi) == vnni.NO_CHECK
    size = np.dtype(out_dtype).itemsize
    # an int16 input takes the registers for either output, an int8 input for int8 codes (its int16 codes
    # take the tile: checked here all the same); a last panel of 3 vectors too (40, 48, 112 columns)
    dual = x_dtype == np.int16
    assert vnni._fused_ok(dual, False, 0, 0, plan.acc_lo, plan.acc_hi, size) == (dual or size == 1)
    acc = conv2d_nhwc(x, wt, (s, s), pad, (1, 1)) + bias
    mult, shift, lo, hi, want = _requantize_oracle(rng, acc, out_dtype, relu)
    out = np.full(plan.out_shape, 99, out_dtype)
    assert plan.requantize(x, out, mult, shift, 0, lo, hi) == 0
    np.testing.assert_array_equal(out, want)


@given(rows=st.integers(1, 40), k=st.integers(1, 300), n=st.sampled_from([16, 24, 40, 64, 96, 112, 272]),
       x_dtype=st.sampled_from([np.int8, np.int16]), out_dtype=st.sampled_from([np.int8, np.int16]),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_int16_linear_requantized_in_registers_matches_int64(rows, k, n, x_dtype, out_dtype, extreme, seed):
    rng = np.random.default_rng(seed)
    x = _draw(rng, (rows, k), x_dtype, extreme)
    wt = _draw(rng, (n, k), np.int8, extreme)
    bias = rng.integers(-2**20, 2**20, n)
    plan = LinearPlan(rows, np.dtype(x_dtype), wt, bias, (-2**31, 2**31 - 1))
    acc = x.astype(np.int64) @ wt.astype(np.int64).T + bias
    mult, shift, lo, hi, want = _requantize_oracle(rng, acc, out_dtype, False)
    out = np.full((rows, n), 99, out_dtype)
    assert plan.requantize(x, out, mult, shift, 0, lo, hi) == 0
    np.testing.assert_array_equal(out, want)
