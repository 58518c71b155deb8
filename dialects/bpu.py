"""The bpu dialect: the fixed-point program a BPU-class processor runs, every number defined to the bit.

Values are tensors of storage types (`i8`, `i16` activations; `i8` weights; `i32`/`i64` accumulators
and biases); `f32` appears only at the model's boundaries (`bpu.quantize` / `bpu.dequantize`) and in
float islands. Every integer parameter is explicit in the program (attributes and `bpu.constant`
blobs), so a runtime never derives anything from scales: the reference runtime
(`irq.runtime.reference`) and the numba runtime execute these semantics and must agree bit for bit.
The parameters themselves come from `irq.fixedpoint` at lowering time (docs/design.md,
"Fixed-point semantics").

Common definitions, used below (all arithmetic is exact integer arithmetic, as in int64):

- ``sat_T(v)``: clip v to the range of the result dtype T (i8 [-128, 127], i16, i32, i64).
- ``clamp(v)``: ``min(max(v, min), max)`` with the op's optional `min`/`max` attributes (a fused
  relu is ``min = 0``, relu6 ``min = 0, max = rint(6 / s_out)``); they default to T's range and must
  lie inside it. Applied after ``sat_T``.
- ``rshift_round(v, S, rounding)``: ``v / 2**S`` rounded to an integer, for ``S`` in [1, 62]:
  `half_up` = ``(v + 2**(S-1)) >> S`` (arithmetic shift: ties toward +inf, the default);
  `half_even` = nearest, exact ties to the even integer; `half_away` = nearest, exact ties away from
  zero; `floor` = ``v >> S``.
- A multiplier `M` is in [0, 2**31), a shift `S` in [1, 62]; products ``v * M`` are computed in int64
  (a runtime raises when ``|v| >= 2**32`` would make them overflow, never wraps silently).
- Per-channel parameters (`multiplier`/`shift` arrays of length C) apply along `axis` of the
  accumulator (default 1, NCHW channels; -1 for linear/matmul); length 1 means per tensor.

Ops (attribute names in parentheses):

- ``bpu.constant`` (value): a weight, bias or table: `dense` or `dense_resource` of an integer type.
- ``bpu.quantize %x`` (scale): f32 -> T: ``sat_T(round_half_even(float64(x) / float64(scale)))``.
- ``bpu.dequantize %q`` (scale, axis?): T -> f32: ``float32(float64(q) * float64(scale))``; `scale` is
  one float, or an array of per-channel scales along `axis` (an int32 high-precision output).
- ``bpu.conv2d %x, %w (bias %b)?`` (stride, padding, dilation, groups): x [N,Cin,H,W] i8/i16,
  w [Cout,Cin/groups,KH,KW] i8, b [Cout] i32/i64 -> acc [N,Cout,OH,OW] i32 or i64:
  ``acc = b[c] + sum x * w`` exactly (zero padding; torch.nn.Conv2d's indexing). The result dtype
  must hold the proved bound ``K * max|x| * max|w| + max|b|`` (`fixedpoint.accumulator_dtype`).
- ``bpu.conv_transpose2d %x, %w (bias %b)?`` (stride, padding, output_padding, dilation, groups):
  torch.nn.ConvTranspose2d's indexing, w [Cin, Cout/groups, KH, KW]; exact accumulation as conv2d.
- ``bpu.linear %x, %w (bias %b)?``: x [..., K], w [N, K] -> acc [..., N] = ``x @ w^T + b``.
- ``bpu.matmul %a, %b``: torch.matmul's broadcasting on two activations -> exact accumulator.
- ``bpu.requantize %acc (residual %r)?`` (multiplier, shift, residual_multiplier?, rounding, axis,
  min?, max?) -> T: ``clamp(sat_T(rshift_round(acc * M[c] + r * Mr[c], S[c])))``; the residual term
  (a fused residual add: one rounding for both) is present only with a `residual` operand, which
  has the result's shape.
- ``bpu.add %a, %b`` / ``bpu.sub %a, %b`` (lhs_multiplier, rhs_multiplier, shift, rounding, min?,
  max?): ``clamp(sat_T(rshift_round(a * Ma +/- b * Mb, S)))`` with numpy broadcasting.
- ``bpu.mul %a, %b`` (multiplier, shift, rounding, min?, max?): ``clamp(sat_T(rshift_round(a * b * M, S)))``.
- ``bpu.concat %xs`` (dim, multiplier, shift, rounding): input i is
  ``sat_T(rshift_round(x_i * M[i], S[i]))`` (identity: M = 2**30, S = 30), then concatenated.
- ``bpu.lut %x, %table``: ``table[x - qmin]``; 256 entries for i8 inputs, 65536 for i16; the result
  has the table's dtype.
- ``bpu.clamp %x`` (min, max): ``min(max(x, min), max)`` (relu on a quantized value: codes unchanged).
- ``bpu.max_pool2d %x`` (kernel_size, stride, padding, dilation, ceil_mode): window maximum; padding
  never wins (torch's -inf padding); windows as torch.nn.MaxPool2d.
- ``bpu.avg_pool2d %x`` (kernel_size, stride, padding, ceil_mode, count_include_pad, divisors,
  multiplier, shift, rounding): ``sat_T(rshift_round(sum * M[i], S[i]))`` where `sum` is the exact
  window sum (padding counts 0) and ``i`` is the index in `divisors` of this position's divisor ``n``
  (torch.nn.AvgPool2d's divisor: the window clipped to the padded input, or the unpadded input when
  count_include_pad is false, or `divisor_override`); `M[i]/2**S[i]` ~ ``s_in / (s_out * n)``.
- ``bpu.global_avg_pool %x`` (multiplier, shift, rounding): [N,C,H,W] -> [N,C,1,1],
  ``sat_T(rshift_round(sum_hw(x) * M, S))``.
- ``bpu.resize %x`` (mode, align_corners, frac_bits?, multiplier?, shift?, rounding): to the result's
  [OH, OW]. `nearest`: ``src = min(floor(dst * in / out), in - 1)`` per axis (integer division),
  codes copied. `bilinear` with F = `frac_bits` fractional bits: per axis the source position in
  F-bit fixed point is ``p = max(0, floor(((2*dst + 1) * in - out) * 2**F / (2 * out)))``
  (align_corners false, torch's half-pixel rule) or ``p = floor(dst * (in - 1) * 2**F / (out - 1))``
  (align_corners true; 0 when out == 1); ``i0 = p >> F``, ``i1 = min(i0 + 1, in - 1)``,
  ``l1 = p - (i0 << F)``, ``l0 = 2**F - l1``; ``acc = sum of the 4 neighbours x * ly * lx`` (scale
  2**-2F), then ``sat_T(rshift_round(acc * M, S))``.
- ``bpu.softmax %x, %exp_table`` (dim, multiplier, shift): along `dim`, ``d = x - max(x)`` (in
  [-(qmax - qmin), 0]), ``e = exp_table[d + qmax - qmin]`` (an i32 table with one entry per possible
  difference, 256 for i8 inputs, 65536 for i16: ``rint(exp(d * s_in) * 2**15)``), ``sum = sum(e)``;
  ``out = clamp(sat_T(floor((2 * e * M + sum * 2**S) / (2 * sum * 2**S))))``, i.e. ``e * M / (sum 2**S)``
  rounded half up exactly (an integer division, no reciprocal table), with ``M / 2**S ~ 1 / s_out``.
- ``bpu.layer_norm %x, %gamma, %beta`` (frac_bits, sqrt_frac_bits?, eps, multiplier, shift, rounding):
  i8 or i16 x normalized over its last dim (n elements) with exact integer statistics: ``S1 = sum x``,
  ``S2 = sum x^2``, ``c = n x - S1`` (= n (x - mean)), ``v = n S2 - S1^2 + eps`` (= n^2 (var + eps / s_in^2);
  `eps` is that integer, ``rint(n^2 eps_real / s_in^2)``), ``r = max(1, isqrt(v * 2**(2G)))`` (exact
  integer square root with G = `sqrt_frac_bits` fractional bits, default F), ``z = floor((2 c 2**(F+G) + r)
  / (2 r))`` (c / sqrt(v) in F-bit fixed point, rounded half up); then
  ``out = sat_T(rshift_round((z * gamma[k] + beta[k]) * M, S))`` with gamma i8 codes (scale s_g), beta i32
  at scale ``2**-F s_g`` and ``M / 2**S ~ 2**-F s_g / s_out``. The verifier bounds
  ``(n^2 qmax_in^2 + eps) 2^(2G) < 2^63`` and ``n 2^(bits_in + 1) 2^(F+G+1) < 2^63`` so every step fits
  int64; i16 inputs need G < F for long rows (lower-bpu picks the largest G <= F that fits).
- ``bpu.reshape %x``, ``bpu.permute %x`` (dims), ``bpu.slice %x`` (dim, start, end, step): data
  movement, codes unchanged; reshape's shape is its result type's.
- ``bpu.embedding %ids, %table`` (multiplier, shift, rounding): ids i32/i64 of any shape, table
  [R, D] i8 -> [*ids.shape, D] T: ``out[..., k] = sat_T(rshift_round(table[r, k] * M[r], S[r]))`` with
  ``r = ids[...]`` (one multiplier: per tensor; R of them: per row, ``M[r] / 2**S[r] ~ s_table[r] / s_out``).
  An index outside [0, R) is an error naming the op, never a read out of bounds.

Float islands: with `irq.convert(..., float_fallback=True)` an op no march runs stays as its torch/hl op
between ``bpu.dequantize`` and ``bpu.quantize`` (its weights as float constants of the dequantized codes);
runtimes compute it in float64 from the float32 inputs and store float32 (`runtime/reference/float_ops.py`
is the definition a fast runtime can call).

A program is a `func.func` over these ops; `program.save(path)` writes the deployable artifact
(text + resource blobs) and `irq.load` reads it back with validation.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.dialects._bpu_checks import (  # noqa: F401 (re-exported: runtimes and passes read them from bpu)
    ACCUMULATOR_WIDTHS,
    ACTIVATION_WIDTHS,
    I64_ARRAY,
    LUT_SIZES,
    MAX_SHIFT,
    MIN_SHIFT,
    MULTIPLIER_BITS,
    ROUNDING_MODES,
    SCALE,
    Accumulator,
    Activation,
    AnyStorage,
    FloatTensor,
    Weight,
    _attr,
    _check_shape_rule,
    _int_array,
    _int_tensor,
    _ints,
    _per_channel_length,
    _rounding_attr,
    _verify_accumulator,
    _verify_clamp,
    _verify_multipliers,
    _verify_rounding,
    _verify_same_shape,
    _weight_absmax,
    constant_array,
    dtype_name,
    storage_range,
    width,
)
from irq.dialects._opspec import BOOL, INT, INTS, STR, ShapeError, assembly_format
from irq.dialects._shapes import conv, conv_transpose, linear, matmul, permute, pool2d, shape_of, slice_

from irq.ir.attributes import Attribute, FloatAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, operand, optional_operand, result, variadic_operand
from irq.ir.traits import ConstantLike, Pure
from irq.ir.types import IntegerType, Type

DIALECT = Dialect("bpu", "Fixed-point ops on storage types with explicit integer parameters.")


# -- ops --------------------------------------------------------------------------------------------------
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
    traits = frozenset({Pure})
    input = operand(FloatTensor)
    scale = attribute(lambda a: isinstance(a, FloatAttr) and a.value > 0 or "must be a positive float",
                      coerce=lambda v: v if isinstance(v, Attribute) else FloatAttr(float(v)))
    out = result(Activation | Accumulator)
    assembly_format = "$input attr-dict `:` type($input) `to` type($out)"

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")


@DIALECT.op
class DequantizeOp(Op):
    """codes -> f32: float32(float64(q) * float64(scale)), per tensor or per channel along `axis`."""

    name = "bpu.dequantize"
    traits = frozenset({Pure})
    input = operand(AnyStorage)
    scale = _attr(SCALE)
    axis = _attr(INT, optional=True)
    out = result(FloatTensor)
    assembly_format = "$input attr-dict `:` type($input) `to` type($out)"

    def scales(self) -> list[float]:
        s = self.scale
        return [s.value] if isinstance(s, FloatAttr) else [float(x) for x in s]

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")
        n = len(self.scales())
        if n > 1:
            if self.axis is None:
                raise self.error("per-channel scales need an axis")
            shape = shape_of(self.input)
            ax = self.axis.value
            if shape is not None:
                if not -len(shape) <= ax < len(shape):
                    raise self.error(f"axis {ax} is out of range for rank {len(shape)}")
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

    ns = {"__doc__": doc, "name": name, "traits": frozenset({Pure}), "input": operand(Activation),
          "weight": operand(Weight), "bias": optional_operand(Accumulator), **attrs, "out": result(Accumulator),
          "assembly_format": assembly_format((("input", "single"), ("weight", "single"), ("bias", "optional"))),
          "verify_op": verify_op}
    cls_name = "".join(p.capitalize() for p in name.split(".")[1].split("_")) + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


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
    traits = frozenset({Pure})
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
    _verify_multipliers(op, m, s)
    _verify_rounding(op)


@DIALECT.op
class RequantizeOp(Op):
    """One rounding from an accumulator (plus an optional fused residual) to a storage dtype."""

    name = "bpu.requantize"
    traits = frozenset({Pure})
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
        _verify_same_shape(self, self.input, self.out, "result")
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


def _binary(name: str, doc: str, *, single_multiplier: bool) -> type[Op]:
    def verify_op(self: Op) -> None:
        try:
            from irq.dialects._shapes import broadcast_shapes
            sa, sb, so = shape_of(self.lhs), shape_of(self.rhs), shape_of(self.out)
            if sa is not None and sb is not None and so is not None and broadcast_shapes(sa, sb) != so:
                raise self.error(f"result shape {list(so)} is not the broadcast of {list(sa)} and {list(sb)}")
        except ShapeError as e:
            raise self.error(str(e)) from None
        if single_multiplier:
            _verify_multipliers(self, [self.multiplier.value], [self.shift.value])
        else:
            _verify_multipliers(self, [self.lhs_multiplier.value, self.rhs_multiplier.value], [self.shift.value])
        _verify_rounding(self)
        _verify_clamp(self)

    mult = ({"multiplier": _attr(INT)} if single_multiplier
            else {"lhs_multiplier": _attr(INT), "rhs_multiplier": _attr(INT)})
    ns = {"__doc__": doc, "name": name, "traits": frozenset({Pure}), "lhs": operand(Activation),
          "rhs": operand(Activation), **mult, "shift": _attr(INT), "rounding": _rounding_attr(),
          "min": _attr(INT, optional=True), "max": _attr(INT, optional=True), "out": result(Activation),
          "assembly_format": "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)",
          "verify_op": verify_op}
    cls_name = name.split(".")[1].capitalize() + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


AddOp = _binary("bpu.add", "(a * Ma + b * Mb) rounded once by 2^-S, saturated and clamped.", single_multiplier=False)
SubOp = _binary("bpu.sub", "(a * Ma - b * Mb) rounded once by 2^-S, saturated and clamped.", single_multiplier=False)
MulOp = _binary("bpu.mul", "a * b * M rounded by 2^-S, saturated and clamped.", single_multiplier=True)


@DIALECT.op
class ConcatOp(Op):
    """Each input requantized to the output scale with its own (M, S), then concatenated along `dim`."""

    name = "bpu.concat"
    traits = frozenset({Pure})
    inputs = variadic_operand(Activation)
    dim = _attr(INT)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        n = len(self.inputs)
        if n == 0:
            raise self.error("needs at least one input")
        if len(self.multiplier) != n or len(self.shift) != n:
            raise self.error(f"needs one multiplier and one shift per input ({n}), got {len(self.multiplier)} "
                             f"and {len(self.shift)}")
        _verify_multipliers(self, _ints(self.multiplier), _ints(self.shift))
        _verify_rounding(self)
        shapes = [shape_of(v) for v in self.inputs]
        out = shape_of(self.out)
        if any(s is None for s in shapes) or out is None:
            return
        rank = len(out)
        d = self.dim.value + rank if self.dim.value < 0 else self.dim.value
        if not 0 <= d < rank:
            raise self.error(f"dim {self.dim.value} is out of range for rank {rank}")
        for s in shapes:
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, out)) if i != d):
                raise self.error(f"input shape {list(s)} does not concatenate into {list(out)} along {d}")
        if sum(s[d] for s in shapes) != out[d]:
            raise self.error(f"inputs sum to {sum(s[d] for s in shapes)} along dim {d}, result has {out[d]}")


@DIALECT.op
class LutOp(Op):
    """out = table[x - qmin]: one entry per input code (256 for i8, 65536 for i16)."""

    name = "bpu.lut"
    traits = frozenset({Pure})
    input = operand(Activation)
    table = operand(Activation)
    out = result(Activation)
    assembly_format = "$input `,` $table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")
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
    traits = frozenset({Pure})
    input = operand(Activation)
    min = _attr(INT, optional=True)
    max = _attr(INT, optional=True)
    out = result(Activation)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")
        if self.input.type.element_type is not self.out.type.element_type:
            raise self.error("result dtype differs from the input's")
        _verify_clamp(self)


_POOL_ATTRS = {"kernel_size": _attr(INTS), "stride": _attr(INTS), "padding": _attr(INTS),
               "ceil_mode": _attr(BOOL, default=False)}


@DIALECT.op
class MaxPool2dOp(Op):
    """Window maximum of codes (padding never wins)."""

    name = "bpu.max_pool2d"
    traits = frozenset({Pure})
    input = operand(Activation)
    kernel_size = _POOL_ATTRS["kernel_size"]
    stride = _POOL_ATTRS["stride"]
    padding = _POOL_ATTRS["padding"]
    dilation = _attr(INTS, optional=True)
    ceil_mode = _POOL_ATTRS["ceil_mode"]
    out = result(Activation)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _check_shape_rule(self, pool2d)
        if self.input.type.element_type is not self.out.type.element_type:
            raise self.error("result dtype differs from the input's")


@DIALECT.op
class AvgPool2dOp(Op):
    """Exact window sums, then a requantize chosen by the position's divisor (a table of (M, S))."""

    name = "bpu.avg_pool2d"
    traits = frozenset({Pure})
    input = operand(Activation)
    kernel_size = _POOL_ATTRS["kernel_size"]
    stride = _POOL_ATTRS["stride"]
    padding = _POOL_ATTRS["padding"]
    ceil_mode = _POOL_ATTRS["ceil_mode"]
    count_include_pad = _attr(BOOL, default=True)
    divisor_override = _attr(INT, optional=True)
    divisors = _attr(I64_ARRAY)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _check_shape_rule(self, pool2d)
        d, m, s = _ints(self.divisors), _ints(self.multiplier), _ints(self.shift)
        if not d or len(d) != len(m) or len(d) != len(s):
            raise self.error(f"divisors, multiplier and shift need one equal non-zero length, got {len(d)}, "
                             f"{len(m)}, {len(s)}")
        if any(x <= 0 for x in d) or len(set(d)) != len(d):
            raise self.error(f"divisors must be distinct and positive, got {d}")
        _verify_multipliers(self, m, s)
        _verify_rounding(self)
        ks = _ints(self.kernel_size)
        if len(ks) == 1:
            ks = ks * 2
        # the window sum of |x| <= 2^15 codes must leave |sum * M| < 2^63
        if ks[0] * ks[1] * 32768 >= 2**32:
            raise self.error(f"kernel {ks} is too large for exact window sums")


@DIALECT.op
class GlobalAvgPoolOp(Op):
    """[N, C, H, W] -> [N, C, 1, 1]: exact sum over H x W, then one requantize (M/2^S ~ s_in / (s_out H W))."""

    name = "bpu.global_avg_pool"
    traits = frozenset({Pure})
    input = operand(Activation)
    multiplier = _attr(INT)
    shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        s, o = shape_of(self.input), shape_of(self.out)
        if s is not None and o is not None:
            if len(s) != 4 or o != (s[0], s[1], 1, 1):
                raise self.error(f"expects [N, C, H, W] -> [N, C, 1, 1], got {list(s)} -> {list(o)}")
            if s[2] * s[3] * 32768 >= 2**32:
                raise self.error(f"{s[2]}x{s[3]} window is too large for exact sums")
        _verify_multipliers(self, [self.multiplier.value], [self.shift.value])
        _verify_rounding(self)


@DIALECT.op
class SoftmaxOp(Op):
    """Integer softmax: max-subtract, exp table, exact sum, one rounded division per element."""

    name = "bpu.softmax"
    traits = frozenset({Pure})
    input = operand(Activation)
    exp_table = operand(_int_tensor((32,)))
    dim = _attr(INT)
    multiplier = _attr(INT)
    shift = _attr(INT)
    out = result(Activation)
    assembly_format = "$input `,` $exp_table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")
        ts = shape_of(self.exp_table)
        need = LUT_SIZES[width(self.input)]
        if ts is not None and ts != (need,):
            raise self.error(f"exp_table must have {need} entries for {dtype_name(self.input)} inputs, got "
                             f"shape {list(ts)}")
        s = shape_of(self.input)
        if s is not None and not -len(s) <= self.dim.value < len(s):
            raise self.error(f"dim {self.dim.value} is out of range for rank {len(s)}")
        data = constant_array(self.exp_table)
        if data is not None and data.size and (data.min() < 0 or data.max() > 2**15):
            raise self.error("exp_table entries must lie in [0, 2^15]")
        _verify_multipliers(self, [self.multiplier.value], [self.shift.value])


@DIALECT.op
class LayerNormOp(Op):
    """Integer layer norm over the last dim: exact statistics, integer square root, i8 gamma, i32 beta."""

    name = "bpu.layer_norm"
    traits = frozenset({Pure})
    input = operand(Activation)
    gamma = operand(Weight)
    beta = operand(_int_tensor((32,)))
    frac_bits = _attr(INT)
    sqrt_frac_bits = _attr(INT, optional=True)
    eps = _attr(INT)
    multiplier = _attr(INT)
    shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$input `,` $gamma `,` $beta attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_same_shape(self, self.input, self.out, "result")
        s = shape_of(self.input)
        f, eps = self.frac_bits.value, self.eps.value
        if not 1 <= f <= 15:
            raise self.error(f"frac_bits must be in [1, 15], got {f}")
        if eps < 0:
            raise self.error(f"eps must be >= 0, got {eps}")
        g = f if self.sqrt_frac_bits is None else self.sqrt_frac_bits.value
        if not 0 <= g <= f:
            raise self.error(f"sqrt_frac_bits must be in [0, frac_bits = {f}], got {g}")
        if s is not None:
            n = s[-1]
            for what, v in (("gamma", self.gamma), ("beta", self.beta)):
                if shape_of(v) is not None and shape_of(v) != (n,):
                    raise self.error(f"{what} must have shape [{n}], got {list(shape_of(v))}")
            bits = width(self.input)
            if (n * n * 2 ** (2 * bits - 2) + eps) * 2 ** (2 * g) >= 2**63 or n * 2 ** (bits + f + g + 2) >= 2**63:
                raise self.error(f"{n} elements of {dtype_name(self.input)} with frac_bits {f}, sqrt_frac_bits {g} "
                                 f"and eps {eps} overflow int64 statistics")
        _verify_multipliers(self, [self.multiplier.value], [self.shift.value])
        _verify_rounding(self)


RESIZE_MODES = ("nearest", "bilinear")


@DIALECT.op
class ResizeOp(Op):
    """Nearest (codes copied) or bilinear (F-bit fixed-point weights, then requantize) resize to the result's size."""

    name = "bpu.resize"
    traits = frozenset({Pure})
    input = operand(Activation)
    mode = _attr(STR)
    align_corners = _attr(BOOL, default=False)
    frac_bits = _attr(INT, optional=True)
    multiplier = _attr(INT, optional=True)
    shift = _attr(INT, optional=True)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        if self.mode.value not in RESIZE_MODES:
            raise self.error(f"mode must be one of {', '.join(RESIZE_MODES)}, got '{self.mode.value}'")
        s, o = shape_of(self.input), shape_of(self.out)
        if s is not None and o is not None and (len(s) != 4 or len(o) != 4 or o[:2] != s[:2]):
            raise self.error(f"expects [N, C, H, W] -> [N, C, OH, OW], got {list(s)} -> {list(o)}")
        bilinear = self.mode.value == "bilinear"
        params = (self.frac_bits, self.multiplier, self.shift)
        if bilinear != all(p is not None for p in params) or any(p is not None for p in params) != bilinear:
            raise self.error("frac_bits, multiplier and shift are required for bilinear and not allowed for nearest")
        if bilinear:
            f = self.frac_bits.value
            if not 1 <= f <= 15:
                raise self.error(f"frac_bits must be in [1, 15], got {f}")
            _verify_multipliers(self, [self.multiplier.value], [self.shift.value])
            _verify_rounding(self)
        elif self.input.type.element_type is not self.out.type.element_type:
            raise self.error("nearest resize keeps the input dtype")


Indices = _int_tensor((32, 64))


@DIALECT.op
class EmbeddingOp(Op):
    """Row lookup with one rounding per row's scale (nn.Embedding on an int8 table, per row or per tensor)."""

    name = "bpu.embedding"
    traits = frozenset({Pure})
    indices = operand(Indices)
    table = operand(Weight)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$indices `,` $table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        ts, ids, o = shape_of(self.table), shape_of(self.indices), shape_of(self.out)
        if ts is not None and len(ts) != 2:
            raise self.error(f"table must be 2-D [rows, dim], got shape {list(ts)}")
        if ts is not None and ids is not None and o is not None and tuple(o) != (*ids, ts[1]):
            raise self.error(f"result shape {list(o)} does not match indices {list(ids)} + [{ts[1]}]")
        m, sh = _ints(self.multiplier), _ints(self.shift)
        if len(m) != len(sh) or not m:
            raise self.error(f"multiplier and shift need the same non-zero length, got {len(m)} and {len(sh)}")
        _per_channel_length(self, len(m), ts[0] if ts is not None else None, "multiplier")
        _verify_multipliers(self, m, sh)
        _verify_rounding(self)


def _data_movement(name: str, doc: str, attrs: dict, rule) -> type[Op]:
    def verify_op(self: Op) -> None:
        if self.input.type.element_type is not self.out.type.element_type:
            raise self.error("result dtype differs from the input's")
        if rule is not None:
            _check_shape_rule(self, rule)
        else:
            s, o = shape_of(self.input), shape_of(self.out)
            if s is not None and o is not None and _prod(s) != _prod(o):
                raise self.error(f"cannot reshape {list(s)} ({_prod(s)} elements) to {list(o)}")

    ns = {"__doc__": doc, "name": name, "traits": frozenset({Pure}), "input": operand(AnyStorage), **attrs,
          "out": result(AnyStorage), "assembly_format": "$input attr-dict `:` functional-type(operands, results)",
          "verify_op": verify_op}
    cls_name = name.split(".")[1].capitalize() + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


def _prod(s) -> int:
    n = 1
    for x in s:
        n *= x
    return n


ReshapeOp = _data_movement("bpu.reshape", "Row-major reshape to the result type's shape.", {}, None)
PermuteOp = _data_movement("bpu.permute", "Dimension permutation.", {"dims": _attr(INTS)}, permute)
SliceOp = _data_movement("bpu.slice", "input[start:end:step] along `dim` (end clipped to the size).",
                         {"dim": _attr(INT), "start": _attr(INT, optional=True), "end": _attr(INT, optional=True),
                          "step": _attr(INT, default=1)}, slice_)

__all__ = ["DIALECT", "ConstantOp", "QuantizeOp", "DequantizeOp", "Conv2dOp", "ConvTranspose2dOp", "LinearOp",
           "MatmulOp", "RequantizeOp", "AddOp", "SubOp", "MulOp", "ConcatOp", "LutOp", "ClampOp", "MaxPool2dOp",
           "AvgPool2dOp", "GlobalAvgPoolOp", "ResizeOp", "SoftmaxOp", "LayerNormOp", "ReshapeOp", "PermuteOp",
           "SliceOp", "EmbeddingOp"]
