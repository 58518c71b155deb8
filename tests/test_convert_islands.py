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
from support.both_runtimes import run_both as _run_both
from support.bpu_text import ProgramText

import irq
from irq import fixedpoint as fp


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


# -- bpu.int_div ----------------------------------------------------------------------------------------
@given(mode=st.sampled_from(["floor", "trunc"]), dtype=st.sampled_from(["i8", "i16"]), bcast=st.booleans(),
       extreme=st.booleans(), ratio_exp=st.integers(-12, 8), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_int_div_equals_torch_rounded_division(mode, dtype, bcast, extreme, ratio_exp, seed):
    """With s_a / s_b a power of two the multiplier is exact, so the quotient must be torch.div's own
    floor / trunc of the real values (float64 is exact here), saturated to the i16 output at scale 1;
    b = 0 saturates by a's sign (torch: +-inf) and 0 / 0 is 0 (torch: nan)."""
    import torch
    rng = np.random.default_rng(seed)
    shape, bshape = (2, 3, 4), ((1, 3, 1) if bcast else (2, 3, 4))
    a, b = _codes(rng, shape, dtype, extreme), _codes(rng, bshape, dtype, extreme)
    m, dv, s, mo, so = fp.int_div_parameters(2.0**ratio_exp, 1.0, 1.0)
    p = ProgramText([("a", shape, dtype), ("b", bshape, dtype)])
    p.op("y", "bpu.int_div", ["a", "b"], (shape, "i16"),
         {"rounding_mode": mode, "multiplier": m, "divisor": dv, "shift": s, "out_multiplier": mo, "out_shift": so})
    got = _run_both(p.module(["y"]), a, b)
    with np.errstate(all="ignore"):
        real_a, real_b = torch.from_numpy(a.astype(np.float64)) * 2.0**ratio_exp, torch.from_numpy(b.astype(np.float64))
        want = torch.div(real_a, real_b, rounding_mode=mode).numpy()
    want = np.clip(np.nan_to_num(want, nan=0.0, posinf=1e9, neginf=-1e9), -32768, 32767)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rounding", ["half_up", "half_even", "floor"])
def test_int_div_requantizes_the_exact_quotient(rounding):
    """The quotient k (Python's exact rationals) times M_out / 2**S_out, rounded once, for a ratio and an
    output scale that are not powers of two, a divisor of each sign and a constant divisor."""
    from fractions import Fraction
    rng = np.random.default_rng(3)
    shape = (3, 17)
    a, b = _codes(rng, shape, "i8", False), _codes(rng, shape, "i8", False)
    m, dv, s, mo, so = fp.int_div_parameters(0.037, 0.011, 0.7)
    p = ProgramText([("a", shape, "i8"), ("b", shape, "i8")])
    attrs = {"multiplier": m, "divisor": dv, "shift": s, "out_multiplier": mo, "out_shift": so, "rounding": rounding}
    p.op("f", "bpu.int_div", ["a", "b"], (shape, "i8"), {"rounding_mode": "floor", **attrs})
    p.op("t", "bpu.int_div", ["a", "b"], (shape, "i8"), {"rounding_mode": "trunc", **attrs})
    c = p.const("c", np.array([-1]), "i8")
    p.op("n", "bpu.int_div", ["a", c], (shape, "i8"), {"rounding_mode": "floor", **attrs})
    prog = p.module(["f", "t", "n"])
    ref = reference.run(prog, a, b)
    for r, g in zip(ref, rn.compile(prog)(a, b)):
        np.testing.assert_array_equal(g, r)

    def requant(k: int) -> int:
        v = k * mo
        q = {"half_up": (v + 2 ** (so - 1)) >> so, "floor": v >> so}.get(rounding)
        if q is None:  # half_even
            q = round(Fraction(v, 2**so))
        return min(max(q, -128), 127)

    for out, divisor, trunc in ((ref[0], b, False), (ref[1], b, True), (ref[2], np.full(shape, -1), False)):
        want = np.empty(shape, np.int64)
        for idx in np.ndindex(*shape):
            x, d = int(a[idx]), int(divisor[idx])
            if d == 0:
                k = (2**31 - 1) * (1 if x > 0 else -1 if x < 0 else 0)
            else:
                q = Fraction(x * m, d * dv) / Fraction(2) ** s
                k = (int(q) if trunc else q.numerator // q.denominator)
            want[idx] = requant(k)
        np.testing.assert_array_equal(out, want)


#: float32 scale pairs (s_a, s_b): ratios that are not powers of two near one, far above and far below one,
#: and at float32's extremes (subnormal, largest exponents): the quotient clamp and |S| up to 276
_EXACT_SCALE_PAIRS = [(0.3, 0.1), (0.7, 0.1), (0.037, 0.011), (0.1, 0.3), (3.1e4, 1.7e-6), (1.3e-7, 2.9e3),
                      (2.0**-149 * 3, 1.7e38), (3.0e38, 2.0**-149 * 5), (1.0, 1.0)]


def _codes_at_extremes(dtype: str, rng) -> np.ndarray:
    lo, hi = (-128, 127) if dtype == "i8" else (-32768, 32767)
    if dtype == "i8":
        return np.arange(lo, hi + 1)
    edges = [lo, lo + 1, lo + 2, -3, -2, -1, 0, 1, 2, 3, hi - 2, hi - 1, hi]
    return np.unique(np.concatenate([edges, rng.integers(lo, hi + 1, 150)]))


@pytest.mark.parametrize("dtype", ["i8", "i16"])
@pytest.mark.parametrize("sa,sb", _EXACT_SCALE_PAIRS)
def test_int_div_is_torchs_floor_and_trunc_of_the_exact_real_quotient(sa, sb, dtype):
    """Every pair of codes (all of i8, i16's extremes and a sample), floor and trunc: the quotient equals the
    floor / trunc of ``a s_a / (b s_b)`` in Python's exact integers, the scales as the float32 values they are.
    Bug caught: a 31-bit multiplier ``~ s_a / s_b`` put quotients within 2**-31 of an integer on the wrong
    side (e.g. s_a / s_b = 0.7f / 0.1f: -128 x ratio is just below an integer), and a shift or long-division
    step that overflows int64 at the extreme ratios."""
    from fractions import Fraction
    rng = np.random.default_rng(7)
    codes = _codes_at_extremes(dtype, rng)
    a, b = (v.ravel().astype(np.int64) for v in np.meshgrid(codes, codes, indexing="ij"))
    n = a.size
    fa, fb = Fraction(float(np.float32(sa))), Fraction(float(np.float32(sb)))
    ratio = fa / fb
    p_num, p_den = ratio.numerator, ratio.denominator
    outs = {}
    p = ProgramText([("a", (n,), dtype), ("b", (n,), dtype)])
    for mode in ("floor", "trunc"):
        for s_out in (1.0, 2.0**14):  # k itself within i16, and floor(k / 2**14) to see large quotients
            m, dv, s, mo, so = fp.int_div_parameters(sa, sb, s_out)
            assert Fraction(mo, 2**so) == 1 / Fraction(s_out)  # the requantize is exact: the output is k's
            assert Fraction(m, dv) / Fraction(2) ** s == ratio
            name = f"{mode}{int(s_out)}"
            p.op(name, "bpu.int_div", ["a", "b"], ((n,), "i16"),
                 {"rounding_mode": mode, "multiplier": m, "divisor": dv, "shift": s, "out_multiplier": mo,
                  "out_shift": so, "rounding": "floor"})
            outs[name] = (mode, s_out)
    got = dict(zip(outs, reference.run(p.module(list(outs)), a.astype(f"int{dtype[1:]}"), b.astype(f"int{dtype[1:]}"))))
    numba_got = rn.compile(p.module(list(outs)))(a.astype(f"int{dtype[1:]}"), b.astype(f"int{dtype[1:]}"))
    for (name, g), ng in zip(got.items(), numba_got):
        np.testing.assert_array_equal(ng, g, err_msg=name)
    limit = 2**31 - 1
    for name, (mode, s_out) in outs.items():
        want = np.empty(n, np.int64)
        for i, (x, d) in enumerate(zip(a.tolist(), b.tolist())):
            if d == 0:
                k = limit * ((x > 0) - (x < 0))
            else:
                num, den = x * p_num * (1 if d > 0 else -1), abs(d) * p_den  # a s_a / (b s_b), exactly
                k = num // den if mode == "floor" or num >= 0 else -((-num) // den)
                k = max(-limit, min(limit, k))
            want[i] = min(32767, max(-32768, k // int(s_out)))
        np.testing.assert_array_equal(got[name], want, err_msg=f"{name} s_a={sa} s_b={sb}")


def test_int_div_quotient_just_off_an_integer():
    """The case the 31-bit multiplier got wrong (found by a search over float32 scale pairs and i16 codes):
    -27116 x 0.96279883f / (127 x 0.08154261f) = -2521.00000003..., whose floor is -2522; ``M / 2**S`` rounded
    to 31 bits lands the product on the other side of -2521."""
    from fractions import Fraction
    sa, sb, x, d = 0.9627988338470459, 0.08154261112213135, -27116, 127
    exact = Fraction(float(np.float32(sa))) * x / (Fraction(float(np.float32(sb))) * d)
    assert exact.numerator // exact.denominator == -2522 and -2522 < exact < -2521
    m31, s31 = (int(np.ravel(v)[0]) for v in fp.quantize_multiplier(np.float64(sa) / np.float64(sb)))
    assert (x * m31) // (d << s31) == -2521  # the old parameters' answer: the case is a real one
    m, dv, s, mo, so = fp.int_div_parameters(sa, sb, 1.0)
    p = ProgramText([("a", (2,), "i16"), ("b", (2,), "i16")])
    for mode in ("floor", "trunc"):
        p.op(mode, "bpu.int_div", ["a", "b"], ((2,), "i16"),
             {"rounding_mode": mode, "multiplier": m, "divisor": dv, "shift": s, "out_multiplier": mo,
              "out_shift": so})
    prog = p.module(["floor", "trunc"])
    a, b = np.array([x, -x], np.int16), np.array([d, d], np.int16)
    for got in (reference.run(prog, a, b), rn.compile(prog)(a, b)):
        np.testing.assert_array_equal(got[0], [-2522, 2521])  # floor of -2521.00..03 and of +2521.00..03
        np.testing.assert_array_equal(got[1], [-2521, 2521])  # trunc


def test_int_div_verifier_names_the_problem():
    def build(**attrs):
        p = ProgramText([("a", (2, 3), "i8"), ("b", (2, 3), "i8")])
        base = {"rounding_mode": "floor", "multiplier": 1 << 30, "shift": 30, "out_multiplier": 1 << 30,
                "out_shift": 30}
        p.op("y", "bpu.int_div", ["a", "b"], ((2, 3), "i8"), {**base, **attrs})
        return p.module(["y"])
    build()
    with pytest.raises(irq.VerifyError, match="rounding_mode must be one of floor, trunc, got 'round'"):
        build(rounding_mode="round")
    with pytest.raises(irq.VerifyError, match=r"shift 321 is outside \[-320, 320\]"):
        build(shift=321)
    with pytest.raises(irq.VerifyError, match=r"divisor 0 is outside \[1, 2\^31\)"):
        build(divisor=0)
    build(shift=-40, divisor=13421773)  # a ratio above one (S < 0) with an odd mantissa divisor is valid
    with pytest.raises(irq.VerifyError, match=r"out_shift 0 is outside \[1, 62\]"):
        build(out_shift=0)


# -- bpu.log_softmax ------------------------------------------------------------------------------------
def _log_softmax_program(shape, dim, in_dtype, out_dtype, s_in, s_out, rounding="half_up", log_table=None):
    exp_table, table, m, m_log, s = fp.log_softmax_parameters(s_in, in_dtype, s_out)
    log_table = table if log_table is None else log_table
    p = ProgramText([("x", shape, in_dtype)])
    p.const("e", exp_table, "i32")
    p.const("l", log_table, "i32")
    p.op("y", "bpu.log_softmax", ["x", "e", "l"], (shape, out_dtype),
         {"dim": dim, "exp_bits": fp.LOG_SOFTMAX_EXP_BITS, "log_frac_bits": fp.LOG_SOFTMAX_FRAC_BITS,
          "multiplier": m, "log_multiplier": m_log, "shift": s, "rounding": rounding})
    return p.module(["y"]), (m, m_log, s)


@given(in_dtype=st.sampled_from(["i8", "i16"]), out_dtype=st.sampled_from(["i8", "i16"]), dim=st.integers(-3, 2),
       s_in_exp=st.floats(-12.0, -2.0), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_log_softmax_is_within_its_stated_bound_of_torch_float64(in_dtype, out_dtype, dim, s_in_exp, extreme, seed):
    """Every output code is within 0.5 (the final rounding) plus fp.log_softmax_parameters' stated bound of
    torch's float64 log_softmax of the dequantized inputs (saturated to the output range), on both runtimes."""
    import torch
    rng = np.random.default_rng(seed)
    shape = (2, 5, 6)
    x = _codes(rng, shape, in_dtype, extreme)
    s_in = 2.0**s_in_exp * (1 + rng.random())
    real = torch.log_softmax(torch.from_numpy(x.astype(np.float64)) * s_in, dim).numpy()
    lo, hi = fp.qrange(out_dtype)
    s_out = max(-real.min(), 1e-3) / -lo * (0.5 + rng.random())  # sometimes too small: saturation is tested too
    prog, (m, m_log, s) = _log_softmax_program(shape, dim, in_dtype, out_dtype, s_in, s_out)
    got = _run_both(prog, x).astype(np.float64)
    n = shape[dim]
    b, e, f = fp.LOG_SOFTMAX_INDEX_BITS, fp.LOG_SOFTMAX_EXP_BITS, fp.LOG_SOFTMAX_FRAC_BITS
    d = (x.astype(np.int64) - x.astype(np.int64).max(axis=dim, keepdims=True)).astype(np.float64)
    log2_sum = (d * s_in - real) / np.log(2) * 2.0**f + 2.0**f  # |L|, with a table step of slack
    bound = (-np.log1p(-(n - 1) * 2.0 ** -(e + 1)) + 2.0 ** -(b + 1) + np.log(2) * 2.0 ** -(f + 1)) / s_out \
        + np.abs(d) * abs(m * 2.0**-s - s_in / s_out) + log2_sum * abs(m_log * 2.0**-s - np.log(2) * 2.0**-f / s_out)
    want = np.clip(real / s_out, lo, hi)
    err = np.abs(got - want)
    assert np.all(err <= 0.5 + bound + 1e-9), float((err - bound).max())
    assert float(bound.max()) * s_out < 0.0006  # the docstring's figure: below 0.0006 in real (ln) units


def test_log_softmax_bound_is_tight_enough_to_catch_a_wrong_log():
    """The bound is tight enough to matter: a log table off by 200 units of 2**-16 (about two index steps of
    2**-10 / ln 2) moves a fine-scaled output beyond it."""
    import torch
    x = np.array([[0, -40, -90, 17, 3, -128, 127, 60]], np.int8)
    prog, _ = _log_softmax_program(x.shape, 1, "i8", "i16", 0.05, 1e-3)
    good = reference.run(prog, x)[0].astype(np.int64)
    real = torch.log_softmax(torch.from_numpy(x.astype(np.float64)) * 0.05, 1).numpy() / 1e-3
    assert np.abs(good - real).max() < 0.5 + 0.6  # 0.0006 / s_out
    table = fp.log_softmax_parameters(0.05, "i8", 1e-3)[1]
    wrong, _ = _log_softmax_program(x.shape, 1, "i8", "i16", 0.05, 1e-3, log_table=np.minimum(table + 200, 2**16))
    assert np.abs(reference.run(wrong, x)[0].astype(np.int64) - real).max() > 0.5 + 0.6


# -- exp tables: the verifier hole (bpu.softmax divided by zero on a table with 0 at exp(0)) ------------
def test_softmax_rejects_an_exp_table_with_zero_at_exp0():
    table = np.rint(np.exp(np.arange(-255, 1) * 0.1) * 2**15).astype(np.int64)
    for bad, message in ((0, "exp_table's last entry .exp.0.* must be positive"), (None, None)):
        t = table.copy()
        if bad is not None:
            t[-1] = bad
        p = ProgramText([("x", (2, 4), "i8")])
        p.const("e", t, "i32")
        p.op("y", "bpu.softmax", ["x", "e"], ((2, 4), "i8"), {"dim": 1, "multiplier": 1 << 30, "shift": 30})
        if message is None:
            p.module(["y"])
        else:
            with pytest.raises(irq.VerifyError, match=message):
                p.module(["y"])


@pytest.mark.parametrize("change,message", [
    ({"exp_bits": 29}, r"exp_table entries must lie in \[0, 2\^exp_bits = 2\^29\]"),
    ({"exp_bits": 5}, r"exp_bits must be in \[11, 30\]"),
    ({"log_frac_bits": 0}, r"log_frac_bits must be in \[1, 24\]"),
    ({"shift": 0}, r"shift 0 is outside \[1, 62\]"),
])
def test_log_softmax_verifier_names_the_problem(change, message):
    exp_table, log_table, m, m_log, s = fp.log_softmax_parameters(0.1, "i8", 0.1)
    attrs = {"dim": 1, "exp_bits": 30, "log_frac_bits": 16, "multiplier": m, "log_multiplier": m_log, "shift": s,
             **change}
    p = ProgramText([("x", (2, 4), "i8")])
    p.const("e", exp_table, "i32")
    p.const("l", log_table, "i32")
    p.op("y", "bpu.log_softmax", ["x", "e", "l"], ((2, 4), "i8"), attrs)
    with pytest.raises(irq.VerifyError, match=message):
        p.module(["y"])
