"""The gaps bench/mlir_audit.py found on MLIR's own test files, closed (issue 13).

Each case is written for irq in its own words after a chunk of an llvm-project file, named in
the case (paths under mlir/test/). Invalid cases carry irq's own `expected-error` annotations
and go through `irq-opt --split-input-file --verify-diagnostics` in one file, so both the line
and the message are checked, as mlir-opt checks MLIR's; valid cases must parse and round-trip.
`test_mlir_agrees` feeds every case to MLIR's C++ parser and verifier (iree-base-compiler) and
requires the same verdict, so a case cannot encode a rule MLIR does not have.

Upstream files covered: Dialect/Arith/invalid.mlir, Dialect/Arith/ops.mlir,
Dialect/Builtin/invalid.mlir, Dialect/Builtin/types.mlir, Dialect/Func/invalid.mlir,
IR/invalid.mlir, IR/invalid-builtin-types.mlir, IR/invalid-builtin-attributes.mlir,
IR/parser.mlir, IR/attribute.mlir.
"""

from __future__ import annotations

import pytest

import irq
from irq.cli.opt import main as irq_opt

# (id, upstream file the rule comes from, text with irq's expected-error annotations)
INVALID = [
    ("cast_scalable_to_fixed", "Dialect/Arith/invalid.mlir",
     "func.func @f(%a: vector<[4]xi32>) {\n"
     "  // expected-error@+1 {{operand and result must have the same shape}}\n"
     "  %0 = arith.trunci %a : vector<[4]xi32> to vector<4xi8>\n  return\n}\n"),
    ("cast_fixed_to_scalable", "Dialect/Arith/invalid.mlir",
     "func.func @f(%a: vector<4xf32>) {\n"
     "  // expected-error@+1 {{operand and result must have the same shape}}\n"
     "  %0 = arith.bitcast %a : vector<4xf32> to vector<[4]xi32>\n  return\n}\n"),
    ("cast_tensor_encodings", "Dialect/Arith/invalid.mlir",
     'func.func @f(%a: tensor<2xf32, "foo">) {\n'
     "  // expected-error@+1 {{are cast incompatible}}\n"
     '  %0 = arith.extf %a : tensor<2xf32, "foo"> to tensor<2xf64, "bar">\n  return\n}\n'),
    ("scalable_constant_not_splat", "Dialect/Arith/invalid.mlir",
     "func.func @f() {\n"
     "  // expected-error@+1 {{can only be initialized by a splat}}\n"
     "  %c = arith.constant dense<[7, 8]> : vector<[2]xi32>\n  return\n}\n"),
    ("cast_without_results", "Dialect/Builtin/invalid.mlir",
     "// expected-error@+1 {{expected at least one result for cast operation}}\n"
     '"builtin.unrealized_conversion_cast"() : () -> ()\n'),
    ("argument_attribute_without_dialect", "Dialect/Func/invalid.mlir",
     "// expected-error@+1 {{arguments may only have dialect attributes ('flag'}}\n"
     "func.func private @g(i1 {flag = 3})\n"),
    ("result_attribute_without_dialect", "Dialect/Func/invalid.mlir",
     "// expected-error@+1 {{results may only have dialect attributes ('note'}}\n"
     "func.func private @g() -> (i1 {note = 3})\n"),
    ("symbol_starting_with_dollar", "Dialect/Func/invalid.mlir",
     "// expected-error@+1 {{@ identifier expected to start with letter or '_'}}\n"
     "func.func private @$g()\n"),
    ("label_after_named_arguments", "Dialect/Func/invalid.mlir",
     "func.func @g(%x: i32) {\n"
     "^entry(%y: i32):  // expected-error {{invalid block name in region with named arguments}}\n"
     "  return\n}\n"),
    ("memref_of_tensor", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{invalid memref element type}}\n"
     "func.func private @g(memref<3xtensor<2xi8>>)\n"),
    ("memref_empty_list_item", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{expected a layout or a memory space after ','}}\n"
     "func.func private @g(memref<3x2xi8, >)\n"),
    ("memref_map_rank", "IR/invalid-builtin-types.mlir",
     "#id3 = affine_map<(a, b, c) -> (c, b, a)>\n"
     "// expected-error@+1 {{memref layout mismatch between rank and affine map: 2 != 3}}\n"
     "func.func private @g(memref<3x2xi8, #id3>)\n"),
    ("strided_without_angle", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{expected '<' after 'strided'}}\n"
     "func.func private @g() -> memref<5x?xf32, strided>\n"),
    ("strided_rank", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{number of strides (3) to match the rank (2)}}\n"
     "func.func private @g() -> memref<5x?xf32, strided<[9, 3, 1]>>\n"),
    ("vector_zero_dimension", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{vector types must have positive constant sizes but got 3, 0}}\n"
     "func.func private @g() -> vector<3x0xf32>\n"),
    ("complex_of_index", "IR/invalid-builtin-types.mlir",
     "// expected-error@+1 {{invalid element type for complex}}\n"
     "func.func private @g(complex<index>)\n"),
    ("sparse_index_outside", "IR/invalid-builtin-attributes.mlir",
     "// expected-error@+1 {{sparse index #1 is not contained within the value shape, with index=[0, 3]}}\n"
     '"t.c"() {s = sparse<[[1, 2], [0, 3]], [5, 6]> : tensor<2x3xi32>} : () -> ()\n'),
    ("sparse_values_not_flat", "IR/invalid-builtin-attributes.mlir",
     "// expected-error@+1 {{expected 1-d tensor for sparse element values}}\n"
     '"t.c"() {s = sparse<[[1, 2]], [[5.0]]> : tensor<2x3xf32>} : () -> ()\n'),
    ("distinct_id_redefined", "IR/invalid-builtin-attributes.mlir",
     "#first = distinct[4]<unit>\n"
     "// expected-error@+1 {{referenced attribute does not match previous definition}}\n"
     '#second = distinct[4]<"other">\n'
     '"t.c"() {a = #first, b = #second} : () -> ()\n'),
    ("unknown_op_alone_in_a_body", "IR/invalid.mlir",
     "func.func @g() {\n"
     "  // expected-error@+1 {{custom op 'qwe' is unknown}}\n"
     "  qwe\n}\n"),
    ("block_without_terminator", "IR/invalid.mlir",
     "func.func @g() {\n"
     "  %a = arith.constant 3 : i8\n"
     "  %b = arith.constant 4 : i8  // expected-error {{block in region #0 must end with a terminator}}\n}\n"),
    ("missing_paren_before_next_line", "IR/invalid.mlir (the wrong-token rule, Parser::emitWrongTokenError)",
     '"t.a"() : () -> ()\n'
     '"t.b"(  // expected-error {{unexpected string}}\n'
     "\n"
     '"t.c"() : () -> ()\n'),
    # IR/attribute.mlir (second audit round): i0 holds only 0; a tf32 array is not whole bytes
    ("i0_negative", "IR/attribute.mlir",
     '"t.c"() {\n  // expected-error@+1 {{integer constant -1 out of range for i0}}\n  a = -1 : i0\n} : () -> ()\n'),
    ("ui0_positive", "IR/attribute.mlir",
     '"t.c"() {\n  // expected-error@+1 {{integer constant 1 out of range for ui0}}\n  a = 1 : ui0\n} : () -> ()\n'),
    ("tf32_dense_array", "IR/attribute.mlir",
     "// expected-error@+1 {{element type bitwidth must be a multiple of 8}}\n"
     '"t.c"() {a = array<tf32: 1024.0>} : () -> ()\n'),
]

VALID = [
    ("negative_stride", "Dialect/Builtin/types.mlir",
     "func.func private @g() -> memref<?x4xf32, strided<[-4, 1], offset: 12>>\n"),
    ("sparse_rank_one_indices", "IR/attribute.mlir",
     '"t.c"() {s = sparse<[1, 3], [7, 9]> : tensor<4xi32>, z = sparse<2, 1.5> : tensor<4x4xf32>} : () -> ()\n'),
    ("symbol_with_dollar_inside", "IR/parser.mlir",
     "func.func private @_g$1.x()\n"),
    ("distinct_id_repeated_same", "IR/distinct-attr.mlir",
     '"t.c"() {a = distinct[4]<unit>, b = distinct[4]<unit>} : () -> ()\n'),
    ("cast_scalable_same_shape", "Dialect/Arith/ops.mlir",
     "func.func @f(%a: vector<[4]xi32>) -> vector<[4]xi8> {\n"
     "  %0 = arith.trunci %a : vector<[4]xi32> to vector<[4]xi8>\n  return %0 : vector<[4]xi8>\n}\n"),
    # IR/parser.mlir and IR/attribute.mlir (second audit round)
    ("empty_block_argument_list", "IR/parser.mlir",
     "func.func @g() {\n^bb0():\n  return\n}\n"),
    ("extended_float_special_values", "IR/parser.mlir",
     "func.func @g() {\n  %0 = arith.constant 0x7FFFE000000000000001 : f80\n"
     "  %1 = arith.constant 0xFFFF8000000000000000 : f80\n  %2 = arith.constant 1.5 : f80\n"
     "  %3 = arith.constant 0x3FFF8000000000000001 : f80\n"
     "  %4 = arith.constant 0x7FFF0000000000000000000000000001 : f128\n  return\n}\n"),
    ("unregistered_op_region_is_a_graph_region", "IR/parser.mlir",
     '"t.g"() ({\n  %1 = "t.a"(%1, %2) : (i64, i64) -> i64\n  %2 = "t.b"(%1) : (i64) -> i64\n'
     '  "t.end"() : () -> ()\n}) : () -> ()\n'),
    ("zero_width_integers", "IR/attribute.mlir",
     '"t.c"() {a = 0 : i0, b = 0x0000 : si0, c = 0 : ui0, d = array<i0: 0, 0>,'
     ' e = 79228162514264337593543950335 : ui96} : () -> ()\n'),
    ("scalable_constant_splat", "Dialect/Arith/ops.mlir",
     "func.func @f() -> vector<[2]xi32> {\n"
     "  %c = arith.constant dense<7> : vector<[2]xi32>\n  return %c : vector<[2]xi32>\n}\n"),
]


def test_invalid_cases_fail_at_the_annotated_line_with_irqs_message(tmp_path, capsys):
    text = "\n// -----\n".join(case for _, _, case in INVALID)
    path = tmp_path / "invalid.mlir"
    path.write_text(text)
    status = irq_opt([str(path), "--split-input-file", "--verify-diagnostics", "--allow-unregistered-dialect"])
    assert capsys.readouterr().err == ""
    assert status == 0


@pytest.mark.parametrize("case,upstream,text", INVALID, ids=[c[0] for c in INVALID])
def test_each_invalid_case_is_rejected_alone(case, upstream, text, tmp_path, capsys):
    """Alone, without its annotation checked: the chunk must fail (exit 1), naming this file."""
    path = tmp_path / "one.mlir"
    path.write_text(text)
    assert irq_opt([str(path), "--allow-unregistered-dialect"]) == 1
    assert f"{path}:" in capsys.readouterr().err


@pytest.mark.parametrize("case,upstream,text", VALID, ids=[c[0] for c in VALID])
def test_valid_cases_round_trip(case, upstream, text):
    m = irq.parse_module(text)
    irq.verify(m)
    for generic in (False, True):
        printed = irq.print_module(m, generic=generic)
        again = irq.parse_module(printed)
        assert irq.print_module(again, generic=generic) == printed
        assert irq.structurally_equal(m, again)


def test_mlir_agrees():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    wrong = []
    for cases, valid in ((INVALID, False), (VALID, True)):
        for case, _, text in cases:
            ctx = ir.Context()
            ctx.allow_unregistered_dialects = True
            try:
                module = ir.Module.parse(text, ctx)
                accepted = module.operation.verify()
            except Exception:  # MLIRError: MLIR rejected the text
                accepted = False
            if accepted != valid:
                wrong.append(case)
    assert wrong == []


# A token missing at the end of a line: reported where it is missing, after the last token, as MLIR's
# Parser::emitWrongTokenError does (a blank line, a comment, a `//` inside a string in between).
MISSING_TOKEN = [
    ('"t.a"() : () -> ()\n"t.b"(\n\n"t.c"() : () -> ()\n', (2, 7)),
    ("func.func @f(%x: i32\n", (1, 21)),
    ('func.func @f(%x: i32 // a note with a " in it\n  // more\n\n', (1, 21)),
    ('"t.a"() {s = "a // b"\n} : (\n', (2, 6)),
]


@pytest.mark.parametrize("text,where", MISSING_TOKEN)
def test_a_missing_token_is_reported_after_the_last_token(text, where):
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text)
    assert (info.value.line, info.value.column) == where


def test_mlir_reports_missing_tokens_at_the_same_place():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    for text, (line, column) in MISSING_TOKEN:
        ctx = ir.Context()
        ctx.allow_unregistered_dialects = True
        with pytest.raises(Exception) as info:  # MLIRError
            ir.Module.parse(text, ctx)
        assert f":{line}:{column}:" in str(info.value), (text, str(info.value))


# Dialect/Arith/ops.mlir: the flags of the float ops (negf and cmpf too) and of the integer ops
# are written in the custom form, as mlir-opt prints them (irq printed these ops generically).
FLAGGED = (
    "func.func @f(%arg0: f32, %arg1: i32) -> f32 {\n"
    "  %0 = arith.addf %arg0, %arg0 fastmath<fast> : f32\n"
    "  %1 = arith.negf %0 fastmath<nnan,ninf> : f32\n"
    "  %2 = arith.addi %arg1, %arg1 overflow<nsw> : i32\n"
    "  %3 = arith.cmpf olt, %0, %1 fastmath<fast> : f32\n"
    "  return %1 : f32\n"
    "}\n"
)


def test_flags_print_in_the_custom_form():
    m = irq.parse_module(FLAGGED)
    assert irq.print_module(m) == "module {\n" + "".join("  " + line + "\n" for line in FLAGGED.splitlines()) + "}\n"
    generic = irq.print_module(m, generic=True)
    assert '"arith.negf"(%0) <{fastmath = #arith.fastmath<nnan,ninf>}>' in generic
    assert irq.print_module(irq.parse_module(generic)) == irq.print_module(m)


# MLIR's generic parser moves a registered op's inherent attribute written in the attribute
# dictionary (the spelling from before properties, Dialect/Arith/ops.mlir's test_constant)
# into its properties; a discardable attribute stays.
INHERENT = '%0 = "arith.constant"() {value = 42 : i32, t.note} : () -> i32\n"t.use"(%0) : (i32) -> ()\n'


def test_inherent_attributes_in_the_dictionary_become_properties():
    m = irq.parse_module(INHERENT)
    generic = irq.print_module(m, generic=True)
    assert '"arith.constant"() <{value = 42 : i32}> {t.note} : () -> i32' in generic
    assert "%c42_i32 = arith.constant {t.note} 42 : i32" in irq.print_module(m)


def test_mlir_moves_inherent_attributes_too():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    mlir = ir.Module.parse(INHERENT, ctx).operation.get_asm(print_generic_op_form=True)
    assert '"arith.constant"() <{value = 42 : i32}> {t.note} : () -> i32' in mlir
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    assert ir.Module.parse(FLAGGED, ctx).operation.get_asm().count("fastmath<") == 3


def test_a_location_alias_used_as_an_attribute_reads_back():
    """Issue 13, item 6 (IR/locations.mlir): `#loc` as an attribute value prints as `loc(...)`,
    which irq and MLIR read back."""
    text = '#loc = loc("a.py":1:2)\n"t.a"() {l = #loc, m = [#loc]} : () -> ()\n'
    m = irq.parse_module(text)
    for generic in (False, True):
        printed = irq.print_module(m, generic=generic)
        assert 'l = loc("a.py":1:2)' in printed
        assert irq.print_module(irq.parse_module(printed), generic=generic) == printed
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    ir.Module.parse(irq.print_module(m), ctx)


def test_entry_block_argument_mismatch_is_reported_at_the_function():
    """Issue 13, item 6 (Dialect/Func/invalid.mlir): at the function's own line, as MLIR does,
    not at 1:1 of the file."""
    text = "// a comment\n\nfunc.func @f(i32) {\n^bb0(%a: f32):\n  return\n}\n"
    m = irq.parse_module(text, "in.mlir")
    with pytest.raises(irq.VerifyError) as info:
        irq.verify(m)
    assert "in.mlir:3:1: error: 'func.func' op entry block arguments (f32)" in str(info.value)


# Dialect/Builtin/Bytecode/attrs.mlir: dense string elements of a dialect's string type, printed as
# mlir-opt prints them (", " between elements, one string when all are equal or there is one).
DENSE_STRINGS = ('"t.a"() {a = dense<"s"> : tensor<4x!b.string>, b = dense<["foo","bar"]> : tensor<2x!b.string>, '
                 'c = dense<["x", "x"]> : tensor<2x!b.s>, d = dense<[["p"], ["q, ]"]]> : tensor<2x1x!b.s>} '
                 ': () -> ()\n')


def test_dense_string_elements_print_as_mlir():
    printed = irq.print_module(irq.parse_module(DENSE_STRINGS))
    assert 'b = dense<["foo", "bar"]> : tensor<2x!b.string>, c = dense<"x"> : tensor<2x!b.s>' in printed
    assert 'd = dense<[["p"], ["q, ]"]]> : tensor<2x1x!b.s>' in printed
    assert irq.print_module(irq.parse_module(printed)) == printed
    mismatch = r"inferred shape of elements literal \(\[2\]\) does not match type \(\[3\]\)"
    with pytest.raises(irq.ParseError, match=mismatch):
        irq.parse_module('"t.a"() {b = dense<["foo", "bar"]> : tensor<3x!b.string>} : () -> ()\n')
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    assert ir.Module.parse(DENSE_STRINGS, ctx).operation.get_asm().strip() == printed.strip()
