"""The parser's one-call statement paths and the bulk use-list move keep the IR's invariants.

`Reducer._replay_statement` / `_generic_statement` build and place the commonest statements in
one call, and `Value.replace_all_uses_with` moves a whole use list at once (the parser resolves
every use of a function's arguments through it). A slip in either would not change the printed
text of a simple parse, but would show up later: a use whose `_slot` is wrong corrupts the next
use-list removal (an erased op leaving a stale use behind), a result count not checked binds a
name to the wrong value. These tests look there.
"""

from __future__ import annotations

import pytest

import irq
from irq.text import fast_path


def _use_lists_consistent(v) -> bool:
    return all(u._slot == i and u.owner.operands[u.index] is v for i, u in enumerate(v._uses))


def test_function_arguments_used_in_the_body_have_consistent_use_lists():
    text = (
        "func.func @f(%a: i32, %b: i32) -> i32 {\n"
        "  %0 = arith.addi %a, %b : i32\n"
        "  %1 = arith.muli %0, %a : i32\n"
        "  %2 = arith.addi %a, %a : i32\n"
        "  return %2 : i32\n"
        "}\n"
    )
    m = irq.parse_module(text)
    func = next(iter(m.body.ops))
    a, b = func.regions[0].blocks[0].args
    assert a.num_uses == 4 and b.num_uses == 1
    assert _use_lists_consistent(a) and _use_lists_consistent(b)
    ops = list(func.regions[0].blocks[0].ops)
    ops[2].set_operand(0, b)  # a removal after the bulk move: swap-with-last must find the right slots
    assert a.num_uses == 3 and b.num_uses == 2
    assert _use_lists_consistent(a) and _use_lists_consistent(b)


def test_replace_all_uses_with_moves_every_use_in_order():
    m = irq.parse_module('%0 = "t.a"() : () -> i32\n%1 = "t.b"() : () -> i32\n'
                         '"t.u"(%0, %1, %0) : (i32, i32, i32) -> ()\n"t.v"(%0) : (i32) -> ()\n')
    a_op, b_op, u, v = m.body.ops
    old, new = a_op.results[0], b_op.results[0]
    moved = old.uses
    old.replace_all_uses_with(new)
    assert old.num_uses == 0 and new.num_uses == 4
    assert new.uses[1:] == moved  # appended after `new`'s own use, in the old order
    assert u.operands == (new, new, new) and v.operands == (new,)
    assert _use_lists_consistent(new)
    v.erase()
    assert new.num_uses == 3 and _use_lists_consistent(new)


def test_replace_all_uses_with_a_non_value_names_the_op():
    m = irq.parse_module('%0 = "t.a"() : () -> i32\n"t.u"(%0) : (i32) -> ()\n')
    with pytest.raises(TypeError, match="t.u"):
        next(iter(m.body.ops)).results[0].replace_all_uses_with(3)


@pytest.mark.parametrize(
    "text",
    [
        '%x = "t.a"() : () -> (i32, i32)\n',  # one name for two results
        '%x = "t.a"() : () -> ()\n',  # a name for no result
        '%x = "arith.fooi"() : () -> i32\n',  # a registered dialect's unknown op
        "%0 = arith.constant 1 : i32\n%1 = arith.addi %0, %0 : i32\n%1 = arith.addi %0, %0 : i32\n",  # redefinition
        "%0 = arith.constant 1 : i32\n%1 = arith.addi %0, %0 : i32\n%2 = arith.addi %1, %0 : i64\n",  # type clash
    ],
)
def test_one_call_statements_report_errors_as_the_grammar_path(monkeypatch, text):
    outcomes = []
    for fast in (True, False):
        monkeypatch.setattr(fast_path, "FAST_PATH", fast)
        with pytest.raises(irq.ParseError) as e:
            irq.parse_module(text, "in.mlir")
        outcomes.append((e.value.message, e.value.line, e.value.column))
    assert outcomes[0] == outcomes[1]
