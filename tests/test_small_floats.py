"""Float attributes of MLIR's narrow kinds (tf32, f8*, f6*, f4*) hold MLIR's values.

Before irq.text.small_floats, `0.1 : f8E4M3FN` stayed 0.1 (MLIR: 0.1015625), `0x38 : f8E4M3FN`
was read as f64 bits (2.77e-322; MLIR: 1.0) and `0x3F800 : tf32` as f32 bits (0.0; MLIR: 2^127):
wrong numbers without an error. MLIR also rounds a decimal literal once, from the exact decimal,
where irq went through a double and rounded twice when that double was a tie of the kind (f32,
f16 and bf16 included: `1.00000005960464477550 : f32` is 1.0000001 in MLIR, was 1.0 in irq).
The oracle is MLIR C++ (iree-base-compiler): every bit pattern
of the 8-bit-or-narrower kinds and a seeded sample of tf32's, then decimal literals at every
rounding boundary (midpoints between neighbours, overflow thresholds) and seeded random ones.
Written for irq after llvm-project mlir/test/IR/attribute.mlir and
mlir/test/Dialect/Builtin/types.mlir (float types); values are MLIR's, not transcribed.
"""

from __future__ import annotations

import math
import random

import pytest

import irq
from irq.ir.attributes import FloatAttr
from irq.ir.types import FloatType
from irq.text.floats import decimal_value, format_float
from irq.text.small_floats import FORMATS

KINDS = sorted(FORMATS)


def _value(text: str, kind: str) -> float:
    m = irq.parse_module(f'"t.a"() {{v = {text} : {kind}}} : () -> ()')
    return next(iter(m.body.ops)).attributes["v"].value


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# (literal, kind, MLIR's value; None: MLIR rejects the literal) -- each read from MLIR C++
KNOWN = [
    ("0.1", "tf32", 0.0999755859375),
    ("1.00048828125", "tf32", 1.0),  # a tie: to the even significand
    ("1.000732421875", "tf32", 1.0009765625),
    ("0x3F800", "tf32", 2.0**127),
    ("0x7FC00000", "tf32", None),  # an f32 pattern is too wide for tf32's 19 bits
    ("1.0e300", "tf32", math.inf),
    ("0x38", "f8E4M3FN", 1.0),
    ("0.1", "f8E4M3FN", 0.1015625),
    ("464.0", "f8E4M3FN", 448.0),  # the tie below the NaN pattern rounds to even: the maximum
    ("470.0", "f8E4M3FN", math.nan),  # overflow in a format without infinity
    ("0x3C", "f8E5M2", 1.0),
    ("1.0e6", "f8E5M2", math.inf),
    ("7.0", "f4E2M1FN", 6.0),  # no infinity and no NaN: saturates
    ("0x40", "f6E2M3FN", None),
    ("-0.0", "f8E4M3FNUZ", 0.0),  # no negative zero
    ("0x80", "f8E4M3FNUZ", math.nan),
    ("0.0", "f8E8M0FNU", 2.0**-127),  # no zero
    ("3.0", "f8E8M0FNU", 4.0),
    ("-1.0", "f8E8M0FNU", None),  # no sign
    # a decimal just off a tie whose nearest double is the tie: MLIR rounds the exact decimal once
    ("8.8162076311671563097e-39", "f8E8M0FNU", 2.0**-127),
    ("8.81620763116715631e-39", "f8E8M0FNU", 2.0**-126),
    ("1.00048828125000001", "tf32", 1.0009765625),
    ("1.00000005960464477550", "f32", 1.0000001192092896),
    ("1.00048828125000000001", "f16", 1.0009765625),
    ("1.0039062500000000001", "bf16", 1.0078125),
]


@pytest.mark.parametrize("text,kind,expected", KNOWN, ids=[f"{k}:{t}" for t, k, _ in KNOWN])
def test_known_values(text, kind, expected):
    if expected is None:
        with pytest.raises(irq.ParseError):
            _value(text, kind)
        return
    assert _same(_value(text, kind), expected)


def _patterns(kind: str) -> list[int]:
    width = FORMATS[kind].width
    if width <= 8:
        return list(range(1 << width))
    rng = random.Random(19)
    return sorted({0, 1, (1 << width) - 1, *(rng.randrange(1 << width) for _ in range(1500))})


def _decimals(kind: str) -> list[float]:
    """Literals at the rounding boundaries: each value, the midpoints to its neighbours and a
    double just either side of them (tf32: a sample), plus seeded random magnitudes."""
    fmt = FORMATS[kind]
    finite = sorted({fmt.decode(b) for b in _patterns(kind)} - {math.nan}, key=float)
    finite = [v for v in finite if math.isfinite(v)]
    out: list[float] = []
    for a, b in zip(finite, finite[1:]):
        mid = (a + b) / 2
        out += [a, mid, math.nextafter(mid, -math.inf), math.nextafter(mid, math.inf)]
    top = finite[-1]
    ulp = top - finite[-2]
    out += [top + ulp / 2, top + ulp / 2 * 0.999, top + ulp, top * 4]
    rng = random.Random(7)
    out += [rng.choice((-1, 1)) * 2.0 ** rng.uniform(-140, 130) for _ in range(300)]
    if not fmt.signed:
        out = [abs(v) for v in out]
    return [v for v in out if math.isfinite(v)]


def _literal(v: float) -> str:
    return format_float(v, "f64")  # the f64 text reads back as exactly this double


def test_formats_are_mlirs():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    wrong = []
    with ctx:
        for kind in KINDS:
            fmt = FORMATS[kind]
            for bits in _patterns(kind):
                text = f"0x{bits:X} : {kind}"
                want = ir.FloatAttr(ir.Attribute.parse(text)).value
                got = FloatAttr.from_bits(bits, FloatType(kind)).value
                if not _same(got, want) and not (math.isnan(want) and math.isnan(got)):
                    wrong.append((text, got, want))
            for v in _decimals(kind):
                literal = _literal(v)
                text = f"{literal} : {kind}"
                want = ir.FloatAttr(ir.Attribute.parse(text)).value
                got = decimal_value(literal, kind)
                if not _same(got, want):
                    wrong.append((text, got, want))
                # irq's print of the value reads back in MLIR as the same value
                printed = format_float(got, kind)
                if math.isfinite(got) and not _same(ir.FloatAttr(ir.Attribute.parse(f"{printed} : {kind}")).value, got):
                    wrong.append((f"print {printed} : {kind}", got))
            assert fmt.width == ir.Type.parse(kind).width, kind
    assert wrong[:40] == []


@pytest.mark.parametrize("kind", KINDS)
def test_print_reads_back_to_the_same_bits(kind):
    """Every pattern (tf32: a sample) prints as text irq reads back to the same bits, in the
    generic and the custom form."""
    attrs = {f"a{b}": FloatAttr.from_bits(b, FloatType(kind)) for b in _patterns(kind)[:300]}
    body = ", ".join(f"{k} = {a}" for k, a in attrs.items())
    m = irq.parse_module(f'"t.a"() {{{body}}} : () -> ()')
    back = next(iter(irq.parse_module(irq.print_module(m)).body.ops)).attributes
    for k, a in attrs.items():
        assert back[k]._bits == a._bits or (math.isnan(a.value) and back[k]._bits == a._bits), (k, str(a))


# -- dense<...> of the narrow kinds: irq refused them ("no numpy representation") -----------------
def _dense_texts(kind: str) -> list[str]:
    """Dense literals of `kind`: every pattern (tf32: the sample) as hex elements and as irq's
    decimal print, in lists of at most 64 (decimal lists), plus MLIR's hex-string form."""
    fmt = FORMATS[kind]
    patterns = _patterns(kind)[:256]
    texts = []
    for i in range(0, len(patterns), 64):
        part = patterns[i : i + 64]
        texts.append(f"dense<[{', '.join(f'0x{b:X}' for b in part)}]> : tensor<{len(part)}x{kind}>")
        finite = [fmt.decode(b) for b in part if math.isfinite(fmt.decode(b))]
        texts.append(f"dense<[{', '.join(format_float(v, kind) for v in finite)}]> : tensor<{len(finite)}x{kind}>")
    width = (fmt.width + 7) // 8
    blob = b"".join(b.to_bytes(width, "little") for b in patterns[:64])
    texts.append(f'dense<"0x{blob.hex().upper()}"> : tensor<{len(patterns[:64])}x{kind}>')
    texts.append(f"dense<{format_float(fmt.decode(patterns[1]), kind)}> : tensor<3x{kind}>")
    return texts


EXACT_DENSE = [  # a decimal just above a tie of the kind whose nearest double is the tie itself
    ("dense<[1.00000005960464477550, 1.0]> : tensor<2xf32>", [1.0000001192092896, 1.0]),
    ("dense<[1.00048828125000000001, 1.0]> : tensor<2xf16>", [1.0009765625, 1.0]),
    ("dense<[1.0039062500000000001, 1.0]> : tensor<2xbf16>", [1.0078125, 1.0]),
    ("dense<[1.00048828125000001, 0.1]> : tensor<2xtf32>", [1.0009765625, 0.0999755859375]),
    ('dense<"0x0000803F0000"> : tensor<2xtf32>', [0.0, 63 * 2.0**-136]),  # 3 bytes each, high bits dropped
]


def _dense_attr(text: str):
    m = irq.parse_module(f'"t.a"() {{v = {text}}} : () -> ()')
    return next(iter(m.body.ops)).attributes["v"]


@pytest.mark.parametrize("text,values", EXACT_DENSE, ids=[t.split(":")[-1].strip() for t, _ in EXACT_DENSE])
def test_dense_rounds_like_mlir(text, values):
    got = _dense_attr(text).to_numpy().astype(float).tolist()
    assert got == values


@pytest.mark.parametrize("kind", KINDS)
def test_dense_round_trips(kind):
    for text in _dense_texts(kind):
        a = _dense_attr(text)
        assert _dense_attr(str(a)) == a, text


def test_dense_is_mlirs():
    """Each literal read by irq equals MLIR's reading of it (MLIR's print read back by irq), and
    irq's print of it reads in MLIR as the same value."""
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    wrong = []
    with ctx:
        texts = [t for k in KINDS for t in _dense_texts(k)] + [t for t, _ in EXACT_DENSE]
        for text in texts:
            a = _dense_attr(text)
            if _dense_attr(str(ir.Attribute.parse(text))) != a:
                wrong.append(("irq reads", text))
            if _dense_attr(str(ir.Attribute.parse(str(a)))) != a:
                wrong.append(("MLIR reads irq's print", str(a)))
    assert wrong == []
