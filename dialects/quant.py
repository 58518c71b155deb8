"""The quant dialect: MLIR's quantized types and the qcast/dcast/scast ops.

    !quant.uniform<i8:f32, 0.0235>                  per tensor, zero point 0
    !quant.uniform<u8:f32, 0.1:128>                 unsigned storage, zero point 128
    !quant.uniform<i8<-127:127>:f32, 0.5>           narrow storage range
    !quant.uniform<i8:f32:0, {0.1,0.2:1}>           per axis 0, one scale[:zp] per channel
    !quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120, 3.0}, {4.0, 5.0}}>   sub-channel (block sizes, scale tensor)
    !quant.any<i8<-8:7>:f32>                        storage (and expressed type) only
    !quant.calibrated<f32<-0.998:1.232>>            a float range from calibration
    !quant.quantile<ui4:f16, {-1.0, ..., 1.0}>      a lookup table, one value per storage code

Syntax and range checks as MLIR's quant dialect (QuantTypes.cpp, TypeParser.cpp and the
tests mlir/test/Dialect/Quant/parse-*.mlir, quantile-types.mlir, invalid*.mlir). Storage
types: `i`/`si`/`u`/`ui` integers of 1 to 32 bits and the float types f8E5M2, f8E4M3FN,
f4E2M1FN. Scales print as the shortest decimal that reads back to the same double, where
mlir-opt's `%e` keeps only 7 digits.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.dialects._quant_syntax import (  # noqa: F401  (_FLOAT_STORAGE_MAX, _SCALE_RANGE: re-exported)
    _FLOAT_STORAGE_MAX,
    _SCALE_RANGE,
    _check_scale,
    _check_storage,
    _default_range,
    _parse_expressed,
    _parse_scale_zp,
    _parse_storage,
    _prefix,
    _scale_text,
    _storage_text,
    parse_scale_zp_list,
    storage_bounds,
)

from irq.ir.dialect import Dialect
from irq.ir.opdef import Constraint, Op, operand, result
from irq.ir.traits import Pure
from irq.ir.types import DialectType, FloatType, IntegerType, ShapedType, TensorType, Type
from irq.text.floats import format_float
from irq.text.type_parser import DialectAsmParser

DIALECT = Dialect("quant", "Quantized types and conversions between float and quantized values.")



@DIALECT.type
class UniformQuantizedType(DialectType):
    """Per-tensor affine quantization: real = scale * (stored - zero_point).

    `!quant.uniform` also spells the per-axis and sub-channel types; this class parses all three.
    """

    __slots__ = ("storage_type", "expressed_type", "scale", "zero_point", "storage_min", "storage_max", "spelling")
    type_name = "quant.uniform"

    def __new__(
        cls,
        storage_type: Type,
        expressed_type: Type,
        scale: float,
        zero_point: int = 0,
        storage_min: int | None = None,
        storage_max: int | None = None,
        *,
        spelling: str | None = None,
    ) -> UniformQuantizedType:
        lo, hi = storage_bounds(storage_type, storage_min, storage_max)
        scale = float(scale)
        _check_scale(scale, expressed_type)
        key = (storage_type, expressed_type, scale.hex(), int(zero_point), lo, hi, spelling)
        return cls._intern(
            key,
            storage_type=storage_type,
            expressed_type=expressed_type,
            scale=scale,
            zero_point=int(zero_point),
            storage_min=lo,
            storage_max=hi,
            spelling=spelling,
        )

    def _render(self) -> str:
        storage = _storage_text(self.storage_type, self.storage_min, self.storage_max, self.spelling)
        return f"!quant.uniform<{storage}:{self.expressed_type._text}, {_scale_text(self.scale, self.zero_point)}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> Type:
        storage, lo, hi, spelling = _parse_storage(p)
        p.expect(":")
        expressed = _parse_expressed(p)
        if p.parse_optional(":"):
            if p.parse_optional("{"):
                return _parse_sub_channel(p, storage, expressed, lo, hi, spelling)
            at = p.pos
            axis = p.parse_integer()
            if axis < 0:
                raise p.error(f"illegal quantized dimension: {axis}", at)
            p.expect(",")
            p.expect("{")
            scales: list[float] = []
            zps: list[int] = []
            parse_scale_zp_list(p, expressed, scales, zps)
            p.expect("}")
            return UniformQuantizedPerAxisType(storage, expressed, scales, zps, axis, lo, hi, spelling=spelling)
        p.expect(",")
        scale, zp = _parse_scale_zp(p, expressed)
        return cls(storage, expressed, scale, zp, lo, hi, spelling=spelling)


class UniformQuantizedPerAxisType(DialectType):
    """Per-channel quantization along `axis` (irq's weights: symmetric, zero points 0).

    Shares the `!quant.uniform` syntax, parsed by UniformQuantizedType.parse_body.
    """

    __slots__ = (
        "storage_type",
        "expressed_type",
        "scales",
        "zero_points",
        "axis",
        "storage_min",
        "storage_max",
        "spelling",
    )
    type_name = "quant.uniform"

    def __new__(
        cls,
        storage_type: Type,
        expressed_type: Type,
        scales: Sequence[float],
        zero_points: Sequence[int] | None = None,
        axis: int = 0,
        storage_min: int | None = None,
        storage_max: int | None = None,
        *,
        spelling: str | None = None,
    ) -> UniformQuantizedPerAxisType:
        scales = tuple(float(s) for s in scales)
        zps = tuple(int(z) for z in zero_points) if zero_points is not None else (0,) * len(scales)
        if not scales or len(zps) != len(scales):
            raise ValueError("per-axis quantization needs one scale (and zero point) per channel")
        for s in scales:
            _check_scale(s, expressed_type)
        if int(axis) < 0:
            raise ValueError(f"illegal quantized dimension: {axis}")
        lo, hi = storage_bounds(storage_type, storage_min, storage_max)
        key = (storage_type, expressed_type, tuple(s.hex() for s in scales), zps, int(axis), lo, hi, spelling)
        return cls._intern(
            key,
            storage_type=storage_type,
            expressed_type=expressed_type,
            scales=scales,
            zero_points=zps,
            axis=int(axis),
            storage_min=lo,
            storage_max=hi,
            spelling=spelling,
        )

    def _render(self) -> str:
        parts = ",".join(_scale_text(s, z) for s, z in zip(self.scales, self.zero_points))
        storage = _storage_text(self.storage_type, self.storage_min, self.storage_max, self.spelling)
        return f"!quant.uniform<{storage}:{self.expressed_type._text}:{self.axis}, {{{parts}}}>"


class UniformQuantizedSubChannelType(DialectType):
    """Block-wise quantization: `block_sizes` maps an axis to its block size, and `scales` (with
    `zero_points`, same shape) holds one scale per block, as a nested list (a tensor).

    Shares the `!quant.uniform` syntax: `!quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120, 3.0}, {4.0, 5.0}}>`.
    """

    __slots__ = (
        "storage_type",
        "expressed_type",
        "block_sizes",
        "scales",
        "zero_points",
        "shape",
        "storage_min",
        "storage_max",
        "spelling",
    )
    type_name = "quant.uniform"

    def __new__(
        cls,
        storage_type: Type,
        expressed_type: Type,
        block_sizes: dict[int, int] | Sequence[tuple[int, int]],
        scales: Sequence[float],
        zero_points: Sequence[int],
        shape: Sequence[int],
        storage_min: int | None = None,
        storage_max: int | None = None,
        *,
        spelling: str | None = None,
    ) -> UniformQuantizedSubChannelType:
        pairs = block_sizes.items() if isinstance(block_sizes, dict) else block_sizes
        blocks = tuple((int(a), int(b)) for a, b in pairs)
        scales = tuple(float(s) for s in scales)
        zps = tuple(int(z) for z in zero_points)
        shape = tuple(int(d) for d in shape)
        count = 1
        for d in shape:
            count *= d
        if not scales or len(scales) != count or len(zps) != count:
            raise ValueError("sub-channel quantization needs a non-empty scale tensor and one zero point per scale")
        for s in scales:
            _check_scale(s, expressed_type)
        axes = [a for a, _ in blocks]
        if len(set(axes)) != len(axes):
            raise ValueError("duplicate axis in block sizes")
        for a, b in blocks:
            if a < 0:
                raise ValueError(f"illegal quantized dimension: {a}")
            if b <= 0:
                raise ValueError(f"illegal block size {b} for axis {a}")
        lo, hi = storage_bounds(storage_type, storage_min, storage_max)
        key = (storage_type, expressed_type, blocks, tuple(s.hex() for s in scales), zps, shape, lo, hi, spelling)
        return cls._intern(
            key,
            storage_type=storage_type,
            expressed_type=expressed_type,
            block_sizes=blocks,
            scales=scales,
            zero_points=zps,
            shape=shape,
            storage_min=lo,
            storage_max=hi,
            spelling=spelling,
        )

    def _render(self) -> str:
        storage = _storage_text(self.storage_type, self.storage_min, self.storage_max, self.spelling)
        blocks = ", ".join(f"{a}:{b}" for a, b in self.block_sizes)
        flat = [_scale_text(s, z) for s, z in zip(self.scales, self.zero_points)]
        return f"!quant.uniform<{storage}:{self.expressed_type._text}:{{{blocks}}}, {_nest(flat, self.shape)}>"


def _nest(flat: list[str], shape: tuple[int, ...]) -> str:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return "{" + ", ".join(flat) + "}"
    step = len(flat) // shape[0]
    return "{" + ", ".join(_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])) + "}"


def _parse_sub_channel(
    p: DialectAsmParser, storage: Type, expressed: Type, lo: int, hi: int, spelling: str | None
) -> UniformQuantizedSubChannelType:
    """After `...:{`: `axis:block, ...}, {nested scale[:zp] lists}`."""
    blocks = []
    if not p.parse_optional("}"):
        while True:
            at = p.pos
            axis = p.parse_integer()
            if axis < 0:
                raise p.error(f"illegal quantized dimension: {axis}", at)
            p.expect(":")
            blocks.append((axis, p.parse_integer()))
            if not p.parse_optional(","):
                break
        p.expect("}")
    p.expect(",")
    scales: list[float] = []
    zps: list[int] = []

    def nested() -> tuple[int, ...]:
        at = p.pos
        p.expect("{")
        if p._peek() is not None and p._peek()[1] == "{":
            shapes = [nested()]
            while p.parse_optional(","):
                shapes.append(nested())
            p.expect("}")
            if any(s != shapes[0] for s in shapes):
                raise p.error("scales must form a rectangular tensor", at)
            return (len(shapes), *shapes[0])
        n = parse_scale_zp_list(p, expressed, scales, zps)
        p.expect("}")
        return (n,)

    at = p.pos
    shape = nested()
    try:
        return UniformQuantizedSubChannelType(storage, expressed, blocks, scales, zps, shape, lo, hi, spelling=spelling)
    except ValueError as e:
        raise p.error(str(e), at) from None


@DIALECT.type
class AnyQuantizedType(DialectType):
    """A quantized type whose parameters are not known yet: storage (and expressed) type only."""

    __slots__ = ("storage_type", "expressed_type", "storage_min", "storage_max", "spelling")
    type_name = "quant.any"

    def __new__(
        cls,
        storage_type: Type,
        expressed_type: Type | None = None,
        storage_min: int | None = None,
        storage_max: int | None = None,
        *,
        spelling: str | None = None,
    ) -> AnyQuantizedType:
        lo, hi = storage_bounds(storage_type, storage_min, storage_max)
        if expressed_type is not None and not isinstance(expressed_type, FloatType):
            raise ValueError(f"expressed type must be a float type, got {expressed_type}")
        key = (storage_type, expressed_type, lo, hi, spelling)
        return cls._intern(
            key,
            storage_type=storage_type,
            expressed_type=expressed_type,
            storage_min=lo,
            storage_max=hi,
            spelling=spelling,
        )

    def _render(self) -> str:
        storage = _storage_text(self.storage_type, self.storage_min, self.storage_max, self.spelling)
        expressed = f":{self.expressed_type._text}" if self.expressed_type is not None else ""
        return f"!quant.any<{storage}{expressed}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> Type:
        storage, lo, hi, spelling = _parse_storage(p)
        expressed = _parse_expressed(p) if p.parse_optional(":") else None
        return cls(storage, expressed, lo, hi, spelling=spelling)


@DIALECT.type
class CalibratedQuantizedType(DialectType):
    """A float type with the [min, max] range calibration observed: `!quant.calibrated<f32<-1.0:1.0>>`."""

    __slots__ = ("expressed_type", "min", "max")
    type_name = "quant.calibrated"

    def __new__(cls, expressed_type: Type, min: float, max: float) -> CalibratedQuantizedType:
        if not isinstance(expressed_type, FloatType):
            raise ValueError(f"expecting float expressed type, got {expressed_type}")
        lo, hi = float(min), float(max)
        if not lo < hi:
            raise ValueError(f"illegal min and max: ({lo!r}:{hi!r})")
        return cls._intern((expressed_type, lo.hex(), hi.hex()), expressed_type=expressed_type, min=lo, max=hi)

    def _render(self) -> str:
        return f"!quant.calibrated<{self.expressed_type._text}<{format_float(self.min)}:{format_float(self.max)}>>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> Type:
        at = p.pos
        expressed = p.parse_type()
        if not isinstance(expressed, FloatType):
            raise p.error(f"expecting float expressed type, got {expressed}", at)
        at = p.pos
        p.expect("<")
        lo = p.parse_float()
        p.expect(":")
        hi = p.parse_float()
        p.expect(">")
        try:
            return cls(expressed, lo, hi)
        except ValueError as e:
            raise p.error(str(e), at) from None


@DIALECT.type
class QuantileQuantizedType(DialectType):
    """A lookup table from storage codes to values: `!quant.quantile<ui4:f16, {16 values}>`, one
    value per code of the storage range (`, <min:max>` narrows it), as NF4 uses."""

    __slots__ = ("storage_type", "quantile_type", "quantiles", "storage_min", "storage_max", "spelling")
    type_name = "quant.quantile"

    def __new__(
        cls,
        storage_type: Type,
        quantile_type: Type,
        quantiles: Sequence[float],
        storage_min: int | None = None,
        storage_max: int | None = None,
        *,
        spelling: str | None = None,
    ) -> QuantileQuantizedType:
        if not isinstance(storage_type, (IntegerType, FloatType)):
            raise ValueError("storage type must be an integer or float type")
        if not isinstance(quantile_type, (IntegerType, FloatType)):
            raise ValueError("quantile type must be a float or integer type")
        lo, hi = _default_range(storage_type)
        lo = lo if storage_min is None else storage_min
        hi = hi if storage_max is None else storage_max
        if lo >= hi:
            raise ValueError("storage min must be less than storage max")
        _check_storage(storage_type, lo, hi)
        values = tuple(float(v) for v in quantiles)
        if not values:
            raise ValueError("quantile values must not be empty")
        if len(values) != hi - lo + 1:
            raise ValueError(
                f"quantile LUT size ({len(values)}) must equal the number of representable storage values "
                f"({hi - lo + 1})"
            )
        key = (storage_type, quantile_type, tuple(v.hex() for v in values), lo, hi, spelling)
        return cls._intern(
            key,
            storage_type=storage_type,
            quantile_type=quantile_type,
            quantiles=values,
            storage_min=lo,
            storage_max=hi,
            spelling=spelling,
        )

    def _render(self) -> str:
        values = ",".join(format_float(v) for v in self.quantiles)
        rng = ""
        if (self.storage_min, self.storage_max) != _default_range(self.storage_type):
            rng = f", <{self.storage_min}:{self.storage_max}>"
        storage = _prefix(self.storage_type, self.spelling)
        return f"!quant.quantile<{storage}:{self.quantile_type._text}, {{{values}}}{rng}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> Type:
        at = p.pos
        storage, lo, hi, spelling = _parse_storage(p)
        p.expect(":")
        qt_at = p.pos
        quantile_type = p.parse_type()
        p.expect(",")
        p.expect("{")
        values: list[float] = []
        if not p.parse_optional("}"):
            while True:
                values.append(p.parse_float())
                if not p.parse_optional(","):
                    break
            p.expect("}")
        explicit = None
        if p.parse_optional(","):
            p.expect("<")
            rlo = p.parse_integer()
            p.expect(":")
            rhi = p.parse_integer()
            p.expect(">")
            explicit = (rlo, rhi)
        try:
            if explicit is not None:
                return cls(storage, quantile_type, values, *explicit, spelling=spelling)
            return cls(storage, quantile_type, values, lo, hi, spelling=spelling)
        except ValueError as e:
            raise p.error(str(e), qt_at if "quantile type" in str(e) else at) from None


#: The types qcast produces, dcast consumes and scast converts to and from storage.
QUANTIZED_TYPES = (UniformQuantizedType, UniformQuantizedPerAxisType, UniformQuantizedSubChannelType)
_ALL_QUANTIZED = (*QUANTIZED_TYPES, AnyQuantizedType, QuantileQuantizedType)


def _element(t: Type) -> Type:
    return t.element_type if isinstance(t, ShapedType) else t


def _scalar_or_tensor(t: Type) -> bool:
    return not isinstance(t, ShapedType) or isinstance(t, TensorType)


QuantizedLike = Constraint(
    lambda t: _scalar_or_tensor(t) and isinstance(_element(t), QUANTIZED_TYPES), "scalar or tensor of quantized type"
)
FloatLike = Constraint(
    lambda t: _scalar_or_tensor(t) and isinstance(_element(t), FloatType), "scalar or tensor of floating-point"
)
StorageOrQuantized = Constraint(
    lambda t: _scalar_or_tensor(t) and isinstance(_element(t), (IntegerType, *QUANTIZED_TYPES)),
    "scalar or tensor of integer or quantized type",
)


def _same_shape(a: Type, b: Type) -> bool:
    """Both scalars, or both tensors of the same shape (ranked vs unranked and ? vs 4 differ)."""
    if isinstance(a, ShapedType) != isinstance(b, ShapedType):
        return False
    if not isinstance(a, ShapedType):
        return True
    return a.shape == b.shape  # None (unranked) equals only None


def _check_quantization(op: Op, float_or_storage: Type, quantized: Type) -> None:
    """MLIR's quant op verifiers: shapes, and per-axis / sub-channel parameters against the shape."""
    if not _same_shape(float_or_storage, quantized):
        raise op.error("input and result are both scalars or both tensors with matching shape")
    q = _element(quantized)
    if isinstance(q, (UniformQuantizedPerAxisType, UniformQuantizedSubChannelType)):
        if not isinstance(quantized, ShapedType):
            raise op.error("scalar types may not use per-axis quantization")
        if quantized.shape is None:
            return
        rank = len(quantized.shape)
        if isinstance(q, UniformQuantizedPerAxisType):
            if q.axis >= rank:
                raise op.error("quantized dimension must be less than tensor rank")
            size = quantized.shape[q.axis]
            if size is not None and size != len(q.scales):
                raise op.error("quantized dimension size does not match number of scales")
        else:
            for axis, _ in q.block_sizes:
                if axis >= rank:
                    raise op.error("quantized dimension must be less than tensor rank")
            if len(q.shape) != rank:
                raise op.error(f"rank of scales ({len(q.shape)}) does not match tensor rank ({rank})")
            blocks = dict(q.block_sizes)
            for d, (dim, n) in enumerate(zip(quantized.shape, q.shape)):
                if dim is not None and dim != n * blocks.get(d, dim):
                    raise op.error(f"dimension {d} of size {dim} is not {n} blocks of {blocks.get(d, dim)}")


def _check_float_conversion(op: Op, float_type: Type, quantized: Type) -> None:
    """qcast/dcast: the quantization checks, and the float side is the quantized type's expressed type."""
    _check_quantization(op, float_type, quantized)
    if _element(quantized).expressed_type is not _element(float_type):
        raise op.error("expressed type in quantized type expected to match float type")


@DIALECT.op
class QuantizeCastOp(Op):
    """Quantize a float value to a quantized type (round to nearest, saturate)."""

    name = "quant.qcast"
    traits = frozenset({Pure})
    input = operand(FloatLike)
    result = result(QuantizedLike)
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"

    def verify_op(self) -> None:
        _check_float_conversion(self, self.input.type, self.result.type)


@DIALECT.op
class DequantizeCastOp(Op):
    """Dequantize a quantized value to its expressed float type."""

    name = "quant.dcast"
    traits = frozenset({Pure})
    input = operand(QuantizedLike)
    result = result(FloatLike)
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"

    def verify_op(self) -> None:
        _check_float_conversion(self, self.result.type, self.input.type)


@DIALECT.op
class StorageCastOp(Op):
    """Reinterpret quantized values as their storage integers, or back (no arithmetic)."""

    name = "quant.scast"
    traits = frozenset({Pure})
    input = operand(StorageOrQuantized)
    result = result(StorageOrQuantized)
    assembly_format = "$input attr-dict `:` type($input) `to` type($result)"

    def verify_op(self) -> None:
        a, b = self.input.type, self.result.type
        qa, qb = isinstance(_element(a), QUANTIZED_TYPES), isinstance(_element(b), QUANTIZED_TYPES)
        if qa == qb:
            raise self.error("input or result must be quantized, and the other its storage integer type")
        quantized, storage = (a, b) if qa else (b, a)
        _check_quantization(self, storage, quantized)
        q = _element(quantized)
        st = _element(storage)
        if not isinstance(q.storage_type, IntegerType) or st.width != q.storage_type.width:
            raise self.error("storage type in quantized type expected to match integer type")
