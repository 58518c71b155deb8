"""The Numba runtime's kernels on cases mutation testing (bench/mutation.py, target numba-kernels) found unexercised.

Each case names the planted bug it catches. The oracles are Python integers (exact rationals, the int64 oracle
of tests/support/int_oracle.py) and numpy's float64 rounding, never the kernels themselves. The kernels are
called directly on small arrays, so the file runs in seconds both compiled and as Python (NUMBA_DISABLE_JIT=1,
how the mutation target runs them).
"""

from __future__ import annotations

import numpy as np
import pytest
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.gemm import epilogue_raw, epilogue_requantize, float_route
from irq.runtime.numba.kernels.int_divide import int_divide_requantize
from irq.runtime.numba.kernels.requantize import ROUNDING, quantize, quantize_to_nhwc, requantize_axis

from tests.support import int_oracle as oracle

INT_DIV_LIMIT = 2**31 - 1


def _int_div_oracle(
    a: int, b: int, m: int, dv: int, s: int, floor: bool, mo: int, so: int, mode: str, lo: int, hi: int
) -> int:
    """bpu.int_div on Python integers: k = floor or trunc of the exact rational a' M / (|b| D 2**S), clamped to
    +-(2**31 - 1) (b = 0: by a's sign), then round_shift(k * M_out, S_out) and the storage clamp."""
    if b == 0:
        k = INT_DIV_LIMIT * ((a > 0) - (a < 0))
    else:
        x, y = (-a, -b) if b < 0 else (a, b)
        num, den = x * m, y * dv
        n, d = (num, den << s) if s >= 0 else (num << -s, den)
        k = n // d if floor or n >= 0 else -((-n) // d)
        k = min(max(k, -INT_DIV_LIMIT), INT_DIV_LIMIT)
    return min(max(oracle.round_shift(k * mo, so, mode), lo), hi)


def _int16_operands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random int16 pairs plus the edges: zero divisors, +-1, the extremes, negative over negative."""
    edge = np.array([0, 1, -1, 7, -7, 32767, -32768, 3, -3], np.int64)
    a = np.concatenate([rng.integers(-32768, 32768, n), edge, edge, np.full(edge.size, -32768)])
    b = np.concatenate([rng.integers(-32768, 32768, n), edge[::-1], np.zeros(edge.size, np.int64), edge])
    return a.astype(np.int16), b.astype(np.int16)


@pytest.mark.parametrize("mode", sorted(ROUNDING))
@pytest.mark.parametrize("floor", [True, False])
@pytest.mark.parametrize("s", [9, 0, -1, -5, -16, -17, -33])
def test_int_divide_requantize_equals_exact_rationals(s, floor, mode):
    """Bugs caught: no test of the target ran bpu.int_div's kernel at all (kernels/int_divide.py): `k * M_out`
    written `k | M_out`, the long division's step, its remainder or its clamp off, trunc taken as floor for a
    negative quotient, a zero divisor's clamp by the wrong sign (0 / 0 is 0), `s >= 0` as `s >= -1` (s = -1
    shifted right by -1). Shifts on both sides of 0 and past one 16-bit long-division step (-17, -33: the loop
    runs twice and three times)."""
    rng = np.random.default_rng(1000 + 10 * s + floor)
    a, b = _int16_operands(rng, 150)
    m = int(rng.integers(2**29, 2**31))
    dv = int(rng.integers(1, 2**12)) | 1  # an odd divisor: a D of 1 or 2**k would hide the rational part
    mo = int(rng.integers(2**20, 2**31)) | 1  # odd: `k | M_out` and `k * M_out` differ for most k
    so = 37 if s < 0 else 20
    lo, hi = -32768, 32767
    out = np.empty(a.size, np.int16)
    int_divide_requantize(
        a, b, np.int64(m), np.int64(dv), np.int64(s), floor, np.int64(mo), np.int64(so), ROUNDING[mode], lo, hi, out
    )
    want = [_int_div_oracle(int(x), int(y), m, dv, s, floor, mo, so, mode, lo, hi) for x, y in zip(a, b)]
    np.testing.assert_array_equal(out, np.array(want, np.int64))


def _rint_codes(x: np.ndarray, scale: float, lo: int, hi: int) -> np.ndarray:
    """float -> codes as the dialect says: round half to even of float64(x) / scale, clamped; NaN -> 0."""
    q = np.rint(x.astype(np.float64) / np.float64(scale))
    return np.where(np.isnan(q), 0, np.clip(np.nan_to_num(q), lo, hi)).astype(np.int64)


def _float_inputs(rng: np.random.Generator, shape: tuple[int, ...], scale: float, lo: int, hi: int) -> np.ndarray:
    """Floats at exact ties (k + 1/2 steps, both parities and signs), beyond either end, infinities and NaN."""
    x = (rng.integers(lo - 40, hi + 40, size=shape) + rng.choice([0.0, 0.5, 0.25, -0.5], size=shape)) * scale
    flat = x.reshape(-1)
    flat[:6] = [np.nan, np.inf, -np.inf, 2.5 * scale, -2.5 * scale, 3.5 * scale]
    return x.astype(np.float32)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_quantize_kernels_round_half_to_even_and_saturate(dtype):
    """Bug caught: no test of the target ran the flat `quantize` kernel (a non-image model input or a float
    island's output going back to codes); its NaN, clamp and rounding branches each flip a code here. The
    NHWC kernel (quantize_to_nhwc, the model's image input) must give the same codes in its layout."""
    lo, hi = (-128, 127) if dtype == np.int8 else (-32768, 32767)
    scale = 0.25  # a power of two: x / scale is exact, so the ties are exact ties
    rng = np.random.default_rng(7)
    x = _float_inputs(rng, (2, 3, 5, 4), scale, lo, hi)
    want = _rint_codes(x, scale, lo, hi)
    flat = np.empty(x.size, dtype)
    quantize(x.reshape(-1), scale, lo, hi, flat)
    np.testing.assert_array_equal(flat, want.reshape(-1))
    nhwc = np.empty((2, 5, 4, 3), dtype)
    quantize_to_nhwc(x, scale, lo, hi, nhwc)
    np.testing.assert_array_equal(nhwc, want.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("a,b", [(np.int8, np.int8), (np.int16, np.int8), (np.int8, np.int16), (np.int16, np.int16)])
def test_float_route_chunk_is_the_largest_exact_one(a, b):
    """Bug caught: the float64 chunk `2**53 // prod` written `2 ^ 53 // prod` (= 2): still exact, but every
    int16 GEMM then adds its partial products two at a time. The documented contract is the largest chunk
    whose every partial sum is an exact float (and at most 1024 terms on the float32 route)."""
    prod = {np.int8: 128, np.int16: 32768}[a] * {np.int8: 128, np.int16: 32768}[b]
    dt, chunk = float_route(np.dtype(a), np.dtype(b))
    bits = 24 if dt == np.float32 else 53
    assert chunk * prod <= 2**bits
    assert chunk == (1024 if dt == np.float32 else 2**bits // prod)
    assert (dt == np.float32) == (2**24 // prod >= 64)


def test_requantize_axis_counts_accumulators_from_exactly_2_pow_32():
    """Bug caught: the overflow bound `np.int64(1) << 32` moved (`2 << 32`, `1 << 33`, `0 << 32`, `<< 31`): an
    accumulator |acc| >= 2**32, whose product with a 31-bit multiplier can leave int64, must be counted (the
    executor raises naming the op), one below the bound must not. No test held an accumulator within a factor of
    two of the bound."""
    edge = 2**32
    acc = np.array([edge - 1, -(edge - 1), edge, -edge, 0, 2 * edge, edge // 2], np.int64).reshape(1, 1, -1)
    out = np.empty(acc.shape, np.int64)
    one = np.ones(1, np.int64)
    no_res = np.zeros((0, 0, 0), np.int64)
    bad = requantize_axis(acc, no_res, one, one, np.array([1], np.int64), ROUNDING["half_up"], -(2**62), 2**62, out)
    assert bad == 3  # 2**32, -2**32 and 2**33
    for row in ([edge - 1, -(edge - 1)], [edge // 2, -(edge // 2)]):
        a = np.array(row, np.int64).reshape(1, 1, -1)
        assert (
            requantize_axis(
                a,
                no_res,
                one,
                one,
                np.array([1], np.int64),
                ROUNDING["half_up"],
                -(2**62),
                2**62,
                np.empty(a.shape, np.int64),
            )
            == 0
        )
    np.testing.assert_array_equal(out.ravel(), [oracle.round_shift(int(v), 1, "half_up") for v in acc.ravel()])


@pytest.mark.parametrize("acc_dtype", [np.int64, np.float32])
def test_raw_epilogue_counts_both_sides_of_the_declared_width(acc_dtype):
    """Bug caught: the raw (int32/int64 output) epilogue's range check `a < acc_lo or a > acc_hi` with `<` written
    `==` (or `>` written `==`): a sum below the low bound by more than one was not counted, so a high-precision
    output past its declared width would wrap silently. The sums are acc + bias on Python integers."""
    lo, hi = -(2**15), 2**15 - 1  # a narrow declared width: the float route's exact integers reach past it
    acc = np.array([[lo - 5, lo, hi, hi + 7], [lo - 1, hi + 1, 0, -3]], acc_dtype)
    bias = np.array([0, -1, 1, 0], np.int64)
    out = np.empty(acc.shape, np.int64)
    bad = epilogue_raw(acc, bias, lo, hi, out)
    sums = [[int(a) + int(b) for a, b in zip(row, bias)] for row in acc]
    np.testing.assert_array_equal(out, sums)
    assert bad == sum(not lo <= s <= hi for row in sums for s in row) == 5


@pytest.mark.parametrize("mode", ["half_up", "half_even", "floor"])
@pytest.mark.parametrize("residual", [False, True])
def test_depthwise_int32_kernel_counts_overflow_on_both_sides_in_every_epilogue(mode, residual):
    """Bug caught: the int32 depthwise kernel's general epilogue (any rounding but half_up, or a fused residual)
    with its width check `a < acc_lo or a > acc_hi` written `and`: nothing was ever counted there, so an
    accumulator past the declared width was requantized silently. The existing overflow test runs half_up
    without a residual (the branch-free epilogue) only. Channel 0 sums 9 * 128 * 127 above the int16 width,
    channel 1 the same below it (Python integers)."""
    x = np.full((1, 3, 3, 2), -128, np.int8)
    wt = np.stack([np.full((1, 3, 3), -127), np.full((1, 3, 3), 127)]).astype(np.int8)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, None, (1, 1), (0, 0, 0, 0), (1, 1), 2, (-(2**15), 2**15 - 1))
    assert plan.route == "depthwise" and plan.dw_int32
    assert 9 * 128 * 127 > 2**15 - 1
    out = np.empty(plan.out_shape, np.int8)
    one = np.full(2, 2**30, np.int64)
    res = np.zeros(plan.out_shape, np.int8) if residual else None
    bad = plan.requantize(
        x, out, one, np.full(2, 30, np.int64), ROUNDING[mode], -128, 127, res, one if residual else None
    )
    assert bad == 2
    assert out.ravel().tolist() == [127, -128]


@pytest.mark.parametrize("mode", sorted(ROUNDING))
def test_gemm_epilogue_adds_a_one_row_residual(mode):
    """Bug caught: the float-route GEMM epilogue's `has_res = res.shape[0] > 0` written `> 1`: a fused residual of
    one row (a linear on a single token or image, `LN(x + W ctx)` at batch 1) was dropped without an error. The
    oracle is round_shift((acc + bias) * M + res * M_res, S) on Python integers."""
    acc = np.array([[1000.0, -2500.0, 77.0]], np.float32)
    bias = np.array([5, -7, 0], np.int64)
    mult = np.array([3 << 28, 5 << 27, 1 << 30], np.int64)
    res = np.array([[100, -128, 127]], np.int8)
    res_mult = np.array([7 << 27, 1 << 29, 3 << 26], np.int64)
    shift = np.array([33, 34, 31], np.int64)
    out = np.empty((1, 3), np.int16)
    bad = epilogue_requantize(
        acc, bias, -(2**31), 2**31 - 1, mult, shift, ROUNDING[mode], -32768, 32767, res, res_mult, out
    )
    assert bad == 0
    want = [
        min(max(oracle.round_shift((int(a) + int(b)) * int(m) + int(r) * int(rm), int(s), mode), -32768), 32767)
        for a, b, m, r, rm, s in zip(acc[0], bias, mult, res[0], res_mult, shift)
    ]
    assert out[0].tolist() == want


@pytest.mark.parametrize("floor", [True, False])
def test_int_divide_clamps_the_quotient_at_exactly_2_pow_31_minus_1(floor):
    """Bug caught: the quotient clamp `_LIMIT = 2**31 - 1` written `2**31 * 1`, `2**31 ^ 1` or `2**31 - 2`: the
    saturating int16 outputs of the other cases hid a clamp one or two off. Here the output is wide (int64,
    M_out = 3, S_out = 1), so round_shift(3 k, 1) shows k itself: a division by 0 and quotients far past the
    clamp (s = -40) on both signs."""
    a = np.array([5, -5, 0, 32767, -32768, 1, -1], np.int16)
    b = np.array([0, 0, 0, 1, 1, 3, 3], np.int16)
    m, dv, s, mo, so = 2**30, 1, -40, 3, 1
    out = np.empty(a.size, np.int64)
    int_divide_requantize(
        a,
        b,
        np.int64(m),
        np.int64(dv),
        np.int64(s),
        floor,
        np.int64(mo),
        np.int64(so),
        ROUNDING["half_up"],
        -(2**62),
        2**62,
        out,
    )
    want = [_int_div_oracle(int(x), int(y), m, dv, s, floor, mo, so, "half_up", -(2**62), 2**62) for x, y in zip(a, b)]
    assert want[0] == oracle.round_shift(3 * INT_DIV_LIMIT, 1, "half_up")  # the clamp itself, not a saturation
    np.testing.assert_array_equal(out, want)
