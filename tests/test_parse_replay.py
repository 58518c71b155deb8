"""Replaying a flat custom op's build for later ops of the same shape (irq/text/replay.py).

The fast path runs a custom op's parse hook once per shape (name, result count, literal,
types, operand count) and rebuilds the later ops of that shape from what it recorded. Each
test here is a way a replay could build the wrong op while every value still looks fine:
operands mixed up between ops, a name that means another op in another region, a value
used with another type, a forward reference. Every case is also parsed with the fast path
off (the hook for every op) and must give the same IR or the same error.
"""

from __future__ import annotations

import pytest

import irq
from irq.ir import Dialect, Op, operand, region, result
from irq.ir.attributes import IntegerAttr
from irq.ir.dialect import default_context
from irq.ir.types import f32, i32
from irq.text import fast_path


def _both(text: str, monkeypatch, ctx=None):
    """(module with the fast path, printed with the fast path, printed without it) or the two errors."""
    out = []
    for fast in (True, False):
        monkeypatch.setattr(fast_path, "FAST_PATH", fast)
        try:
            m = irq.parse_module(text, "r.mlir", context=ctx)
        except irq.ParseError as e:
            out.append(("error", e.message, e.line, e.column))
            continue
        out.append(("ok", irq.print_module(m, generic=True, debuginfo=True), m))
    assert out[0][:2] == out[1][:2], text
    return out[0]


def _first_op(module):
    return module.body.first_op


def _func_ops(module) -> list:
    return list(_first_op(module).regions[0].blocks[0].ops)


def test_each_replayed_op_uses_its_own_operands(monkeypatch):
    # the first op of the shape uses one value twice (no plan can be made from it), then distinct values
    text = """func.func @f(%a: f32, %b: f32, %c: f32) -> f32 {
  %0 = arith.addf %a, %a : f32
  %1 = arith.addf %b, %c : f32
  %2 = arith.addf %c, %b : f32
  %3 = arith.addf %1, %2 : f32
  %4 = arith.addf %3, %3 : f32
  return %4 : f32
}"""
    kind, _, m = _both(text, monkeypatch)
    assert kind == "ok"
    a, b, c = _first_op(m).regions[0].blocks[0].args
    ops = _func_ops(m)
    assert ops[0].operands == (a, a)
    assert ops[1].operands == (b, c)
    assert ops[2].operands == (c, b)
    assert ops[3].operands == (ops[1].results[0], ops[2].results[0])
    assert ops[4].operands == (ops[3].results[0], ops[3].results[0])
    assert [op.results[0].type for op in ops[:5]] == [f32] * 5


def _swap_dialect():
    """`swap.op %x, %y : t` whose hook makes the op's operands (y, x): a plan must keep the order."""
    d = Dialect("swap")

    @d.op
    class SwapOp(Op):
        name = "swap.op"
        lhs = operand()
        rhs = operand()
        out = result()

        @classmethod
        def parse_custom(cls, p):
            x = p.parse_operand()
            p.expect_punct(",")
            y = p.parse_operand()
            t = p.parse_colon_type()
            vx, vy = p.resolve_operands([x, y], [t, t])
            return cls.create([vy, vx], [t])

    @d.op
    class ReturnOp(Op):
        """A `return` of this dialect: the short name means this op inside `swap.scope`."""

        name = "swap.return"

        @classmethod
        def parse_custom(cls, p):
            p.expect_end()
            return cls.create()

    @d.op
    class ScopeOp(Op):
        name = "swap.scope"
        default_dialect = "swap"
        inner = region()

    ctx = default_context().copy()
    ctx.load(d)
    return ctx


def test_a_hook_that_reorders_operands_is_replayed_in_its_order(monkeypatch):
    ctx = _swap_dialect()
    text = """func.func @f(%a: f32, %b: f32) {
  %0 = swap.op %a, %b : f32
  %1 = swap.op %b, %0 : f32
  %2 = swap.op %1, %a : f32
  return
}"""
    kind, _, m = _both(text, monkeypatch, ctx)
    assert kind == "ok"
    a, b = _first_op(m).regions[0].blocks[0].args
    ops = _func_ops(m)
    assert ops[0].operands == (b, a)
    assert ops[1].operands == (ops[0].results[0], b)
    assert ops[2].operands == (a, ops[1].results[0])


def test_a_short_name_in_another_default_dialect_is_that_dialects_op(monkeypatch):
    # `return` (same shape each time) is func.return in a function and swap.return in swap.scope
    ctx = _swap_dialect()
    text = """func.func @f() {
  return
}
func.func @g() {
  return
}
"swap.scope"() ({
  return
}) : () -> ()
func.func @h() {
  return
}"""
    kind, _, m = _both(text, monkeypatch, ctx)
    assert kind == "ok"
    names = [op.name for op in m.walk()]
    assert names.count("func.return") == 3 and names.count("swap.return") == 1
    scope = list(m.body.ops)[2]
    assert scope.regions[0].blocks[0].first_op.name == "swap.return"


@pytest.mark.parametrize(
    "bad, message",
    [
        ("%2 = arith.addf %i, %1 : f32", "use of value '%i' expects different type than prior uses"),
        ("%2 = arith.addf %1, %nope : f32", "use of undeclared SSA value name '%nope'"),
        ("%2 = arith.addf %1, %0#1 : f32", "reference to invalid result number in '%0#1'"),
    ],
)
def test_a_replayed_op_reports_value_errors_as_the_hook_does(monkeypatch, bad, message):
    text = f"""func.func @f(%a: f32, %i: i32) -> f32 {{
  %0 = arith.addf %a, %a : f32
  %1 = arith.addf %0, %a : f32
  {bad}
  return %2 : f32
}}"""
    kind, msg, line, column = _both(text, monkeypatch)
    assert kind == "error" and message in msg
    assert line == 4


def test_a_replayed_op_may_use_a_value_defined_later(monkeypatch):
    # forward references (graph regions, or an unverified module): the placeholder is resolved
    # when the value is defined, in replayed ops as in hook-built ones
    text = """"test.graph"() ({
  %0 = arith.addf %a, %a : f32
  %1 = arith.addf %2, %0 : f32
  %2 = arith.addf %0, %0 : f32
  %a = arith.constant 1.0 : f32
}) : () -> ()"""
    kind, _, m = _both(text, monkeypatch)
    assert kind == "ok"
    ops = list(_first_op(m).regions[0].blocks[0].ops)
    assert ops[1].operands == (ops[2].results[0], ops[0].results[0])
    assert ops[0].operands == (ops[3].results[0], ops[3].results[0])


def test_replayed_ops_do_not_share_attribute_dictionaries(monkeypatch):
    # a plan holds the first op's attributes; each op gets its own dict (passes mutate them)
    text = """func.func @f() {
  %0 = arith.constant 2.5 : f32
  %1 = arith.constant 2.5 : f32
  %2 = arith.constant 2.5 : f32
  return
}"""
    kind, _, m = _both(text, monkeypatch)
    assert kind == "ok"
    ops = _func_ops(m)[:3]
    assert len({id(op.properties) for op in ops}) == 3 and len({id(op.attributes) for op in ops}) == 3
    ops[1].attributes["tag"] = IntegerAttr(1, i32)
    assert "tag" not in ops[0].attributes and "tag" not in ops[2].attributes
