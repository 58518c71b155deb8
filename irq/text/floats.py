"""Float text that reads back to the same bits.

mlir-opt prints floats with `%e` (7 significant digits), which loses bits of an
f64. irq prints the shortest decimal that round-trips in the value's own
precision (Python's repr for f64, numpy's Dragon4 for f32/f16) and falls back
to MLIR's hex bit pattern (`0x7FC00000`) for NaN and infinities, the form MLIR
itself uses for them.
"""

from __future__ import annotations

import math
import struct

from irq._lazy import numpy as np
from irq.text.float_specials import hex_float_value, is_hex_float, is_special, special_bits
from irq.text.small_floats import FORMATS as _SMALL
from irq.text.small_floats import IEEE_FORMATS as _IEEE
from irq.text.small_floats import round_small

_STRUCT = {"f64": ("<d", "<Q", 16), "f32": ("<f", "<I", 8), "f16": ("<e", "<H", 4)}


def _mlir_decimal(text: str) -> str:
    """MLIR float literals need a '.' before any exponent: 1e-05 -> 1.0e-05."""
    mant, e, exp = text.partition("e")
    if "." not in mant:
        mant += ".0"
    if e:
        if exp[0] not in "+-":
            exp = "+" + exp
        return f"{mant}e{exp}"
    return mant


def float_bits(value: float, kind: str) -> int:
    """The IEEE bit pattern of `value` in the float kind (bf16 from its f32 pattern)."""
    if kind in _SMALL:
        return _SMALL[kind].encode(value)
    if kind in _EXTENDED:
        return _extended_bits(value, kind)
    if kind == "bf16":
        return (struct.unpack("<I", struct.pack("<f", value))[0] >> 16) & 0xFFFF
    fmt, ifmt, _ = _STRUCT.get(kind, _STRUCT["f64"])
    return struct.unpack(ifmt, struct.pack(fmt, value))[0]


def float_from_bits(bits: int, kind: str) -> float:
    """The value of an IEEE bit pattern (ValueError if it has more bits than the kind)."""
    if kind in _SMALL:
        return _SMALL[kind].decode(bits)
    width = 16 if kind == "bf16" else _EXTENDED[kind] if kind in _EXTENDED else _STRUCT.get(kind, _STRUCT["f64"])[2] * 4
    if not 0 <= bits < 1 << width:
        raise ValueError(f"bit pattern 0x{bits:X} does not fit {kind}")
    if kind in _EXTENDED:
        return _extended_value(bits, kind)
    if kind == "bf16":
        return struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0]
    fmt, ifmt, _ = _STRUCT.get(kind, _STRUCT["f64"])
    return struct.unpack(fmt, struct.pack(ifmt, bits))[0]


#: x87 extended (explicit integer bit, 64-bit significand) and IEEE quad: 15-bit exponents, bias 16383.
#: irq holds their values as doubles (every double is exact in both) and their attributes' exact
#: bits, so a pattern no double has (a NaN payload, more precision) still prints back as written.
_EXTENDED = {"f80": 80, "f128": 128}
_EXT_FRACTION = {"f80": 63, "f128": 112}


def _extended_bits(value: float, kind: str) -> int:
    sign = 1 << (_EXTENDED[kind] - 1) if math.copysign(1.0, value) < 0 else 0
    fraction = _EXT_FRACTION[kind]
    integer_bit = 1 << fraction if kind == "f80" else 0  # f80 stores its leading 1
    if math.isnan(value):
        return (0x7FFF << _EXTENDED[kind] - 16) | integer_bit | 1 << (fraction - 1)
    if math.isinf(value):
        return sign | (0x7FFF << _EXTENDED[kind] - 16) | integer_bit
    if value == 0.0:
        return sign
    m, e = math.frexp(abs(value))  # 0.5 <= m < 1, exact
    significand = int(math.ldexp(m, fraction + 1))  # the leading 1 at bit `fraction`
    return sign | ((e - 1 + 16383) << _EXTENDED[kind] - 16) | integer_bit | (significand - (1 << fraction))


def _extended_value(bits: int, kind: str) -> float:
    """The double nearest the extended value (NaN, infinities and overflow as a double has them)."""
    fraction = _EXT_FRACTION[kind]
    sign = -1.0 if bits >> (_EXTENDED[kind] - 1) else 1.0
    exponent = (bits >> (_EXTENDED[kind] - 16)) & 0x7FFF
    significand = bits & ((1 << fraction) - 1)
    if exponent == 0x7FFF:
        return math.nan if significand else sign * math.inf
    if kind == "f80":
        significand |= bits & (1 << fraction)  # the explicit integer bit
    elif exponent:
        significand |= 1 << fraction
    try:
        return sign * math.ldexp(float(significand), max(exponent, 1) - 16383 - fraction)
    except OverflowError:
        return sign * math.inf


def is_exact_double(bits: int, kind: str) -> bool:
    """Whether an extended float's bits are a double's (else its text is its hex pattern)."""
    value = _extended_value(bits, kind)
    return math.isfinite(value) and _extended_bits(value, kind) == bits


def hex_digits(kind: str) -> int:
    if kind in _SMALL:
        return -(-_SMALL[kind].width // 4)
    if kind in _EXTENDED:
        return _EXTENDED[kind] // 4
    if kind == "bf16":
        return 4
    return _STRUCT.get(kind, _STRUCT["f64"])[2]


def round_float(value: float, kind: str) -> float:
    """Round a Python float to the precision of `kind` (ties to even, like a C cast)."""
    if kind in _SMALL:
        return round_small(value, kind)
    if kind == "f64" or kind not in ("f32", "f16", "bf16", "tf32"):
        return float(value)
    if kind == "f16":
        with np.errstate(over="ignore"):
            return float(np.float16(value))
    if kind == "bf16" and math.isfinite(value):
        bits = _f32_bits_round_to_odd(float(value))
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def _f32_bits_round_to_odd(value: float) -> int:
    """f32 bits of a finite double, truncated and with the last bit set if inexact.

    Rounding that to bf16 (ties to even) equals rounding the double directly, as MLIR's
    APFloat does; going through a round-to-nearest f32 could round twice.
    """
    with np.errstate(over="ignore"):
        r = np.float32(value)
    if abs(float(r)) > abs(value):
        r = np.nextafter(r, np.float32(0.0))
    bits = int(r.view(np.uint32))
    return bits | 1 if float(r) != value else bits


def format_float(value: float, kind: str = "f64") -> str:
    """Shortest MLIR-valid text for `value` that parses back to the same bits in `kind`."""
    if not math.isfinite(value):
        return f"0x{float_bits(value, kind):0{hex_digits(kind)}X}"
    if kind in _SMALL:
        return _shortest_small(value, kind)
    if kind == "f64" or kind not in ("f32", "f16", "bf16", "tf32"):
        return _mlir_decimal(repr(float(value)))
    if kind == "f16":
        return _mlir_decimal(str(np.float16(value)))
    if kind == "bf16":
        # numpy has no bf16: the shortest f32 text of a bf16 value carries digits bf16 does not
        # have (0.1 would print as 0.10009766), so search the shortest text that reads back.
        for digits in range(1, 10):
            text = f"{value:.{digits}g}"
            if round_float(float(text), "bf16") == value:
                return _mlir_decimal(text)
    return _mlir_decimal(str(np.float32(value)))


def _shortest_small(value: float, kind: str) -> str:
    """The shortest decimal that rounds back to `value`'s bits in a small float kind (a search,
    as for bf16: the value's own digits are more than the kind holds, 0.1015625 for `0.1`)."""
    fmt = _SMALL[kind]
    bits = fmt.encode(value)
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if fmt.encode(float(text)) == bits:
            return _mlir_decimal(text)
    return _mlir_decimal(repr(float(value)))


def decimal_value(text: str, kind: str) -> float:
    """The value of the decimal literal `text` in the float kind, rounded once from the exact
    decimal, as MLIR reads it (APFloat::convertFromString in the target semantics).

    Rounding to a double first and then to the kind rounds twice, and differs exactly when the
    double lands on a tie of the kind (`1.00000005960464477550 : f32` is just above the tie
    1 + 2^-24, whose double is the tie itself: MLIR reads 1.0000001, the double route 1.0). So
    the double is used unless its two neighbours round differently (it is a tie or the overflow
    threshold of the kind); then the exact decimal decides which side it is on."""
    if is_hex_float(text) or is_special(text):  # current MLIR's spellings (irq.text.float_specials)
        return hex_float_value(text, kind) if is_hex_float(text) else float_from_bits(special_bits(text, kind), kind)
    d = float(text)
    r = round_float(d, kind)
    if kind == "f64" or not math.isfinite(d) or d == 0:
        return r
    lo = round_float(math.nextafter(d, -math.inf), kind)
    hi = round_float(math.nextafter(d, math.inf), kind)
    fmt = _SMALL.get(kind) or _IEEE.get(kind)
    if fmt is None or lo == hi or (math.isnan(lo) and math.isnan(hi)):
        return r
    from fractions import Fraction

    exact = Fraction(text)
    return fmt.decode(fmt.encode_exact(abs(exact), exact < 0 or text.startswith("-")))


def parse_float_literal(text: str, kind: str = "f64") -> float:
    """Value of a decimal or hex-bits literal for the float kind."""
    if text.startswith(("0x", "0X", "-0x")):
        if text.startswith("-"):
            raise ValueError("hexadecimal float literals cannot be negative")
        return float_from_bits(int(text, 16), kind)
    return round_float(float(text), kind)
