"""lower-bpu: the frozen QDQ level (hl + quant.qcast/dcast) -> the bpu dialect, every parameter explicit.

Lowering matches ``dcast -> op -> qcast`` (docs/design.md, "The frozen level"). It walks each function in
order and gives every float value of the frozen graph that carries quantized codes an integer
representation (`QValue`: the bpu value, its scale and dtype):

- a model input's `quant.qcast` becomes `bpu.quantize`; a `quant.dcast` is its operand's codes;
- an accumulating op (conv2d, conv_transpose2d, linear, matmul) becomes an exact `bpu.<op>` into an
  accumulator whose width is proved with `fixedpoint.accumulator_dtype` (from the actual weight and bias
  codes), followed by the *requantize insertion*: a `bpu.requantize` to its output qcast's scale with
  per-channel (M, S) from `fixedpoint.quantize_multiplier(s_in * s_w[c] / s_out)`, the fused relu/relu6 as
  clamp bounds, and a fused residual folded into the same rounding (`common_shift_multipliers`). Without an
  output qcast the accumulator itself is the output (int32 high-precision output, dequantized per channel
  with ``s_in * s_w[c]``);
- add/sub rescale both inputs with a common shift, mul and cat requantize, element-wise non-linear ops
  become lookup tables (`fixedpoint.lookup_table`), pools and resizes their bpu ops, and data movement
  (max pool, reshape, permute, slice, nearest resize) passes codes and scale through;
- a returned value is dequantized (`bpu.dequantize`).

Ops that cannot be lowered are errors listing every one with its location, unless `float-fallback` is
set: then they stay in float between `bpu.dequantize` and `bpu.quantize` (the reference runtime executes
them in numpy), the way horizon runs unsupported ops on the CPU. Parameters come from `irq.fixedpoint`
only, so VALIDATION (which calls the same functions) agrees with the program by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from irq.dialects import bpu
from irq.dialects.quant import UniformQuantizedPerAxisType, UniformQuantizedType

from irq._lazy import _LazyModule
from irq.diagnostics import Diagnostic, location_prefix
from irq.ir.attributes import ArrayAttr, DenseArrayAttr, FloatAttr, IntegerAttr, StringAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, FunctionType, IntegerType, ShapedType, TensorType, f32, f64, i64
from irq.ir.values import Value
from irq.march_profiles import is_static_size_computation
from irq.transform.pass_base import Option, Pass, PassFailure, register_pass

# numpy and irq.fixedpoint load on first use: every pipeline registers this pass, and irq-opt's
# start-up must not pay for numpy (tests/test_irq_opt.py)
np = _LazyModule("numpy")
fp = _LazyModule("irq.fixedpoint")
lut_functions = _LazyModule("irq.lut_functions")


class LoweringError(ValueError):
    """An op of the frozen graph that cannot become bpu ops (the message names it and its location)."""


@dataclass
class QValue:
    """The integer form of a frozen-graph float value: codes (or an accumulator) and their scale(s)."""

    value: Value
    scale: float | np.ndarray  # per tensor, or per channel along `axis` for an int32 high-precision output
    dtype: str
    axis: int | None = None

    @property
    def per_tensor(self) -> bool:
        return self.axis is None


def _int_type(dtype: str) -> IntegerType:
    return IntegerType(int(dtype[1:]))


def _shape(v: Value) -> tuple[int, ...]:
    t = v.type
    if not isinstance(t, ShapedType) or not t.has_static_shape:
        raise LoweringError(f"value of type {t} has no static shape")
    return tuple(t.shape)


def _base(op: Operation) -> str:
    return op.name.partition(".")[2]


def _ints(op: Operation, name: str, n: int, default: int) -> list[int]:
    a = op.get_attr(name)
    if a is None:
        return [default] * n
    vals = [a.value] if isinstance(a, IntegerAttr) else [x.value for x in a]
    if not vals:
        return [default] * n
    return vals * n if len(vals) == 1 else vals


def _str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, StringAttr) else None


def _constant_data(v: Value) -> np.ndarray | None:
    """Float data of a value defined by a constant op (torch.constant, arith.constant), else None."""
    op = getattr(v, "op", None)
    a = op.get_attr("value") if op is not None and op.name in ("torch.constant", "arith.constant") else None
    if isinstance(a, (DenseElementsAttr, DenseResourceElementsAttr)):
        return np.asarray(a.to_numpy(), dtype=np.float64)
    return None


def _lut_attrs(op: Operation) -> dict:
    """The attributes irq.lut_functions reads (approximate, min/max_val, negative_slope, min, max, other, alpha)."""
    out = {}
    for name in ("approximate", "min_val", "max_val", "negative_slope", "min", "max", "other", "alpha"):
        a = op.get_attr(name)
        if a is not None:
            out[name] = a.value if isinstance(a, (StringAttr, IntegerAttr, FloatAttr)) else a
    return out


ELEMENTWISE = lut_functions.KINDS
#: Ops that move codes without arithmetic: the scale passes through.
PASS_THROUGH = frozenset({"flatten", "reshape", "view", "permute", "transpose", "unsqueeze", "squeeze", "contiguous",
                          "identity", "dropout", "max_pool2d", "slice"})
ACCUMULATING = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul"})


class Lowering:
    """Lower one function; collects every op it cannot lower instead of stopping at the first."""

    def __init__(self, func: Operation, float_fallback: bool, rounding: str,
                 keep_float: set[Operation] | None = None) -> None:
        self.func = func
        self.keep_float = keep_float or set()
        self.float_fallback = float_fallback
        self.rounding = rounding
        self.q: dict[Value, QValue] = {}
        self.weights: dict[Value, tuple[np.ndarray, Operation]] = {}  # dcast result -> (float data, its qcast)
        self.lowered: list[Operation] = []  # frozen ops replaced by bpu ops, erased at the end
        self.errors: list[Diagnostic] = []
        self.anchor: Operation | None = None
        self.counter = 0

    # -- emitting -----------------------------------------------------------------------------------------
    def emit(self, op: Operation) -> Operation:
        op.location = self.anchor.location
        self.anchor.parent_block.insert_before(self.anchor, op)
        return op

    def constant(self, data: np.ndarray, dtype: str, hint: str) -> Value:
        """A bpu.constant holding integer codes as a resource blob (named after the op that owns it)."""
        t = TensorType(data.shape, _int_type(dtype))
        self.counter += 1
        key = f"{hint}.{self.counter}"
        attr = DenseResourceElementsAttr.from_array(key, t, data.astype(np.dtype(f"int{dtype[1:]}")))
        return self.emit(bpu.ConstantOp(attr)).out

    def fail(self, op: Operation, message: str) -> None:
        self.errors.append(Diagnostic("error", f"'{op.name}' {message}", op.location, op))

    # -- driver ----------------------------------------------------------------------------------------------
    def run(self) -> None:
        block = self.func.regions[0].blocks[0]
        for op in list(block.ops):
            self.anchor = op
            try:
                self.lower(op)
            except LoweringError as e:
                self.fail(op, str(e))
        if self.errors:
            return
        for op in reversed(self.lowered):
            op.drop_all_references()
        for op in reversed(self.lowered):
            op.erase(check_uses=False)
        for op in reversed(list(block.ops)):  # float constants and sizes whose users were all lowered
            if (op.name in ("torch.constant", "arith.constant", "torch.size") or is_static_size_computation(op)) \
                    and not any(r.has_uses() for r in op.results):
                op.erase()
        self._update_signature()

    def _update_signature(self) -> None:
        block = self.func.regions[0].blocks[0]
        ret = block.terminator
        ft = self.func.function_type.value
        self.func.function_type = FunctionType(ft.inputs, [v.type for v in ret.operands])

    def lower(self, op: Operation) -> None:
        name, base = op.name, _base(op)
        if name in ("torch.constant", "arith.constant", "torch.size") or is_static_size_computation(op):
            return  # read where they are used (weights, biases, static sizes); unused ones are erased at the end
        if name == "quant.qcast":
            return self.lower_qcast(op)
        if name == "quant.dcast":
            return self.lower_dcast(op)
        if name == "func.return":
            return self.lower_return(op)
        if op in self.keep_float:
            return self.keep_in_float(op)
        if name in ("hl.quant_stub", "hl.dequant_stub"):
            return self.lower_stub(op)
        inputs_quantized = [v for v in op.operands if v in self.q]
        handler = getattr(self, f"lower_{base}", None)
        if op.dialect_name in ("hl", "torch") and inputs_quantized:
            if base in PASS_THROUGH:
                return self.lower_pass_through(op)
            if base in ELEMENTWISE:
                return self.lower_elementwise(op)
            if handler is not None:
                return handler(op)
        if self.float_fallback:
            return self.keep_in_float(op)
        raise LoweringError("cannot be lowered to bpu" + (" (its inputs are not quantized)" if not inputs_quantized
                                                          else ""))

    # -- quant casts -----------------------------------------------------------------------------------------
    @staticmethod
    def qtype(v: Value):
        t = v.type
        e = t.element_type if isinstance(t, ShapedType) else None
        if not isinstance(e, (UniformQuantizedType, UniformQuantizedPerAxisType)):
            raise LoweringError(f"expected a !quant.uniform tensor, got {t}")
        zps = [e.zero_point] if isinstance(e, UniformQuantizedType) else list(e.zero_points)
        if any(zps) or e.storage_type.is_unsigned:
            raise LoweringError(f"bpu quantization is symmetric and signed (zero point 0), got {e}")
        return e

    def out_spec(self, qcast: Operation) -> tuple[float, str, int, int]:
        """(scale, dtype, qmin, qmax) of an activation qcast."""
        e = self.qtype(qcast.results[0])
        if isinstance(e, UniformQuantizedPerAxisType):
            raise LoweringError("activations are quantized per tensor")
        dtype = f"i{e.storage_type.width}"
        if dtype not in ("i8", "i16"):
            raise LoweringError(f"activations are i8 or i16, got {dtype}")
        return e.scale, dtype, e.storage_min, e.storage_max

    def lower_qcast(self, op: Operation) -> None:
        self.lowered.append(op)
        x = op.operands[0]
        if op.results[0] in self.q:  # produced by the op before it (requantize insertion)
            return
        data = _constant_data(x)
        if data is not None:  # a weight: codes are made by the op that uses it
            return
        scale, dtype, _, _ = self.out_spec(op)
        src = self.q.get(x)
        out_t = TensorType(_shape(x), _int_type(dtype))
        if src is None:  # float -> codes: a model input, or the end of a float island
            q = self.emit(bpu.QuantizeOp(x, scale=FloatAttr(scale, f64), result_types=[out_t])).out
        elif src.per_tensor and src.scale == scale and src.dtype == dtype:
            q = src.value
        else:
            q = self.requantize(src, src.value, scale, dtype, out_t)
        self.q[op.results[0]] = QValue(q, scale, dtype)

    def lower_dcast(self, op: Operation) -> None:
        self.lowered.append(op)
        src = op.operands[0]
        if src in self.q:
            self.q[op.results[0]] = self.q[src]
            return
        qc = getattr(src, "op", None)
        data = _constant_data(qc.operands[0]) if qc is not None and qc.name == "quant.qcast" else None
        if data is None:
            raise LoweringError("dequantizes a value that is neither a quantized activation nor a constant weight")
        self.weights[op.results[0]] = (data, qc)

    def lower_return(self, op: Operation) -> None:
        new = []
        for v in op.operands:
            qv = self.q.get(v)
            new.append(self.dequantize(qv, v) if qv is not None else v)
        op.set_operands(new)

    def dequantize(self, qv: QValue, like: Value) -> Value:
        shape = _shape(qv.value)
        scale = (FloatAttr(float(qv.scale), f64) if qv.per_tensor
                 else DenseArrayAttr(f64, [float(s) for s in np.ravel(qv.scale)]))
        et = like.type.element_type if isinstance(like.type, ShapedType) and isinstance(like.type.element_type,
                                                                                        FloatType) else f32
        op = bpu.DequantizeOp(qv.value, scale=scale, axis=None if qv.per_tensor else IntegerAttr(qv.axis),
                              result_types=[TensorType(shape, et)])
        return self.emit(op).out

    def lower_stub(self, op: Operation) -> None:
        """QuantStub / DeQuantStub mark where quantization starts and ends; the casts around them do the work.
        A quant stub on a float input hands the input to its qcast (which becomes bpu.quantize); a dequant stub
        (or a stub on codes) passes codes and scale on, and the return dequantizes them."""
        x = op.operands[0]
        self.lowered.append(op)
        if x in self.q:
            self.q[op.results[0]] = self.q[x]
        else:
            op.results[0].replace_all_uses_with(x)

    # -- helpers ---------------------------------------------------------------------------------------------
    def act(self, v: Value) -> QValue:
        qv = self.q.get(v)
        if qv is None:
            raise LoweringError("an input is not quantized (no quant.dcast of a quantized value)")
        if not qv.per_tensor or qv.dtype not in ("i8", "i16"):
            raise LoweringError("an input is an int32 high-precision output; only a model output may be one")
        return qv

    def single_qcast_user(self, op: Operation) -> Operation | None:
        """The output qcast of `op` (requantize target), None when the result is returned as is."""
        users = list(op.results[0].users)
        qcasts = [u for u in users if u.name == "quant.qcast"]
        if len(qcasts) == 1 and len(users) == 1:
            return qcasts[0]
        if not qcasts:
            return None
        raise LoweringError("has a result that feeds a quant.qcast and other ops (freeze gives each value one qcast)")

    def requantize(self, src: QValue, value: Value, s_out: float, dtype: str, out_t: TensorType,
                   real: np.ndarray | float | None = None, axis: int = 1, clamp: tuple[int, int] | None = None,
                   residual: QValue | None = None) -> Value:
        """bpu.requantize of `value` (scale src.scale, or `real` multipliers) to (s_out, dtype)."""
        real = np.atleast_1d(np.asarray(src.scale / s_out if real is None else real, dtype=np.float64))
        attrs: dict = {}
        if residual is not None:
            reals = np.stack([real, np.full_like(real, residual.scale / s_out)])
            m, s = fp.common_shift_multipliers(reals)
            mult, rmult = m[0], m[1]
            attrs["residual_multiplier"] = DenseArrayAttr(i64, np.ravel(rmult).tolist())
        else:
            mult, s = fp.quantize_multiplier(real)
        attrs.update(multiplier=DenseArrayAttr(i64, np.ravel(mult).tolist()),
                     shift=DenseArrayAttr(i64, np.ravel(s).tolist()), axis=IntegerAttr(axis, i64))
        if self.rounding != "half_up":
            attrs["rounding"] = StringAttr(self.rounding)
        if clamp is not None:
            lo, hi = fp.qrange(dtype)
            if clamp[0] != lo:
                attrs["min"] = IntegerAttr(clamp[0], i64)
            if clamp[1] != hi:
                attrs["max"] = IntegerAttr(clamp[1], i64)
        op = bpu.RequantizeOp(value, residual.value if residual is not None else None, result_types=[out_t],
                              **attrs)
        return self.emit(op).out

    def weight(self, v: Value, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """(float weight, per-output-channel scales) of a weight operand (qcast'd constant)."""
        if v not in self.weights:
            raise LoweringError("its weight is not a quantized constant (qcast of a torch.constant)")
        data, qc = self.weights[v]
        e = self.qtype(qc.results[0])
        if e.storage_type.width != 8:
            raise LoweringError(f"weights are int8, got {e}")
        if isinstance(e, UniformQuantizedPerAxisType):
            if e.axis != axis:
                raise LoweringError(f"weight is quantized along axis {e.axis}, expected the output channel axis {axis}")
            scales = np.asarray(e.scales, dtype=np.float64)
        else:
            scales = np.full(data.shape[axis], e.scale, dtype=np.float64)
        return data, scales

    def finish_accumulator(self, op: Operation, acc: Value, s_acc: np.ndarray, axis: int,
                           residual: QValue | None = None) -> None:
        """Requantize an accumulator to the op's output qcast, or return it as a high-precision output."""
        qc = self.single_qcast_user(op)
        self.lowered.append(op)
        if qc is None:
            if residual is not None or _str(op, "activation"):
                raise LoweringError("an int32 high-precision output cannot carry a fused residual or activation")
            ndim = len(_shape(acc))
            self.q[op.results[0]] = QValue(acc, s_acc, f"i{acc.type.element_type.width}", axis % ndim)
            return
        s_out, dtype, lo, hi = self.out_spec(qc)
        act = _str(op, "activation")
        clamp = fp.clamp_bounds(act, s_out, dtype)
        clamp = (max(clamp[0], lo), min(clamp[1], hi))
        out_t = TensorType(_shape(acc), _int_type(dtype))
        src = QValue(acc, 1.0, "i32")
        y = self.requantize(src, acc, s_out, dtype, out_t, real=s_acc / s_out, axis=axis, clamp=clamp,
                            residual=residual)
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def accumulator_type(self, shape, reduction: int, x: QValue, w_codes: np.ndarray, b_codes) -> TensorType:
        wmax = int(np.abs(w_codes).max()) if w_codes.size else 0
        bmax = int(np.abs(b_codes).max()) if b_codes is not None and b_codes.size else 0
        dtype = fp.accumulator_dtype(reduction, x.dtype, wmax, bmax)
        if dtype == "i64":
            fp.check_requantize_input(reduction * -fp.qrange(x.dtype)[0] * wmax + bmax)
        return TensorType(shape, _int_type(dtype))

    # -- accumulating ops --------------------------------------------------------------------------------------
    def _check_no_bn(self, op: Operation) -> None:
        for n in ("bn_weight", "bn_bias", "bn_mean", "bn_var"):
            if getattr(op, n, None) is not None:
                raise LoweringError("still has a batch norm: freeze folds batch norms into the weights")

    def _bias_codes(self, op: Operation, s_x: float, s_w: np.ndarray) -> np.ndarray | None:
        b = getattr(op, "bias", None)
        if b is None:
            return None
        data = _constant_data(b)
        if data is None:
            raise LoweringError("its bias is not a constant")
        return fp.quantize_bias(data, s_x, s_w)

    def _weighted(self, op: Operation, kind: str) -> None:
        self._check_no_bn(op)
        x = self.act(op.operands[0])
        w_axis = 1 if kind == "conv_transpose2d" else 0
        w, s_w = self.weight(op.operands[1], w_axis)
        groups = _ints(op, "groups", 1, 1)[0]
        if kind == "conv_transpose2d" and groups != 1 and s_w.size > 1:
            raise LoweringError("per-channel weights of a grouped transposed convolution are not supported")
        w_codes = fp.quantize_weight(w, s_w, axis=w_axis)
        s_out_ch = s_w if kind != "conv_transpose2d" else s_w  # output channel scales
        b_codes = self._bias_codes(op, x.scale, s_out_ch)
        out_shape = _shape(op.results[0])
        if kind == "linear":
            reduction = w.shape[1]
        elif kind == "conv2d":
            reduction = w.shape[1] * w.shape[2] * w.shape[3]
        else:
            reduction = w.shape[0] // groups * w.shape[2] * w.shape[3]
        acc_t = self.accumulator_type(out_shape, reduction, x, w_codes, b_codes)
        hint = _str(op, "owner") or kind
        wv = self.constant(w_codes, "i8", f"{hint}.weight")
        bv = self.constant(b_codes, f"i{acc_t.element_type.width}", f"{hint}.bias") if b_codes is not None else None
        attrs: dict = {}
        if kind != "linear":
            pad = op.get_attr("padding")
            if isinstance(pad, StringAttr):
                raise LoweringError(f"padding '{pad.value}' must be spelled as integers before lowering")
            attrs = {"stride": ArrayAttr(IntegerAttr(v, i64) for v in _ints(op, "stride", 2, 1)),
                     "padding": ArrayAttr(IntegerAttr(v, i64) for v in _ints(op, "padding", 2, 0)),
                     "dilation": ArrayAttr(IntegerAttr(v, i64) for v in _ints(op, "dilation", 2, 1)),
                     "groups": IntegerAttr(groups, i64)}
            if kind == "conv_transpose2d":
                attrs["output_padding"] = ArrayAttr(IntegerAttr(v, i64) for v in _ints(op, "output_padding", 2, 0))
        cls = {"conv2d": bpu.Conv2dOp, "conv_transpose2d": bpu.ConvTranspose2dOp, "linear": bpu.LinearOp}[kind]
        acc = self.emit(cls(x.value, wv, bv, result_types=[acc_t], **attrs)).out
        residual = None
        if getattr(op, "residual", None) is not None:
            residual = self.act(op.residual)
            if _shape(op.residual) != out_shape:
                raise LoweringError("a fused residual must have the output's shape")
        axis = -1 if kind == "linear" else 1
        self.finish_accumulator(op, acc, float(x.scale) * s_out_ch, axis, residual)

    def lower_conv2d(self, op: Operation) -> None:
        self._weighted(op, "conv2d")

    def lower_conv_transpose2d(self, op: Operation) -> None:
        self._weighted(op, "conv_transpose2d")

    def lower_linear(self, op: Operation) -> None:
        self._weighted(op, "linear")

    def lower_matmul(self, op: Operation) -> None:
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        k = _shape(op.operands[0])[-1]
        bound = k * -fp.qrange(a.dtype)[0] * -fp.qrange(b.dtype)[0]
        if bound >= 2**31:
            fp.check_requantize_input(bound)
        acc_t = TensorType(_shape(op.results[0]), _int_type("i32" if bound < 2**31 else "i64"))
        acc = self.emit(bpu.MatmulOp(a.value, b.value, result_types=[acc_t])).out
        self.finish_accumulator(op, acc, np.array([a.scale * b.scale]), -1)

    # -- element-wise arithmetic ---------------------------------------------------------------------------------
    def _output(self, op: Operation) -> tuple[Operation, float, str, int, int]:
        qc = self.single_qcast_user(op)
        if qc is None:
            raise LoweringError("its result is not quantized (no quant.qcast after it)")
        self.lowered.append(op)
        return (qc, *self.out_spec(qc))

    def _alpha_is_one(self, op: Operation) -> None:
        a = op.get_attr("alpha")
        if a is not None and float(a.value) != 1.0:
            raise LoweringError(f"alpha = {a.value} is not supported")

    def _add_sub(self, op: Operation, cls) -> None:
        self._alpha_is_one(op)
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        qc, s_out, dtype, lo, hi = self._output(op)
        m, s = fp.common_shift_multipliers([a.scale / s_out, b.scale / s_out])
        clamp = fp.clamp_bounds(_str(op, "activation"), s_out, dtype)
        attrs = self._clamp_attrs(dtype, (max(clamp[0], lo), min(clamp[1], hi)))
        if self.rounding != "half_up":
            attrs["rounding"] = StringAttr(self.rounding)
        y = self.emit(cls(a.value, b.value, lhs_multiplier=IntegerAttr(int(m[0]), i64),
                          rhs_multiplier=IntegerAttr(int(m[1]), i64), shift=IntegerAttr(int(s), i64),
                          result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    @staticmethod
    def _clamp_attrs(dtype: str, clamp: tuple[int, int]) -> dict:
        lo, hi = fp.qrange(dtype)
        attrs = {}
        if clamp[0] != lo:
            attrs["min"] = IntegerAttr(clamp[0], i64)
        if clamp[1] != hi:
            attrs["max"] = IntegerAttr(clamp[1], i64)
        return attrs

    def lower_add(self, op: Operation) -> None:
        self._add_sub(op, bpu.AddOp)

    def lower_sub(self, op: Operation) -> None:
        self._add_sub(op, bpu.SubOp)

    def lower_mul(self, op: Operation) -> None:
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        qc, s_out, dtype, lo, hi = self._output(op)
        m, s = fp.quantize_multiplier(a.scale * b.scale / s_out)
        attrs = self._clamp_attrs(dtype, (lo, hi))
        if self.rounding != "half_up":
            attrs["rounding"] = StringAttr(self.rounding)
        y = self.emit(bpu.MulOp(a.value, b.value, multiplier=IntegerAttr(int(m), i64),
                                shift=IntegerAttr(int(s), i64),
                                result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def _scale_by(self, op: Operation, other: float, divide: bool) -> None:
        """`x * c` as VALIDATION computes it (irq.quant.validation._requant_one): the codes times sign(c),
        requantized by |s_in * c / s_out|. c >= 0 is one bpu.requantize; c < 0 is bpu.sub(x, x) with
        multipliers (0, M): ``rshift_round(0 * q - M * q, S)``, the same single rounding of -q * M."""
        x = self.act(op.operands[0])
        qc, s_out, dtype, lo, hi = self._output(op)
        out_t = TensorType(_shape(op.results[0]), _int_type(dtype))
        real = x.scale / other / s_out if divide else x.scale * other / s_out  # VALIDATION's float64 order
        if real >= 0:
            y = self.requantize(x, x.value, s_out, dtype, out_t, real=real)
        else:
            m, s = fp.quantize_multiplier(-real)
            attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
            y = self.emit(bpu.SubOp(x.value, x.value, lhs_multiplier=IntegerAttr(0, i64),
                                    rhs_multiplier=IntegerAttr(int(m), i64), shift=IntegerAttr(int(s), i64),
                                    result_types=[out_t], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_mul_scalar(self, op: Operation) -> None:
        self._scale_by(op, float(op.get_attr("other").value), divide=False)

    def lower_div_scalar(self, op: Operation) -> None:
        if op.get_attr("rounding_mode") is not None:
            raise LoweringError("rounding_mode is not supported (only true division by a scalar)")
        self._scale_by(op, float(op.get_attr("other").value), divide=True)

    def lower_cat(self, op: Operation) -> None:
        xs = [self.act(v) for v in op.operands]
        qc, s_out, dtype, _, _ = self._output(op)
        m, s = fp.quantize_multiplier([x.scale / s_out for x in xs])
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.ConcatOp([x.value for x in xs], dim=IntegerAttr(op.get_attr("dim").value, i64),
                                   multiplier=DenseArrayAttr(i64, m.tolist()),
                                   shift=DenseArrayAttr(i64, s.tolist()),
                                   result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_elementwise(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        if _base(op) == "relu" and self.single_qcast_user(op) is None:
            # quant-annotate gives a relu after a quantized producer its input's quantizer: same scale, and
            # the table is max(q, 0) (`x.relu()` after a leaky_relu, which fuse cannot merge)
            self.lowered.append(op)
            (lo, hi), s_out, dtype, result = fp.qrange(x.dtype), x.scale, x.dtype, op.results[0]
        else:
            qc, s_out, dtype, lo, hi = self._output(op)
            result = qc.results[0]
        fn = lut_functions.function(_base(op), _lut_attrs(op))
        table = np.clip(fp.lookup_table(fn, x.scale, s_out, x.dtype, dtype), lo, hi)
        tv = self.constant(table, dtype, f"{_str(op, 'owner') or _base(op)}.table")
        y = self.emit(bpu.LutOp(x.value, tv, result_types=[TensorType(_shape(op.results[0]),
                                                                       _int_type(dtype))])).out
        self.q[result] = QValue(y, s_out, dtype)

    def lower_softmax(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        table, m, s = fp.softmax_parameters(x.scale, x.dtype, s_out)
        tv = self.constant(table, "i32", f"{_str(op, 'owner') or 'softmax'}.exp_table")
        y = self.emit(bpu.SoftmaxOp(x.value, tv, dim=IntegerAttr(op.get_attr("dim").value, i64),
                                    multiplier=IntegerAttr(m, i64), shift=IntegerAttr(s, i64),
                                    result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_layer_norm(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        in_shape = _shape(op.operands[0])
        n = in_shape[-1]
        if list(_ints(op, "normalized_shape", 1, 0)) != [n]:
            raise LoweringError("layer norm lowers only over the last dim")
        qc, s_out, dtype, _, _ = self._output(op)
        gamma = _constant_data(op.weight) if op.weight is not None else np.ones(n)
        beta = _constant_data(op.bias) if op.bias is not None else np.zeros(n)
        if gamma is None or beta is None:
            raise LoweringError("its weight and bias must be constants")
        frac, g_codes, b_codes, eps, m, s = fp.layer_norm_parameters(gamma, beta, float(op.get_attr("eps").value),
                                                                    x.scale, s_out)
        sqrt_frac = fp.layer_norm_sqrt_frac_bits(n, x.dtype, eps, frac)
        owner = _str(op, "owner") or "layer_norm"
        attrs = {"sqrt_frac_bits": IntegerAttr(sqrt_frac, i64)} if sqrt_frac != frac else {}
        gv = self.constant(g_codes, "i8", f"{owner}.weight")
        bv = self.constant(b_codes, "i32", f"{owner}.bias")
        if self.rounding != "half_up":
            attrs["rounding"] = StringAttr(self.rounding)
        y = self.emit(bpu.LayerNormOp(x.value, gv, bv, frac_bits=IntegerAttr(frac, i64), eps=IntegerAttr(eps, i64),
                                      multiplier=IntegerAttr(int(m), i64), shift=IntegerAttr(int(s), i64),
                                      result_types=[TensorType(in_shape, _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    # -- pools, resize, data movement ----------------------------------------------------------------------------
    def lower_pass_through(self, op: Operation) -> None:
        """Codes unchanged, scale passes through; the next qcast requantizes if it chose another scale."""
        x = self.act(op.operands[0])
        base = _base(op)
        out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))
        if base == "max_pool2d":
            new = bpu.MaxPool2dOp(x.value, kernel_size=self._arr(op, "kernel_size"), stride=self._arr(op, "stride"),
                                  padding=self._arr(op, "padding"), dilation=self._arr(op, "dilation"),
                                  ceil_mode=op.get_attr("ceil_mode"), result_types=[out_t])
        elif base in ("permute", "transpose"):
            rank = len(_shape(op.operands[0]))
            if base == "permute":
                dims = [d % rank for d in _ints(op, "dims", rank, 0)]
            else:
                dims = list(range(rank))
                d0, d1 = op.get_attr("dim0").value % rank, op.get_attr("dim1").value % rank
                dims[d0], dims[d1] = dims[d1], dims[d0]
            new = bpu.PermuteOp(x.value, dims=ArrayAttr(IntegerAttr(d, i64) for d in dims), result_types=[out_t])
        elif base == "slice":
            attrs = {k: op.get_attr(k) for k in ("start", "end") if op.get_attr(k) is not None}
            new = bpu.SliceOp(x.value, dim=op.get_attr("dim"), step=op.get_attr("step"), result_types=[out_t], **attrs)
        elif _shape(op.operands[0]) == _shape(op.results[0]):  # identity, contiguous, eval-mode dropout
            self.lowered.append(op)
            self.q[op.results[0]] = x
            return
        else:
            new = bpu.ReshapeOp(x.value, result_types=[out_t])
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(self.emit(new).out, x.scale, x.dtype)

    def lower_chunk(self, op: Operation) -> None:
        self._lower_pieces(op)

    def lower_split(self, op: Operation) -> None:
        self._lower_pieces(op)

    def _lower_pieces(self, op: Operation) -> None:
        """torch.chunk / torch.split: one bpu.slice per result, consecutive along `dim` (their static sizes)."""
        x = self.act(op.operands[0])
        rank = len(_shape(op.operands[0]))
        dim = op.get_attr("dim").value % rank
        self.lowered.append(op)
        start = 0
        for r in op.results:
            shape = _shape(r)
            y = self.emit(bpu.SliceOp(x.value, dim=IntegerAttr(dim, i64), start=IntegerAttr(start, i64),
                                      end=IntegerAttr(start + shape[dim], i64),
                                      result_types=[TensorType(shape, _int_type(x.dtype))])).out
            self.q[r] = QValue(y, x.scale, x.dtype)
            start += shape[dim]

    @staticmethod
    def _arr(op: Operation, name: str):
        a = op.get_attr(name)
        return a if a is not None else ArrayAttr([])

    def lower_interpolate(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        mode = _str(op, "mode")
        corners = op.get_attr("align_corners")
        out_shape = _shape(op.results[0])
        if mode == "nearest":
            self.lowered.append(op)
            y = self.emit(bpu.ResizeOp(x.value, mode=StringAttr("nearest"),
                                       result_types=[TensorType(out_shape, _int_type(x.dtype))])).out
            self.q[op.results[0]] = QValue(y, x.scale, x.dtype)
            return
        if mode != "bilinear":
            raise LoweringError(f"interpolate mode '{mode}' is not supported (nearest, bilinear)")
        qc, s_out, dtype, _, _ = self._output(op)
        frac = fp.RESIZE_FRAC_BITS
        m, s = fp.quantize_multiplier(x.scale / (s_out * 2.0 ** (2 * frac)))
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.ResizeOp(x.value, mode=StringAttr("bilinear"), align_corners=corners,
                                   frac_bits=IntegerAttr(frac, i64), multiplier=IntegerAttr(int(m), i64),
                                   shift=IntegerAttr(int(s), i64),
                                   result_types=[TensorType(out_shape, _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_avg_pool2d(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        kh, kw = _ints(op, "kernel_size", 2, 1)
        override = op.get_attr("divisor_override")
        partial = any(_ints(op, "padding", 2, 0)) or bool(op.get_attr("ceil_mode"))
        if override is not None:
            divisors = [override.value]
        else:
            divisors = list(range(1, kh * kw + 1)) if partial else [kh * kw]
        m, s = fp.quantize_multiplier([x.scale / (s_out * n) for n in divisors])
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        if override is not None:
            attrs["divisor_override"] = override
        y = self.emit(bpu.AvgPool2dOp(
            x.value, kernel_size=self._arr(op, "kernel_size"), stride=self._arr(op, "stride"),
            padding=self._arr(op, "padding"), ceil_mode=op.get_attr("ceil_mode"),
            count_include_pad=op.get_attr("count_include_pad"), divisors=DenseArrayAttr(i64, divisors),
            multiplier=DenseArrayAttr(i64, m.tolist()), shift=DenseArrayAttr(i64, s.tolist()),
            result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def _global_avg(self, op: Operation, keep: bool) -> None:
        x = self.act(op.operands[0])
        n, c, h, w = _shape(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        m, s = fp.quantize_multiplier(x.scale / (s_out * h * w))
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.GlobalAvgPoolOp(x.value, multiplier=IntegerAttr(int(m), i64),
                                          shift=IntegerAttr(int(s), i64),
                                          result_types=[TensorType((n, c, 1, 1), _int_type(dtype))], **attrs)).out
        if not keep:
            y = self.emit(bpu.ReshapeOp(y, result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_adaptive_avg_pool2d(self, op: Operation) -> None:
        (h, w), (oh, ow) = _shape(op.operands[0])[2:], _shape(op.results[0])[2:]
        if (oh, ow) == (1, 1):
            return self._global_avg(op, True)
        if h % oh or w % ow:
            raise LoweringError(f"adaptive average pooling of {h}x{w} to {oh}x{ow} has uneven windows "
                                f"(it lowers when the output size divides the input size)")
        # equal windows: avg_pool2d with kernel = stride = input / output, VALIDATION's _adaptive_avg_pool
        x = self.act(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        kh, kw = h // oh, w // ow
        m, s = fp.quantize_multiplier([x.scale / (s_out * kh * kw)])
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        pair = lambda a, b: ArrayAttr([IntegerAttr(a, i64), IntegerAttr(b, i64)])  # noqa: E731
        y = self.emit(bpu.AvgPool2dOp(
            x.value, kernel_size=pair(kh, kw), stride=pair(kh, kw), padding=pair(0, 0),
            divisors=DenseArrayAttr(i64, [kh * kw]), multiplier=DenseArrayAttr(i64, m.tolist()),
            shift=DenseArrayAttr(i64, s.tolist()),
            result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_mean(self, op: Operation) -> None:
        in_shape = _shape(op.operands[0])
        rank = len(in_shape)
        dims = (sorted({d % rank for d in _ints(op, "dim", 1, 0)}) if op.get_attr("dim") is not None
                else list(range(rank)))
        if rank == 4 and dims == [2, 3]:
            return self._global_avg(op, bool(op.get_attr("keepdim")))
        self._mean_any_dims(op, in_shape, dims)

    def _mean_any_dims(self, op: Operation, in_shape: tuple[int, ...], dims: list[int]) -> None:
        """A mean over any dims (a ViT's mean over tokens) as the global average pool of a (kept[0], rest,
        reduced, 1) view: the same sum and one requantize by s_in / (s_out * n) as VALIDATION's `_mean`.
        The reduced dims are permuted last first; the leading kept dim stays first (the batch, for numba)."""
        x = self.act(op.operands[0])
        rank = len(in_shape)
        kept = [d for d in range(rank) if d not in dims]
        perm = kept + dims
        v, it = x.value, _int_type(x.dtype)
        if perm != list(range(rank)):
            v = self.emit(bpu.PermuteOp(v, dims=ArrayAttr(IntegerAttr(d, i64) for d in perm),
                                        result_types=[TensorType([in_shape[d] for d in perm], it)])).out
        lead = in_shape[kept[0]] if kept else 1
        rest = int(np.prod([in_shape[d] for d in kept[1:]], dtype=np.int64))
        n = int(np.prod([in_shape[d] for d in dims], dtype=np.int64))
        v = self.emit(bpu.ReshapeOp(v, result_types=[TensorType((lead, rest, n, 1), it)])).out
        qc, s_out, dtype, _, _ = self._output(op)
        m, s = fp.quantize_multiplier(x.scale / (s_out * n))
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.GlobalAvgPoolOp(v, multiplier=IntegerAttr(int(m), i64), shift=IntegerAttr(int(s), i64),
                                          result_types=[TensorType((lead, rest, 1, 1), _int_type(dtype))],
                                          **attrs)).out
        y = self.emit(bpu.ReshapeOp(y, result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    # -- float islands ------------------------------------------------------------------------------------------
    def keep_in_float(self, op: Operation) -> None:
        """Leave `op` in float: its quantized inputs are dequantized in front of it, and its quantized
        weights become float constants holding their dequantized codes (float_fallback)."""
        for i, v in enumerate(op.operands):
            qv = self.q.get(v)
            if qv is not None:
                op.set_operand(i, self.dequantize(qv, v))
            elif v in self.weights:
                op.set_operand(i, self.dequantized_weight(v))

    def dequantized_weight(self, v: Value) -> Value:
        from irq.dialects.torch import ConstantOp as TorchConstant
        data, qc = self.weights[v]
        e = self.qtype(qc.results[0])
        axis = e.axis if isinstance(e, UniformQuantizedPerAxisType) else 0
        scales = np.asarray(e.scales if isinstance(e, UniformQuantizedPerAxisType) else [e.scale] * data.shape[axis])
        values = fp.dequantize_codes(fp.quantize_weight(data, scales, axis), scales, axis)
        self.counter += 1
        attr = DenseResourceElementsAttr.from_array(f"float_island.{self.counter}", TensorType(data.shape, f32), values)
        return self.emit(TorchConstant(attr)).out


def _check_rounding(mode: str) -> None:
    if mode not in bpu.ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {', '.join(bpu.ROUNDING_MODES)}")


@register_pass("lower-bpu")
class LowerToBpu(Pass):
    """Lower the frozen QDQ level to the bpu dialect (requantize insertion included); see the module doc."""

    float_fallback = Option(bool, default=False, help="keep ops that cannot be lowered in float (dequantize/quantize "
                                                      "around them) instead of failing")
    rounding = Option(str, default="half_up", help="rounding of every requantize: " + ", ".join(bpu.ROUNDING_MODES),
                      validate=lambda v: _check_rounding(v))

    march = Option(str, default="", help="check every op against this march profile before lowering "
                                         "(irq.march_profiles); empty: no check")

    def run(self, op: Operation) -> None:
        funcs = [op] if op.name == "func.func" else [f for f in op.walk() if f.name == "func.func"]
        keep_float: set[Operation] = set()
        if self.march:
            from irq.march_profiles import check_march
            violations = [v for f in funcs for v in check_march(f, self.march)]
            if violations and not self.float_fallback:
                diags = [Diagnostic("error", f"'{v.op.name}' {v.message}", v.op.location, v.op) for v in violations]
                raise PassFailure(f"lower-bpu: {len(violations)} op(s) cannot run on march '{self.march}' (nothing "
                                  "was lowered):\n" + "\n".join(str(v) for v in violations), diags)
            keep_float = {v.op for v in violations}
            self.statistics["ops kept in float"] += len(keep_float)
        errors: list[Diagnostic] = []
        for f in funcs:
            if not f.regions or not f.regions[0].blocks:
                continue
            lowering = Lowering(f, self.float_fallback, self.rounding, keep_float)
            lowering.run()
            errors += lowering.errors
            self.statistics["ops lowered"] += len(lowering.lowered)
        if errors:
            listing = "\n".join(f"{location_prefix(d.location)}: {d.message}" for d in errors)
            raise PassFailure(f"lower-bpu: {len(errors)} op(s) cannot be lowered to bpu:\n{listing}", errors)
