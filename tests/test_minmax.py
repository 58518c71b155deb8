"""torch.maximum / torch.minimum of two activations as integer code (passes/_lower_select.py): both operands
requantized to the output scale, then the larger / smaller code, on both runtimes.

Oracle: Python's exact rationals. Each operand's code is ``round_half_up(q * M / 2**S)`` with the multiplier the
program holds for ``s_in / s_out``, saturated to the output range, and the result is the max / min of the two.
Every pair of int8 codes is checked, at scales that make each side win and tie; int16 pairs at the range's
extremes and at random.

Bugs each catches: the sub/add composition off by one where the codes tie or saturate, the clamp on the wrong
side (maximum computed as minimum), an operand left at its own scale (no requantize), an intermediate that
wraps (the difference of two int8 codes does not fit int8), an int16 code pair saturated on the way.
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


@pytest.mark.parametrize("march", ["bayes", "nash"])
@pytest.mark.parametrize("kind", ["maximum", "minimum"])
@pytest.mark.parametrize("scales", [(1e-3, 2.5e-3, 1.5e-3), (2e-3, 2e-3, 2e-3), (4e-3, 1e-3, 3e-3)])
def test_int16_code_pairs_equal_the_exact_rational_oracle(kind, scales, march):
    """int16 since issue 12 (bpu.compare + bpu.select need no wider dtype than the codes; the old a' + clamp(b' - a')
    needed an i32 difference): the extremes of the range against each other, and 20000 random pairs."""
    s_a, s_b, s_out = scales
    edges = np.array([-32768, -32767, -1, 0, 1, 32766, 32767], dtype=np.int64)
    rng = np.random.default_rng(0)
    qa = np.concatenate([np.repeat(edges, edges.size), rng.integers(-32768, 32768, 20000)]).reshape(1, -1)
    qb = np.concatenate([np.tile(edges, edges.size), rng.integers(-32768, 32768, 20000)]).reshape(1, -1)
    program = _program(kind, "i16", s_a, s_b, s_out, qa.size, march)
    assert {"bpu.compare", "bpu.select"} <= {op.name for op in program.walk()}
    got = np.rint(run_both(program, (qa * s_a).astype(np.float32), (qb * s_b).astype(np.float32)) / s_out)
    pick = max if kind == "maximum" else min
    want = np.array([pick(_rq(int(x), s_a, s_out, "i16"), _rq(int(y), s_b, s_out, "i16"))
                     for x, y in zip(qa.ravel(), qb.ravel())]).reshape(got.shape)
    np.testing.assert_array_equal(got.astype(np.int64), want)
