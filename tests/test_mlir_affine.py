"""Affine maps and integer sets: irq accepts exactly what MLIR accepts.

Each case carries MLIR's verdict (checked against MLIR's C++ parser from iree-base-compiler when
it is installed, so the table cannot drift from MLIR) and irq must agree: a valid map parses and
prints back as written, an invalid one is a ParseError at the attribute. Cases written for irq
after llvm-project mlir/test/IR/affine-map.mlir, invalid-affinemap.mlir, integer-set.mlir and
invalid.mlir (affine sets).
"""

from __future__ import annotations

import pytest

import irq

# (attribute, MLIR accepts it, part of irq's message when it does not)
CASES = [
    ("affine_map<(d0) -> (d0)>", True, ""),
    ("affine_map<() -> ()>", True, ""),
    ("affine_map<() -> (0)>", True, ""),
    ("affine_map<(i, j) -> (j, i)>", True, ""),
    ("affine_map<(d0)[s0] -> (d0 + s0)>", True, ""),
    ("affine_map<(d0)[s0] -> (d0 * s0)>", True, ""),
    ("affine_map<(d0)[s0] -> (d0 floordiv s0)>", True, ""),
    ("affine_map<(d0) -> (d0 floordiv 2, d0 ceildiv 3, d0 mod 4)>", True, ""),
    ("affine_map<(d0) -> (d0 mod 0)>", True, ""),
    ("affine_map<(d0) -> (-d0, d0 - 1, 2 * d0 + 1, d0 * -2)>", True, ""),
    ("affine_map<(d0)[s0, s1] -> ((d0 + 1) * 2, d0 * (s0 + s1))>", True, ""),
    ("affine_map<(d0)[] -> (d0)>", True, ""),
    ("affine_map<(d0) -> (9223372036854775807 * d0)>", True, ""),
    ("affine_map<(d0) -> (d1)>", False, "use of undeclared identifier 'd1'"),
    ("affine_map<(d0) -> (s0)>", False, "use of undeclared identifier 's0'"),
    ("affine_map<(d0, d0) -> (d0)>", False, "redefinition of identifier 'd0'"),
    ("affine_map<(d0) -> (d0 * d0)>", False, "at least one of the multiply operands has to be a constant"),
    ("affine_map<(d0) -> (d0 floordiv d0)>", False, "right operand of floordiv has to be a constant"),
    ("affine_map<(d0) -> (d0 + )>", False, "expected an affine expression"),
    ("affine_map<(d0) -> (d0,)>", False, "expected an affine expression"),
    ("affine_map<(d0) -> d0>", False, "expected '('"),
    ("affine_map<(d0) -> (99999999999999999999 * d0)>", False, "constant too large for index"),
    ("affine_set<(d0) : (d0 >= 0)>", True, ""),
    ("affine_set<(d0)[s0] : (d0 - s0 >= 0, d0 == 0)>", True, ""),
    ("affine_set<(d0) : (d0 <= 0)>", True, ""),
    ("affine_set<(d0) : (d0 == 1)>", True, ""),
    ("affine_set<(d0) : (d0 >= 1)>", True, ""),
    ("affine_set<(d0)[s0] : (d0 >= s0 + 1)>", True, ""),
    ("affine_set<(d0) : ()>", True, ""),
    ("affine_set<() : (0 == 0)>", True, ""),
    ("affine_set<(d0) : (d0)>", False, "expected '== affine-expr' or '>= affine-expr'"),
    ("affine_set<(d0) : (d0 * d0 >= 0)>", False, "at least one of the multiply operands has to be a constant"),
    ("affine_set<(d0) : (d0 >= d1)>", False, "use of undeclared identifier 'd1'"),
]


def _text(attr: str) -> str:
    return f'"t.c"() {{a = {attr}}} : () -> ()\n'


@pytest.mark.parametrize("attr,valid,message", CASES, ids=[c[0] for c in CASES])
def test_irq_agrees_with_mlir(attr, valid, message):
    if valid:
        m = irq.parse_module(_text(attr))
        assert attr in irq.print_module(m)
    else:
        with pytest.raises(irq.ParseError) as info:
            irq.parse_module(_text(attr), "maps.mlir")
        assert message in info.value.message
        # located inside the attribute, where the problem is
        assert info.value.line == 1 and 14 <= info.value.column <= 14 + len(attr)


def test_the_verdicts_are_mlirs():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    wrong = []
    for attr, valid, _ in CASES:
        try:
            ir.Module.parse(_text(attr), ctx)
            accepted = True
        except Exception:  # MLIRError: MLIR rejected the text
            accepted = False
        if accepted != valid:
            wrong.append(attr)
    assert wrong == []


def test_a_map_alias_is_checked_where_it_is_defined():
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module('#map = affine_map<(d0) -> (d0 * d0)>\n"t.c"() {a = #map} : () -> ()\n')
    assert info.value.line == 1 and "multiply operands" in info.value.message
    m = irq.parse_module('#map = affine_map<(d0)[s0] -> (d0 + s0)>\n"t.c"() {a = #map} : () -> ()\n')
    assert "affine_map<(d0)[s0] -> (d0 + s0)>" in irq.print_module(m)


# Maps and sets used from attributes (arrays, properties) and memref layouts, with an affine-looking
# string and a dialect attribute holding a map; keys in MLIR's (sorted) order so that MLIR's generic
# output and irq's can be compared byte for byte.
ALIAS_TEXT = """#t = affine_map<(d0, d1) -> (d1, d0)>
"builtin.module"() ({
  "t.c"() <{p = affine_map<() -> (0)>}> {l = [affine_map<(d0) -> (d0 + 1)>, affine_map<(d0)[s0] -> (d0 * s0)>], \
m = affine_map<(d0) -> (d0 + 1)>, n = #t, s = affine_set<(d0) : (d0 - 1 >= 0)>} : () -> ()
  %0 = "t.d"() {o = #foo.x<affine_map<(d0) -> (d0)>>, q = affine_set<() : (0 == 0)>, \
str = "affine_map<(d0) -> (d0)>"} : () -> memref<4x4xf32, #t>
}) : () -> ()
"""


def test_maps_and_sets_print_through_aliases_as_mlir():
    """`#map`, `#map1`, ... and `#set`, ... numbered by first use, defined before the module,
    used in attributes and memref layouts; strings, dialect attribute bodies and an unregistered
    op's properties untouched (MLIR C++ prints this very text, see the next test)."""
    printed = irq.print_module(irq.parse_module(ALIAS_TEXT), generic=True)
    assert printed == (
        "#map = affine_map<(d0) -> (d0 + 1)>\n"
        "#map1 = affine_map<(d0)[s0] -> (d0 * s0)>\n"
        "#map2 = affine_map<(d0, d1) -> (d1, d0)>\n"
        "#set = affine_set<(d0) : (d0 - 1 >= 0)>\n"
        "#set1 = affine_set<() : (0 == 0)>\n"
        '"builtin.module"() ({\n'
        '  "t.c"() <{p = affine_map<() -> (0)>}> {l = [#map, #map1], m = #map, n = #map2, s = #set} : () -> ()\n'
        '  %0 = "t.d"() {o = #foo.x<affine_map<(d0) -> (d0)>>, q = #set1, str = "affine_map<(d0) -> (d0)>"} '
        ": () -> memref<4x4xf32, #map2>\n"
        "}) : () -> ()\n"
    )
    for generic in (False, True):  # a fixpoint, and the same IR
        text = irq.print_module(irq.parse_module(ALIAS_TEXT), generic=generic)
        back = irq.parse_module(text)
        assert irq.print_module(back, generic=generic) == text
        assert irq.structurally_equal(back, irq.parse_module(ALIAS_TEXT))
    # a lone op, printed for a message, keeps its maps inline
    op = irq.parse_module(ALIAS_TEXT).body.first_op
    assert "affine_map<() -> (0)>" in op.to_text()


def test_alias_output_is_mlirs():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    mlir = ir.Module.parse(ALIAS_TEXT, ctx).operation.get_asm(print_generic_op_form=True)
    ours = irq.print_module(irq.parse_module(ALIAS_TEXT), generic=True)
    assert ours == mlir
    for generic in (False, True):  # and MLIR reads what irq prints to the same module
        text = irq.print_module(irq.parse_module(ALIAS_TEXT), generic=generic)
        assert ir.Module.parse(text, ctx).operation.get_asm(print_generic_op_form=True) == mlir
