"""The quant dialect: MLIR's uniform quantized types and the qcast/dcast ops.

    !quant.uniform<i8:f32, 0.0235>                 per tensor, zero point 0
    !quant.uniform<u8:f32, 0.1:128>                unsigned storage, zero point 128
    !quant.uniform<i8<-127:127>:f32, 0.5>          narrow storage range
    !quant.uniform<i8:f32:0, {0.1,0.2:1}>          per axis 0, one scale[:zp] per channel

Syntax as MLIR's quant dialect (TypeParser.cpp, parse-uniform.mlir); scales print
as the shortest decimal that reads back to the same double, where mlir-opt's
`%e` keeps only 7 digits.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, operand, result
from irq.ir.traits import Pure, SameOperandsAndResultShape
from irq.ir.types import DialectType, FloatType, IntegerType, ShapedType, Type
from irq.text.floats import format_float
from irq.text.type_parser import DialectAsmParser

DIALECT = Dialect("quant", "Quantized types and conversions between float and quantized values.")


def _storage_text(storage: IntegerType, lo: int, hi: int) -> str:
    text = f"{'u' if storage.is_unsigned else 'i'}{storage.width}"
    if (lo, hi) != _default_range(storage):
        text += f"<{lo}:{hi}>"
    return text


def _default_range(storage: IntegerType) -> tuple[int, int]:
    w = storage.width
    if storage.is_unsigned:
        return 0, (1 << w) - 1
    return -(1 << (w - 1)), (1 << (w - 1)) - 1


def _parse_storage(p: DialectAsmParser) -> tuple[IntegerType, int, int]:
    word = p.parse_keyword()
    if len(word) < 2 or word[0] not in "iu" or not word[1:].isdigit():
        raise p.error(f"expected a storage type like i8 or u8, found '{word}'")
    width = int(word[1:])
    if not 1 <= width <= 32:
        raise p.error(f"storage width {width} is out of range (1-32)")
    storage = IntegerType(width, "u" if word[0] == "u" else "")
    lo, hi = _default_range(storage)
    if p.parse_optional("<"):
        lo = p.parse_integer()
        p.expect(":")
        hi = p.parse_integer()
        p.expect(">")
        dlo, dhi = _default_range(storage)
        if not dlo <= lo < hi <= dhi:
            raise p.error(f"illegal storage range [{lo}, {hi}] for {word}")
    return storage, lo, hi


def _parse_scale_zp(p: DialectAsmParser) -> tuple[float, int]:
    scale = p.parse_float()
    zp = 0
    if p.parse_optional(":"):
        zp = p.parse_integer()
    if not scale > 0:
        raise p.error(f"scale must be positive, got {scale}")
    return scale, zp


@DIALECT.type
class UniformQuantizedType(DialectType):
    """Per-tensor affine quantization: real = scale * (stored - zero_point)."""

    __slots__ = ("storage_type", "expressed_type", "scale", "zero_point", "storage_min", "storage_max")
    type_name = "quant.uniform"

    def __new__(cls, storage_type: IntegerType, expressed_type: Type, scale: float, zero_point: int = 0,
                storage_min: int | None = None, storage_max: int | None = None) -> UniformQuantizedType:
        lo, hi = _default_range(storage_type)
        lo = lo if storage_min is None else storage_min
        hi = hi if storage_max is None else storage_max
        scale = float(scale)
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if not isinstance(expressed_type, FloatType):
            raise ValueError(f"expressed type must be a float type, got {expressed_type}")
        key = (storage_type, expressed_type, scale.hex(), int(zero_point), lo, hi)
        return cls._intern(key, storage_type=storage_type, expressed_type=expressed_type, scale=scale,
                           zero_point=int(zero_point), storage_min=lo, storage_max=hi)

    def _render(self) -> str:
        zp = f":{self.zero_point}" if self.zero_point else ""
        return (f"!quant.uniform<{_storage_text(self.storage_type, self.storage_min, self.storage_max)}:"
                f"{self.expressed_type._text}, {format_float(self.scale)}{zp}>")

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> Type:
        storage, lo, hi = _parse_storage(p)
        p.expect(":")
        expressed = p.parse_type()
        if p.parse_optional(":"):
            axis = p.parse_integer()
            p.expect(",")
            p.expect("{")
            scales, zps = [], []
            while True:
                s, z = _parse_scale_zp(p)
                scales.append(s)
                zps.append(z)
                if not p.parse_optional(","):
                    break
            p.expect("}")
            return UniformQuantizedPerAxisType(storage, expressed, scales, zps, axis, lo, hi)
        p.expect(",")
        scale, zp = _parse_scale_zp(p)
        return cls(storage, expressed, scale, zp, lo, hi)


class UniformQuantizedPerAxisType(DialectType):
    """Per-channel quantization along `axis` (irq's weights: symmetric, zero points 0).

    Shares the `!quant.uniform` syntax, parsed by UniformQuantizedType.parse_body.
    """

    __slots__ = ("storage_type", "expressed_type", "scales", "zero_points", "axis", "storage_min", "storage_max")
    type_name = "quant.uniform"

    def __new__(cls, storage_type: IntegerType, expressed_type: Type, scales: Sequence[float],
                zero_points: Sequence[int] | None = None, axis: int = 0, storage_min: int | None = None,
                storage_max: int | None = None) -> UniformQuantizedPerAxisType:
        scales = tuple(float(s) for s in scales)
        zps = tuple(int(z) for z in zero_points) if zero_points is not None else (0,) * len(scales)
        if not scales or len(zps) != len(scales):
            raise ValueError("per-axis quantization needs one scale (and zero point) per channel")
        if any(not s > 0 for s in scales):
            raise ValueError("scales must be positive")
        lo, hi = _default_range(storage_type)
        lo = lo if storage_min is None else storage_min
        hi = hi if storage_max is None else storage_max
        key = (storage_type, expressed_type, tuple(s.hex() for s in scales), zps, int(axis), lo, hi)
        return cls._intern(key, storage_type=storage_type, expressed_type=expressed_type, scales=scales,
                           zero_points=zps, axis=int(axis), storage_min=lo, storage_max=hi)

    def _render(self) -> str:
        parts = ",".join(format_float(s) + (f":{z}" if z else "") for s, z in zip(self.scales, self.zero_points))
        return (f"!quant.uniform<{_storage_text(self.storage_type, self.storage_min, self.storage_max)}:"
                f"{self.expressed_type._text}:{self.axis}, {{{parts}}}>")


def _quantized_element(t: Type) -> bool:
    e = t.element_type if isinstance(t, ShapedType) else t
    return isinstance(e, (UniformQuantizedType, UniformQuantizedPerAxisType))


def _float_element(t: Type) -> bool:
    e = t.element_type if isinstance(t, ShapedType) else t
    return isinstance(e, FloatType)


@DIALECT.op
class QuantizeCastOp(Op):
    """Quantize a float value to a quantized type (round to nearest, saturate)."""

    name = "quant.qcast"
    traits = frozenset({Pure, SameOperandsAndResultShape})
    input = operand(_float_element)
    result = result(_quantized_element)
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"


@DIALECT.op
class DequantizeCastOp(Op):
    """Dequantize a quantized value to its expressed float type."""

    name = "quant.dcast"
    traits = frozenset({Pure, SameOperandsAndResultShape})
    input = operand(_quantized_element)
    result = result(_float_element)
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"
