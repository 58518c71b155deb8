"""irq's generic print is MLIR's (C++, iree-base-compiler) byte for byte where MLIR's rule is clear.

Each case is written with MLIR's own value names (`%0`, `%arg0`) and literals both print alike,
so the only differences left would be the rules under test: the order of a dictionary's
entries (MLIR sorts them by name), how aliases are numbered and ordered (`#distinct`, `#map`,
`#set`, in the order MLIR's alias collector visits the IR: an op's operand and result types,
then its regions, then its attributes), distinct attributes renumbered in alias order, and a
splat list inside `sparse<...>` shortened to its element. The differences that stay (value
names, float spelling, property order) are listed in docs/design.md.
"""

from __future__ import annotations

import pytest

import irq

ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")


def _mlir_generic(text: str) -> str:
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    return ir.Module.parse(text, ctx).operation.get_asm(print_generic_op_form=True)


def _irq_generic(text: str) -> str:
    return irq.print_module(irq.parse_module(text), generic=True)


CASES = {
    # MLIR's DictionaryAttr is sorted by name (bytes: `B` < `_c` < `a`), nested ones too
    "attribute_order": '"t.a"() {b = 1 : i32, a = 2 : i32, _c = 3 : i32, B = 4 : i32, '
    "d = {z = 1 : i32, b = 2 : i32}} : () -> ()\n",
    # registered op: properties first, then its discardable attributes sorted
    "attribute_order_registered": '%0 = "t.x"() : () -> i32\n'
    '%1 = "arith.cmpi"(%0, %0) <{predicate = 2 : i64}> {z = 1 : i64, a = 2 : i64} : (i32, i32) -> i1\n',
    # the memref layout in the result type is visited before the attribute: it is #map
    "map_result_type_first": '%0 = "t.a"() {m = affine_map<(d0) -> (d0)>} : () -> memref<2x3xf32, '
    "affine_map<(d0, d1) -> (d1, d0)>>\n",
    # an op's regions (block argument types, then nested ops) come before its own attributes;
    # #map before #set whatever the order of use
    "map_regions_before_attributes": (
        '"t.r"() ({\n'
        "^bb0(%arg0: memref<4xf32, affine_map<(d0) -> (d0 + 1)>>):\n"
        '  "t.y"() {q = affine_map<(d0) -> (d0 + 2)>, s = affine_set<(d0) : (d0 >= 0)>} : () -> ()\n'
        "}) {z = affine_map<(d0) -> (d0 + 3)>} : () -> ()\n"
        '"t.z"() {a = affine_map<(d0) -> (d0 + 3)>} : () -> ()\n'
    ),
    "map_operand_types": (
        '%0 = "t.src"() : () -> memref<4xf32, affine_map<(d0) -> (d0 * 2)>>\n'
        '"t.use"(%0) {k = affine_map<(d0) -> (d0 * 3)>} : (memref<4xf32, affine_map<(d0) -> (d0 * 2)>>) -> ()\n'
    ),
    # distinct attributes: aliased, renumbered from 0 in alias order, one alias per attribute
    "distinct": '"t.b"() {a = distinct[7]<42 : i32>, b = distinct[3]<1 : i32>, c = distinct[7]<42 : i32>} : () -> ()\n',
    "distinct_before_map": '"t.b"() {m = affine_map<(d0) -> (d0)>, a = distinct[2]<[1, 2]>} : () -> ()\n',
    # sparse: an all-equal index or value list prints as its element
    "sparse_splat": (
        '"t.c"() {s = sparse<[[0, 1], [1, 0]], [5, 5]> : tensor<2x2xi32>, t = sparse<[[1, 1]], [2]> : tensor<2x2xi32>, '
        "u = sparse<[[0, 1], [1, 0]], [5, 6]> : tensor<2x2xi32>, x = sparse<0, 7> : tensor<2xi8>} : () -> ()\n"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generic_print_is_mlirs(name: str):
    text = CASES[name]
    assert _irq_generic(text) == _mlir_generic(text)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_printed_form_reads_back_to_the_same_print(name: str):
    once = _irq_generic(CASES[name])
    assert _irq_generic(once) == once


def test_renumbered_distinct_attributes_stay_distinct_and_shared():
    m = irq.parse_module(_irq_generic(CASES["distinct"]))
    attrs = next(iter(m.body.ops)).attributes
    assert attrs["a"] == attrs["c"] and attrs["a"] != attrs["b"]


def test_distinct_ids_kept_when_one_lies_inside_a_dialect_body():
    # `distinct[0]` inside `#foo.x<...>` is not aliased (MLIR's printer would not see it as
    # irq does not parse the body); renumbering the outer `distinct[5]` to 0 would make the two
    # attributes one on the next parse, so the ids are kept
    text = '"t.b"() {a = #foo.x<distinct[0]<1 : i32>>, b = distinct[5]<2 : i32>} : () -> ()\n'
    out = _irq_generic(text)
    assert "distinct[5]<2 : i32>" in out and "#distinct = " in out
    assert "#foo.x<distinct[0]<1 : i32>>" in out


def test_sparse_spellings_are_one_attribute():
    short = irq.parse_module('"t.c"() {s = sparse<0, 1.5> : tensor<2x2xf32>} : () -> ()\n')
    long = irq.parse_module('"t.c"() {s = sparse<[[0, 0]], [1.5]> : tensor<2x2xf32>} : () -> ()\n')
    assert irq.structurally_equal(short, long)


def test_sparse_lists_that_are_not_splats_are_kept():
    # -0.0 and 0.0 differ in bits (MLIR's splat test); strings are not read
    for body in ("[[0], [1]], [0.0, -0.0]", "[[0], [1]], [1, 2]", '[[0], [1]], "0x0000803F0000803F"'):
        text = f'"t.c"() {{s = sparse<{body}> : tensor<4xf32>}} : () -> ()\n'
        assert f"sparse<{body}>" in _irq_generic(text)


def test_a_distinct_unit_attribute_is_not_aliased():
    # MLIR's builtin alias rule leaves `distinct[N]<>` (a unit reference) inline; irq keeps its
    # ids then, since renumbering only the aliased ones could collide with it
    text = '"t.b"() {a = distinct[4]<unit>, b = distinct[1]<3 : i32>} : () -> ()\n'
    out = _irq_generic(text)
    assert "a = distinct[4]<unit>" in out and "#distinct = distinct[1]<3 : i32>" in out


# The custom form: MLIR collects aliases by running each op's printer, so a custom-form op is
# visited in the order it writes (func.func: signature with argument attributes, result types,
# `attributes {...}`, then its body) while an op printed generically inside it keeps the generic
# rule (its operand and result types before its regions and attributes). Written with MLIR's value
# names; `func.func` bodies of generic ops that would print the other way round under "first use
# in the text" (the rule before): a generic op's result type is written after its attributes.
CUSTOM_CASES = {
    "generic_op_types_first": (
        "func.func @f() {\n"
        '  %0 = "t.a"() {m = affine_map<(d0) -> (d0 + 1)>} : () -> memref<4xf32, affine_map<(d0) -> (d0 + 2)>>\n'
        "  return\n}\n"
    ),
    "generic_op_region_before_attributes": (
        "func.func @f() {\n"
        '  "t.r"() ({\n'
        "  ^bb0(%arg0: memref<4xf32, affine_map<(d0) -> (d0 + 3)>>):\n"
        '    "t.y"() {k = affine_map<(d0) -> (d0 + 5)>} : () -> ()\n'
        "  }) {z = affine_map<(d0) -> (d0 + 4)>} : () -> ()\n"
        "  return\n}\n"
    ),
    "signature_then_attributes_then_body": (
        "func.func @f(%arg0: memref<4x4xf32, affine_map<(d0, d1) -> (d1, d0)>> {t.a = affine_map<(d0) -> (d0 * 2)>})"
        " -> memref<4xf32, affine_map<(d0) -> (d0 + 1)>> attributes {t.z = affine_set<(d0) : (d0 >= 0)>} {\n"
        '  %0 = "t.op"(%arg0) {n = affine_map<(d0) -> (d0 * 3)>} : (memref<4x4xf32, affine_map<(d0, d1) -> (d1, d0)>>)'
        " -> memref<4xf32, affine_map<(d0) -> (d0 + 1)>>\n"
        "  return %0 : memref<4xf32, affine_map<(d0) -> (d0 + 1)>>\n}\n"
        "func.func private @g(memref<8xf32, affine_map<(d0) -> (d0 + 7)>>)"
        " -> memref<8xf32, affine_map<(d0) -> (d0 + 6)>>\n"
    ),
    # a declaration's argument attributes are aliased, a definition's are not (mlir-opt's collector
    # does not visit them); result attributes are in both
    "argument_attributes": (
        "func.func private @d(i32 {t.a = affine_map<(d0) -> (d0 * 2)>}) -> (i32 {t.r = affine_map<(d0) -> (d0 * 5)>})\n"
        "func.func @e(%arg0: i32 {t.a = affine_map<(d0) -> (d0 * 2)>})"
        " -> (i32 {t.r = affine_map<(d0) -> (d0 * 9)>}) {\n"
        "  return %arg0 : i32\n}\n"
    ),
    "distinct_in_custom_form": (
        'func.func @f() attributes {t.d = distinct[5]<"x">} {\n'
        '  "t.a"() {b = distinct[2]<1 : i32>} : () -> ()\n'
        "  return\n}\n"
    ),
}


def _mlir_custom(text: str) -> str:
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    return ir.Module.parse(text, ctx).operation.get_asm()


@pytest.mark.parametrize("name", sorted(CUSTOM_CASES))
def test_custom_print_numbers_aliases_as_mlir(name: str):
    text = CUSTOM_CASES[name]
    once = irq.print_module(irq.parse_module(text))
    assert once.rstrip("\n") == _mlir_custom(text).rstrip("\n")
    assert irq.print_module(irq.parse_module(once)) == once
