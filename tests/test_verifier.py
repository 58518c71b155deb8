"""The verifier: SSA dominance, terminators, op rules, and diagnostics that point at the source.

An op's location is its name, not the results bound before it (`%0 = arith.addi` is at the
`arith.addi`), as MLIR's parser places it: the columns below are MLIR C++'s for the same text.
"""

from __future__ import annotations

import pytest
from irq.dialects.builtin import ModuleOp

import irq
from irq.diagnostics import capture_diagnostics
from irq.ir import Block, UnregisteredOp
from irq.ir.types import i32


def verify_text(text: str) -> list[str]:
    """The `file:line:col: error: ...` line of each diagnostic, [] if the module verifies."""
    m = irq.parse_module(text, filename="test.mlir")
    try:
        irq.verify(m)
    except irq.VerifyError as e:
        return [d.format(show_op=False) for d in e.diagnostics]
    return []


FUNC_USE_BEFORE_DEF = """\
func.func @f(%a: i32) -> i32 {
  %0 = arith.addi %1, %a : i32
  %1 = arith.addi %a, %a : i32
  return %0 : i32
}
"""


# (name, text, expected diagnostics)
CASES = [
    ("use_before_def_in_block", FUNC_USE_BEFORE_DEF,
     ["test.mlir:2:8: error: 'arith.addi' op operand #0 does not dominate this use"]),
    ("use_across_isolated_func", '%0 = "t.def"() : () -> i32\nfunc.func @f() -> i32 {\n  return %0 : i32\n}\n',
     ["test.mlir:3:3: error: 'func.return' op operand #0 uses a value defined outside the isolated-from-above "
      "'func.func'"]),
    ("use_from_non_dominating_block",
     'func.func @f(%c: i1) -> i32 {\n  "t.cond_br"(%c)[^bb1, ^bb2] : (i1) -> ()\n^bb1:\n  %0 = "t.v"() : () -> i32\n'
     '  "t.br"()[^bb2] : () -> ()\n^bb2:\n  return %0 : i32\n}\n',
     ["test.mlir:7:3: error: 'func.return' op operand #0 does not dominate this use"]),
    ("block_argument_of_non_dominating_block",
     'func.func @f(%c: i1) -> i32 {\n  "t.cond_br"(%c)[^bb1, ^bb2] : (i1) -> ()\n^bb1(%x: i32):\n'
     '  "t.br"()[^bb2] : () -> ()\n^bb2:\n  return %x : i32\n}\n',
     ["test.mlir:6:3: error: 'func.return' op operand #0 does not dominate this use"]),
    ("result_used_inside_own_region", '%0 = "t.r"() ({\n  "t.use"(%0) : (i32) -> ()\n}) : () -> i32\n',
     ["test.mlir:2:3: error: 't.use' op operand #0 is a result of an enclosing operation"]),
    ("missing_terminator", 'func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n}\n',
     ["test.mlir:2:8: error: 'func.func' op block in region #0 must end with a terminator, not 'arith.addi'"]),
    ("empty_body", "func.func @f() {\n^bb0:\n}\n",
     ["test.mlir:1:1: error: 'func.func' op region #0 has an empty block: it needs a terminator"]),
    ("terminator_not_last", 'func.func @f() {\n  return\n  "t.x"() : () -> ()\n}\n',
     ["test.mlir:2:3: error: 'func.return' op must be the last operation in the parent block"]),
    ("return_type_mismatch", "func.func @f(%a: i32) -> f32 {\n  return %a : i32\n}\n",
     ["test.mlir:2:3: error: 'func.return' op has 1 operand(s) of type(s) (i32) but the enclosing function "
      "returns (f32)"]),
    ("return_count_mismatch", "func.func @f(%a: i32) -> (i32, i32) {\n  return %a : i32\n}\n",
     ["test.mlir:2:3: error: 'func.return' op has 1 operand(s) of type(s) (i32) but the enclosing function "
      "returns (i32, i32)"]),
    ("return_outside_func", '"func.return"() : () -> ()\n',
     ["test.mlir:1:1: error: 'func.return' op expects parent op 'func.func'"]),
    ("call_unknown_symbol", "func.func @f() {\n  call @nope() : () -> ()\n  return\n}\n",
     ["test.mlir:2:3: error: 'func.call' op 'nope' does not reference a valid function"]),
    ("call_nested_unknown", "module @m {\n}\nfunc.func @f() {\n  call @m::@g() : () -> ()\n  return\n}\n",
     ["test.mlir:4:3: error: 'func.call' op requires a flat symbol reference as callee, got @m::@g"]),
    ("call_non_function", 'module @m {\n}\nfunc.func @f() {\n  call @m() : () -> ()\n  return\n}\n',
     ["test.mlir:4:3: error: 'func.call' op 'm' does not reference a valid function"]),
    ("call_signature_mismatch",
     "func.func private @g(i32) -> i32\nfunc.func @f(%a: f32) {\n  %0 = call @g(%a) : (f32) -> i32\n  return\n}\n",
     ["test.mlir:3:8: error: 'func.call' op call signature does not match the type of @g: (i32) -> i32"]),
    ("public_declaration", "func.func @g(i32) -> i32\n",
     ["test.mlir:1:1: error: 'func.func' op a function declaration (no body) cannot be public"]),
    ("entry_block_vs_signature",
     '"func.func"() <{sym_name = "f", function_type = (i32) -> ()}> ({\n^bb0(%a: f32):\n'
     '  "func.return"() : () -> ()\n}) : () -> ()\n',
     ["test.mlir:1:1: error: 'func.func' op entry block arguments (f32) do not match the function type (i32) -> ()"]),
    ("missing_inherent_attribute", '"func.func"() <{sym_name = "f"}> ({\n  "func.return"() : () -> ()\n}) : () -> ()\n',
     ["test.mlir:1:1: error: 'func.func' op requires attribute 'function_type'"]),
    ("constant_type_rule", '%0 = "arith.constant"() <{value = 1 : i32}> : () -> i64\n',
     ["test.mlir:1:6: error: 'arith.constant' op value type i32 does not match result type i64"]),
    ("same_operands_and_result_type",
     '%0 = "t.a"() : () -> i32\n%1 = "t.a"() : () -> i64\n%2 = "arith.addi"(%0, %1) : (i32, i64) -> i32\n',
     ["test.mlir:3:6: error: 'arith.addi' op requires the same type for all operands and results"]),
    ("operand_constraint", '%0 = "t.a"() : () -> f32\n%1 = "arith.addi"(%0, %0) : (f32, f32) -> f32\n',
     ["test.mlir:2:6: error: 'arith.addi' op operand 'lhs' must be integer-like, got f32"]),
    ("operand_count", '%0 = "t.a"() : () -> i32\n%1 = "arith.addi"(%0) : (i32) -> i32\n',
     ["test.mlir:2:6: error: 'arith.addi' op expected 2 operand(s), got 1"]),
    ("quant_cast_needs_quantized_result", '%0 = "t.a"() : () -> tensor<2xf32>\n'
     '%1 = "quant.qcast"(%0) : (tensor<2xf32>) -> tensor<2xi8>\n',
     ["test.mlir:2:6: error: 'quant.qcast' op result 'result' must be scalar or tensor of quantized type, "
      "got tensor<2xi8>"]),
    ("successor_without_terminator_trait",
     'func.func @f() {\n  "arith.constant"()[^bb1] <{value = 1 : i32}> : () -> i32\n  return\n^bb1:\n  return\n}\n',
     ["test.mlir:2:3: error: 'arith.constant' op has successors but is not a terminator"]),
    ("module_body_with_arguments", '"builtin.module"() ({\n^bb0(%a: i32):\n}) : () -> ()\n',
     ["test.mlir:1:1: error: 'builtin.module' op expects a body block without arguments"]),
    ("every_broken_op_is_reported",
     'func.func @f() -> i32 {\n  return\n}\nfunc.func @g() {\n'
     '  %0 = "arith.constant"() <{value = 1 : i32}> : () -> i64\n  return\n}\n',
     ["test.mlir:2:3: error: 'func.return' op has 0 operand(s) of type(s) () but the enclosing function returns (i32)",
      "test.mlir:5:8: error: 'arith.constant' op value type i32 does not match result type i64"]),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_diagnostics(name, text, expected):
    assert verify_text(text) == expected


VALID = [
    ("cfg_dominance", 'func.func @f(%c: i1) -> i32 {\n  %0 = "t.v"() : () -> i32\n  "t.cond_br"(%c)[^bb1, ^bb2] : '
     '(i1) -> ()\n^bb1:\n  "t.br"()[^bb2] : () -> ()\n^bb2:\n  return %0 : i32\n}\n'),
    ("loop_back_edge", 'func.func @f(%a: i32) -> i32 {\n  "t.br"()[^bb1] : () -> ()\n^bb1:\n'
     '  %0 = arith.addi %a, %a : i32\n  "t.cond_br"(%0)[^bb1, ^bb2] : (i32) -> ()\n^bb2:\n  return %0 : i32\n}\n'),
    ("graph_region_forward_reference", '"t.use"(%0) : (i32) -> ()\n%0 = "t.def"() : () -> i32\n'),
    ("nested_region_uses_outer_value", 'func.func @f(%a: i32) {\n  "t.r"() ({\n    %0 = arith.addi %a, %a : i32\n'
     '    "t.y"(%0) : (i32) -> ()\n  }) : () -> ()\n  return\n}\n'),
]


@pytest.mark.parametrize("name,text", VALID, ids=[v[0] for v in VALID])
def test_valid_ir_verifies(name, text):
    assert verify_text(text) == []


def test_verify_error_text_shows_the_operation():
    with pytest.raises(irq.VerifyError) as info:
        irq.verify(irq.parse_module(FUNC_USE_BEFORE_DEF, filename="test.mlir"))
    lines = str(info.value).split("\n")
    assert lines[0] == "test.mlir:2:8: error: 'arith.addi' op operand #0 does not dominate this use"
    assert lines[1] == 'test.mlir:2:8: note: see current operation: %0 = "arith.addi"(%1, %a) : (i32, i32) -> i32'


def test_locations_name_the_position():
    """Named and fused locations report their first file position; unknown ones MLIR's `<unknown>:0`."""
    text = ('func.func @f() -> i32 {\n  return loc("conv1"("model.py":12:3))\n}\n'
            'func.func @g() -> i32 {\n  return loc(fused["a.py":4:5, "b.py":6:7])\n}\n'
            'func.func @h() -> i32 {\n  return loc(unknown)\n}\n'
            'func.func @k() -> i32 {\n  return loc(callsite("inlined" at "caller.py":9:1))\n}\n')
    prefixes = [d.split(": error:")[0] for d in verify_text(text)]
    assert prefixes == ["model.py:12:3", "a.py:4:5", "<unknown>:0", "caller.py:9:1"]


def test_ops_built_in_memory_are_checked():
    """IR built by passes has no source positions; a sibling-region use is still found."""
    holder = UnregisteredOp("t.two", regions=2)
    b0, b1 = holder.regions[0].add_block(), holder.regions[1].add_block()
    v = b0.append(UnregisteredOp("t.def", result_types=[i32]))
    b1.append(UnregisteredOp("t.use", operands=[v.result]))
    outer = ModuleOp([holder])
    with pytest.raises(irq.VerifyError) as info:
        irq.verify(outer)
    (d,) = info.value.diagnostics
    assert d.format(show_op=False) == ("<unknown>:0: error: 't.use' op operand #0 does not dominate this use "
                                       "(its definition is not in an enclosing region)")
    assert d.op.name == "t.use"


def test_use_of_erased_definition():
    blk = Block()
    d = blk.append(UnregisteredOp("t.def", result_types=[i32]))
    u = blk.append(UnregisteredOp("t.use", operands=[d.result]))
    d.detach()
    with pytest.raises(irq.VerifyError, match="not in the IR"):
        irq.verify(u)


def test_broken_verify_hook_still_points_at_its_op():
    from irq.dialects import arith
    m = irq.parse_module('%0 = "arith.constant"() <{value = 1 : i32}> : () -> i32\n', filename="test.mlir")
    op = next(m.ops)
    arith.ConstantOp.verify_op, saved = (lambda self: 1 / 0), arith.ConstantOp.verify_op
    try:
        with pytest.raises(irq.VerifyError) as info:
            irq.verify(m)
    finally:
        arith.ConstantOp.verify_op = saved
    (d,) = info.value.diagnostics
    assert d.op is op and "ZeroDivisionError" in d.message and d.format().startswith("test.mlir:1:6: error:")


def test_emitted_warnings_are_captured():
    m = irq.parse_module('"t.a"() : () -> () loc("w.py":3:4)\n')
    with capture_diagnostics() as got:
        next(m.ops).emit_warning("suspicious")
    assert [d.format(show_op=False) for d in got] == ["w.py:3:4: warning: suspicious"]
