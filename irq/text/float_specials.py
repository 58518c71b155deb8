"""Float literals of current MLIR that MLIR C++ 3.13 lacks: C-style hex floats and signed
special values.

Spec: llvm-project mlir/test/IR/float-literals.mlir. It reads `0x1.8p3` (also `0x1.8p+3`,
`0x1.8P3`, `-0x1.8p3`, `0x1p4`) as the value rounded once to the element type, and the signed
keywords `+inf`/`-inf`, `+qnan`/`-qnan`, `+nan`/`-nan` (the canonical quiet NaN),
`+snan`/`-snan` (signalling, payload half the quiet bit), and `nan(P)` / `snan(P)` with a payload
P in hex or decimal, masked to the payload bits (`nan(0x0)` is the canonical quiet NaN). Formats
whose one NaN has no payload (`f8E4M3FN`, `f8E4M3FNUZ`, `f8E8M0FNU`) read `nan`/`qnan` as that NaN.
All its spellings carry a sign, so a bare `inf` stays an error, as it is in 3.13.

irq prints these values as before (hex bit patterns for NaN and infinities, decimals otherwise),
the form MLIR C++ 3.13 reads back; upstream's printer spells them `+inf`/`+qnan` instead.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from irq.text.small_floats import FORMATS as _SMALL
from irq.text.small_floats import IEEE_FORMATS as _IEEE

#: (exponent bits, stored fraction bits, whether the leading 1 is stored) of the wide formats
_WIDE = {"f64": (11, 52, False), "f80": (15, 64, True), "f128": (15, 112, False)}

_SPECIAL = re.compile(r"([-+])(inf|qnan|snan|nan)(?:\((0[xX][0-9a-fA-F]+|[0-9]+)\))?")
_HEX_FLOAT = re.compile(r"(-?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([-+]?[0-9]+)")


def is_special(text: str) -> bool:
    """Whether a FLOAT token's text is a signed `inf`/`nan` keyword."""
    return text[1:2].isalpha() and text[0] in "+-" and _SPECIAL.fullmatch(text) is not None


def is_hex_float(text: str) -> bool:
    """Whether a FLOAT token's text is a C-style hex float (`0x1.8p3`)."""
    return "p" in text or "P" in text


def special_bits(text: str, kind: str) -> int:
    """The bit pattern of a signed special value in the float kind (ValueError naming what the
    kind lacks: an infinity, a NaN, a payload)."""
    m = _SPECIAL.fullmatch(text)
    if m is None:
        raise ValueError(f"malformed special float literal '{text}'")
    sign_text, word, payload_text = m.groups()
    negative = sign_text == "-"
    payload = (
        None
        if payload_text is None
        else int(payload_text, 0)
        if payload_text[:2] in ("0x", "0X")
        else int(payload_text)
    )
    if payload is not None and word not in ("nan", "snan"):
        raise ValueError(f"'{word}' takes no payload")
    if kind in _WIDE:
        exp_bits, man_bits, explicit = _WIDE[kind]
        return _ieee_bits(negative, word, payload, exp_bits, man_bits, explicit)
    fmt = _SMALL.get(kind) or _IEEE.get(kind)
    if fmt is None:
        raise ValueError(f"'{text}' needs a float type, got {kind}")
    if fmt.nonfinite == "ieee":
        return _ieee_bits(negative, word, payload, fmt.exp_bits, fmt.man_bits, False)
    if fmt.nonfinite == "finite":
        raise ValueError(f"{kind} has no infinity and no NaN")
    if word == "inf":
        raise ValueError(f"{kind} has no infinity")
    if word == "snan" or payload is not None:
        raise ValueError(f"{kind} has a single NaN, without payload or signalling form")
    if fmt.nonfinite == "neg_zero" or not fmt.signed:
        return fmt.nan_bits()  # the one NaN: its sign is part of its pattern (or there is none)
    return fmt.nan_bits() | (1 << (fmt.width - 1) if negative else 0)


def _ieee_bits(negative: bool, word: str, payload: int | None, exp_bits: int, man_bits: int, explicit: bool) -> int:
    """An IEEE-style infinity or NaN: all-ones exponent; the top stored fraction bit (below the
    explicit integer bit of f80) is the quiet bit, the bits under it the payload."""
    integer_bit = 1 << (man_bits - 1) if explicit else 0
    fraction_bits = man_bits - 1 if explicit else man_bits
    quiet = 1 << (fraction_bits - 1)
    mask = quiet - 1
    sign = 1 << (exp_bits + man_bits) if negative else 0
    top = ((1 << exp_bits) - 1) << man_bits
    if word == "inf":
        fraction = 0
    elif word == "qnan" or (word == "nan" and not payload):
        fraction = quiet
    elif word == "nan":
        fraction = quiet | (payload & mask)
    else:  # snan: a signalling NaN needs a payload, half the quiet bit by default
        fraction = (payload or 0) & mask or (quiet >> 1 or 1)
    return sign | top | integer_bit | fraction


def hex_float_value(text: str, kind: str) -> float:
    """A C-style hex float rounded once, from its exact value, to the float kind (an overflow is
    infinity where the kind has one, as MLIR's decimal literals saturate)."""
    m = _HEX_FLOAT.fullmatch(text)
    if m is None or not (m.group(2) or m.group(3)):
        raise ValueError(f"malformed hexadecimal float literal '{text}'")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    exact = Fraction(int((whole or "0") + frac, 16), 16 ** len(frac)) * Fraction(2) ** int(exp)
    fmt = _SMALL.get(kind) or _IEEE.get(kind)
    if fmt is not None:
        return fmt.decode(fmt.encode_exact(exact, sign == "-"))
    try:  # f64 (and f80/f128, which irq holds as doubles): Python's float() of a Fraction rounds once
        value = float(exact)
    except OverflowError:
        value = math.inf
    return -value if sign == "-" else value
