"""bpu's arithmetic ops: constants, the model-boundary casts, exact accumulating ops (conv, linear, matmul),
the requantize that ends every accumulation, element-wise add/sub/mul, lookup tables and clamps.

Their integer semantics are specified once, in dialects/bpu.py's docstring (the dialect's public module,
which re-exports every op); this module holds their declarations and verifiers.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.dialects._bpu_checks import (
    BINARY_FORMAT,
    DIALECT,
    I64_ARRAY,
    LUT_SIZES,
    PURE,
    PURE_SAME_SHAPE,
    SCALE,
    UNARY_FORMAT,
    Accumulator,
    Activation,
    AnyStorage,
    FloatTensor,
    Weight,
    _attr,
    _check_shape_rule,
    _ints,
    _per_channel_length,
    _rounding_attr,
    _verify_accumulator,
    _verify_axis,
    _verify_clamp,
    _verify_codes_kept,
    _verify_multipliers,
    _verify_rescale,
    _verify_rounding,
    _verify_same_shape,
    _weight_absmax,
    declare_op,
    dtype_name,
    storage_range,
    width,
)
from irq.dialects._opspec import INT, INTS, STR, ShapeError, assembly_format
from irq.dialects._shapes import conv, conv_transpose, linear, matmul, shape_of

from irq.ir.attributes import Attribute, FloatAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.opdef import Op, attribute, operand, optional_operand, result
from irq.ir.traits import ConstantLike, Pure
from irq.ir.types import IntegerType, Type


def _constant_value(a: Attribute) -> bool | str:
    if isinstance(a, (DenseElementsAttr, DenseResourceElementsAttr)) and isinstance(a.type.element_type,
                                                                                   IntegerType):
        return True
    return "must be an integer dense or dense_resource elements attribute"


@DIALECT.op
class ConstantOp(Op):
    """A weight, bias or lookup table: integer `dense` or `dense_resource` data."""

    name = "bpu.constant"
    traits = frozenset({Pure, ConstantLike})
    value = attribute(_constant_value)
    out = result(AnyStorage)
    assembly_format = "attr-dict $value"

    def __init__(self, value: Attribute, *, location=None) -> None:
        self._init_generic((), [value.type], None, {"value": value}, 0, (), location)

    @classmethod
    def infer_result_types(cls, operands: Sequence, properties: dict) -> list[Type]:
        value = properties.get("value")
        if not isinstance(getattr(value, "type", None), Type):
            raise TypeError(f"bpu.constant needs a typed value attribute, got {value}")
        return [value.type]

    def fold(self) -> Attribute:
        return self.value

    def verify_op(self) -> None:
        if self.value.type is not self.out.type:
            raise self.error(f"value type {self.value.type} does not match result type {self.out.type}")


@DIALECT.op
class QuantizeOp(Op):
    """f32 -> codes: sat(round_half_even(float64(x) / float64(scale)))."""

    name = "bpu.quantize"
    traits = PURE_SAME_SHAPE
    input = operand(FloatTensor)
    scale = attribute(lambda a: isinstance(a, FloatAttr) and a.value > 0 or "must be a positive float",
                      coerce=lambda v: v if isinstance(v, Attribute) else FloatAttr(float(v)))
    out = result(Activation | Accumulator)
    assembly_format = "$input attr-dict `:` type($input) `to` type($out)"


@DIALECT.op
class DequantizeOp(Op):
    """codes -> f32: float32(float64(q) * float64(scale)), per tensor or per channel along `axis`."""

    name = "bpu.dequantize"
    traits = PURE_SAME_SHAPE
    input = operand(AnyStorage)
    scale = _attr(SCALE)
    axis = _attr(INT, optional=True)
    out = result(FloatTensor)
    assembly_format = "$input attr-dict `:` type($input) `to` type($out)"

    def scales(self) -> list[float]:
        s = self.scale
        return [s.value] if isinstance(s, FloatAttr) else [float(x) for x in s]

    def verify_op(self) -> None:
        n = len(self.scales())
        if n > 1:
            if self.axis is None:
                raise self.error("per-channel scales need an axis")
            shape = shape_of(self.input)
            ax = _verify_axis(self, self.axis.value, shape, "axis")
            if ax is not None:
                _per_channel_length(self, n, shape[ax], "scale")


_CONV_ATTRS = {"stride": _attr(INTS), "padding": _attr(INTS), "dilation": _attr(INTS),
               "groups": _attr(INT, default=1)}


def _conv_like(name: str, doc: str, attrs: dict, shape_rule, weight_axis_k) -> type[Op]:
    def verify_op(self: Op) -> None:
        _check_shape_rule(self, shape_rule)
        if self.bias is not None and width(self.bias) > width(self.out):
            raise self.error(f"bias {dtype_name(self.bias)} is wider than the accumulator {dtype_name(self.out)}")
        ws = shape_of(self.weight)
        if ws is not None:
            _verify_accumulator(self, weight_axis_k(ws, self), self.input, _weight_absmax(self.weight))

    return declare_op(__name__, name, doc, {
        "input": operand(Activation), "weight": operand(Weight), "bias": optional_operand(Accumulator), **attrs,
        "out": result(Accumulator),
        "assembly_format": assembly_format((("input", "single"), ("weight", "single"), ("bias", "optional")))},
        verify_op)


Conv2dOp = _conv_like("bpu.conv2d", "Exact 2-D convolution of codes: acc = bias + sum x * w.",
                      _CONV_ATTRS, conv(2), lambda ws, op: ws[1] * ws[2] * ws[3])
ConvTranspose2dOp = _conv_like(
    "bpu.conv_transpose2d", "Exact 2-D transposed convolution of codes.",
    {**_CONV_ATTRS, "output_padding": _attr(INTS)}, conv_transpose(2),
    # each output element sums at most Cin/groups * ceil(KH/stride) * ceil(KW/stride) products
    lambda ws, op: ws[0] // op.groups.value * ws[2] * ws[3])
LinearOp = _conv_like("bpu.linear", "Exact x @ w^T + bias on codes.", {}, linear, lambda ws, op: ws[1])


@DIALECT.op
class MatmulOp(Op):
    """Exact product of two activations with torch.matmul's broadcasting."""

    name = "bpu.matmul"
    traits = PURE
    input = operand(Activation)
    other = operand(Activation)
    out = result(Accumulator)
    assembly_format = "$input `,` $other attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _check_shape_rule(self, matmul)
        s = shape_of(self.input)
        if s is not None:
            k = s[-1]
            bound = k * (-storage_range(width(self.input))[0]) * (-storage_range(width(self.other))[0])
            if bound >= 2**31 and width(self.out) < 64:
                raise self.error(f"accumulator i{width(self.out)} cannot hold {k} products; use i64")


def _verify_requant_params(op: Op, channels: int | None) -> None:
    m, s = _ints(op.multiplier), _ints(op.shift)
    if len(m) != len(s) or not m:
        raise op.error(f"multiplier and shift need the same non-zero length, got {len(m)} and {len(s)}")
    _per_channel_length(op, len(m), channels, "multiplier")
    _verify_rescale(op, m, s)


@DIALECT.op
class RequantizeOp(Op):
    """One rounding from an accumulator (plus an optional fused residual) to a storage dtype."""

    name = "bpu.requantize"
    traits = PURE_SAME_SHAPE
    input = operand(Accumulator | Activation)
    residual = optional_operand(Activation)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    residual_multiplier = _attr(I64_ARRAY, optional=True)
    rounding = _rounding_attr()
    axis = _attr(INT, default=1)
    min = _attr(INT, optional=True)
    max = _attr(INT, optional=True)
    out = result(Activation | Accumulator)
    assembly_format = "$input (`residual` $residual^)? attr-dict `:` functional-type(operands, results)"

    def channel_axis(self) -> int | None:
        s = shape_of(self.input)
        if s is None:
            return None
        ax = self.axis.value
        return ax + len(s) if ax < 0 else ax

    def verify_op(self) -> None:
        s = shape_of(self.input)
        ax = self.channel_axis()
        if s is not None and len(_ints(self.multiplier)) > 1 and not 0 <= ax < len(s):
            raise self.error(f"axis {self.axis.value} is out of range for rank {len(s)}")
        channels = s[ax] if s is not None and 0 <= ax < len(s) else None
        _verify_requant_params(self, channels)
        rm = self.residual_multiplier
        if (self.residual is None) != (rm is None):
            raise self.error("a residual operand and residual_multiplier must be given together")
        if self.residual is not None:
            _verify_same_shape(self, self.residual, self.out, "residual")
            if len(rm) != len(self.multiplier):
                raise self.error("residual_multiplier must have as many entries as multiplier")
            _verify_multipliers(self, _ints(rm), [], "residual ")
        _verify_clamp(self)


def _verify_broadcast_result(op: Op) -> None:
    """The result of an element-wise binary op has the numpy broadcast of its two operands' shapes."""
    from irq.dialects._shapes import broadcast_shapes
    sa, sb, so = shape_of(op.lhs), shape_of(op.rhs), shape_of(op.out)
    try:
        if sa is not None and sb is not None and so is not None and broadcast_shapes(sa, sb) != so:
            raise op.error(f"result shape {list(so)} is not the broadcast of {list(sa)} and {list(sb)}")
    except ShapeError as e:
        raise op.error(str(e)) from None


def _binary(name: str, doc: str, *, single_multiplier: bool) -> type[Op]:
    def verify_op(self: Op) -> None:
        _verify_broadcast_result(self)
        if single_multiplier:
            _verify_rescale(self, [self.multiplier.value], [self.shift.value])
        else:
            _verify_rescale(self, [self.lhs_multiplier.value, self.rhs_multiplier.value], [self.shift.value])
        _verify_clamp(self)

    mult = ({"multiplier": _attr(INT)} if single_multiplier
            else {"lhs_multiplier": _attr(INT), "rhs_multiplier": _attr(INT)})
    return declare_op(__name__, name, doc, {
        "lhs": operand(Activation), "rhs": operand(Activation), **mult, "shift": _attr(INT),
        "rounding": _rounding_attr(), "min": _attr(INT, optional=True), "max": _attr(INT, optional=True),
        "out": result(Activation), "assembly_format": BINARY_FORMAT}, verify_op)


AddOp = _binary("bpu.add", "(a * Ma + b * Mb) rounded once by 2^-S, saturated and clamped.", single_multiplier=False)
SubOp = _binary("bpu.sub", "(a * Ma - b * Mb) rounded once by 2^-S, saturated and clamped.", single_multiplier=False)
MulOp = _binary("bpu.mul", "a * b * M rounded by 2^-S, saturated and clamped.", single_multiplier=True)


@DIALECT.op
class LutOp(Op):
    """out = table[x - qmin]: one entry per input code (256 for i8, 65536 for i16)."""

    name = "bpu.lut"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    table = operand(Activation)
    out = result(Activation)
    assembly_format = "$input `,` $table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        ts = shape_of(self.table)
        need = LUT_SIZES[width(self.input)]
        if ts is not None and ts != (need,):
            raise self.error(f"table must have {need} entries for {dtype_name(self.input)} inputs, got "
                             f"shape {list(ts)}")
        if width(self.table) != width(self.out):
            raise self.error(f"result dtype {dtype_name(self.out)} differs from the table's {dtype_name(self.table)}")


@DIALECT.op
class ClampOp(Op):
    """min(max(x, min), max) on codes (relu/relu6 on a quantized value)."""

    name = "bpu.clamp"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    min = _attr(INT, optional=True)
    max = _attr(INT, optional=True)
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        _verify_codes_kept(self)
        _verify_clamp(self)


@DIALECT.op
class PreluOp(Op):
    """Two slopes, one rounding: x * (x >= 0 ? M[c] : Mn[c]) >> S[c] (Mn signed: a slope may be negative)."""

    name = "bpu.prelu"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    multiplier = _attr(I64_ARRAY)
    negative_multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    axis = _attr(INT, default=1)
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        m, mn, s = _ints(self.multiplier), _ints(self.negative_multiplier), _ints(self.shift)
        if not m or len(mn) != len(m) or len(s) != len(m):
            raise self.error(f"multiplier, negative_multiplier and shift need one equal non-zero length, got "
                             f"{len(m)}, {len(mn)}, {len(s)}")
        shape = shape_of(self.input)
        if len(m) > 1:
            ax = _verify_axis(self, self.axis.value, shape, "axis")
            if ax is not None:
                _per_channel_length(self, len(m), shape[ax], "multiplier")
        _verify_multipliers(self, m, s)
        _verify_rescale(self, [abs(v) for v in mn], [], "negative ")


@DIALECT.op
class DivOp(Op):
    """Element-wise a / b on codes, one exact rounded division: round(a * M / (b * 2^S)) by `rounding`
    (half_up unless given, like every requantizing op)."""

    name = "bpu.div"
    traits = PURE
    lhs = operand(Activation)
    rhs = operand(Activation)
    multiplier = _attr(INT)
    shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = BINARY_FORMAT

    def verify_op(self) -> None:
        _verify_broadcast_result(self)
        m, s = self.multiplier.value, self.shift.value
        _verify_multipliers(self, [m], [])
        _verify_rounding(self)
        cap = 61 - width(self.rhs)
        if not 0 <= s <= cap:  # 2 |b| 2^S must stay below 2^62 for an exact int64 division
            raise self.error(f"shift {s} is outside [0, {cap}] for {dtype_name(self.rhs)} divisors")


INT_DIV_ROUNDING_MODES = ("floor", "trunc")  # irq.fixedpoint's, repeated: the dialect loads without numpy
INT_DIV_QUOTIENT_LIMIT = 2**31 - 1
INT_DIV_MAX_SHIFT = 320  # irq.fixedpoint.INT_DIV_MAX_SHIFT: float32 scale ratios need |S| <= 276


@DIALECT.op
class IntDivOp(Op):
    """torch.div(a, b, rounding_mode="floor"/"trunc") on codes: the exact integer quotient of the real values
    ``a M / (b D 2^S)`` (an exact rational of the two scales, S of either sign), clamped to +-(2^31 - 1), then
    requantized by ``M_out / 2^S_out``."""

    name = "bpu.int_div"
    traits = PURE
    lhs = operand(Activation)
    rhs = operand(Activation)
    rounding_mode = _attr(STR)
    multiplier = _attr(INT)
    divisor = _attr(INT, default=1)
    shift = _attr(INT)
    out_multiplier = _attr(INT)
    out_shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = BINARY_FORMAT

    def verify_op(self) -> None:
        _verify_broadcast_result(self)
        if self.rounding_mode.value not in INT_DIV_ROUNDING_MODES:
            raise self.error(f"rounding_mode must be one of {', '.join(INT_DIV_ROUNDING_MODES)}, got "
                             f"'{self.rounding_mode.value}'")
        _verify_multipliers(self, [self.multiplier.value], [])
        if not 1 <= self.divisor.value < 2**31:  # a' M and |b| D stay below 2^46, the runtimes' exact steps 2^62
            raise self.error(f"divisor {self.divisor.value} is outside [1, 2^31)")
        if not -INT_DIV_MAX_SHIFT <= self.shift.value <= INT_DIV_MAX_SHIFT:
            raise self.error(f"shift {self.shift.value} is outside [{-INT_DIV_MAX_SHIFT}, {INT_DIV_MAX_SHIFT}]")
        _verify_rescale(self, [self.out_multiplier.value], [self.out_shift.value], "out_")
