"""Verifier gaps (issue 14, item 4): values MLIR rejects are rejected, and a crashing
verify hook is reported as a bug in the hook, at its op and at the hook's own line."""

from __future__ import annotations

import pytest

import irq
from irq.ir.attributes import BoolAttr, IntegerAttr
from irq.ir.dialect import Dialect, default_context
from irq.ir.opdef import Op, attribute, result
from irq.ir.types import IndexType, TensorType, TupleType, VectorType, f32, i1, i32


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ('"t.op"() {a = 2 : i1} : () -> ()', 15, "out of range for i1"),
        # a negative literal's range error is at its digits, after the `-`, as MLIR C++ reports it
        ('"t.op"() {a = -2 : i1} : () -> ()', 16, "out of range for i1"),
        ('"t.op"() {a = 151115727451828646838272 : index} : () -> ()', 15, "out of range for index"),
        ('"t.op"() {a = -9223372036854775809 : index} : () -> ()', 16, "out of range for index"),
        ('"t.op"() : () -> tensor<4xtensor<2xf32>>', 18, "invalid tensor element type"),
        ('"t.op"() : () -> tensor<4xnone>', 18, "invalid tensor element type"),
        ('"t.op"() : () -> vector<4xtensor<2xf32>>', 18, "invalid vector element type"),
    ],
)
def test_values_mlir_rejects_are_parse_errors(text, column, fragment):
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text, filename="v.mlir")
    assert (info.value.line, info.value.column) == (1, column)
    assert fragment in info.value.message


def test_boundary_values_are_accepted():
    m = irq.parse_module(
        '"t.op"() {a = 1 : i1, b = 0 : i1, c = -9223372036854775808 : index, '
        "d = 18446744073709551615 : index} : () -> tensor<4x!quant.uniform<i8:f32, 0.1>>"
    )
    op = next(iter(m.body.ops))
    assert op.attributes["a"] == BoolAttr(True) and op.attributes["d"].value == (1 << 64) - 1
    assert TensorType([2], TensorType([2], f32).element_type) is TensorType([2], f32)


def test_constructors_reject_what_the_parser_rejects():
    with pytest.raises(ValueError, match="i1"):
        IntegerAttr(2, i1)
    with pytest.raises(ValueError, match="index"):
        IntegerAttr(1 << 64, IndexType())
    with pytest.raises(ValueError, match="tensor element"):
        TensorType([4], TensorType([2], f32))
    with pytest.raises(ValueError, match="tensor element"):
        TensorType([4], TupleType([i32]))
    with pytest.raises(ValueError, match="vector element"):
        VectorType([4], TupleType([]))


_CRASH = Dialect("crash")


@_CRASH.op
class Divide(Op):
    """Verify hook with a bug: divides by an attribute that may be zero."""

    name = "crash.divide"
    by = attribute(IntegerAttr)
    out = result()

    def verify_op(self) -> None:
        if 100 // self.by.value > 10:
            raise self.error("divisor too small")


def test_crashing_verify_hook_is_reported_as_a_hook_bug_at_its_line():
    ctx = default_context().copy()
    ctx.load(_CRASH)
    m = irq.parse_module('%0 = "crash.divide"() {by = 0 : i64} : () -> i32', "c.mlir", context=ctx)
    with pytest.raises(irq.VerifyError) as info:
        irq.verify(m)
    d = info.value.diagnostics[0]
    assert d.location.file_line_col() == ("c.mlir", 1, 6)  # the op name, where MLIR locates an op
    assert "'crash.divide' op could not be verified: its verifier crashed in verify_op" in d.message
    assert "test_verifier_gaps.py:" in d.message and "ZeroDivisionError" in d.message
    assert "bug in the verifier" in d.message
    # the hook's own rejection is an ordinary diagnostic
    m = irq.parse_module('%0 = "crash.divide"() {by = 5 : i64} : () -> i32', "c.mlir", context=ctx)
    with pytest.raises(irq.VerifyError, match="divisor too small"):
        irq.verify(m)
