"""The greedy driver: folding, dead code, patterns, order independence of the fixpoint."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.dialects import arith

import irq
from irq.rewrite import DagPattern, FunctionPattern, PatternRewriter, apply_patterns_greedily, constant, op
from irq.rewrite.driver import GreedyDriver
from passes.canonicalize import canonicalization_patterns
from tests.support.arith_programs import INPUTS, arith_programs, evaluate


def _func(m):
    return next(o for o in m.walk() if o.name == "func.func")


def _signature(v, memo):
    """A canonical text of the expression DAG producing `v` (position-independent)."""
    if v in memo:
        return memo[v]
    if isinstance(v, irq.BlockArgument):
        s = f"arg{v.index}"
    else:
        o = v.op
        attrs = ",".join(f"{k}={a}" for k, a in sorted({**o.properties, **o.attributes}.items()))
        s = f"{o.name}[{attrs}](" + ",".join(_signature(x, memo) for x in o.operands) + f")#{v.index}"
    memo[v] = s
    return s


def _fixpoint(text, order):
    m = irq.parse_module(text)
    assert apply_patterns_greedily(m, canonicalization_patterns(), order=order, max_iterations=20)
    ret = _func(m).body.last_op
    memo = {}
    live = {o for o in _func(m).body.ops}
    return [_signature(v, memo) for v in ret.operands], len(live)


@settings(max_examples=60, deadline=None)
@given(arith_programs(), st.integers(0, 2**32 - 1))
def test_fixpoint_does_not_depend_on_worklist_order(text, seed):
    rng = random.Random(seed)

    def shuffled(ops):
        ops = list(ops)
        rng.shuffle(ops)
        return ops

    reference = _fixpoint(text, "post")
    assert _fixpoint(text, "pre") == reference
    assert _fixpoint(text, shuffled) == reference


@settings(max_examples=60, deadline=None)
@given(arith_programs())
def test_canonicalization_preserves_meaning(text):
    before = irq.parse_module(text)
    after = irq.parse_module(text)
    apply_patterns_greedily(after, canonicalization_patterns())
    irq.verify(after)
    for a, b, x in INPUTS:
        assert evaluate(after, a, b, x) == evaluate(before, a, b, x), after.to_text()


def test_fold_materializes_constants_and_erases_dead_ops():
    m = irq.parse_module("""
func.func @f() -> i32 {
  %a = arith.constant 20 : i32
  %b = arith.constant 22 : i32
  %0 = arith.addi %a, %b : i32
  %unused = arith.muli %a, %b : i32
  return %0 : i32
}""")
    assert apply_patterns_greedily(m, [])
    ops = [o.name for o in _func(m).body.ops]
    assert ops == ["arith.constant", "func.return"]
    assert _func(m).body.first_op.value.value == 42


def test_non_converging_patterns_are_reported_as_a_diagnostic():
    m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}")

    def flip(o, rewriter: PatternRewriter):  # swaps operands forever (a, a) -> (a, a) still "changes"
        with rewriter.modify_op_in_place(o):
            o.set_operands(list(reversed(o.operands)))
        return True

    with irq.diagnostics.capture_diagnostics() as diags:
        converged = apply_patterns_greedily(m, [FunctionPattern(flip, "arith.addi")], max_iterations=3,
                                            max_rewrites=1000)
    assert not converged
    assert any("did not converge" in d.message for d in diags)


@pytest.mark.parametrize("style", ["replace_op", "replace_uses_then_erase"])
def test_driver_revisits_users_of_replaced_values(style):
    """A rewrite that enables a rewrite of its users is followed up in the same sweep.

    The pattern only fires on a `muli x, 2` whose `x` is no longer a muli, so down a
    chain of 20 each rewrite enables the next. Visiting users first (the order below),
    one sweep finishes the chain only if replacing values puts their users back on the
    worklist; without that, each sweep rewrites one link and 2 iterations cannot
    converge. Both ways of replacing (replace_op, or replace_all_uses_with then
    erase_op) must notify the driver.
    """
    text = "func.func @f(%x: i32) -> i32 {\n  %c2 = arith.constant 2 : i32\n"
    prev = "%x"
    for i in range(20):
        text += f"  %{i} = arith.muli {prev}, %c2 : i32\n"
        prev = f"%{i}"
    text += f"  return {prev} : i32\n}}"
    m = irq.parse_module(text)
    rewrites = []

    class MulBy2(DagPattern):
        dag = op("arith.muli", "x", constant("c", where=lambda a: a.value == 2))

        def rewrite(self, mt, rw):
            x = mt["x"]
            if isinstance(x, irq.OpResult) and x.op.name == "arith.muli":
                return False
            new = rw.insert(arith.AddIOp(x, x))
            if style == "replace_op":
                rw.replace_op(mt.root, new)
            else:
                rw.replace_all_uses_with(mt.root.results[0], new.results[0])
                rw.erase_op(mt.root)
            rewrites.append(mt.root)
            return True

    driver = GreedyDriver(m, [MulBy2()], max_iterations=2, order=lambda ops: list(reversed(ops)))
    assert driver.run()
    names = [o.name for o in _func(m).body.ops]
    assert names.count("arith.addi") == 20 and "arith.muli" not in names and "arith.constant" not in names
    assert len(rewrites) == 20  # each link rewritten exactly once


def test_pattern_benefit_orders_patterns():
    m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.subi %a, %a : i32\n  return %0 : i32\n}")
    seen = []

    def low(o, rw):
        seen.append("low")
        return False

    def high(o, rw):
        seen.append("high")
        return False

    apply_patterns_greedily(m, [FunctionPattern(low, "arith.subi", 1), FunctionPattern(high, "arith.subi", 5)],
                            max_iterations=1)
    assert seen[:2] == ["high", "low"]


def test_rewriter_refuses_to_erase_used_op():
    m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}")
    add = _func(m).body.first_op
    rw = PatternRewriter()
    try:
        rw.erase_op(add)
    except ValueError as e:
        assert "still have uses" in str(e)
    else:
        raise AssertionError("erasing a used op must fail")


def test_pattern_rooted_on_a_base_class_and_a_name_sees_exactly_those_ops():
    """A root mixing a base class (matched by isinstance) and an op name (matched exactly)."""
    from irq.ir.opdef import Op

    m = irq.parse_module(
        "func.func @f(%a: i32) -> i32 {\n"
        '  "test.a"() : () -> ()\n  "test.b"() : () -> ()\n  "test.c"() : () -> ()\n'
        "  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}"
    )
    seen = []

    def record(o, rw):
        seen.append(o.name)
        return False

    apply_patterns_greedily(m, [FunctionPattern(record, (Op, "test.b"))], max_iterations=1)
    # every registered op nested in the module (an Op subclass) and test.b; not test.a, not test.c
    assert sorted(set(seen)) == ["arith.addi", "func.func", "func.return", "test.b"]


@pytest.mark.parametrize("order,first", [("pre", "func.func"), ("post", "arith.addi")])
def test_visit_order_option_read_from_text(order, first):
    # the option may come from parsed text (a pass option, a config file): not an interned literal
    order = "".join(list(order))
    m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}")
    seen = []

    def record(o, rw):
        seen.append(o.name)
        return False

    apply_patterns_greedily(m, [FunctionPattern(record)], max_iterations=1, order=order)
    assert seen[0] == first, seen


def test_materialize_constant_builds_the_dialects_constant_or_none():
    """`materialize_constant` (MLIR's materializeConstant, for patterns that fold by hand) asks the op's dialect:
    arith builds an `arith.constant` of the value and type at the op's location; func has no hook, so None."""
    from irq.ir.attributes import IntegerAttr
    from irq.ir.types import IntegerType
    from irq.rewrite.driver import materialize_constant

    m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}")
    add = next(o for o in m.walk() if o.name == "arith.addi")
    i32 = IntegerType(32)
    const = materialize_constant(add, IntegerAttr(7, i32), i32)
    assert const.name == "arith.constant" and const.value.value == 7 and const.results[0].type == i32
    assert const.location == add.location
    assert materialize_constant(_func(m).body.last_op, IntegerAttr(7, i32), i32) is None
