"""bf16 literals round once, from the decimal's double, to nearest-even: the same value whether
written as a scalar attribute or inside `dense<[...]>` (dense lists once went through f32
first and rounded twice: 1 + 2^-8 + 2^-30 became 1.0 instead of 1.0078125).

Oracle: exact rational arithmetic (fractions), independent of numpy and of irq's bit tricks.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import irq


def bf16_oracle(x: float) -> float:
    """Nearest bf16 (8 significant bits) to x, ties to even; x normal and in range."""
    if x == 0:
        return x
    e = math.floor(math.log2(abs(x))) - 7
    q = Fraction(x) / Fraction(2) ** e
    if abs(q) >= 256:  # log2 rounding at a power of two
        e += 1
        q /= 2
    return float(round(q) * Fraction(2) ** e)  # Fraction rounds half to even


def parsed(x: float) -> tuple[float, float]:
    t = f"{x:.17e}"  # MLIR's float syntax needs the '.'; 17 digits give the double back exactly
    m = irq.parse_module(f'"t.c"() {{d = dense<[{t}, 0.0]> : tensor<2xbf16>, s = {t} : bf16}} : () -> ()')
    op = next(iter(m.body.ops))
    return float(op.attributes["d"].to_numpy()[0]), op.attributes["s"].value


def test_double_rounding_case():
    x = 1 + 2**-8 + 2**-30
    assert parsed(x) == (1.0078125, 1.0078125) == (bf16_oracle(x),) * 2


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-30, max_value=1e30) | st.floats(min_value=-1e30, max_value=-1e-30))
def test_dense_and_scalar_bf16_agree_with_exact_rounding(x):
    expected = bf16_oracle(x)
    assert parsed(x) == (expected, expected)
