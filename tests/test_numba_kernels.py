"""Numba kernels against an independent int64 oracle (tests/support/int_oracle.py), bit for bit.

Hypothesis draws shapes, strides, padding (asymmetric), dilation, groups, dtypes, rounding modes and
value ranges that include the extremes; every example must match exactly. A mismatch here is a wrong
number a user would get without any error.
"""

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from irq.runtime.numba.kernels import conv, depthwise, eltwise, pool
from irq.runtime.numba.kernels import requantize as requantize_mod
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.gemm import float_route
from irq.runtime.numba.kernels.linear import LinearPlan, MatmulPlan
from irq.runtime.numba.kernels.permute import to_layout, transposes_fast
from irq.runtime.numba.kernels.requantize import ROUNDING, requantize_channels

from tests.support import int_oracle as oracle

MODES = sorted(ROUNDING)
RANGES = {np.int8: (-128, 127), np.int16: (-32768, 32767)}
I32 = (-(2**31), 2**31 - 1)
I64 = (-(2**63), 2**63 - 1)
EXAMPLES = settings(max_examples=40, deadline=None)
#: The register transpose is an llvmlite intrinsic: it has no Python body, so it cannot run when the kernels run as
#: Python (NUMBA_DISABLE_JIT=1, how bench/mutation.py's numba-kernels target mutates them).
COMPILED_ONLY = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="an llvmlite intrinsic: compiled code only")


def codes(rng, shape, dtype, extreme: bool):
    """Random codes of `dtype`; `extreme` draws only the two ends of the range (worst-case sums)."""
    lo, hi = RANGES[dtype]
    if extreme:
        return rng.choice(np.array([lo, hi], dtype=np.int64), size=shape).astype(dtype)
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def weights(rng, shape, extreme: bool):
    if extreme:
        return rng.choice(np.array([-127, 127], dtype=np.int64), size=shape).astype(np.int8)
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def multipliers(rng, n):
    return rng.integers(2**30, 2**31, size=n).astype(np.int64)


@given(p=st.integers(-(2**62), 2**62 - 1), s=st.integers(1, 62), mode=st.sampled_from(MODES))
@settings(max_examples=300, deadline=None)
def test_round_shift_every_mode_matches_python_integers(p, s, mode):
    acc = np.array([[p]], np.int64)
    out = np.empty((1, 1), np.int64)
    requantize_channels(acc, np.ones(1, np.int64), np.array([s], np.int64), ROUNDING[mode], *I64, out)
    assert out[0, 0] == oracle.round_shift(p, s, mode)


@pytest.mark.parametrize("mode", MODES)
def test_exact_ties_round_by_mode(mode):
    # p / 2 for p = -5..5: ties at every odd p
    p = np.arange(-5, 6, dtype=np.int64).reshape(-1, 1)
    out = np.empty_like(p)
    requantize_channels(p, np.ones(1, np.int64), np.ones(1, np.int64), ROUNDING[mode], *I64, out)
    expected = {"half_up": [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3], "half_even": [-2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2],
                "half_away": [-3, -2, -2, -1, -1, 0, 1, 1, 2, 2, 3], "floor": [-3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2]}
    assert out.ravel().tolist() == expected[mode]


def test_requantize_saturates_and_clamps_relu6():
    acc = np.array([[-(2**31), -1, 0, 1000, 2**31 - 1]], np.int64).T
    out = np.empty((5, 1), np.int8)
    m, s = np.array([2**30], np.int64), np.array([30], np.int64)  # identity
    requantize_channels(acc, m, s, ROUNDING["half_up"], 0, 47, out)  # relu6 with s_out = 6/47
    assert out.ravel().tolist() == [0, 0, 0, 47, 47]


@st.composite
def conv_cases(draw):
    depthwise = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    if depthwise:
        c = o = groups = draw(st.integers(1, 6))
        cg = 1
    else:
        cg = draw(st.integers(1, 4))
        c, o = cg * groups, draw(st.integers(1, 3)) * groups
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    assume(h + padding[0] + padding[2] >= dilation[0] * (kh - 1) + 1)
    assume(w + padding[1] + padding[3] >= dilation[1] * (kw - 1) + 1)
    return dict(n=n, c=c, o=o, h=h, w=w, kh=kh, kw=kw, stride=stride, dilation=dilation, padding=padding,
                groups=groups, dtype=draw(st.sampled_from([np.int8, np.int16])), mode=draw(st.sampled_from(MODES)),
                extreme=draw(st.booleans()), out_dtype=draw(st.sampled_from([np.int8, np.int16])),
                act=draw(st.sampled_from([None, "relu", "relu6"])), residual=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(conv_cases())
@EXAMPLES
def test_conv2d_matches_oracle(case):
    rng = np.random.default_rng(case["seed"])
    x = codes(rng, (case["n"], case["c"], case["h"], case["w"]), case["dtype"], case["extreme"])
    wt = weights(rng, (case["o"], case["c"] // case["groups"], case["kh"], case["kw"]), case["extreme"])
    bias = rng.integers(-(2**20), 2**20, size=case["o"])
    acc_range = I32 if case["dtype"] == np.int8 else I64
    plan = Conv2dPlan((case["n"], case["h"], case["w"], case["c"]), np.dtype(case["dtype"]), wt, bias,
                      case["stride"], case["padding"], case["dilation"], case["groups"], acc_range)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    expected_acc = oracle.conv2d(x, wt, bias, case["stride"], case["padding"], case["dilation"], case["groups"])
    assert plan.out_shape == tuple(expected_acc.transpose(0, 2, 3, 1).shape)

    raw = np.empty(plan.out_shape, np.int64)
    assert plan.raw(x_nhwc, raw) == 0
    np.testing.assert_array_equal(raw.transpose(0, 3, 1, 2), expected_acc)

    o = case["o"]
    qmin, qmax = RANGES[case["out_dtype"]]
    lo, hi = {None: (qmin, qmax), "relu": (0, qmax), "relu6": (0, min(qmax, 90))}[case["act"]]
    mult, shift = multipliers(rng, o), rng.integers(20, 40, size=o).astype(np.int64)
    out = np.empty(plan.out_shape, case["out_dtype"])
    p = expected_acc * mult.reshape(1, -1, 1, 1)
    if case["residual"]:
        res = codes(rng, plan.out_shape, np.int8, case["extreme"])
        res_mult = multipliers(rng, o) >> 3
        plan.requantize(x_nhwc, out, mult, shift, ROUNDING[case["mode"]], lo, hi, res, res_mult)
        p = p + res.transpose(0, 3, 1, 2).astype(np.int64) * res_mult.reshape(1, -1, 1, 1)
    else:
        plan.requantize(x_nhwc, out, mult, shift, ROUNDING[case["mode"]], lo, hi)
    expected = oracle.requantize(p, shift.reshape(1, -1, 1, 1), case["mode"], lo, hi)
    np.testing.assert_array_equal(out.transpose(0, 3, 1, 2), expected)


@given(rows=st.integers(1, 5), k=st.sampled_from([1, 7, 1024, 1025, 2100]), n=st.integers(1, 9),
       dtype=st.sampled_from([np.int8, np.int16]), extreme=st.booleans(), mode=st.sampled_from(MODES),
       seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_linear_matches_oracle_across_k_chunks(rows, k, n, dtype, extreme, mode, seed):
    rng = np.random.default_rng(seed)
    x = codes(rng, (rows, k), dtype, extreme)
    wt = weights(rng, (n, k), extreme)
    bias = rng.integers(-(2**24), 2**24, size=n)
    plan = LinearPlan(rows, np.dtype(dtype), wt, bias, I64)
    expected_acc = x.astype(np.int64) @ wt.astype(np.int64).T + bias
    raw = np.empty((rows, n), np.int64)
    assert plan.raw(x, raw) == 0
    np.testing.assert_array_equal(raw, expected_acc)
    mult, shift = multipliers(rng, n), rng.integers(25, 45, size=n).astype(np.int64)
    out = np.empty((rows, n), np.int8)
    plan.requantize(x, out, mult, shift, ROUNDING[mode], -128, 127)
    np.testing.assert_array_equal(out, oracle.requantize(expected_acc * mult, shift, mode, -128, 127))


@given(batch=st.integers(1, 3), m=st.integers(1, 6), k=st.sampled_from([1, 5, 1024, 1300]), n=st.integers(1, 6),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_matmul_of_two_activations_including_minus_128_squared(batch, m, k, n, extreme, seed):
    rng = np.random.default_rng(seed)
    x = codes(rng, (batch, m, k), np.int8, extreme)
    y = codes(rng, (batch, k, n), np.int8, extreme)
    plan = MatmulPlan(batch, m, k, n, np.dtype(np.int8), np.dtype(np.int8), I32)
    out = np.empty((batch, m, n), np.int32)
    assert plan.run(x, y, out) == 0
    np.testing.assert_array_equal(out, np.matmul(x.astype(np.int64), y.astype(np.int64)))


def test_float_route_chunks_are_exact_bounds():
    assert float_route(np.int8, np.int8) == (np.float32, 1024)
    dt, chunk = float_route(np.int16, np.int8)
    assert dt == np.float64 and chunk * 32768 * 128 <= 2**53
    with pytest.raises(ValueError, match="int32"):
        float_route(np.int32, np.int8)


def test_worst_case_accumulator_at_largest_int32_k_is_exact():
    """All -128 x -127 at the largest K the compiler gives an int32 accumulator: exact, nothing reported."""
    from irq.fixedpoint import accumulator_dtype

    k = (2**31 - 1) // (128 * 127)
    assert accumulator_dtype(k) == "i32" and accumulator_dtype(k + 1) == "i64"
    x = np.full((2, k), -128, np.int8)
    wt = np.full((3, k), -127, np.int8)
    plan = LinearPlan(2, np.dtype(np.int8), wt, None, I32)
    out = np.empty((2, 3), np.int32)
    assert plan.raw(x, out) == 0
    assert (out == k * 128 * 127).all() and k * 128 * 127 == 2147482624
    # one bias step further and the declared int32 overflows: reported, not wrapped
    plan = LinearPlan(2, np.dtype(np.int8), wt, np.full(3, 2**10), I32)
    assert plan.raw(x, np.empty((2, 3), np.int64)) == 6


def test_depthwise_worst_case_overflow_is_reported():
    x = np.full((1, 3, 3, 2), -128, np.int8)
    wt = np.full((2, 1, 3, 3), -127, np.int8)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, None, (1, 1), (0, 0, 0, 0), (1, 1), 2, (-(2**15), 2**15 - 1))
    out = np.empty(plan.out_shape, np.int8)
    one = np.full(2, 2**30, np.int64)
    assert plan.requantize(x, out, one, np.full(2, 30, np.int64), 0, -128, 127) == 2


@given(n=st.integers(1, 40), mode=st.sampled_from(MODES), sub=st.booleans(), extreme=st.booleans(),
       dtype=st.sampled_from([np.int8, np.int16]), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_add_sub_mul_match_oracle(n, mode, sub, extreme, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = codes(rng, n, dtype, extreme), codes(rng, n, dtype, extreme)
    ma, mb = (int(v) for v in multipliers(rng, 2))
    s = int(rng.integers(30, 40))
    out = np.empty(n, dtype)
    lo, hi = RANGES[dtype]
    eltwise.add_requantize(a, b, ma, mb, -1 if sub else 1, s, ROUNDING[mode], lo, hi, out)
    p = a.astype(np.int64) * ma + (-1 if sub else 1) * b.astype(np.int64) * mb
    np.testing.assert_array_equal(out, oracle.requantize(p, s, mode, lo, hi))
    eltwise.mul_requantize(a, b, ma, s + 8, ROUNDING[mode], lo, hi, out)
    p = a.astype(object) * b.astype(object) * ma
    np.testing.assert_array_equal(out, oracle.requantize(p, s + 8, mode, lo, hi))


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_lookup_table_indexes_by_code_minus_qmin(dtype):
    lo, hi = RANGES[dtype]
    x = np.arange(lo, hi + 1).astype(dtype)
    table = (np.arange(hi - lo + 1)[::-1] % 251 - 125).astype(np.int64)
    out = np.empty(x.size, np.int8)
    eltwise.lookup(x, table, lo, out)
    np.testing.assert_array_equal(out, table[x.astype(np.int64) - lo])


def test_concat_requantizes_each_input_into_its_slice():
    rng = np.random.default_rng(3)
    a, b = codes(rng, (6, 3), np.int8, False), codes(rng, (6, 2), np.int8, True)
    dst = np.empty((6, 5), np.int8)
    eltwise.requantize_into(a, 2**30, 30, 0, -128, 127, dst, 0)  # identity
    eltwise.requantize_into(b, 1518500250, 31, 1, -128, 127, dst, 3)  # ~0.7071, half_even
    np.testing.assert_array_equal(dst[:, :3], a)
    np.testing.assert_array_equal(dst[:, 3:], oracle.requantize(b.astype(np.int64) * 1518500250, 31, "half_even",
                                                               -128, 127))


@given(n=st.integers(1, 2), c=st.integers(1, 5), h=st.integers(1, 7), w=st.integers(1, 7), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 1), d=st.integers(1, 2), extreme=st.booleans(),
       include_pad=st.booleans(), mode=st.sampled_from(MODES), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_pools_match_oracle(n, c, h, w, k, s, p, d, extreme, include_pad, mode, seed):
    assume(p <= k // 2)  # PyTorch's rule: padding at most half the kernel, so every window has a tap
    rng = np.random.default_rng(seed)
    x = codes(rng, (n, h, w, c), np.int8, extreme)
    wy, wx = oracle.windows(h, k, s, p, d), oracle.windows(w, k, s, p, d)
    assume(wy and wx and all(wy) and all(wx))  # every window has an in-image tap
    out = np.empty((n, len(wy), len(wx), c), np.int8)
    pool.max_pool(x, k, k, s, s, p, p, d, d, out)
    expected = np.array([[[[x[b, ys][:, xs][:, :, ch].max() for ch in range(c)] for xs in wx] for ys in wy]
                         for b in range(n)])
    np.testing.assert_array_equal(out, expected)

    wy, wx = oracle.windows(h, k, s, p), oracle.windows(w, k, s, p)
    div_m, div_s = multipliers(rng, k * k + 1), rng.integers(31, 36, size=k * k + 1).astype(np.int64)
    out = np.empty((n, len(wy), len(wx), c), np.int8)
    assert pool.avg_pool(x, k, k, s, s, p, p, include_pad, 0, div_m, div_s, ROUNDING[mode], -128, 127, out) == 0
    for b in range(n):
        for i, ys in enumerate(wy):
            for j, xs in enumerate(wx):
                dv = k * k if include_pad else len(ys) * len(xs)  # no ceil mode: windows stay in the padded input
                acc = x[b, ys][:, xs].astype(np.int64).sum(axis=(0, 1))
                want = oracle.requantize(acc * div_m[dv], div_s[dv], mode, -128, 127)
                np.testing.assert_array_equal(out[b, i, j], want)

    g = np.empty((n, c), np.int8)
    pool.global_avg_pool(x, int(div_m[1]), 35, ROUNDING[mode], -128, 127, g)
    want = oracle.requantize(x.astype(np.int64).sum(axis=(1, 2)) * div_m[1], 35, mode, -128, 127)
    np.testing.assert_array_equal(g, want)


def test_nearest_gather():
    x = np.arange(2 * 3 * 4 * 2).reshape(2, 3, 4, 2).astype(np.int8)
    sy, sx = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 3])
    out = np.empty((2, 6, 5, 2), np.int8)
    pool.gather_rows_cols(x, sy, sx, out)
    np.testing.assert_array_equal(out, x[:, sy][:, :, sx])


@given(c=st.integers(1, 40), h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 3), stride=st.integers(1, 2),
       pad=st.integers(0, 1), dtype=st.sampled_from([np.int8, np.int16]), extreme=st.booleans(),
       mode=st.sampled_from(MODES), residual=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_depthwise_int32_kernel_matches_the_int64_kernel(c, h, w, k, stride, pad, dtype, extreme, mode, residual,
                                                         seed):
    # the int32 kernel (tap sums in int32, branch-free half_up epilogue) against the int64 one, which
    # test_conv2d_matches_oracle checks against the oracle; extremes reach the int32 worst case for int8
    assume(h + 2 * pad >= k and w + 2 * pad >= k)
    rng = np.random.default_rng(seed)
    x = codes(rng, (2, h, w, c), dtype, extreme)
    wt = weights(rng, (c, 1, k, k), extreme)
    plan = Conv2dPlan(x.shape, np.dtype(dtype), wt, rng.integers(-(2**20), 2**20, size=c), (stride, stride),
                      (pad,) * 4, (1, 1), c, I32 if dtype == np.int8 else I64)
    assert plan.route == "depthwise" and plan.dw_int32
    mult, shift = multipliers(rng, c), rng.integers(20, 40, size=c).astype(np.int64)
    res = codes(rng, plan.out_shape, np.int8, extreme) if residual else conv._NO_RES4
    res_mult = multipliers(rng, c) >> 3 if residual else conv._NO_RES_MULT
    (sh, sw), (pt, pl, _, _) = plan.stride, plan.padding
    lo, hi = (-128, 127) if dtype == np.int8 else (-32768, 32767)
    got, want = np.empty(plan.out_shape, dtype), np.empty(plan.out_shape, dtype)
    bad = plan.requantize(x, got, mult, shift, ROUNDING[mode], lo, hi, res if residual else None,
                          res_mult if residual else None)
    ref_bad = depthwise.depthwise_requantize(x, plan.w_dw, plan.bias, plan.acc_lo, plan.acc_hi, sh, sw, pt, pl, 1, 1,
                                        mult, shift, ROUNDING[mode], lo, hi, res, res_mult, want)
    np.testing.assert_array_equal(got, want)
    assert bad == ref_bad



@given(c=st.integers(1, 70), h=st.integers(1, 14), w=st.integers(1, 14),
       k=st.sampled_from([(3, 3), (5, 5), (7, 7), (3, 5), (5, 7), (2, 3), (1, 7), (7, 1)]),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)), dil=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       pad=st.tuples(*[st.integers(0, 3)] * 4), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_depthwise_interior_passes_match_the_int64_kernel(c, h, w, k, stride, dil, pad, extreme, seed):
    # the int32 kernel's half_up path with no residual and overflow proven: the 3x3 interior (nine taps per
    # channel in one pass, the bias folded into bias * M + 2**(S-1)) and, for the border and every other
    # kernel shape (5x5, 7x7, 3x5, 1x7, 7x1: MobileNetV3's and EfficientNet's), the tap-by-tap pass with
    # its branch-free epilogue; asymmetric padding, strides and dilations per axis. A tap read from the
    # wrong row or column, a border column taken for an inside one, the bias folded with another channel's
    # multiplier, or a channel count that is not a multiple of the vector width (c up to 70) shows against
    # the int64 kernel. Shifts keep most codes unsaturated.
    (kh, kw), (sh, sw), (dh, dw) = k, stride, dil
    assume(h + pad[0] + pad[2] >= dh * (kh - 1) + 1 and w + pad[1] + pad[3] >= dw * (kw - 1) + 1)
    rng = np.random.default_rng(seed)
    x = codes(rng, (2, h, w, c), np.int8, extreme)
    wt = weights(rng, (c, 1, kh, kw), extreme)
    bias = rng.integers(-(2**20), 2**20, size=c)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, stride, pad, dil, c, I32)
    assert plan.route == "depthwise" and plan.dw_int32 and (plan.acc_lo, plan.acc_hi) == vnni_no_check()
    mult = multipliers(rng, c)
    acc = conv.Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, stride, pad, dil, c, I32)._depthwise_acc(x) + bias
    top = np.abs(acc * mult).reshape(-1, c).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)
    pt, pl = plan.padding[0], plan.padding[1]
    got, want = np.empty(plan.out_shape, np.int8), np.empty(plan.out_shape, np.int8)
    assert plan.requantize(x, got, mult, shift, ROUNDING["half_up"], -128, 127) == 0
    depthwise.depthwise_requantize(x, plan.w_dw, plan.bias, plan.acc_lo, plan.acc_hi, sh, sw, pt, pl, dh, dw, mult,
                              shift, ROUNDING["half_up"], -128, 127, conv._NO_RES4, conv._NO_RES_MULT, want)
    np.testing.assert_array_equal(got, want)
    assert np.mean((want > -128) & (want < 127)) > 0.3


@pytest.mark.parametrize("x_code,w_code,pairs", [(-128, -127, True), (-128, 127, True), (127, 127, True),
                                                   (-128, -128, False), (127, -128, False)])
def test_depthwise_int16_tap_pairs_hold_the_worst_case_sums(x_code, w_code, pairs):
    # the interior's taps summed in int16 pairs: |x0*w0 + x1*w1| reaches 2 * 128 * 127 = 32512 for int8 codes and
    # |w| <= 127; a weight of -128 (outside the contract, possible in a hand-written program) would reach 32768,
    # one past int16, so that plan keeps the int32 taps. Oracle: the 3x3 sums in numpy int64.
    c, h = 35, 6
    x = np.full((1, h, h, c), x_code, np.int8)
    wt = np.full((c, 1, 3, 3), w_code, np.int8)
    wt[::2, 0, 1, 1] = 3  # a second value per kernel, so a tap taken from the wrong place shows
    bias = np.arange(c) * 1000 - 17000
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (1,) * 4, (1, 1), c, I32)
    assert (plan.w_dw16.shape == (3, 3, c)) == pairs
    padded = np.pad(x.astype(np.int64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    acc = sum(padded[:, ky:ky + h, kx:kx + h, :] * wt[:, 0, ky, kx].astype(np.int64)
              for ky in range(3) for kx in range(3)) + bias
    mult, shift = np.full(c, 2**30, np.int64), np.full(c, 39, np.int64)
    want = np.clip((acc * mult + (1 << 38)) >> 39, -128, 127)
    got = np.empty(plan.out_shape, np.int8)
    assert plan.requantize(x, got, mult, shift, ROUNDING["half_up"], -128, 127) == 0
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 2  # the shift keeps the sums apart


def vnni_no_check():
    from irq.runtime.numba.kernels.vnni import NO_CHECK

    return NO_CHECK


@given(n=st.integers(1, 3), c=st.sampled_from([1, 2, 3, 4, 5]), h=st.integers(1, 20), w=st.integers(1, 40),
       dtype=st.sampled_from([np.int8, np.int16]), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_quantize_to_nhwc_matches_numpy(n, c, h, w, dtype, seed):
    # the model-input quantize writes NHWC through a planar row buffer and (C = 3) an unrolled interleave:
    # a channel written to the wrong byte of a pixel, a row block boundary (16 rows) off by one, or a
    # tie rounded away from even shows here. Inputs include exact ties, saturating values and NaN.
    rng = np.random.default_rng(seed)
    scale = 0.25
    lo, hi = RANGES[dtype]
    x = rng.standard_normal((n, c, h, w)) * (hi / 2) * scale
    ties = rng.random(x.shape) < 0.2
    x[ties] = (rng.integers(-50, 50, size=int(ties.sum())) + 0.5) * scale  # k + 0.5 exactly: half to even
    x[rng.random(x.shape) < 0.05] = 4 * hi * scale
    x[rng.random(x.shape) < 0.05] = np.nan
    x = x.astype(np.float32)
    out = np.full((n, h, w, c), 7, dtype)
    requantize_mod.quantize_to_nhwc(x, scale, lo, hi, out)
    q = np.rint(x.astype(np.float64) / scale)
    want = np.where(np.isnan(q), 0, np.clip(np.nan_to_num(q), lo, hi)).astype(dtype).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(out, want)


@given(n=st.integers(1, 3), c=st.sampled_from([1, 3, 8, 16, 64, 72]), h=st.integers(1, 20), w=st.integers(1, 20),
       dtype=st.sampled_from([np.int8, np.uint8, np.int16, np.float32]), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_layout_conversion_matches_numpy_transpose(n, c, h, w, dtype, seed):
    # the model boundary's NCHW <-> NHWC copies: 16x16 register blocks for byte codes with byte loops over
    # the rows and columns past the last whole block (any shape), numpy's copy for int16 and small arrays
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, c, h, w)).astype(dtype)
    nhwc = np.full((n, h, w, c), 99, dtype)
    to_layout(x, nhwc, nhwc=True)
    np.testing.assert_array_equal(nhwc, x.transpose(0, 2, 3, 1))
    back = np.full_like(x, 99)
    to_layout(nhwc, back, nhwc=False)
    np.testing.assert_array_equal(back, x)


@given(n=st.integers(1, 3), r=st.integers(1, 80), s=st.integers(1, 80), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
@COMPILED_ONLY
def test_16x16_block_transpose_matches_numpy(n, r, s, seed):
    # the 16 x 16 shuffle transpose with byte loops past the last whole block (any R and S: 3 channels, 40,
    # 72): a wrong interleave mask or round count moves bytes within a block, a wrong block address moves
    # whole blocks, an edge loop that stops short or starts late leaves the 7s; all show here
    from irq.runtime.numba.kernels.permute import transpose_bytes16

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, r, s)).astype(np.uint8)
    y = np.full((n, s, r), 7, np.uint8)
    transpose_bytes16(x, y)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 1))


@COMPILED_ONLY
def test_layout_conversion_takes_the_register_transpose():
    # the shapes the fast path exists for, a 3-channel image's codes included (numpy's copy took 0.41 ms)
    assert transposes_fast(np.zeros((1, 64, 56 * 56), np.int8))
    assert transposes_fast(np.zeros((1, 3, 224 * 224), np.int8))
    assert not transposes_fast(np.zeros((1, 64, 56 * 56), np.int16))
    assert not transposes_fast(np.zeros((1, 3, 100), np.int8))
    x = np.random.default_rng(0).integers(-128, 128, (2, 64, 56, 56)).astype(np.int8)
    y = np.empty((2, 56, 56, 64), np.int8)
    to_layout(x, y, nhwc=True)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 3, 1))


def _rounded_quotient(num: int, den: int, mode: str) -> int:
    """num / den (den > 0) rounded by `mode`, from Python's exact floor and remainder (independent of the kernels)."""
    q, r = divmod(num, den)
    if mode == "floor" or 2 * r < den:
        return q
    if 2 * r > den:
        return q + 1
    return {"half_up": q + 1, "half_even": q + (q & 1), "half_away": q + 1 if num > 0 else q}[mode]


@given(a=st.integers(-32768, 32767), b=st.integers(-32768, 32767), m=st.integers(1, 2**31 - 1),
       s=st.integers(0, 16), mode=st.sampled_from(MODES))
@settings(max_examples=300, deadline=None)
def test_divide_rounds_every_mode_like_exact_rationals(a, b, m, s, mode):
    """bpu.div's kernel rounds ``a M / (b 2**S)`` through `round_from_floor`, the tie rules it shares with
    `round_shift`: a wrong tie rule or sign handling (a negative divisor flips the numerator) shows here."""
    from irq.runtime.numba.kernels.divide import divide_requantize

    out = np.empty(1, np.int64)
    divide_requantize(np.array([a], np.int16), np.array([b], np.int16), m, s, ROUNDING[mode], *I64, out)
    if b == 0:
        expected = I64[1] if a > 0 else (I64[0] if a < 0 else 0)
    else:
        sign = -1 if b < 0 else 1
        expected = _rounded_quotient(sign * a * m, abs(b) << s, mode)
    assert out[0] == expected


@pytest.mark.parametrize("mode", MODES)
def test_divide_exact_ties_tell_the_modes_apart(mode):
    # (2k + 1) / 2 for k = -3..2, and the same over a negative divisor: every quotient an exact tie
    a = np.array([-5, -3, -1, 1, 3, 5, -5, 5], np.int16)
    b = np.array([2, 2, 2, 2, 2, 2, -2, -2], np.int16)
    out = np.empty(8, np.int64)
    from irq.runtime.numba.kernels.divide import divide_requantize

    divide_requantize(a, b, 1, 0, ROUNDING[mode], *I64, out)
    expected = {"half_up": [-2, -1, 0, 1, 2, 3, 3, -2], "half_even": [-2, -2, 0, 0, 2, 2, 2, -2],
                "half_away": [-3, -2, -1, 1, 2, 3, 3, -3], "floor": [-3, -2, -1, 0, 1, 2, 2, -3]}
    assert out.tolist() == expected[mode]
