"""arith folders agree with MLIR's own (C++, through iree-base-compiler's bindings).

Upstream files covered: mlir/test/Dialect/Arith/canonicalize.mlir (constant folding of the
binary, comparison, select and cast ops), mlir/test/Dialect/Arith/ops.mlir (their custom forms).

Each case is a function of constants; both irq's and MLIR's `canonicalize` fold it, and the
returned constants must be equal. Cases MLIR leaves unfolded (division by zero, over-wide
shifts) must stay unfolded in irq too: folding undefined behaviour to some number would be a
wrong number without an error.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irq

pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
from support.mlir_fold_oracle import (  # noqa: E402
    CMPF,
    CMPI,
    FLOAT_OPS,
    INT_OPS,
    check_folds,
    f32_literal,
    irq_fold,
    mlir_fold,
    returned_constants,
)


@settings(max_examples=40, deadline=None)
@given(width=st.sampled_from([8, 32, 64]), data=st.data())
def test_integer_folds_match_mlir(width: int, data):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    edge = st.sampled_from([0, 1, -1, 2, width - 1, width, lo, hi])
    a = data.draw(st.one_of(edge, st.integers(lo, hi)))
    b = data.draw(st.one_of(edge, st.integers(lo, hi)))
    t = f"i{width}"
    lines = [f"%a = arith.constant {a} : {t}", f"%b = arith.constant {b} : {t}"]
    results = []
    for op in INT_OPS:
        lines.append(f"%{op} = arith.{op} %a, %b : {t}")
        results.append((f"%{op}", t))
    for pred in CMPI:
        lines.append(f"%c_{pred} = arith.cmpi {pred}, %a, %b : {t}")
        results.append((f"%c_{pred}", "i1"))
    lines.append(f"%sel = arith.select %c_slt, %a, %b : {t}")
    results.append(("%sel", t))
    if width > 8:
        lines.append(f"%tr = arith.trunci %a : {t} to i8")
        results.append(("%tr", "i8"))
    if width < 64:
        lines += [f"%es = arith.extsi %a : {t} to i64", f"%eu = arith.extui %a : {t} to i64"]
        results += [("%es", "i64"), ("%eu", "i64")]
    undefined = set()
    if b == 0:
        undefined |= {"%divsi", "%divui", "%remsi", "%remui", "%ceildivsi", "%floordivsi"}
    if a == lo and b == -1:
        undefined |= {"%divsi", "%ceildivsi", "%floordivsi"}
    if not 0 <= b % (1 << width) < width:
        undefined |= {"%shli", "%shrsi", "%shrui"}
    check_folds(lines, results, frozenset(undefined))


FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan]), st.floats(-1e6, 1e6, width=32)
)


@settings(max_examples=40, deadline=None)
@given(a=FLOATS, b=FLOATS)
def test_float_folds_match_mlir(a: float, b: float):
    lines = [f"%a = arith.constant {f32_literal(a)} : f32", f"%b = arith.constant {f32_literal(b)} : f32"]
    results = []
    for op in FLOAT_OPS:
        lines.append(f"%{op} = arith.{op} %a, %b : f32")
        results.append((f"%{op}", "f32"))
    for pred in CMPF:
        lines.append(f"%c_{pred} = arith.cmpf {pred}, %a, %b : f32")
        results.append((f"%c_{pred}", "i1"))
    lines.append("%neg = arith.negf %a : f32")
    results.append(("%neg", "f32"))
    check_folds(lines, results)


def test_undefined_behaviour_is_not_folded():
    """MLIR leaves x / 0 and shifts by the width unfolded; so must irq (an op, not a number)."""
    text = """func.func @f() -> (i32, i32, i32) {
  %a = arith.constant 7 : i32
  %z = arith.constant 0 : i32
  %w = arith.constant 32 : i32
  %0 = arith.divsi %a, %z : i32
  %1 = arith.remui %a, %z : i32
  %2 = arith.shli %a, %w : i32
  return %0, %1, %2 : i32, i32, i32
}
"""
    assert returned_constants(irq_fold(text)) == ["arith.divsi", "arith.remui", "arith.shli"]
    assert returned_constants(irq.parse_module(mlir_fold(text))) == ["arith.divsi", "arith.remui", "arith.shli"]
