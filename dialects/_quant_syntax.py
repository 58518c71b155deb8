"""The textual pieces of MLIR's quantized types, shared by every `!quant.*` type: storage types and
their ranges (`i8`, `ui8<0:200>`, `f8E4M3FN`), expressed types, `scale[:zero_point]` lists; and
the range checks of MLIR's QuantizedType::verifyInvariants.

Why apart from dialects/quant.py: these rules decide which scales and storage ranges are legal,
the same for all five type classes, so they are written (and tested) once.
"""

from __future__ import annotations

import re

from irq.ir.types import FloatType, IntegerType, Type
from irq.text.floats import format_float
from irq.text.type_parser import DialectAsmParser

_STORAGE_WORD = re.compile(r"(si|ui|i|u)([0-9]+)")

#: Largest finite value of each float storage type: its default storage range is [-max, max].
_FLOAT_STORAGE_MAX = {"f8E5M2": 57344, "f8E4M3FN": 448, "f4E2M1FN": 6}
#: (smallest positive subnormal, largest finite) of each expressed type: MLIR's scale range.
_SCALE_RANGE = {
    "f16": (2.0**-24, 65504.0),
    "bf16": (2.0**-133, 3.3895313892515355e38),
    "f32": (2.0**-149, 3.4028234663852886e38),
    "f64": (5e-324, 1.7976931348623157e308),
}


def _default_range(storage: Type) -> tuple[int, int]:
    if isinstance(storage, FloatType):
        m = _FLOAT_STORAGE_MAX[storage.kind]
        return -m, m
    w = storage.width
    if storage.is_unsigned:
        return 0, (1 << w) - 1
    return -(1 << (w - 1)), (1 << (w - 1)) - 1


def _prefix(storage: Type, spelling: str | None) -> str:
    if isinstance(storage, FloatType):
        return storage.kind
    if spelling is not None:
        return f"{spelling}{storage.width}"
    sign = {"": "i", "s": "si", "u": "u"}[storage.signedness]
    return f"{sign}{storage.width}"


def _storage_text(storage: Type, lo: int, hi: int, spelling: str | None = None) -> str:
    text = _prefix(storage, spelling)
    if (lo, hi) != _default_range(storage):
        text += f"<{lo}:{hi}>"
    return text


def _check_storage(storage: Type, lo: int, hi: int) -> None:
    """MLIR's QuantizedType::verifyInvariants on the storage type and its range."""
    if isinstance(storage, FloatType):
        if storage.kind not in _FLOAT_STORAGE_MAX:
            raise ValueError(f"illegal storage type {storage}")
    elif not isinstance(storage, IntegerType):
        raise ValueError(f"storage type must be an integer or float type, got {storage}")
    elif not 1 <= storage.width <= 32:
        raise ValueError(f"illegal storage type size: {storage.width}")
    dlo, dhi = _default_range(storage)
    if lo < dlo:
        raise ValueError(f"illegal storage type minimum: {lo}")
    if hi > dhi:
        raise ValueError(f"illegal storage type maximum: {hi}")
    if lo >= hi:
        raise ValueError(f"illegal storage min and storage max: ({lo}:{hi})")


def _check_scale(scale: float, expressed: Type) -> None:
    if not isinstance(expressed, FloatType):
        raise ValueError(f"expressed type must be a float type, got {expressed}")
    lo, hi = _SCALE_RANGE.get(expressed.kind, (5e-324, 1.7976931348623157e308))
    if not lo <= scale <= hi:  # also rejects zero, negative and NaN scales
        raise ValueError(f"scale out of expressed type range [{lo:g}, {hi:g}], got {scale!r}")


def _parse_storage(p: DialectAsmParser) -> tuple[Type, int, int, str | None]:
    """`i8`, `ui8<0:200>`, `f8E4M3FN`...: (storage type, min, max, integer spelling)."""
    at = p.pos
    word = p.parse_optional_keyword()
    spelling = None
    if word is not None and word in _FLOAT_STORAGE_MAX:
        storage: Type = FloatType(word)
    else:
        m = None if word is None else _STORAGE_WORD.fullmatch(word)
        if m is None:
            raise p.error("illegal storage type prefix", at)
        spelling, digits = m.groups()
        if len(digits) > 8:
            raise p.error(f"invalid integer width {digits}", at)
        width = int(digits)
        if not 1 <= width <= 32:
            raise p.error(f"illegal storage type size: {width}", at)
        storage = IntegerType(width, {"i": "", "si": "s", "u": "u", "ui": "u"}[spelling])
        spelling = spelling if spelling == "ui" else None
    lo, hi = _default_range(storage)
    range_at = p.pos
    if p.parse_optional("<"):
        lo = p.parse_integer()
        p.expect(":")
        hi = p.parse_integer()
        p.expect(">")
    try:
        _check_storage(storage, lo, hi)
    except ValueError as e:
        raise p.error(str(e), range_at) from None
    return storage, lo, hi, spelling


def _parse_scale_zp(p: DialectAsmParser, expressed: Type) -> tuple[float, int]:
    p.at_end()  # skip blanks so that `at` is the scale's first character
    at = p.pos
    scale = p.parse_float()
    zp = 0
    if p.parse_optional(":"):
        zp = p.parse_integer()
    try:
        _check_scale(scale, expressed)
    except ValueError as e:
        raise p.error(str(e), at) from None
    return scale, zp


def _scale_text(scale: float, zp: int) -> str:
    return format_float(scale) + (f":{zp}" if zp else "")


def _parse_expressed(p: DialectAsmParser) -> Type:
    at = p.pos
    t = p.parse_type()
    if not isinstance(t, FloatType):
        raise p.error(f"expressed type must be a float type, got {t}", at)
    return t


def storage_bounds(storage: Type, storage_min: int | None, storage_max: int | None) -> tuple[int, int]:
    """The storage range of a quantized type: the given bounds, else the storage type's full range; checked."""
    lo, hi = _default_range(storage)
    lo = lo if storage_min is None else storage_min
    hi = hi if storage_max is None else storage_max
    _check_storage(storage, lo, hi)
    return lo, hi


def parse_scale_zp_list(p: DialectAsmParser, expressed: Type, scales: list[float], zps: list[int]) -> int:
    """`scale[:zp], scale[:zp], ...` up to (not including) the closing brace, appended to `scales` and
    `zps`; returns how many were read. Per-axis and sub-channel types spell their scales this way."""
    n = 0
    while True:
        s, z = _parse_scale_zp(p, expressed)
        scales.append(s)
        zps.append(z)
        n += 1
        if not p.parse_optional(","):
            return n
