"""torch.maximum / torch.minimum of two activations as integer code (passes/_lower_minmax.py): both operands
requantized to the output scale, then the larger / smaller code, on both runtimes.

Oracle: Python's exact rationals. Each operand's code is ``round_half_up(q * M / 2**S)`` with the multiplier the
program holds for ``s_in / s_out``, saturated to the output range, and the result is the max / min of the two.
Every pair of int8 codes is checked, at scales that make each side win and tie; int16 operands are refused.

Bugs each catches: the sub/add composition off by one where the codes tie or saturate, the clamp on the wrong
side (maximum computed as minimum), an operand left at its own scale (no requantize), an intermediate that
wraps (the difference of two int8 codes does not fit int8).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from support.both_runtimes import run_both
from support.frozen import FrozenBuilder

import irq
from irq import fixedpoint as fp

LIMITS = {"i8": (-128, 127), "i16": (-32768, 32767)}


def _program(kind: str, dtype: str, s_a: float, s_b: float, s_out: float, n: int, march: str):
    b = FrozenBuilder([("a", (1, n)), ("b", (1, n))])
    ad, bd = b.qdq("a", s_a, dtype), b.qdq("b", s_b, dtype)
    y = b.qdq(b.op(f"torch.{kind}", [ad, bd], (1, n)), s_out, dtype)
    return irq.convert(b.module([y]), march=march)


def _rq(code: int, s_in: float, s_out: float, dtype: str) -> int:
    m, s = fp.quantize_multiplier(s_in / s_out)
    v = code * Fraction(int(m), 1 << int(s))
    lo, hi = LIMITS[dtype]
    return min(max((v + Fraction(1, 2)).__floor__(), lo), hi)


@pytest.mark.parametrize("march", ["bayes", "nash"])
@pytest.mark.parametrize("kind", ["maximum", "minimum"])
@pytest.mark.parametrize("scales", [(0.03, 0.05, 0.04), (0.05, 0.05, 0.05), (0.1, 0.02, 0.03)])
def test_every_int8_code_pair_equals_the_exact_rational_oracle(kind, scales, march):
    s_a, s_b, s_out = scales
    codes = np.arange(-128, 128, dtype=np.int64)
    qa, qb = np.repeat(codes, 256).reshape(1, -1), np.tile(codes, 256).reshape(1, -1)
    program = _program(kind, "i8", s_a, s_b, s_out, qa.size, march)
    assert not any(op.dialect_name in ("hl", "torch") for op in program.walk())  # integer code only
    got = np.rint(run_both(program, (qa * s_a).astype(np.float32), (qb * s_b).astype(np.float32)) / s_out)
    ra = {int(c): _rq(int(c), s_a, s_out, "i8") for c in codes}
    rb = {int(c): _rq(int(c), s_b, s_out, "i8") for c in codes}
    pick = max if kind == "maximum" else min
    want = np.array([pick(ra[int(x)], rb[int(y)]) for x, y in zip(qa.ravel(), qb.ravel())]).reshape(got.shape)
    np.testing.assert_array_equal(got.astype(np.int64), want)


@pytest.mark.parametrize("kind", ["maximum", "minimum"])
def test_int16_operands_are_refused_by_name(kind):
    """The difference of two int16 codes needs an int32 bpu.sub cannot produce: the march check refuses it
    before lowering (a saturated difference would be a wrong code without an error)."""
    with pytest.raises(irq.transform.PassFailure, match=rf"torch.{kind}.*i16.*march 'bayes' supports i8"):
        _program(kind, "i16", 1e-3, 2.5e-3, 1.5e-3, 8, "bayes")
