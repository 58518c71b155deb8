"""abs and neg as integer ops on both marches (passes/_lower_sign_ops.py): no table, one requantize of the codes.

The oracle is exact integer arithmetic on the codes: at one scale in and out, neg is ``-q`` and abs is ``|q|``,
saturated to the code range, so the one code with no opposite, the range's minimum, becomes its maximum
(neg(-128) = abs(-128) = 127 in int8, 32767 from -32768 in int16). At another output scale each code is
``round_half_up(+-q * s_in / s_out)``, checked against Python's exact rationals. Both runtimes run every program.

Bugs each catches: a wrapping negation (-(-128) stored as -128 in int8), a table or requantize whose multiplier
sign is lost (abs computed as identity or as neg), a rounding that is not one half-up rounding of the exact value.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from support.both_runtimes import run_both
from support.frozen import FrozenBuilder

import irq

LIMITS = {"i8": (-128, 127), "i16": (-32768, 32767)}


def _program(kind: str, dtype: str, s_in: float, s_out: float, march: str):
    n = LIMITS[dtype][1] - LIMITS[dtype][0] + 1
    b = FrozenBuilder([("x", (1, n))])
    xd = b.qdq("x", s_in, dtype)
    y = b.qdq(b.op(f"hl.{kind}", [xd], (1, n), attrs=f'owner = "{kind}"'), s_out, dtype)
    return irq.convert(b.module([y]), march=march)


def _all_codes(dtype: str) -> np.ndarray:
    lo, hi = LIMITS[dtype]
    return np.arange(lo, hi + 1, dtype=np.int64).reshape(1, -1)


@pytest.mark.parametrize("march", ["bayes", "nash"])
@pytest.mark.parametrize("dtype", ["i8", "i16"])
@pytest.mark.parametrize("kind", ["neg", "abs"])
def test_at_one_scale_the_codes_negate_exactly_and_the_minimum_saturates(kind, dtype, march):
    s = 0.05
    program = _program(kind, dtype, s, s, march)
    assert not any(op.name in ("bpu.lut", "bpu.constant") for op in program.walk())  # integer ops, no table
    q = _all_codes(dtype)
    got = np.rint(run_both(program, (q * s).astype(np.float32)) / s).astype(np.int64)
    lo, hi = LIMITS[dtype]
    want = np.clip(-q if kind == "neg" else np.abs(q), lo, hi)
    np.testing.assert_array_equal(got, want)
    assert got[0, 0] == hi  # neg(-128) = 127 / abs(-128) = 127: saturated, not wrapped to -128


@pytest.mark.parametrize("dtype", ["i8", "i16"])
@pytest.mark.parametrize("kind", ["neg", "abs"])
@pytest.mark.parametrize("ratio", [0.37, 1.9, 3.0])
def test_at_another_scale_each_code_is_one_half_up_rounding(kind, dtype, ratio):
    s_in = 0.02
    s_out = s_in * ratio
    program = _program(kind, dtype, s_in, s_out, "bayes")
    q = _all_codes(dtype)
    got = np.rint(run_both(program, (q * s_in).astype(np.float32)) / s_out).astype(np.int64)
    lo, hi = LIMITS[dtype]
    m, sh = irq.fixedpoint.quantize_multiplier(s_in / s_out)  # the multiplier the program holds
    real = Fraction(int(m), 1 << int(sh))
    for code, g in zip(q.ravel()[::37], got.ravel()[::37]):
        v = (-code if kind == "neg" else abs(int(code))) * real
        want = min(max((v + Fraction(1, 2)).__floor__(), lo), hi)
        assert g == want, (code, g, want)
