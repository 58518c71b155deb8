"""The declarative DAG matcher: operands, commutativity, one-use, captures, constants."""

import irq
from irq.rewrite import any_value, constant, match_op, op

TEXT = """
func.func @f(%a: i32, %b: i32) -> (i32, i32, i32) {
  %c3 = arith.constant 3 : i32
  %0 = arith.muli %a, %c3 : i32
  %1 = arith.addi %0, %b : i32
  %2 = arith.addi %b, %0 : i32
  %3 = arith.subi %a, %a : i32
  return %1, %2, %3 : i32, i32, i32
}"""


def _ops():
    m = irq.parse_module(TEXT)
    f = next(o for o in m.walk() if o.name == "func.func")
    return m, {o.results[0].name_hint or str(i): o for i, o in enumerate(f.body.ops) if o.results}, list(f.body.ops)


def test_nested_match_with_captures():
    _, _, ops = _ops()
    add1 = ops[2]
    p = op("arith.addi", op("arith.muli", "x", constant("k"), name="mul"), "y")
    m = match_op(p, add1)
    assert m is not None
    assert m["mul"] is ops[1] and m["x"] is ops[1].operands[0] and m["k"].value == 3 and m["y"] is add1.operands[1]


def test_commutative_matches_either_operand_order():
    _, _, ops = _ops()
    add2 = ops[3]  # %b + (%a * 3): the mul is the second operand
    p = op("arith.addi", op("arith.muli", ...), "y")
    assert match_op(p, add2) is None
    pc = op("arith.addi", op("arith.muli", ..., name="mul"), "y", commutative=True)
    m = match_op(pc, add2)
    assert m is not None and m["mul"] is ops[1]


def test_one_use_refuses_shared_intermediates():
    _, _, ops = _ops()
    # the mul has two users (both adds): one_use must refuse, as fusion must
    assert match_op(op("arith.addi", op("arith.muli", ..., one_use=True), "y"), ops[2]) is None
    assert match_op(op("arith.addi", op("arith.muli", ...), "y"), ops[2]) is not None


def test_same_capture_name_must_bind_the_same_value():
    _, _, ops = _ops()
    sub = ops[4]
    assert match_op(op("arith.subi", "x", "x"), sub) is not None
    assert match_op(op("arith.addi", "x", "x"), ops[2]) is None


def test_attribute_and_predicate_constraints():
    _, _, ops = _ops()
    const = ops[0]
    assert match_op(op("arith.constant", attrs={"value": 3}), const) is not None
    assert match_op(op("arith.constant", attrs={"value": 4}), const) is None
    assert match_op(op("arith.constant", where=lambda o: o.value.value > 2), const) is not None
    assert match_op(op(("arith.addi", "arith.muli"), any_value(), any_value()), ops[1]) is not None
    assert match_op(op("arith.muli", "x"), ops[1]) is None  # operand count must match without `...`
