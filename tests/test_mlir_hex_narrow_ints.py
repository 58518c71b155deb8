"""A hex dense literal of integers narrower than their bytes reads as MLIR reads it (session 9).

Found by the audit on IR/parse-literal.mlir (`@parse_i4_tensor`: a hex string of `0x0F` bytes for
`tensor<32xi4>`, which MLIR reads as -1): irq kept each element's whole byte, so it held 15, a
value outside i4's range, and printed `dense<15>`, which reads back as -1 -- a wrong number with
no error, and a generic print that was not a fixpoint. MLIR reads a signless or signed element's
low `width` bits and sign-extends them; an unsigned element keeps its whole bytes there (`"0x18"`
is 24 in `ui4`, out of its range), and irq follows that reading. The cases are irq's own; each
reading is MLIR C++'s (iree-base-compiler), checked when it is installed.
"""

from __future__ import annotations

import pytest

import irq
from irq.text.printer import print_module

# (hex literal with its type, what MLIR prints)
CASES = [
    ('dense<"0x0F0F0F"> : tensor<3xi4>', "dense<-1> : tensor<3xi4>"),
    ('dense<"0x1F0708"> : tensor<3xi4>', "dense<[-1, 7, -8]> : tensor<3xi4>"),
    ('dense<"0xF8"> : tensor<2xsi4>', "dense<-8> : tensor<2xsi4>"),
    ('dense<"0x0F08"> : tensor<2xui4>', "dense<[15, 8]> : tensor<2xui4>"),
    ('dense<"0x3F40"> : tensor<2xi7>', "dense<[63, -64]> : tensor<2xi7>"),
    ('dense<"0xFF7F0008"> : tensor<2xi12>', "dense<[-1, -2048]> : tensor<2xi12>"),
    ('dense<"0xFF0F"> : tensor<1xui12>', "dense<4095> : tensor<1xui12>"),
    ('dense<"0xFFFFFFFF"> : tensor<1xi31>', "dense<-1> : tensor<1xi31>"),
    ('dense<"0x05"> : tensor<4xi3>', "dense<-3> : tensor<4xi3>"),
    ('dense<"0x0200"> : tensor<2xi1>', "dense<[true, false]> : tensor<2xi1>"),  # i1: a byte that is not 0
    ('dense<"0x7F"> : tensor<2xi8>', "dense<127> : tensor<2xi8>"),  # whole bytes: as before
]


# unsigned elements keep their whole bytes in MLIR C++ (irq follows it): values beyond the width
UNSIGNED_WHOLE_BYTES = [
    ('dense<"0x0F18"> : tensor<2xui4>', "dense<[15, 24]> : tensor<2xui4>"),
    ('dense<"0xFFFF"> : tensor<1xui12>', "dense<65535> : tensor<1xui12>"),
]


def _attr_text(text: str, generic: bool = False) -> str:
    m = irq.parse_module(f'"t.a"() {{v = {text}}} : () -> ()\n')
    line = print_module(m, generic=generic).splitlines()[1]
    return line[line.index("v = ") + 4 : line.rindex("}")]


@pytest.mark.parametrize("literal,expected", CASES, ids=[c[0] for c in CASES])
def test_only_the_low_bits_are_read(literal, expected):
    assert _attr_text(literal) == expected
    assert _attr_text(expected) == expected  # the print reads back to the same values


@pytest.mark.parametrize("literal,expected", UNSIGNED_WHOLE_BYTES, ids=[c[0] for c in UNSIGNED_WHOLE_BYTES])
def test_unsigned_elements_keep_their_bytes(literal, expected):
    assert _attr_text(literal) == expected


def test_the_upstream_i4_constant_round_trips():
    text = (
        'func.func @f() -> tensor<32xi4> {\n  %0 = arith.constant dense<"0x'
        + "0F" * 32
        + '"> : tensor<32xi4>\n  return %0 : tensor<32xi4>\n}\n'
    )
    once = print_module(irq.parse_module(text), generic=True)
    assert "dense<-1> : tensor<32xi4>" in once
    assert print_module(irq.parse_module(once), generic=True) == once


def _large(width: int, signed: str = "") -> tuple[str, list[int]]:
    """A literal large enough that both printers write it in hex, and its values."""
    half = 1 << (width - 1)
    values = [(i * 7) % (2 * half) - half for i in range(300)]
    return f"dense<[{', '.join(map(str, values))}]> : tensor<300x{signed or 'i'}{width}>", values


@pytest.mark.parametrize("width,signed", [(4, ""), (7, "si"), (12, "")])
def test_hex_is_written_with_the_low_bits_only(width, signed):
    """A large value prints in hex as MLIR writes it: -1 in `i4` is the byte 0x0F, not 0xFF."""
    literal, values = _large(width, signed)
    text = _attr_text(literal)
    assert text.startswith('dense<"0x')
    nbytes = 1 if width <= 8 else 2
    raw = bytes.fromhex(text[9 : text.index('"', 9)])
    got = [int.from_bytes(raw[i : i + nbytes], "little") for i in range(0, len(raw), nbytes)]
    assert got == [v & ((1 << width) - 1) for v in values]
    assert _attr_text(text) == text  # reads back to the same values


@pytest.mark.parametrize("width,signed", [(4, ""), (7, "si"), (12, "")])
def test_mlir_writes_the_same_hex(width, signed):
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    literal, _ = _large(width, signed)
    module = ir.Module.parse(f'"t.a"() {{v = {literal}}} : () -> ()', ctx)
    assert str(module.body.operations[0].attributes["v"]) == _attr_text(literal)


@pytest.mark.parametrize(
    "literal,expected", CASES + UNSIGNED_WHOLE_BYTES, ids=[c[0] for c in CASES + UNSIGNED_WHOLE_BYTES]
)
def test_mlir_reads_the_same(literal, expected):
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    module = ir.Module.parse(f'"t.a"() {{v = {literal}}} : () -> ()', ctx)
    assert str(module.body.operations[0].attributes["v"]) == expected
