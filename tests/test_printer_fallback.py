"""Printing never raises and never loses information (issue 14, item 2).

The printer decides, for every op, whether its custom form reads back as the same
op; when it would not (the op fails its own checks, holds an undeclared property,
or its custom printer raises) the op prints in generic form, as MLIR's printer does
for ops that fail verification.
"""

from __future__ import annotations

import pytest
from irq.dialects.func import FuncOp

import irq
from irq.ir import structural_diff
from irq.ir.attributes import StringAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, operand, result
from irq.ir.types import FunctionType


def round_trips(m, *, generic: bool) -> str:
    """Print, re-parse, compare structurally and re-print; returns the text."""
    text = irq.print_module(m, generic=generic)
    back = irq.parse_module(text)
    assert structural_diff(m, back) is None, text
    assert irq.print_module(back, generic=generic) == text
    return text


def both_forms(text: str) -> tuple[str, str]:
    m = irq.parse_module(text)
    return round_trips(m, generic=False), round_trips(m, generic=True)


@pytest.mark.parametrize(
    "text, error",
    [
        ('"func.func"() ({}) {function_type = 3 : i32, sym_name = "f"} : () -> ()', "function_type"),
        (
            '"func.func"() ({\n"func.return"() : () -> ()\n})'
            " {function_type = () -> (), sym_name = 3 : i32} : () -> ()",
            "sym_name",
        ),
        ('%0 = "t.x"() : () -> tensor<2xf32>\n%1 = "torch.relu"(%0) : (tensor<2xf32>) -> tensor<3xi32>', "differs"),
    ],
)
def test_ops_failing_verification_print_generically_and_round_trip(text, error):
    m = irq.parse_module(text)
    with pytest.raises(irq.VerifyError, match=error):
        irq.verify(m)
    custom, generic = both_forms(text)
    assert custom.count('"') >= 2  # the invalid op is quoted: generic form even in custom output


def test_invalid_relu_keeps_its_result_type():
    # the custom form `torch.relu %0 : tensor<2xf32>` would infer f32 back and lose tensor<3xi32>
    custom, _ = both_forms(
        '%0 = "t.x"() : () -> tensor<2xf32>\n%1 = "torch.relu"(%0) : (tensor<2xf32>) -> tensor<3xi32>'
    )
    assert '"torch.relu"(%0) : (tensor<2xf32>) -> tensor<3xi32>' in custom


def test_valid_ops_keep_their_custom_form():
    custom, _ = both_forms(
        "func.func @f(%a: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %0 = torch.relu %a : (tensor<2xf32>) -> tensor<2xf32>\n  return %0 : tensor<2xf32>\n}"
    )
    assert "torch.relu %a : (tensor<2xf32>) -> tensor<2xf32>" in custom and '"' not in custom


def test_nested_function_round_trips_in_custom_form():
    custom, _ = both_forms("func.func @f() {\n  func.func @g() {\n    return\n  }\n  return\n}")
    assert "func @g()" in custom  # the prefix of the enclosing default dialect is elided, as MLIR does


def test_undeclared_property_stays_a_property():
    text = '%0 = "t.x"() : () -> tensor<2xf32>\n%1 = "torch.relu"(%0) <{mod = "m"}> : (tensor<2xf32>) -> tensor<2xf32>'
    m = irq.parse_module(text)
    irq.verify(m)
    custom, _ = both_forms(text)
    relu = [op for op in irq.parse_module(custom).walk() if op.name == "torch.relu"][0]
    assert "mod" in relu.properties and "mod" not in relu.attributes


def test_hostile_visibility_is_escaped_not_spliced():
    hostile = "private @g() {\\n}\\nfunc.func"
    text = (
        '"func.func"() ({\n"func.return"() : () -> ()\n}) '
        f'{{function_type = () -> (), sym_name = "f", sym_visibility = "{hostile}"}} : () -> ()'
    )
    with pytest.raises(irq.VerifyError, match="visibility must be one of"):
        irq.verify(irq.parse_module(text))
    custom, generic = both_forms(text)
    for out in (custom, generic):
        funcs = [op for op in irq.parse_module(out).walk() if op.name == "func.func"]
        assert len(funcs) == 1  # no extra function smuggled in


def test_api_built_function_with_bad_visibility_prints_generically():
    f = FuncOp("f", FunctionType([], []))
    f.set_attr("sym_visibility", StringAttr("private @x"))
    text = f.to_text()
    assert text.startswith('"func.func"()') and '"private @x"' in text


def test_custom_printer_that_raises_falls_back_to_generic():
    d = Dialect("boom")

    @d.op
    class Boom(Op):
        name = "boom.op"
        x = operand()
        out = result()

        def print_custom(self, p) -> None:
            p.out.append("boom.op PARTIAL")
            raise RuntimeError("printer bug")

    m = irq.parse_module('%0 = "t.x"() : () -> i32')
    x = next(iter(m.body.ops))
    op = Boom.create([x.results[0]], [x.results[0].type])
    m.body.append(op)
    text = irq.print_module(m)
    assert "PARTIAL" not in text
    assert '"boom.op"(%0) : (i32) -> i32' in text


@pytest.mark.parametrize(
    "make",
    [
        lambda: irq.OpaqueAttr("foo", '#foo<x>} : () -> ()\n"t.evil"() {a = #foo<y>'),
        lambda: irq.OpaqueType("foo", '!foo<a> : () -> ()\n"t.evil"() : () -> !foo<b>'),
        lambda: irq.TensorType([1], irq.FloatType("f32"), 'x>, "t'),
        lambda: irq.OpaqueAttr("foo", '#foo.a : i32} : () -> ()\n"t.evil"() {a = #foo<y> : i32'),
        lambda: irq.OpaqueAttr("builtin", '"s"'),  # a bare string is a StringAttr: it would not read back opaque
    ],
    ids=["opaque_attr", "opaque_type", "tensor_encoding", "typed_opaque_attr", "bare_string"],
)
def test_verbatim_text_cannot_splice_ir_into_the_output(make):
    # text printed as is must be one token: built through the API, it could otherwise close its brackets
    with pytest.raises(ValueError, match="not well-formed|must be exactly one"):
        make()


def test_well_formed_verbatim_text_round_trips():
    from irq.ir import UnregisteredOp

    t = irq.TensorType([2], irq.FloatType("f32"), "#foo.enc<1, [2]>")
    op = UnregisteredOp(
        "t.a",
        result_types=[t, irq.OpaqueType("foo", '!foo.bar<"a>">')],
        attributes={"o": irq.OpaqueAttr("foo", '#foo<"}">')},
    )
    text = op.to_text()
    assert '#foo<"}">' in text and '!foo.bar<"a>">' in text and "#foo.enc<1, [2]>" in text
    back = next(iter(irq.parse_module(text).body.ops))
    assert back.attributes == op.attributes and [r.type for r in back.results] == [r.type for r in op.results]


@pytest.mark.parametrize("text", ['"s" : !foo.string', "#foo.attr : i32", "sparse<0, 1.0> : tensor<2x2xf32>",
                                  "sparse<[[0, 1], [1, 0]], [1.0, 2.0]> : tensor<2x2xf32>"])
def test_typed_opaque_attribute_round_trips(text):
    # MLIR writes a type after an attribute irq keeps opaque; the pair is one verbatim value
    # (a sparse one in MLIR's spelling, which the parser reads a splat list into: irq/text/sparse.py)
    from irq.ir import UnregisteredOp

    op = UnregisteredOp("t.a", attributes={"o": irq.OpaqueAttr("foo", text)})
    printed = op.to_text()
    assert f"o = {text}" in printed
    back = next(iter(irq.parse_module(printed).body.ops))
    assert back.attributes == op.attributes
