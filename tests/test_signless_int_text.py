"""Signless integers of every width print as MLIR prints them: the bits read as signed.

MLIR's IntegerAttr holds bits (an APInt); its printer writes a signless value of more than
one bit signed, so `255 : i8` comes back from mlir-opt as `-1 : i8`, and `dense<...>`
elements likewise. irq keeps one value per bit pattern (the signed one), so irq's output
is MLIR's byte for byte, and `255 : i8` and `-1 : i8` are one attribute, as in MLIR. The
oracle is the two's complement formula, and MLIR C++ itself when iree-base-compiler (the
test extra) is installed. `si`/`ui` types keep their own ranges.
"""

from __future__ import annotations

import numpy as np
import pytest

import irq
from irq.ir.attributes import BoolAttr, IntegerAttr
from irq.ir.types import IntegerType

WIDTHS = (2, 3, 7, 8, 16, 32, 63, 64)


def _signed(v: int, w: int) -> int:
    """Two's complement reading of the low `w` bits of `v`."""
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


def _cases() -> list[tuple[int, int]]:
    return [(w, v) for w in WIDTHS for v in (1, 2 ** (w - 1) - 1, 2 ** (w - 1), 2**w - 1, -1, -(2 ** (w - 1)))]


def _printed_attr(text: str) -> str:
    module = irq.parse_module(f'"t.c"() {{a = {text}}} : () -> ()')
    printed = irq.print_module(module, generic=True)
    return printed.split("{a = ", 1)[1].rsplit("} :", 1)[0]


@pytest.mark.parametrize("w, v", _cases())
def test_a_signless_integer_prints_its_bits_signed(w, v):
    assert _printed_attr(f"{v} : i{w}") == f"{_signed(v, w)} : i{w}"
    t = IntegerType(w)
    assert IntegerAttr(v, t) == IntegerAttr(_signed(v, w), t)
    assert IntegerAttr(v, t).value == _signed(v, w)


def test_signed_and_unsigned_types_keep_their_values():
    assert _printed_attr("255 : ui8") == "255 : ui8"
    assert _printed_attr("-128 : si8") == "-128 : si8"
    assert IntegerAttr(255, IntegerType(8, "u")).value == 255
    for bad in ("128 : si8", "-1 : ui8", "256 : i8", "-129 : i8"):
        with pytest.raises(irq.ParseError, match="out of range"):
            _printed_attr(bad)


def test_minus_one_is_true_for_i1():
    # MLIR reads `-1 : i1` as the all-ones bit, `true`; `2 : i1` stays out of range
    assert _printed_attr("-1 : i1") == "true"
    assert IntegerAttr(-1, IntegerType(1)) == BoolAttr(True)
    with pytest.raises(irq.ParseError, match="out of range"):
        _printed_attr("2 : i1")


def test_dense_signless_elements_above_the_signed_maximum():
    # `2^64 - 1` did not fit int64 before wrapping: a crash, not MLIR's `-1`
    text = "dense<[18446744073709551615, 1, 9223372036854775808]> : tensor<3xi64>"
    assert _printed_attr(text) == "dense<[-1, 1, -9223372036854775808]> : tensor<3xi64>"
    module = irq.parse_module(f'"t.c"() {{a = {text}}} : () -> ()')
    values = next(iter(module.body.ops)).attributes["a"].to_numpy()
    assert values.tolist() == [-1, 1, -(2**63)]
    assert _printed_attr("dense<[255, 128, 1]> : tensor<3xi8>") == "dense<[-1, -128, 1]> : tensor<3xi8>"
    assert _printed_attr("dense<65535> : tensor<2xi16>") == "dense<-1> : tensor<2xi16>"
    assert _printed_attr("dense<[255, 1]> : tensor<2xui8>") == "dense<[255, 1]> : tensor<2xui8>"
    with pytest.raises(irq.ParseError, match="out of range"):
        _printed_attr("dense<[18446744073709551616]> : tensor<1xi64>")
    np.testing.assert_array_equal(values, np.array([-1, 1, -(2**63)], dtype=np.int64))


def test_dense_array_signless_elements_hold_their_signed_reading():
    """`array<i8: 255>` held 255 and printed it (found by reading back what MLIR C++ prints for
    Dialect/Builtin/Bytecode/attrs.mlir, `array<i8: 10, 32, 255>`, which is -1 there): an array
    element is its bits, as an IntegerAttr is (session 9)."""
    assert _printed_attr("array<i8: 10, 32, 255>") == "array<i8: 10, 32, -1>"
    assert _printed_attr("array<i16: 65535, -1>") == "array<i16: -1, -1>"
    assert _printed_attr("array<ui8: 255>") == "array<ui8: 255>"
    module = irq.parse_module('"t.c"() {a = array<i8: 255>, b = array<i8: -1>} : () -> ()')
    op = next(iter(module.body.ops))
    assert op.attributes["a"] == op.attributes["b"] and list(op.attributes["a"]) == [-1]
    with pytest.raises(irq.ParseError, match="out of range"):
        _printed_attr("array<i8: 256>")


def test_irq_prints_what_mlir_cpp_prints():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    entries = [f"a{i} = {v} : i{w}" for i, (w, v) in enumerate(_cases())]
    entries += ["b0 = -1 : i1", "b1 = 255 : ui8", "b2 = dense<[18446744073709551615, 1]> : tensor<2xi64>",
                "b3 = dense<[255, 7]> : tensor<2xi8>", 'b4 = dense<"0xFFFF0100"> : tensor<2xi16>',
                "b5 = dense<[(255, 1), (3, 128)]> : tensor<2xcomplex<i8>>",
                "b6 = array<i8: 10, 32, 255>", "b7 = array<i16: 65535, 7>", "b8 = array<ui8: 255>",
                "b9 = array<i24: 16777215, -8388608>"]
    text = '"t.c"() {' + ", ".join(entries) + "} : () -> ()\n"
    ours = irq.print_module(irq.parse_module(text), generic=True)
    theirs = ir.Module.parse(text, ctx).operation.get_asm(print_generic_op_form=True)
    # MLIR sorts the dictionary; compare entry by entry
    ours_attrs = ours.split('"t.c"() ', 1)[1]
    theirs_attrs = theirs.split('"t.c"() ', 1)[1]
    def entries_of(s: str) -> dict[str, str]:
        body = s[s.index("{") + 1 : s.rindex("}")]
        out = {}
        for item in _split_top(body):
            k, _, v = item.partition(" = ")
            out[k.strip()] = v.strip()
        return out

    assert len(entries_of(ours_attrs)) == len(entries)
    assert entries_of(ours_attrs) == entries_of(theirs_attrs)


def _split_top(body: str) -> list[str]:
    """Split a dictionary body at its top-level commas."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(body):
        if c in "[(<":
            depth += 1
        elif c in "])>":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(body[start:i])
            start = i + 1
    out.append(body[start:])
    return out
