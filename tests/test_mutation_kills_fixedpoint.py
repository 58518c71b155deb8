"""irq.fixedpoint against exact oracles, where mutation testing (bench/mutation.py) found it untested.

Each test names the planted bug it catches. Oracles: Python fractions for multiplier errors, an
explicit per-element loop for per-channel dequantization.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from irq import fixedpoint as fp


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_dequantize_codes_per_channel_scales_each_channel(axis: int) -> None:
    """Catches a per-channel dequantization that broadcasts the scales along the wrong axis or not at all."""
    rng = np.random.default_rng(7)
    q = rng.integers(-128, 128, size=(3, 4, 5))
    scales = rng.uniform(0.01, 0.2, size=q.shape[axis])
    got = fp.dequantize_codes(q, scales, axis=axis)
    assert got.dtype == np.float32 and got.shape == q.shape
    want = np.empty(q.shape, dtype=np.float32)
    for idx in np.ndindex(*q.shape):
        want[idx] = np.float32(float(q[idx]) * float(scales[idx[axis]]))  # one rounding, float64 -> float32
    np.testing.assert_array_equal(got, want)


def test_dequantize_codes_per_tensor_ignores_axis_for_a_scalar_scale() -> None:
    q = np.array([[-128, 0, 127]])
    np.testing.assert_array_equal(fp.dequantize_codes(q, 0.5, axis=1), np.float32([[-64.0, 0.0, 63.5]]))


def _exact_relative_error(m: int, s: int, real: float) -> Fraction:
    return abs(Fraction(m, 2**s) - Fraction(real)) / Fraction(real)


def test_multiplier_error_is_the_largest_relative_error() -> None:
    """Catches an error report that multiplies by the real instead of dividing, or reports 0 for real values."""
    m = np.array([2**30, 2**30 + 1, 1431655765])
    s = np.array([31, 32, 32])
    real = np.array([0.5, 0.25, 1 / 3])
    want = max(_exact_relative_error(int(a), int(b), float(r)) for a, b, r in zip(m, s, real))
    assert want > 0
    assert fp.multiplier_error(m, s, real) == pytest.approx(float(want), rel=1e-9)


def test_multiplier_error_of_quantize_multiplier_is_below_two_to_minus_30() -> None:
    """The (M, S) pairs quantize_multiplier gives are within half an ulp of 31 bits: error <= 2**-31 relative."""
    real = np.array([1e-7, 0.3, 0.75, 1.0, 3.999, 1000.0])
    m, s = fp.quantize_multiplier(real)
    err = fp.multiplier_error(m, s, real)
    exact = max(_exact_relative_error(int(a), int(b), float(r)) for a, b, r in zip(m, s, real))
    assert err == pytest.approx(float(exact), rel=1e-9)
    assert 0 < err <= 2.0**-30


def test_multiplier_error_ignores_zero_multipliers() -> None:
    """Catches a zero-multiplier guard that returns a non-zero error, or counts the zero channel (division by 0)."""
    assert fp.multiplier_error(np.array([0, 0]), np.array([62, 62]), np.array([0.0, 0.0])) == 0.0
    m, s = fp.quantize_multiplier([0.0, 0.5])
    assert fp.multiplier_error(m, s, [0.0, 0.5]) == 0.0  # 0.5 is exact: M = 2**30, S = 31


def test_quantize_bias_negative_codes_and_int32_saturation() -> None:
    """Bias codes at s_in * s_w, both signs, saturated to exactly int32's range: catches a wrong int32
    minimum (a negative bias clipped early) and a clip at the wrong bound."""
    s_in, s_w = 0.02, np.array([0.005, 0.01, 0.5])
    bias = np.array([-3.0, 1e9, -1e9])
    got = fp.quantize_bias(bias, s_in, s_w)
    want = []
    for b, w in zip(bias, s_w):
        code = round(Fraction(float(b)) / (Fraction(s_in) * Fraction(float(w))))
        want.append(min(max(code, -(2**31)), 2**31 - 1))
    assert want[0] == -30000 and want[1] == 2**31 - 1 and want[2] == -(2**31)
    assert got.tolist() == want
    assert fp.qrange("i32") == (-(2**31), 2**31 - 1)


def test_common_shift_multipliers_one_input_and_bad_shapes() -> None:
    """One input is allowed (a conv without residual): M and S are quantize_multiplier's; no input, or a
    0-d array, is a clear ValueError (catches a `< 1` check turned into `<= 1`, `< 0`)."""
    real = np.array([[0.3, 0.0123]])
    m, s = fp.common_shift_multipliers(real)
    m1, s1 = fp.quantize_multiplier(real[0])
    np.testing.assert_array_equal(m, m1[None])
    np.testing.assert_array_equal(s, s1)
    for bad in (np.zeros((0, 2)), np.float64(0.5)):
        with pytest.raises(ValueError, match="needs at least one input"):
            fp.common_shift_multipliers(bad)


def test_lookup_table_saturates_infinities_and_zeroes_nan() -> None:
    """-inf saturates to qmin, +inf to qmax, NaN becomes code 0: catches a flipped -inf and another NaN code."""
    s_in, s_out = 0.05, 0.02
    with np.errstate(all="ignore"):
        log_table = fp.lookup_table(np.log, s_in, s_out)
        recip_table = fp.lookup_table(np.reciprocal, s_in, s_out)
        sqrt_table = fp.lookup_table(np.sqrt, s_in, s_out)
    code = np.arange(-128, 128)
    i0 = 128  # index of input code 0
    assert log_table[i0] == -128  # log(0) = -inf
    assert recip_table[i0] == 127  # 1/0 = +inf
    assert np.all(sqrt_table[code < 0] == 0)  # sqrt of a negative: NaN -> 0
    # elsewhere: the oracle's round-half-even of fn(code * s_in) / s_out, clipped
    for c in (1, 7, 100, 127):
        assert log_table[i0 + c] == max(-128, min(127, round(np.log(c * s_in) / s_out)))
        assert sqrt_table[i0 + c] == max(-128, min(127, round(np.sqrt(c * s_in) / s_out)))


def test_lookup_table_refuses_wider_than_16_bit_inputs() -> None:
    """A table has one entry per input code: i16 (65,536) is the largest; i32 is a clear error, not a
    4-billion-entry allocation (catches a wrong size formula in the guard)."""
    assert fp.lookup_table(np.tanh, 2.0**-10, 2.0**-7, in_dtype="i16").shape == (65536,)
    with pytest.raises(ValueError, match="no lookup table for i32 inputs"):
        fp.lookup_table(np.tanh, 1.0, 1.0, in_dtype="i32")


@pytest.mark.parametrize("dtype,qmax", [("i8", 127), ("i16", 32767)])
def test_scale_from_absmax_floor_for_an_all_zero_tensor(dtype: str, qmax: int) -> None:
    """An all-zero tensor gets scale 2**-24 (never 0); otherwise absmax / qmax exactly."""
    assert fp.scale_from_absmax(0.0, dtype) == 2.0**-24
    assert fp.scale_from_absmax(np.float64(3.5), dtype) == 3.5 / qmax
    np.testing.assert_array_equal(fp.scale_from_absmax([0.0, 2.0], dtype), [2.0**-24, 2.0 / qmax])


def test_check_requantize_input_bound_is_two_to_the_32() -> None:
    """|acc| < 2**32 keeps acc * M + 2**(S-1) inside int64 (M < 2**31): the limit itself is refused."""
    fp.check_requantize_input(0)
    fp.check_requantize_input(2**32 - 1)
    for bad in (2**32, 2**32 + 1, 2**40):  # catches `>=` as `==`: every larger bound is refused too
        with pytest.raises(ValueError, match="too large to requantize"):
            fp.check_requantize_input(bad)


# (7, 0.2, 0.3): n^2 eps / s_in^2 = 108.9, where rounding and flooring differ
@pytest.mark.parametrize("n,eps,s_in", [(64, 1e-5, 1e-3), (384, 1e-12, 2.0**-15), (7, 0.5, 0.25), (7, 0.2, 0.3)])
def test_layer_norm_eps_is_n_squared_eps_over_the_squared_input_scale(n: int, eps: float, s_in: float) -> None:
    """bpu.layer_norm adds eps to n^2 var in squared input codes, so the integer is rint(n^2 eps / s_in^2)
    (Fraction oracle). Catches eps multiplied by s_in^2 instead of divided: a model whose variance is near
    eps (a constant token) then normalizes by the wrong denominator; also `/` as `//`, a floor instead of the
    rounding."""
    gamma = np.linspace(0.5, 1.5, n)
    beta = np.linspace(-0.1, 0.1, n)
    _, _, _, eps_int, _, _ = fp.layer_norm_parameters(gamma, beta, eps, s_in, 0.05)
    want = Fraction(n * n) * Fraction(eps) / Fraction(s_in) ** 2
    assert eps_int == round(want) and eps_int > 0


def _largest_sqrt_bits(n: int, bits: int, eps: int, f: int) -> int | None:
    """The bound bpu.layer_norm's docstring states, in Python integers: the largest G <= F with
    (n^2 xmax^2 + eps) 2^(2G) < 2^63 and n 2^(bits+1) 2^(F+G+1) < 2^63, xmax = 2^(bits-1) = |qmin|."""
    xmax = 2 ** (bits - 1)
    fits = [g for g in range(f + 1)
            if (n * n * xmax * xmax + eps) * 4**g < 2**63 and n * 2 ** (bits + f + g + 2) < 2**63]
    return max(fits) if fits else None


@pytest.mark.parametrize("dtype", ["i8", "i16"])
def test_layer_norm_sqrt_bits_are_the_largest_that_fit_int64(dtype: str) -> None:
    """Every row length from 1 to 2**14 (and a few eps values, up to ones whose bits overlap n^2 xmax^2):
    G is exactly the bound's largest. One bit too many and ``v << 2G`` wraps in int64 in the numba kernel
    and VALIDATION (a wrong number, silently); one too few throws away precision of the square root.
    Catches `2 * bits - 2` off by one (xmax^2 halved or doubled) and `+ eps` as `| eps`."""
    bits = int(dtype[1:])
    checked = 0
    # i16 rows of 46,341..92,681 elements fit with G = 0 only
    for n in [*range(1, 300), *range(300, 2**14 + 1, 37), 2**14, 46_340, 46_341, 60_000, 92_681, 92_682]:
        # eps == n^2 xmax^2 shares every bit with the statistics' bound: there `+` and `|` differ by 2x
        # eps near 2**62..2**63 leaves only G = 0, or nothing (a clear error, never G = -1)
        # and eps that puts the bound exactly on 2**63 at G = F (catches `<` as `<=`)
        on_the_limit = 2 ** (63 - 2 * fp.LAYER_NORM_FRAC_BITS) - n * n * 4 ** (bits - 1)
        for eps in (0, 1, 12_345, 2**40 + 3, 3 * 2**52, n * n * 4 ** (bits - 1), 2**62 - 2**50, 2**63,
                    *([on_the_limit] if on_the_limit > 0 else [])):
            want = _largest_sqrt_bits(n, bits, eps, fp.LAYER_NORM_FRAC_BITS)
            if want is None:
                with pytest.raises(ValueError, match="overflows int64"):
                    fp.layer_norm_sqrt_frac_bits(n, dtype, eps)
            else:
                assert fp.layer_norm_sqrt_frac_bits(n, dtype, eps) == want, (n, eps)
                checked += 1
    assert checked > 1000


def test_accumulator_width_at_the_int32_limit() -> None:
    """The bound K * max|x| * max|w| + max|bias| must stay below 2**31 for int32: at exactly 2**31 the
    accumulator is int64. Catches the bias added as `^` (or not at all) and `<` as `<=`."""
    products = 1 * 128 * 127  # one int8 tap: max|x| = 128, max|w| = 127
    assert fp.accumulator_dtype(1, "i8", 127, 2**31 - 1 - products) == "i32"
    assert fp.accumulator_dtype(1, "i8", 127, 2**31 - products) == "i64"
    assert fp.accumulator_dtype(1, "i8", 127, 2**31 - 3 * products) == "i32"
    k = 2**31 // products  # the largest bias-free int8 reduction that fits
    assert fp.accumulator_dtype(k, "i8", 127) == "i32"
    assert fp.accumulator_dtype(k + 1, "i8", 127) == "i64"


@pytest.mark.parametrize("s_out", [0.003, 1 / 255, 2.0**-7, 0.7])
def test_softmax_output_multiplier_is_the_reciprocal_of_the_output_scale(s_out: float) -> None:
    """M / 2**S approximates 1 / s_out to 31 bits (Fraction oracle), for scales whose reciprocal is not an
    integer too: catches 1 / s_out computed as 1 // s_out (exact only for s_out = 2**-k)."""
    _, m, s = fp.softmax_parameters(0.05, "i8", s_out)
    assert abs(Fraction(m, 2**s) - 1 / Fraction(s_out)) <= (1 / Fraction(s_out)) * Fraction(1, 2**30)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "gelu", "hardtanh", "relu7"])
def test_clamp_bounds_refuses_activations_it_does_not_know(activation: str) -> None:
    """Only relu and relu6 are fused clamps: any other name is an error, not relu6's bounds. Catches the
    name test written as an ordering (`>= "relu6"` takes sigmoid and tanh for relu6)."""
    with pytest.raises(ValueError, match="unknown fused activation"):
        fp.clamp_bounds(activation, 0.05, "i8")


def test_accumulator_without_a_bias_at_exactly_two_to_the_31() -> None:
    """One int8 input (max|x| = 128) times a weight bound of 2**24 is exactly 2**31: int64, with no bias.
    Catches the bias default as -1 (2**31 - 1 would fit int32). A default of +1 cannot be seen: the
    products are multiples of 128, never 2**31 - 1."""
    assert fp.accumulator_dtype(1, "i8", 2**24) == "i64"
    assert fp.accumulator_dtype(1, "i8", 2**24 - 1) == "i32"


def test_unknown_storage_dtype_is_a_clear_error() -> None:
    """A typo in a dtype name is a ValueError naming the known ones, not a bare KeyError from a table:
    catches the translation of the lookup's KeyError lost."""
    with pytest.raises(ValueError, match=r"unknown storage dtype 'int8' \(expected one of i8, i16, i32\)"):
        fp.qrange("int8")


def test_quantize_weight_is_per_output_channel_by_default() -> None:
    """conv / linear weights are [out, in, ...]: the default per-channel axis is 0, so each output channel
    uses its own scale (catches a default of 1 or -1, which pairs scales with input channels)."""
    w = np.array([[[[0.5]], [[-1.0]]], [[[2.0]], [[0.25]]], [[[-0.75]], [[1.5]]]])  # [3 out, 2 in, 1, 1]
    scales = np.array([0.01, 0.02, 0.03])
    got = fp.quantize_weight(w, scales)
    want = np.clip(np.rint(w / scales.reshape(3, 1, 1, 1)), -127, 127)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, fp.quantize_weight(w, scales, axis=0))


def test_layer_norm_gamma_and_beta_codes() -> None:
    """gamma: int8 codes at s_g = absmax / 127 (round half to even); beta: int32 codes at s_g * 2**-F,
    rounded, not floored (catches `b / b_scale` as `//`: every negative or fractional beta one code off)."""
    gamma = np.array([0.5, -1.25, 2.0, 0.1])
    beta = np.array([0.3, -0.7, 0.0123, -2.5])
    f, g_codes, b_codes, _, _, _ = fp.layer_norm_parameters(gamma, beta, 1e-5, 0.05, 0.02)
    s_g = 2.0 / 127
    np.testing.assert_array_equal(g_codes, np.rint(gamma / s_g))
    want = [round(Fraction(b) / (Fraction(s_g) * Fraction(1, 2**f))) for b in beta]
    assert b_codes.tolist() == want
