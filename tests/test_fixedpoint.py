"""The fixed-point parameter contract (irq.fixedpoint) against exact rational arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irq import fixedpoint as fp


@given(st.floats(min_value=2.0**-40, max_value=2.0**29, allow_nan=False, allow_infinity=False))
@settings(max_examples=300, deadline=None)
def test_multiplier_is_31_bits_and_within_half_an_ulp(real):
    m, s = fp.quantize_multiplier(real)
    m, s = int(m), int(s)
    assert fp.MIN_SHIFT <= s <= fp.MAX_SHIFT
    if s < fp.MAX_SHIFT:
        assert 2**30 <= m < 2**31
        # M is the nearest 31-bit mantissa: error at most half a unit in M's last place
        assert abs(Fraction(m, 2**s) - Fraction(real)) <= Fraction(1, 2 ** (s + 1))
    else:  # tiny multipliers keep S = 62 and lose precision, never range
        assert m == round(Fraction(real) * 2**62)


def test_multiplier_edge_cases():
    m, s = fp.quantize_multiplier([1.0, 0.5, 0.0, 2.0**-70, 1 - 2.0**-40])
    assert list(m) == [2**30, 2**30, 0, 0, 2**30]
    assert list(s) == [30, 31, 62, 62, 30]  # 1 - 2**-40 rounds up to 2**31 and renormalises
    with pytest.raises(ValueError, match="too large"):
        fp.quantize_multiplier(2.0**30)
    with pytest.raises(ValueError):
        fp.quantize_multiplier(-1.0)
    with pytest.raises(ValueError):
        fp.quantize_multiplier(float("nan"))


@given(st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=2, max_size=4))
@settings(max_examples=200, deadline=None)
def test_common_shift_keeps_the_largest_at_31_bits(reals):
    m, s = fp.common_shift_multipliers(np.array(reals)[:, None])
    s = int(s[0])
    top = int(np.argmax(reals))
    assert 2**30 <= int(m[top, 0]) < 2**31
    for r, mi in zip(reals, m[:, 0], strict=True):
        assert 0 <= int(mi) < 2**31
        assert abs(Fraction(int(mi), 2**s) - Fraction(r)) <= Fraction(1, 2 ** (s + 1))


def test_codes_round_half_even_and_saturate():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0])
    assert list(fp.quantize_to_codes(x, 1.0)) == [0, 2, 2, 0, -2, 127, -128]
    assert list(fp.quantize_weight(x, 1.0)) == [0, 2, 2, 0, -2, 127, -127]
    assert list(fp.quantize_to_codes(x, 1.0, "i16")) == [0, 2, 2, 0, -2, 1000, -1000]
    w = np.array([[1.0, -1.0], [1.0, -1.0]])
    assert fp.quantize_weight(w, np.array([0.5, 0.25]), axis=0).tolist() == [[2, -2], [4, -4]]
    assert fp.quantize_weight(w, np.array([0.5, 0.25]), axis=1).tolist() == [[2, -4], [2, -4]]


def test_bias_at_accumulator_scale():
    b = fp.quantize_bias(np.array([1.0, -1.0, 1e12]), 0.5, np.array([0.25, 0.125, 1.0]))
    assert b.tolist() == [8, -16, 2**31 - 1]


def test_clamp_bounds():
    assert fp.clamp_bounds(None, 0.1, "i8") == (-128, 127)
    assert fp.clamp_bounds("relu", 0.1, "i8") == (0, 127)
    assert fp.clamp_bounds("relu6", 0.1, "i8") == (0, 60)
    assert fp.clamp_bounds("relu6", 0.01, "i8") == (0, 127)
    with pytest.raises(ValueError):
        fp.clamp_bounds("gelu", 0.1, "i8")


def test_lookup_table_matches_the_float_function():
    t = fp.lookup_table(np.tanh, 0.05, 1 / 127)
    assert t.shape == (256,) and t.dtype == np.int64
    codes = np.arange(-128, 128)
    assert np.array_equal(t, np.clip(np.rint(np.tanh(codes * 0.05) * 127), -128, 127))
    e = fp.lookup_table(np.exp, 0.1, 0.01)  # unbounded: saturates at the output range
    assert e[-1] == 127 and e[0] == 0
    assert fp.lookup_table(np.tanh, 1e-3, 1e-3, "i16", "i16").shape == (65536,)


def test_accumulator_width_is_proved():
    # int8 x int8: K * 128 * 127 < 2**31 up to K = 132104
    assert fp.accumulator_dtype(132104) == "i32"
    assert fp.accumulator_dtype(132105) == "i64"
    assert fp.accumulator_dtype(516, "i16") == "i32"
    assert fp.accumulator_dtype(517, "i16") == "i64"
    assert fp.accumulator_dtype(100, extra_absmax=2**31) == "i64"
    with pytest.raises(ValueError):
        fp.check_requantize_input(2**32)


def test_dequantize_is_one_rounding():
    q = np.array([1, -3, 127])
    assert np.array_equal(fp.dequantize_codes(q, 0.1), (q * 0.1).astype(np.float32))
    assert fp.dequantize_codes(q, 0.1).dtype == np.float32
    assert fp.scale_from_absmax(0.0) > 0
    assert fp.scale_from_absmax(12.7) == pytest.approx(0.1)


def test_import_without_torch():
    import subprocess
    import sys

    code = "import sys; sys.modules['torch'] = None; import irq.fixedpoint; print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


def test_identity_multiplier_is_the_rescale_by_one():
    """roll's concat and maximum / minimum's add / sub rescale by exactly 1 with these: they must be what
    quantize_multiplier gives for 1.0, and leave every int16 code unchanged."""
    m, s = fp.quantize_multiplier(1.0)
    assert (int(m), int(s)) == (fp.IDENTITY_MULTIPLIER, fp.IDENTITY_SHIFT)
    q = np.arange(-32768, 32768, dtype=np.int64)
    assert np.array_equal((q * fp.IDENTITY_MULTIPLIER + (1 << (fp.IDENTITY_SHIFT - 1))) >> fp.IDENTITY_SHIFT, q)


def _sum_codes(codes, m, s, lo, hi):
    """The bpu add with half_up rounding: ``clamp((sum c_i M_i + 2**(S-1)) >> S, lo, hi)`` in Python integers."""
    total = sum(int(c) * int(mi) for c, mi in zip(codes, m, strict=True))
    return min(max((total + (1 << (int(s) - 1))) >> int(s), lo), hi)


@pytest.mark.parametrize("mask_scale", [1e9 / 127, float(np.finfo(np.float32).max) / 127])
@pytest.mark.parametrize("other_dtype,out_dtype", [("i8", "i16"), ("i16", "i16"), ("i8", "i8")])
def test_a_huge_addend_saturates_with_the_capped_multiplier(mask_scale, other_dtype, out_dtype):
    """An additive mask of -1e9 / finfo.min (scale mask_scale) next to scores: with the capped multiplier every
    nonzero mask code gives the clamp bound of its sign, for every score code, as the exact sum does; a zero
    mask code gives the scores' own rescale, within one code of exact rational arithmetic.
    Bug caught: a cap below the saturation threshold (a masked score would stay inside the range)."""
    s_scores, s_out = 0.4165, 128 / 32767 if out_dtype == "i16" else 1 / 256
    reals = [s_scores / s_out, mask_scale / s_out]
    lo, hi = fp.qrange(out_dtype)
    absmax = [-fp.qrange(other_dtype)[0], 128]
    capped = fp.saturating_reals(reals, absmax, lo, hi)
    assert capped[0] == reals[0] and capped[1] < fp.MAX_REAL_MULTIPLIER <= reals[1]
    m, s = fp.common_shift_multipliers(capped)
    q_lo, q_hi = fp.qrange(other_dtype)
    scores = sorted({q_lo, q_lo + 1, -1, 0, 1, q_hi - 1, q_hi} | set(range(q_lo, q_hi + 1, (q_hi - q_lo) // 97)))
    for mask in (-128, -127, -1, 1, 127):
        for c in scores:
            assert _sum_codes((c, mask), m, s, lo, hi) == (lo if mask < 0 else hi), (c, mask)
    for c in scores:
        exact = min(max(int(np.floor(Fraction(c) * Fraction(reals[0]) + Fraction(1, 2))), lo), hi)
        assert abs(_sum_codes((c, 0), m, s, lo, hi) - exact) <= 1


def test_a_real_of_exactly_2_pow_30_is_capped():
    """2**30 itself has no multiplier (S would be 0): the boundary belongs to the capped side."""
    with pytest.raises(ValueError, match="too large"):
        fp.common_shift_multipliers([0.5, 2.0**30])
    capped = fp.saturating_reals([0.5, 2.0**30], [128, 128], -128, 127)
    assert capped[1] < fp.MAX_REAL_MULTIPLIER
    fp.common_shift_multipliers(capped)


def test_saturating_reals_leaves_representable_and_ambiguous_sums_alone():
    assert list(fp.saturating_reals([0.5, 3.0], [128, 128], -128, 127)) == [0.5, 3.0]
    two_huge = [2.0**31, 2.0**32]  # neither saturates regardless of the other: no single input to cap
    assert list(fp.saturating_reals(two_huge, [128, 128], -128, 127)) == two_huge
    # the other input alone can move the sum by 2**30 codes: no cap below 2**30 would saturate
    assert list(fp.saturating_reals([2.0**23, 2.0**40], [128, 128], -128, 127)) == [2.0**23, 2.0**40]
