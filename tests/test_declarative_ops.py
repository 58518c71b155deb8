"""Declarative op definitions: operands, results, attributes, regions, segments, verification."""

from __future__ import annotations

import pytest

import irq
from irq.ir import (
    Block,
    Context,
    DenseArrayAttr,
    Dialect,
    FloatType,
    IntegerAttr,
    IntegerType,
    Op,
    StringAttr,
    attribute,
    operand,
    optional_operand,
    region,
    result,
    variadic_operand,
    variadic_result,
)
from irq.ir.traits import Pure
from irq.ir.types import f32, i32, i64

# ----------------------------------------------------------------------------- declarative ops
TST = Dialect("tst", "ops defined by the IR object tests")


@TST.op
class MixOp(Op):
    """An op with every kind of operand group and attributes with defaults."""

    name = "tst.mix"
    traits = frozenset({Pure})
    a = operand(IntegerType)
    b = optional_operand()
    c = variadic_operand(FloatType)
    out = result()
    k = attribute(IntegerAttr, default=7)
    label = attribute(StringAttr, optional=True)
    req = attribute(StringAttr)

    def verify_op(self) -> None:
        if self.k.value < 0:
            raise self.error("k must be non-negative")


@TST.op
class PackOp(Op):
    """Variadic operands with a declarative assembly format."""

    name = "tst.pack"
    xs = variadic_operand()
    r = result()
    count = attribute(IntegerAttr, default=0)
    assembly_format = "$xs attr-dict `:` type($xs) `->` type($r)"


@TST.op
class SplitOp(Op):
    """One operand, variadic results, a region."""

    name = "tst.split"
    x = operand()
    parts = variadic_result()
    body = None  # not a member: plain class attributes are allowed
    inner = region()


def tst_context() -> Context:
    base = irq.default_context()
    return Context([*base.dialects.values(), TST])


class TestDeclarativeOps:
    def values(self):
        blk = Block([i32, i32, f32, f32])
        return blk, blk.args

    def test_constructor_and_accessors(self):
        blk, (x, y, z, w) = self.values()
        op = MixOp(x, None, [z, w], result_types=[i32], req="hi")
        assert op.a is x and op.b is None and op.c == (z, w)
        assert op.operands == (x, z, w)
        assert list(op.properties["operandSegmentSizes"]) == [1, 0, 2]
        assert op.k == IntegerAttr(7) and "k" not in op.properties  # default, not stored
        assert op.label is None and op.req == StringAttr("hi")
        assert op.out is op.result and op.out.type is i32
        op2 = MixOp(a=x, b=y, c=[z], result_types=[i32], req="x", k=3, label="l")
        assert op2.b is y and op2.c == (z,) and op2.k == IntegerAttr(3) and op2.label == StringAttr("l")
        op2.k = 9
        assert op2.properties["k"] == IntegerAttr(9)
        op2.a = y
        assert op2.operands[0] is y and x.num_uses == 1
        op2.label = None
        assert op2.label is None

    def test_constructor_rejects_bad_arguments(self):
        _, (x, y, z, w) = self.values()
        with pytest.raises(TypeError):
            MixOp(result_types=[i32], req="r")           # missing operand 'a'
        with pytest.raises(TypeError):
            MixOp(x, result_types=[i32], req="r", bogus=1)
        with pytest.raises(TypeError):
            MixOp(x, a=x, result_types=[i32], req="r")
        with pytest.raises(TypeError):
            MixOp(x, req="r")                             # result type cannot be inferred

    def test_structural_verification(self):
        blk, (x, y, z, w) = self.values()
        ok = blk.append(MixOp(x, y, [z], result_types=[i32], req="r"))
        irq.verify(ok)
        missing = blk.append(MixOp(x, None, [], result_types=[i32]))
        with pytest.raises(irq.VerifyError, match="requires attribute 'req'"):
            irq.verify(missing)
        wrong = blk.append(MixOp(z, None, [], result_types=[i32], req="r"))
        with pytest.raises(irq.VerifyError, match="operand 'a' must be integer"):
            irq.verify(wrong)
        wrong_c = blk.append(MixOp(x, None, [x], result_types=[i32], req="r"))
        with pytest.raises(irq.VerifyError, match="operand 'c' must be float"):
            irq.verify(wrong_c)
        neg = blk.append(MixOp(x, None, [], result_types=[i32], req="r", k=-1))
        with pytest.raises(irq.VerifyError, match="k must be non-negative"):
            irq.verify(neg)
        bad_attr = blk.append(MixOp(x, None, [], result_types=[i32], req="r"))
        bad_attr.properties["k"] = StringAttr("seven")
        with pytest.raises(irq.VerifyError, match="attribute 'k' must be IntegerAttr"):
            irq.verify(bad_attr)
        bad_seg = blk.append(MixOp(x, None, [z], result_types=[i32], req="r"))
        bad_seg.properties["operandSegmentSizes"] = DenseArrayAttr(i32, [1, 1, 1])
        with pytest.raises(irq.VerifyError, match="operandSegmentSizes"):
            irq.verify(bad_seg)

    def test_round_trip_through_text(self):
        ctx = tst_context()
        text = ('%a = "t.src"() : () -> i32\n%f = "t.src"() : () -> f32\n'
                '%0 = "tst.mix"(%a, %f, %f) <{operandSegmentSizes = array<i32: 1, 0, 2>, req = "q"}> '
                ': (i32, f32, f32) -> i32\n'
                '%1 = tst.pack %a, %f {count = 2} : i32, f32 -> i64\n'
                '%2 = tst.pack  : -> i64\n')
        m = irq.parse_module(text, context=ctx)
        ops = list(m.ops)
        mix, pack, empty = ops[2], ops[3], ops[4]
        assert isinstance(mix, MixOp) and mix.c == (ops[1].result, ops[1].result) and mix.b is None
        assert isinstance(pack, PackOp) and pack.xs == (ops[0].result, ops[1].result)
        assert pack.count == IntegerAttr(2) and "count" in pack.properties
        assert empty.xs == () and empty.r.type is i64
        irq.verify(m)
        printed = irq.print_module(m)
        assert "%1 = tst.pack %a, %f {count = 2 : i64} : i32, f32 -> i64" in printed
        m2 = irq.parse_module(printed, context=ctx)
        assert irq.print_module(m2) == printed and irq.structurally_equal(m, m2)
        assert irq.print_module(irq.parse_module(irq.print_module(m, generic=True), context=ctx)) == printed

    def test_definition_introspection(self):
        d = MixOp.definition
        assert [n for n, _ in d.operands] == ["a", "b", "c"]
        assert d.operand_segments and not d.result_segments
        assert MixOp.has_trait(Pure) and MixOp.summary.startswith("An op with every kind")
        assert SplitOp.body is None and [n for n, _ in SplitOp.definition.regions] == ["inner"]

    def test_reserved_member_names_are_rejected(self):
        with pytest.raises(TypeError):
            class Bad(Op):  # noqa: F841
                name = "tst.bad"
                operands = variadic_operand()


@pytest.mark.parametrize("text", [
    # a region hl.relu6 does not declare: its custom syntax has no place for it
    '%0 = "test.a"() : () -> tensor<2xf32>\n'
    '%1 = "hl.relu6"(%0) ({\n  "test.b"() : () -> ()\n}) : (tensor<2xf32>) -> tensor<2xf32>\n',
    # a second operand the one-operand custom form would drop
    '%0 = "test.a"() : () -> tensor<2xf32>\n'
    '%1 = "hl.relu6"(%0, %0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>\n',
    # a required attribute missing
    '%0 = "arith.constant"() : () -> i32\n',
])
def test_ops_their_custom_form_cannot_express_print_generically(text):
    """As MLIR prints invalid ops generically: the custom form never loses what the op holds."""
    m = irq.parse_module(text)
    with pytest.raises(irq.VerifyError):
        irq.verify(m)
    printed = irq.print_module(m)
    again = irq.parse_module(printed)
    assert irq.print_module(again) == printed
    assert irq.structurally_equal(again, m)
