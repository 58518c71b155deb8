"""Float literals of current MLIR: C-style hex floats and signed inf/NaN keywords.

Spec: llvm-project mlir/test/IR/float-literals.mlir (cases in my words, named after its functions:
@infinities, @quiet_nans, @nan_payloads, @bare_nan_snan, @hex_floats, @special_values_in_elements,
@low_precision_and_other_types, @nan_payload_and_overflow, @nan_all_ones, @nan_negative_zero).
MLIR C++ 3.13 (the iree-base-compiler oracle) predates them and rejects every spelling here; the
tests assert upstream's CHECK values as bit patterns, written out by hand from the IEEE layouts,
and check that 3.13 reads what irq prints for them (hex bit patterns, which upstream would print
as `+inf`/`+nan(0x1)`: irq keeps the form the oracle reads) to the same bits.
"""

from __future__ import annotations

import struct

import pytest

import irq

# (upstream function, literal, type, expected bit pattern of upstream's CHECK value)
CASES = [
    ("infinities", "+inf", "f32", 0x7F800000),
    ("infinities", "-inf", "f32", 0xFF800000),
    ("infinities", "+inf", "f64", 0x7FF0000000000000),
    ("infinities", "-inf", "f16", 0xFC00),
    ("infinities", "+inf", "bf16", 0x7F80),
    ("quiet_nans", "+qnan", "f32", 0x7FC00000),
    ("quiet_nans", "-qnan", "f64", 0xFFF8000000000000),
    ("quiet_nans", "+qnan", "f16", 0x7E00),
    ("quiet_nans", "-qnan", "bf16", 0xFFC0),
    ("nan_payloads", "+nan(0x1)", "f32", 0x7FC00001),
    ("nan_payloads", "-nan(0x3FFFFF)", "f32", 0xFFFFFFFF),
    ("nan_payloads", "+snan(0x1)", "f64", 0x7FF0000000000001),
    ("nan_payloads", "-snan(0x1000000)", "f64", 0xFFF0000001000000),
    ("bare_nan_snan", "+nan", "f32", 0x7FC00000),  # CHECK: +qnan
    ("bare_nan_snan", "-nan", "f32", 0xFFC00000),  # CHECK: -qnan
    ("bare_nan_snan", "+snan", "f32", 0x7FA00000),  # CHECK: +snan(0x200000)
    ("bare_nan_snan", "-snan", "f64", 0xFFF4000000000000),  # CHECK: -snan(0x4000000000000)
    ("hex_floats", "0x1.8p3", "f64", struct.unpack("<Q", struct.pack("<d", 12.0))[0]),
    ("hex_floats", "0x1.8p+3", "f64", struct.unpack("<Q", struct.pack("<d", 12.0))[0]),
    ("hex_floats", "0x1.8P3", "f64", struct.unpack("<Q", struct.pack("<d", 12.0))[0]),
    ("hex_floats", "-0x1.8p3", "f64", struct.unpack("<Q", struct.pack("<d", -12.0))[0]),
    ("hex_floats", "0x1.8p-3", "f64", struct.unpack("<Q", struct.pack("<d", 0.1875))[0]),
    ("hex_floats", "0x1p4", "f32", struct.unpack("<I", struct.pack("<f", 16.0))[0]),
    ("hex_floats", "0x0p0", "f32", 0),
    ("hex_floats", "0x1.921fb54442d18p1", "f64", struct.unpack("<Q", struct.pack("<d", 3.1415926535897931))[0]),
    ("low_precision", "+qnan", "f8E8M0FNU", 0xFF),  # CHECK: +nan, the one NaN
    ("low_precision", "+nan", "f8E8M0FNU", 0xFF),
    ("low_precision", "+nan(0x7)", "f8E5M2", 0x7F),  # CHECK: +nan(0x1): payload masked to 1 bit
    ("low_precision", "+inf", "tf32", 0x3FC00),
    ("nan_payload_and_overflow", "+nan(0x0)", "f32", 0x7FC00000),  # CHECK: +qnan
    ("nan_payload_and_overflow", "+nan(10)", "f32", 0x7FC0000A),  # CHECK: +nan(0xA)
    ("nan_all_ones", "+nan", "f8E4M3FN", 0x7F),
    ("nan_all_ones", "-nan", "f8E4M3FN", 0xFF),
    ("nan_all_ones", "+qnan", "f8E4M3FN", 0x7F),
    ("nan_all_ones", "-qnan", "f8E4M3FN", 0xFF),
    ("nan_negative_zero", "-nan", "f8E4M3FNUZ", 0x80),
    ("nan_negative_zero", "-qnan", "f8E4M3FNUZ", 0x80),
    # rounded once from the exact value (not through a double): each just above a tie of its type,
    # by a bit a double cannot hold, so it rounds up; the tie itself rounds to even
    ("exact_rounding", "0x1.0000010000000000001p0", "f32", 0x3F800001),
    ("exact_rounding", "0x1.000001p0", "f32", 0x3F800000),
    ("exact_rounding", "0x1.0100000000000000001p0", "bf16", 0x3F81),
    ("exact_rounding", "0x1.01p0", "bf16", 0x3F80),
    ("exact_rounding", "0x1.0020000000000000001p0", "f16", 0x3C01),
    ("exact_rounding", "0x1.p-1074", "f64", 1),
    ("exact_rounding", "0x1p200", "f32", 0x7F800000),  # past f32's range: infinity
]


def _bits(attr) -> int:
    return attr.bits if hasattr(attr, "bits") else attr._bits


def _value_attr(text: str):
    m = irq.parse_module(text)
    op = next(o for o in m.walk() if o.name in ("arith.constant", "t.c"))
    return op.properties["value"] if op.name == "arith.constant" else op.attributes["a"]


@pytest.mark.parametrize("fn,literal,kind,bits", CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_literal_reads_as_upstream(fn, literal, kind, bits):
    from irq.text.floats import float_bits

    for text in (
        f"func.func @f() -> {kind} {{\n  %0 = arith.constant {literal} : {kind}\n  return %0 : {kind}\n}}\n",
        f'"t.c"() {{a = {literal} : {kind}}} : () -> ()\n',
    ):
        a = _value_attr(text)
        got = a._bits if a._bits is not None else float_bits(a.value, kind)
        assert got == bits, f"{literal} : {kind} read as 0x{got:X}, upstream 0x{bits:X}"
        # printed back (hex bits or a decimal) and re-read: the same bits, a byte-identical fixpoint
        m = irq.parse_module(text)
        for generic in (False, True):
            printed = irq.print_module(m, generic=generic)
            back = irq.parse_module(printed)
            assert irq.structurally_equal(m, back)
            assert irq.print_module(back, generic=generic) == printed


def test_special_values_in_dense_elements():
    m = irq.parse_module(
        '"t.c"() {a = dense<[+inf, -inf, +qnan]> : tensor<3xf32>, b = dense<-inf> : tensor<4xf64>,'
        " c = dense<[0x1.8p3, -0x1p-1]> : tensor<2xbf16>} : () -> ()\n"
    )
    printed = irq.print_module(m, generic=True)
    assert "dense<[0x7F800000, 0xFF800000, 0x7FC00000]> : tensor<3xf32>" in printed
    assert "dense<0xFFF0000000000000> : tensor<4xf64>" in printed
    assert "dense<[12.0, -0.5]> : tensor<2xbf16>" in printed


@pytest.mark.parametrize(
    "literal,kind,message",
    [
        ("+inf", "f8E4M3FN", "f8E4M3FN has no infinity"),
        ("+nan", "f4E2M1FN", "f4E2M1FN has no infinity and no NaN"),
        ("+nan(0x1)", "f8E4M3FN", "single NaN"),
        ("+inf(0x1)", "f32", "'inf' takes no payload"),
        ("+inf", "i32", "float literal needs a float type"),
    ],
)
def test_what_a_type_lacks_is_an_error_at_the_literal(literal, kind, message):
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(f'"t.c"() {{a = {literal} : {kind}}} : () -> ()\n')
    assert message in info.value.message
    assert (info.value.line, info.value.column) in ((1, 14), (1, 15 + len(literal) + 2))


def test_an_unsigned_inf_is_still_an_error():
    """Upstream's file spells every special value with its sign; a bare `inf` is no literal."""
    with pytest.raises(irq.ParseError, match="expected an attribute value, found 'inf'"):
        irq.parse_module('"t.c"() {a = inf : f32} : () -> ()\n')


@pytest.mark.parametrize("elements", ["inf", "[nan, 1.0]", "[1.0, -infinity]"])
def test_an_unsigned_word_in_dense_elements_is_an_error(elements):
    """MLIR C++ 3.13 rejects these ("expected element literal of primitive type"); irq read them
    through numpy's float parsing before."""
    with pytest.raises(irq.ParseError, match="expected element literal of primitive type"):
        irq.parse_module(f'"t.c"() {{a = dense<{elements}> : tensor<2xf32>}} : () -> ()\n')


def test_the_oracle_reads_irqs_print_to_the_same_bits():
    """MLIR C++ 3.13 rejects the upstream spellings but reads the hex patterns irq prints for
    them back to the same bits (its own print re-read by irq)."""
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    standard = [c for c in CASES if c[2] in ("f16", "bf16", "f32", "f64", "f8E5M2", "f8E4M3FN", "f8E4M3FNUZ")]
    entries = ", ".join(f"a{i} = {lit} : {kind}" for i, (_, lit, kind, _) in enumerate(standard))
    text = f'"t.c"() {{{entries}}} : () -> ()\n'
    for _, lit, kind, _ in standard:  # 3.13 has no such literal: it stops at the sign, keyword, `.` or 'p'
        with pytest.raises(ir.MLIRError):
            ir.Module.parse(f'"t.c"() {{a = {lit} : {kind}}} : () -> ()', ctx)
    mine = irq.parse_module(text)
    theirs = ir.Module.parse(irq.print_module(mine, generic=True), ctx)
    back = irq.parse_module(theirs.operation.get_asm(print_generic_op_form=True))
    assert irq.structurally_equal(mine, back)
