"""MLIR's float kinds narrower than f16 (and tf32): their bits, values and rounding.

Why a module of its own: `0.1 : f8E4M3FN` is 0.1015625 in MLIR and `0x38 : f8E4M3FN` is 1.0;
before this, irq kept such attributes as doubles and read hex patterns as f64 bits, so it
printed `0.1` and `2.77e-322`: a wrong number without an error. numpy has none of these types,
so each format is decoded and rounded here with exact integer arithmetic.

The formats are LLVM APFloat's semantics (llvm/lib/Support/APFloat.cpp, `semFloat8E4M3FN`
etc.; figures cited, code our own), checked value by value against MLIR C++ in
tests/test_small_floats.py:

* `ieee`: the top exponent holds infinities and NaNs (tf32, f8E5M2, f8E4M3, f8E3M4);
* `all_ones` ("FN"): no infinity; only the all-ones exponent and mantissa is NaN, so the top
  exponent holds finite values (f8E4M3FN: max 448; f8E8M0FNU: 0xFF);
* `neg_zero` ("FNUZ"): no infinity and no -0: the pattern of -0 (0x80) is the one NaN;
* `finite` (f4E2M1FN, f6E2M3FN, f6E3M2FN): neither infinity nor NaN.

Rounding is to nearest, ties to even on the whole significand (MLIR reads a decimal literal as a
double, then converts it with `rmNearestTiesToEven`). A result above the largest finite value
overflows to infinity (`ieee`), NaN (`all_ones`, `neg_zero`) or the largest value (`finite`,
which saturates, as APFloat does for formats without infinity or NaN). f8E8M0FNU has no sign
and no zero: every pattern but 0xFF is 2^(e - 127), and 0 or tiny values round up to 2^-127.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class SmallFloat:
    """One float format: field widths, exponent bias and how it spells non-finite values."""

    exp_bits: int
    man_bits: int
    bias: int
    nonfinite: str  # "ieee" | "all_ones" | "neg_zero" | "finite"
    signed: bool = True
    has_zero: bool = True

    @property
    def width(self) -> int:
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def _top_exp(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def _man_mask(self) -> int:
        return (1 << self.man_bits) - 1

    @property
    def _sign_bit(self) -> int:
        return 1 << (self.exp_bits + self.man_bits) if self.signed else 0

    def nan_bits(self) -> int:
        """The NaN MLIR makes (a quiet NaN, positive)."""
        if self.nonfinite == "ieee":
            return (self._top_exp << self.man_bits) | (1 << (self.man_bits - 1))
        if self.nonfinite == "all_ones":
            return (self._top_exp << self.man_bits) | self._man_mask
        if self.nonfinite == "neg_zero":
            return 1 << (self.width - 1)
        raise ValueError("has no NaN")

    def _max_finite_bits(self) -> int:
        if self.nonfinite == "ieee":
            return ((self._top_exp - 1) << self.man_bits) | self._man_mask
        if self.nonfinite == "all_ones":
            if self.man_bits == 0:
                return (self._top_exp - 1) << self.man_bits
            return (self._top_exp << self.man_bits) | (self._man_mask - 1)
        return (self._top_exp << self.man_bits) | self._man_mask

    def decode(self, bits: int) -> float:
        """The value of a bit pattern (ValueError if it has more bits than the format)."""
        if not 0 <= bits < 1 << self.width:
            raise ValueError(f"bit pattern 0x{bits:X} does not fit a {self.width}-bit float")
        negative = bool(bits & self._sign_bit)
        e = (bits >> self.man_bits) & self._top_exp
        m = bits & self._man_mask
        if self.nonfinite == "ieee" and e == self._top_exp:
            return math.nan if m else (-math.inf if negative else math.inf)
        if self.nonfinite == "all_ones" and e == self._top_exp and m == self._man_mask:
            return math.nan
        if self.nonfinite == "neg_zero" and bits == 1 << (self.width - 1):
            return math.nan
        if not self.has_zero:  # f8E8M0FNU: no subnormals, every exponent is a power of two
            value = math.ldexp(1.0, e - self.bias)
        elif e == 0:
            value = math.ldexp(float(m), 1 - self.bias - self.man_bits)
        else:
            value = math.ldexp(float(m | (1 << self.man_bits)), e - self.bias - self.man_bits)
        return -value if negative else value

    def encode(self, value: float) -> int:
        """The bit pattern of `value` rounded to this format (see the module docstring)."""
        if math.isnan(value):
            return self.nan_bits()
        negative = math.copysign(1.0, value) < 0
        sign = self._sign_bit if negative else 0
        if math.isinf(value):
            if self.nonfinite == "ieee":
                return sign | (self._top_exp << self.man_bits)
            if self.nonfinite == "finite":
                raise ValueError("infinity in a float type that has none")
            return self.nan_bits()
        return self.encode_exact(Fraction(abs(value)), negative)

    def encode_exact(self, a: Fraction, negative: bool = False) -> int:
        """The bit pattern of the exact magnitude `a` (sign `negative`) rounded once to this
        format: what MLIR's parser does with a decimal literal (irq.text.floats.decimal_value)."""
        if not self.signed and negative:
            raise ValueError("negative value for a float type without a sign")
        sign = self._sign_bit if negative else 0
        max_bits = self._max_finite_bits()
        if a == 0:
            if not self.has_zero:
                return 0  # the smallest value, 2^-127
            return 0 if self.nonfinite == "neg_zero" else sign
        k = a.numerator.bit_length() - a.denominator.bit_length() + 1
        while a >= Fraction(2) ** k:  # 2^(k-1) <= a < 2^k exactly (the float may have rounded)
            k += 1
        while a < Fraction(2) ** (k - 1):
            k -= 1
        min_exp = -self.bias if not self.has_zero else 1 - self.bias
        quantum = max(k - 1, min_exp) - self.man_bits  # spacing of the values around `a`
        scaled = a / Fraction(2) ** quantum
        n = scaled.numerator // scaled.denominator
        rest = scaled - n
        if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n & 1):
            n += 1
        rounded = Fraction(n) * Fraction(2) ** quantum
        if rounded > Fraction(self.decode(max_bits)):
            if self.nonfinite == "ieee":
                return sign | (self._top_exp << self.man_bits)
            if self.nonfinite == "finite":
                return sign | max_bits
            return self.nan_bits()
        if n == 0:
            if not self.has_zero:
                return 0
            return 0 if self.nonfinite == "neg_zero" else sign
        e = math.frexp(float(rounded))[1] - 1  # exact: `rounded` has few bits
        if not self.has_zero:
            return e + self.bias
        if e < 1 - self.bias:  # subnormal
            return sign | int(rounded / Fraction(2) ** (1 - self.bias - self.man_bits))
        mantissa = int(rounded / Fraction(2) ** (e - self.man_bits)) - (1 << self.man_bits)
        return sign | ((e + self.bias) << self.man_bits) | mantissa


#: MLIR's float kinds irq rounds here (tf32 is 19 bits: sign, 8 exponent and 10 mantissa bits)
FORMATS: dict[str, SmallFloat] = {
    "tf32": SmallFloat(8, 10, 127, "ieee"),
    "f8E5M2": SmallFloat(5, 2, 15, "ieee"),
    "f8E4M3": SmallFloat(4, 3, 7, "ieee"),
    "f8E3M4": SmallFloat(3, 4, 3, "ieee"),
    "f8E4M3FN": SmallFloat(4, 3, 7, "all_ones"),
    "f8E5M2FNUZ": SmallFloat(5, 2, 16, "neg_zero"),
    "f8E4M3FNUZ": SmallFloat(4, 3, 8, "neg_zero"),
    "f8E4M3B11FNUZ": SmallFloat(4, 3, 11, "neg_zero"),
    "f6E2M3FN": SmallFloat(2, 3, 1, "finite"),
    "f6E3M2FN": SmallFloat(3, 2, 3, "finite"),
    "f4E2M1FN": SmallFloat(2, 1, 1, "finite"),
    "f8E8M0FNU": SmallFloat(8, 0, 127, "all_ones", signed=False, has_zero=False),
}


def round_small(value: float, kind: str) -> float:
    """`value` rounded to the float kind, as a double (every value of these kinds is one)."""
    fmt = FORMATS[kind]
    return fmt.decode(fmt.encode(value))


#: the IEEE kinds numpy has, described the same way, for exact rounding of decimal literals
IEEE_FORMATS: dict[str, SmallFloat] = {
    "f16": SmallFloat(5, 10, 15, "ieee"),
    "bf16": SmallFloat(8, 7, 127, "ieee"),
    "f32": SmallFloat(8, 23, 127, "ieee"),
}
