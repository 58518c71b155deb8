"""A missing closing token is reported where MLIR reports it (issue 13, item 2).

MLIR's parser reads a type, a list or an op token by token and reports the first token that
cannot continue it at the end of the token before it (Parser::emitWrongTokenError: back over
blanks, line breaks and comment lines). irq's lexer balances brackets before the grammar sees
them, so a `tensor<4xi8` missing its `>` used to be found unbalanced only at the region's `}`
lines later, and a wrong token in the middle of a line was reported at itself, one blank after
MLIR's column. Written for irq after reading llvm-project mlir/test/IR/invalid.mlir,
invalid-builtin-types.mlir and Dialect/Arith/invalid.mlir (a type missing its `>` before the
next line, `expected '>' in tensor type`); `test_mlir_agrees` checks every position against
MLIR's C++ parser (iree-base-compiler).

The bug these catch: an error reported lines away from the mistake (at the next `}` or at the
end of the file), which in an `irq-opt --verify-diagnostics` file is an annotation at the
wrong line, and in an editor a jump to the wrong place.
"""

from __future__ import annotations

import re

import pytest

import irq

FUNC = "func.func @f(%a: i32) {{\n{}\n  return\n}}\n"

# (text, (line, column) MLIR reports, a part of irq's message)
CASES = [
    # a type missing its `>`: at the end of the type's last token
    (FUNC.format("  %0 = arith.addi %a, %a : tensor<42 x index"), (2, 45), "expected '>' in tensor type"),
    (
        FUNC.format("  %0 = arith.cmpi slt, %a, %a : vector<4xi8\n  %1 = arith.addi %a, %a : i32"),
        (2, 44),
        "expected '>' in vector type",
    ),
    (FUNC.format("  %0 = arith.addi %a, %a : tensor<4xi8 // a note\n  // another"), (2, 39), "expected '>'"),
    (FUNC.format('  %0 = arith.addi %a, %a : tensor<4xi8 loc("x":1:1)'), (2, 39), "expected '>'"),
    (FUNC.format('  "t.a"(%a) : (i32) -> tensor<4xi8\n  "t.b"() : () -> ()'), (2, 35), "expected '>'"),
    (FUNC.format("  %0 = arith.addi %a, %a : tensor<4xi8\n^bb1:"), (2, 39), "expected '>'"),
    ("func.func @f(%a: i32) -> tensor<4xi8 {\n  return %a : i32\n}\n", (1, 37), "expected '>' in tensor type"),
    ("func.func @f(%a: tensor<4xi8) {\n  return\n}\n", (1, 29), "expected '>' in tensor type"),
    ('"t.a"() {a = dense<1> : tensor<4xi8} : () -> ()\n', (1, 36), "expected '>' in tensor type"),
    ('"t.a"() : () -> memref<2xi32, strided<[1]\n"t.b"() : () -> ()\n', (1, 42), "expected '>'"),
    ('"t.a"() {a = array<i32: 1, 2} : () -> ()\n', (1, 29), "expected '>'"),
    ('"t.a"() : () -> tensor<2xi32\n', (1, 29), "expected '>' in tensor type"),
    # a dialect type or attribute body: MLIR's lexer balances it and reports its `<`
    (FUNC.format("  %0 = arith.addi %a, %a : !quant.uniform<i8:f32, 0.1"), (2, 42), "pretty dialect name"),
    (FUNC.format('  "t.a"() {x = #foo.bar<1, 2} : () -> ()'), (2, 24), "pretty dialect name"),
    # a `)` missing before the next line's op
    (FUNC.format("  %0 = arith.addi %a, %a : (tensor<4xi8>"), (2, 41), "expected ')'"),
    # a wrong token in the middle of a line: at the end of the token before it
    (FUNC.format('  "t.a"(%a : (i32) -> ()'), (2, 11), "unexpected ':'"),
    (FUNC.format('  "t.a"(%a) : (i32 -> ()'), (2, 19), "unexpected '->'"),
    ("func.func @f(%a: i32) -> (i32 {\n  return %a : i32\n}\n", (2, 9), ""),
    # a custom op's items ending before what its syntax needs: after the last item, not at its start
    (FUNC.format("  %0 = arith.addi %a, %a :"), (2, 27), "expected a type"),
    (FUNC.format("  %0 = arith.addi %a, %a // no type\n  // nor here"), (2, 25), "expected ':'"),
    (FUNC.format("  %0 = arith.cmpi slt"), (2, 22), "expected ','"),
    ("func.func @f(%a: i32) -> i32 {\n  return %a\n}\n", (2, 12), "expected ':'"),
    ("func.func @f() {\n  func.call @f()\n  return\n}\n", (2, 17), "expected ':'"),
    (FUNC.format("  func.call @g(%a)  // a group last"), (2, 19), "expected ':'"),
    (FUNC.format("  %0 = arith.addi"), (2, 18), "expected an SSA value"),
    # a keyword missing there: at the token after the op (MLIR's parseKeyword reports its current
    # token), so on the next line
    (FUNC.format("  %0 = arith.extsi %a : i32 // c"), (3, 3), "expected 'to'"),
    (FUNC.format("  %0 = arith.cmpi  // c\n"), (4, 3), "expected 'eq'"),
    (
        "func.func @f(%a: tensor<2xf32>) {\n  %0 = quant.qcast %a : tensor<2xf32>\n  return\n}\n",
        (3, 3),
        "expected 'to'",
    ),
]


@pytest.mark.parametrize("text,where,message", CASES)
def test_missing_token_is_reported_where_mlir_reports_it(text, where, message):
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text)
    assert (info.value.line, info.value.column) == where, info.value
    assert message in info.value.message


def test_a_type_spanning_lines_is_still_a_type():
    """The stop rule runs only once the brackets failed to balance: valid text split across lines
    inside a type still parses."""
    m = irq.parse_module('"t.a"() : () -> tensor<4 x\n  i8>\n"t.b"() {d = {a = 1,\n b = 2}} : () -> ()\n')
    assert str(next(iter(m.body.ops)).results[0].type) == "tensor<4xi8>"


def test_mlir_agrees():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    wrong = []
    for text, (line, column), _ in CASES:
        ctx = ir.Context()
        ctx.allow_unregistered_dialects = True
        try:
            ir.Module.parse(text, ctx)
            got = None
        except Exception as e:  # MLIRError
            m = re.search(r"\"-\":(\d+):(\d+):", str(e))
            got = (int(m.group(1)), int(m.group(2))) if m else str(e)
        if got != (line, column):
            wrong.append((text, got))
    assert wrong == []
