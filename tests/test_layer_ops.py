"""bpu.pad and bpu.prelu, the ops added for users' layers: each runtime against an independent oracle.

- bpu.pad: torch.nn.functional.pad on the codes (torch is the definition the op copies), every mode,
  asymmetric and negative (cropping) amounts, on the reference and numba runtimes;
- bpu.prelu: the formula with exact Python integers (per channel and shared slope, every rounding mode,
  extreme codes), reference == numba == the formula;
- the parameter functions against float64: fp.batch_norm_parameters' weight x bias codes reproduce
  ``a x + b`` within half an output step, fp.prelu_parameters' multipliers the slopes;
- the verifiers reject malformed pads and multipliers with messages naming the problem.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import reference
from support.both_runtimes import run_both as _run_both
from support.bpu_text import ProgramText
from support.calibrated import calibrated

import irq
from irq import fixedpoint as fp

MODES = ["half_up", "half_even", "half_away", "floor"]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (2, 1, 0, 3), (0, 0, 1, 1), (3, 3, 2, 2)])
def test_pad_equals_torch_pad_on_codes(mode, pads):
    rng = np.random.default_rng(sum(pads))
    shape = (2, 3, 5, 4) if len(pads) == 4 else (3, 5, 4)  # torch's non-constant modes: 2 pads need 2-D/3-D
    x = rng.integers(-128, 128, size=shape).astype(np.int8)
    value = -7 if mode == "constant" else 0
    want = F.pad(torch.from_numpy(x.astype(np.float32)), pads, mode=mode, value=float(value)).numpy().astype(np.int8)
    p = ProgramText([("x", shape, "i8")])
    p.op("y", "bpu.pad", ["x"], (want.shape, "i8"), {"pad": list(pads), "mode": mode, "value": value})
    np.testing.assert_array_equal(_run_both(p.module(["y"]), x), want)


def test_constant_pad_crops_with_negative_amounts_as_torch_does():
    x = np.arange(2 * 3 * 6, dtype=np.int16).reshape(2, 3, 6) - 20
    want = F.pad(torch.from_numpy(x.astype(np.float32)), (-2, 1, 1, -1)).numpy().astype(np.int16)
    p = ProgramText([("x", x.shape, "i16")])
    p.op("y", "bpu.pad", ["x"], (want.shape, "i16"), {"pad": [-2, 1, 1, -1]})
    np.testing.assert_array_equal(_run_both(p.module(["y"]), x), want)


def _prelu_formula(x, m, mn, s, mode):
    """The dialect's formula on Python ints: rshift_round(x * (x >= 0 ? M : Mn), S), saturated to i8."""
    out = np.empty(x.shape, dtype=np.int64)
    lo, hi = -128, 127
    for idx in np.ndindex(*x.shape):
        c = idx[1] if len(m) > 1 else 0
        v = int(x[idx]) * int(m[c] if x[idx] >= 0 else mn[c])
        sh = int(s[c])
        q, r = divmod(v, 1 << sh)  # floor division: q = floor(v / 2**S), r in [0, 2**S)
        half = 1 << (sh - 1)
        if mode == "half_up":
            q += r >= half
        elif mode == "half_even":
            q += r > half or (r == half and q % 2 == 1)
        elif mode == "half_away":
            q += r > half or (r == half and q >= 0)
        out[idx] = min(max(q, lo), hi)
    return out


@given(channels=st.sampled_from([1, 4]), dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_prelu_equals_the_formula(channels, dtype, mode, extreme, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 4, 3, 5)
    lo, hi = (-128, 127) if dtype == "i8" else (-32768, 32767)
    x = (rng.choice([lo, hi, 0, -1], size=shape) if extreme else rng.integers(lo, hi + 1, size=shape))
    x = x.astype(np.int8 if dtype == "i8" else np.int16)
    m = rng.integers(2**29, 2**31, size=channels)
    mn = rng.integers(-(2**31) + 1, 2**31, size=channels)
    s = rng.integers(25, 36, size=channels)
    p = ProgramText([("x", shape, dtype)])
    p.op("y", "bpu.prelu", ["x"], (shape, "i8"), {"multiplier": ("array", m), "negative_multiplier": ("array", mn),
                                                  "shift": ("array", s), "rounding": mode})
    np.testing.assert_array_equal(_run_both(p.module(["y"]), x), _prelu_formula(x, m, mn, s, mode))


def test_batch_norm_parameters_reproduce_the_affine_map():
    rng = np.random.default_rng(0)
    c = 6
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    gamma[2] = 0.0  # a dead channel: code 0, output = beta
    mean, var = rng.normal(size=c), rng.uniform(0.1, 2.0, size=c)
    s_in, s_out = 0.03, 0.05
    w, b, m, s = fp.batch_norm_parameters(gamma, beta, mean, var, 1e-5, s_in, s_out)
    assert set(np.abs(w[[0, 1, 3, 4, 5]])) == {127} and w[2] == 0
    x = np.arange(-128, 128)
    a = gamma / np.sqrt(var + 1e-5)
    for ch in range(c):
        acc = x * w[ch] + b[ch]
        q = (acc * int(m[ch]) + (1 << (int(s[ch]) - 1))) >> int(s[ch])
        real = (a[ch] * x * s_in + beta[ch] - mean[ch] * a[ch]) / s_out
        assert np.abs(q - real).max() <= 0.5 + 1e-3, ch  # one rounding: within half an output step


def test_prelu_parameters_keep_each_slope_and_its_sign():
    slope = np.array([0.25, -0.3, 0.0, 1.5])
    m, mn, s = fp.prelu_parameters(slope, 0.02, 0.05)
    np.testing.assert_allclose(m / 2.0**s, 0.02 / 0.05, rtol=2**-30)
    np.testing.assert_allclose(mn / 2.0**s, slope * 0.02 / 0.05, rtol=2**-29, atol=2**-40)
    assert mn[1] < 0 and mn[2] == 0


@pytest.mark.parametrize("attrs,result,message", [
    ({"pad": [1, 1, 1]}, (2, 3, 6, 6), "pairs"),
    ({"pad": [4, 0], "mode": "reflect"}, (2, 3, 5, 8), "below the size"),
    ({"pad": [1, 1], "mode": "wrap"}, (2, 3, 5, 6), "mode must be one of"),
    ({"pad": [1, 1]}, (2, 3, 5, 7), "gives"),
    ({"pad": [1, 1], "value": 300}, (2, 3, 5, 6), "outside the i8 range"),
])
def test_pad_verifier_names_the_problem(attrs, result, message):
    p = ProgramText([("x", (2, 3, 5, 4), "i8")])
    p.op("y", "bpu.pad", ["x"], (result, "i8"), attrs)
    with pytest.raises(Exception, match=message):
        p.module(["y"])


def test_prelu_verifier_rejects_a_multiplier_out_of_range_and_wrong_channel_counts():
    p = ProgramText([("x", (1, 4, 2, 2), "i8")])
    p.op("y", "bpu.prelu", ["x"], ((1, 4, 2, 2), "i8"),
         {"multiplier": ("array", [2**30]), "negative_multiplier": ("array", [-(2**31)]), "shift": ("array", [31])})
    with pytest.raises(Exception, match="negative multiplier"):
        p.module(["y"])
    p = ProgramText([("x", (1, 4, 2, 2), "i8")])
    p.op("y", "bpu.prelu", ["x"], ((1, 4, 2, 2), "i8"),
         {"multiplier": ("array", [2**30] * 3), "negative_multiplier": ("array", [1] * 3),
          "shift": ("array", [31] * 3)})
    with pytest.raises(Exception, match="multiplier"):
        p.module(["y"])


def test_a_standalone_batch_norm_is_one_depthwise_1x1_conv_with_pm127_codes():
    """The lowering the VALIDATION semantics assume: groups = C, one weight code of +-127 per channel."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2), torch.nn.BatchNorm2d(4)).eval()
    x = torch.randn(2, 3, 8, 8)
    qat = irq.prepare(model, (x,), check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    program = irq.convert(qat)
    bn = [op for op in program.walk() if op.name == "bpu.conv2d" and op.get_attr("groups").value == 4]
    assert len(bn) == 1
    w = bn[0].operands[1].owner.get_attr("value").to_numpy()
    assert w.shape == (4, 1, 1, 1) and set(np.abs(w.ravel())) <= {0, 127}


def _round_rational(v, mode: str) -> int:
    """An exact rational rounded to an integer by a named mode (the fixed-point contract's four)."""
    import math
    if mode == "half_up":
        return math.floor(v + Fraction(1, 2))
    if mode == "half_even":
        return round(v)  # Fraction.__round__ rounds ties to even
    if mode == "half_away":
        return math.floor(abs(v) + Fraction(1, 2)) * (1 if v >= 0 else -1)
    return math.floor(v)


def _div_formula(a, b, m, s, mode="half_up", lo=-128, hi=127):
    """round(a * M / (b * 2**S)) by `mode` with Python's exact rationals; b = 0 saturates by a's sign."""
    out = np.empty(np.broadcast(a, b).shape, dtype=np.int64)
    for idx, (x, d) in zip(np.ndindex(*out.shape), np.broadcast(a, b)):
        x, d = int(x), int(d)
        if d == 0:
            q = hi if x > 0 else lo if x < 0 else 0
        else:
            q = _round_rational(Fraction(x * m, d * 2**s), mode)
        out[idx] = min(max(q, lo), hi)
    return out


def _rounding_attrs(mode: str) -> dict:
    return {} if mode == "half_up" else {"rounding": mode}


@given(dtype=st.sampled_from(["i8", "i16"]), bcast=st.booleans(), extreme=st.booleans(),
       ratio_exp=st.integers(-30, 12), mode=st.sampled_from(MODES), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_div_equals_exact_rational_rounding(dtype, bcast, extreme, ratio_exp, mode, seed):
    rng = np.random.default_rng(seed)
    lo, hi = (-128, 127) if dtype == "i8" else (-32768, 32767)
    shape, bshape = (2, 3, 4), ((1, 3, 1) if bcast else (2, 3, 4))
    npt = np.int8 if dtype == "i8" else np.int16
    a = (rng.choice([lo, hi, 0, 1, -1], size=shape) if extreme else rng.integers(lo, hi + 1, size=shape)).astype(npt)
    b = (rng.choice([lo, hi, 0, 1, -1], size=bshape) if extreme else rng.integers(lo, hi + 1, size=bshape)).astype(npt)
    m, s = fp.div_parameters(2.0**ratio_exp, 1.0, 1.0, dtype)
    p = ProgramText([("a", shape, dtype), ("b", bshape, dtype)])
    p.op("y", "bpu.div", ["a", "b"], (shape, "i8"), {"multiplier": m, "shift": s, **_rounding_attrs(mode)})
    np.testing.assert_array_equal(_run_both(p.module(["y"]), a, b), _div_formula(a, b, m, s, mode))


@pytest.mark.parametrize("mode", MODES)
def test_div_rounds_exact_ties_by_its_mode(mode):
    """M / 2**S = 1/2 makes every odd a / b = +-1 a tie (1.5, -2.5, ...): the four modes differ only there.
    bpu.div used to ignore `convert(rounding=...)` and always round half_up."""
    a = np.array([3, 5, -3, -5, 1, -1, 7, -7], dtype=np.int8)
    b = np.array([1, 1, 1, 1, 1, 1, -1, -1], dtype=np.int8)
    p = ProgramText([("a", a.shape, "i8"), ("b", b.shape, "i8")])
    p.op("y", "bpu.div", ["a", "b"], (a.shape, "i8"), {"multiplier": 2**30, "shift": 31, **_rounding_attrs(mode)})
    want = _div_formula(a, b, 2**30, 31, mode)
    assert len({tuple(_div_formula(a, b, 2**30, 31, k)) for k in MODES}) == 4  # the ties tell the modes apart
    np.testing.assert_array_equal(_run_both(p.module(["y"]), a, b), want)


@pytest.mark.parametrize("rounding", ["half_even", "floor"])
def test_convert_rounding_reaches_tensor_division(rounding):
    torch.manual_seed(0)

    class Ratio(torch.nn.Module):
        def forward(self, x):
            return x / (torch.sigmoid(x) + 0.5)

    x = torch.randn(2, 3, 4, 4)
    qat = calibrated(Ratio(), x, "default_calib_8bit")
    program = irq.convert(qat, march="nash", rounding=rounding)
    (div,) = [op for op in program.walk() if op.name == "bpu.div"]
    assert div.get_attr("rounding").value == rounding
    np.testing.assert_array_equal(irq.run(program, x.numpy()), reference.run(program, x.numpy())[0])


def test_div_parameters_cap_the_shift_so_the_division_fits_int64():
    m, s = fp.div_parameters(1.0, 2.0**20, 2.0**20, "i16")  # ratio 2**-40 needs S = 70 at full precision
    assert s == 45 and m == round(2**-40 * 2**45)
    assert fp.div_parameters(1.0, 1.0, 1.0, "i8")[1] <= 53
