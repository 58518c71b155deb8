"""lower-bpu's driver and the pieces every op lowering shares (see passes/lower_bpu.py for the pass).

`LoweringBase` walks a function, keeps the integer form (`QValue`) of every frozen-graph value that carries
codes, turns the quant casts into bpu.quantize / codes / bpu.dequantize, and owns the *requantize insertion*:
weight codes and scales, proved accumulator widths, (M, S) from irq.fixedpoint, the output qcast's scale and
clamp. Float islands (float-fallback) live here too. The per-op rewrites are `_lower_ops.OpLowerings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from irq.dialects import bpu
from irq.dialects.quant import UniformQuantizedPerAxisType, UniformQuantizedType

from irq._lazy import _LazyModule
from irq.diagnostics import Diagnostic
from irq.ir.attributes import DenseArrayAttr, FloatAttr, IntegerAttr, StringAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, FunctionType, IntegerType, ShapedType, TensorType, f32, f64, i64
from irq.ir.values import Value
from irq.march_profiles import is_static_size_computation

# numpy and irq.fixedpoint load on first use: every pipeline registers this pass, and irq-opt's
# start-up must not pay for numpy (tests/test_irq_opt.py)
np = _LazyModule("numpy")
fp = _LazyModule("irq.fixedpoint")
lut_functions = _LazyModule("irq.lut_functions")


class LoweringError(ValueError):
    """An op of the frozen graph that cannot become bpu ops (the message names it and its location)."""


def check_accumulator_bound(bound: int, what: str) -> None:
    """Refuse, as a LoweringError the driver reports with the op's location, an accumulator whose worst case
    a requantize cannot take (`fp.check_requantize_input`: |acc| < 2**32). A bare ValueError there escaped
    the driver as "pass 'lower-bpu' raised ValueError" with no op and no line (found by tests/test_chain_fuzz.py:
    an int16 x int16 matmul on nash)."""
    try:
        fp.check_requantize_input(bound)
    except ValueError:
        raise LoweringError(f"{what} can reach {bound} in the worst case: too large to requantize in int64 "
                            "(must be < 2**32); quantize one of its inputs to int8 or shorten the reduction") from None


@dataclass
class QValue:
    """The integer form of a frozen-graph float value: codes (or an accumulator) and their scale(s)."""

    value: Value
    scale: float | np.ndarray  # per tensor, or per channel along `axis` for an int32 high-precision output
    dtype: str
    axis: int | None = None
    #: an integer model input used as is (scale 1.0, e.g. an int64 attention mask): only data movement and
    #: comparisons read one (`act(v, raw_ok=True)`), every other op refuses it by name
    raw: bool = False

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


def _reduced_dims(op: Operation, rank: int) -> list[int]:
    """The dims a sum/mean reduces, normalised and sorted. No `dim`, and an empty one (`x.sum(dim=())`),
    both mean every dim, as in torch (`_ints` refuses an empty list unless its caller says what it means;
    it used to read this one as dim 0: a mutation survivor of lower-layer-ops, `_ints(op, "dim", 1, 0)`)."""
    a = op.get_attr("dim")
    vals = [] if a is None else ([a.value] if isinstance(a, IntegerAttr) else [x.value for x in a])
    return sorted({d % rank for d in vals}) if vals else list(range(rank))


def _ints(op: Operation, name: str, n: int, default: int, *, empty: list[int] | None = None) -> list[int]:
    """The integer attribute `name`: absent -> `default` n times; one value -> repeated n times.

    An empty list has no default: what it means depends on the op (torch reads `F.pad(x, ())` as no padding,
    `x.permute(())` of a scalar as the identity, `x.sum(dim=())` as every dim, and refuses an empty conv stride
    or kernel size), so the caller says it in `empty`, and without one it is refused naming the attribute. It
    used to read as `default` (dim 0 for a sum over `dim=()`: a wrong shape with no error)."""
    a = op.get_attr(name)
    if a is None:
        return [default] * n
    vals = [a.value] if isinstance(a, IntegerAttr) else [x.value for x in a]
    if not vals:
        if empty is None:
            raise LoweringError(f"an empty '{name}' list has no meaning here (torch refuses it)")
        return list(empty)
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
    """The attributes irq.lut_functions reads (approximate, min/max_val, negative_slope, min, max, other, alpha;
    softplus's beta/threshold, the shrinks' lambd, pow_scalar's exponent)."""
    out = {}
    for name in ("approximate", "min_val", "max_val", "negative_slope", "min", "max", "other", "alpha",
                 "beta", "threshold", "lambd", "exponent"):
        a = op.get_attr(name)
        if a is not None:
            out[name] = a.value if isinstance(a, (StringAttr, IntegerAttr, FloatAttr)) else a
    return out


ELEMENTWISE = lut_functions.KINDS
#: Ops that move codes without arithmetic: the scale passes through.
PASS_THROUGH = frozenset({"flatten", "reshape", "view", "permute", "transpose", "unsqueeze", "squeeze", "contiguous",
                          "identity", "dropout", "max_pool2d", "slice"})
ACCUMULATING = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul", "bmm"})
#: Ops with one result per piece of their input (no arithmetic): a bpu.slice per result, scale shared.
SPLITTING = frozenset({"chunk", "split", "unbind"})
#: selections whose input may be a constant used as data (passes/_lower_take.py's CONSTANT_INPUT_OK)
CONSTANT_INPUT_OK = frozenset({"expand", "expand_as", "repeat", "flip", "index_select"})

class LoweringBase:
    """Lower one function; collects every op it cannot lower instead of stopping at the first. The
    `lower_<op>` handlers come from the op-lowering mixin (`passes/_lower_ops.py`)."""

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
        #: integer indices expanded to the batch, left for the embeddings reading them (passes/_lower_take.py)
        self.expanded_ids: dict[Value, tuple[Operation, QValue]] = {}

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
        for arg in block.args:  # integer model inputs (token ids, an attention mask) are read as they are
            t = arg.type
            if isinstance(t, ShapedType) and isinstance(t.element_type, IntegerType) and \
                    t.element_type.width in (8, 16, 32, 64) and not t.element_type.is_unsigned:
                self.q[arg] = QValue(arg, 1.0, f"i{t.element_type.width}", raw=True)
        for op in list(block.ops):
            self.anchor = op
            try:
                self.lower_or_keep_float(op)
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

    def lower_or_keep_float(self, op: Operation) -> None:
        """Lower `op`; with float-fallback, an op whose lowering fails (an unsupported form of a supported
        op: a mean over other dims...) is rolled back and kept in float instead."""
        if not self.float_fallback:
            return self.lower(op)
        before, n_lowered, q = op.prev_op, len(self.lowered), dict(self.q)
        try:
            self.lower(op)
        except LoweringError:
            if op.name in ("quant.qcast", "quant.dcast", "func.return"):
                raise
            while op.prev_op is not before:  # what the failed lowering emitted in front of `op`
                emitted = op.prev_op
                emitted.drop_all_references()
                emitted.erase(check_uses=False)
            del self.lowered[n_lowered:]
            self.q = q
            self.keep_in_float(op)

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
        if name in ("hl.quant_stub", "hl.dequant_stub"):
            return self.lower_stub(op)
        if op in self.keep_float:
            return self.keep_in_float(op)
        if name == "hl.embedding":  # its operands are integer ids and a weight: neither is an activation
            return self.lower_embedding(op)
        if name in ("hl.compare", "hl.compare_scalar", "hl.logical", "hl.logical_not"):
            # an operand may be a raw integer input (an attention mask) or a constant mask
            return getattr(self, f"lower_{base}")(op)
        inputs_quantized = [v for v in op.operands if v in self.q]
        if not inputs_quantized and base in CONSTANT_INPUT_OK and op.operands and \
                (op.operands[0] in self.weights or _constant_data(op.operands[0]) is not None):
            inputs_quantized = [op.operands[0]]  # a constant used as data: a class token's expand (_lower_take)
        handler = getattr(self, f"lower_{base}", None)
        if op.dialect_name in ("hl", "torch") and inputs_quantized:
            if base in PASS_THROUGH:
                return self.lower_pass_through(op)
            if base == "relu" and not any(u.name == "quant.qcast" for u in op.results[0].users):
                return self.lower_shared_relu(op)
            if base in SPLITTING:
                return self.lower_pieces(op)
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

    # -- helpers ---------------------------------------------------------------------------------------------
    def act(self, v: Value, raw_ok: bool = False) -> QValue:
        qv = self.q.get(v)
        if qv is None and v in self.weights:
            qv = self.q[v] = self.constant_operand(v)
        if qv is None and raw_ok:
            qv = self.integer_constant(v)
        if qv is None:
            raise LoweringError("an input is not quantized (no quant.dcast of a quantized value)")
        if qv.raw:
            if raw_ok:
                return qv
            raise LoweringError(f"an input is a raw {qv.dtype} model input: only data movement and comparisons "
                                "(mask == 0) take one; quantize it (a float input) for other ops")
        if not qv.per_tensor or qv.dtype not in ("i8", "i16"):
            raise LoweringError("an input is an int32 high-precision output; only a model output may be one")
        return qv

    def integer_constant(self, v: Value) -> QValue | None:
        """A signed integer constant (a buffer of indices: BERT's `position_ids[:, :S]`, its token types) as a raw
        QValue over an integer bpu.constant of the same values, made once; None for any other value. Integers are
        read as they are, like an integer model input (`run`): only data movement, comparisons and an embedding's
        indices take one (`act(v, raw_ok=True)`)."""
        if v in self.q:
            return self.q[v] if self.q[v].raw else None
        op = getattr(v, "op", None)
        a = op.get_attr("value") if op is not None and op.name in ("torch.constant", "arith.constant") else None
        t = getattr(a, "type", None)
        if not (isinstance(a, (DenseElementsAttr, DenseResourceElementsAttr)) and isinstance(t, ShapedType)
                and isinstance(t.element_type, IntegerType) and not t.element_type.is_unsigned
                and t.element_type.width in (8, 16, 32, 64)):
            return None
        dtype = f"i{t.element_type.width}"
        data = np.broadcast_to(np.asarray(a.to_numpy()), tuple(t.shape))
        hint = v.name_hint or "constant"
        self.q[v] = QValue(self.constant(np.ascontiguousarray(data), dtype, f"{hint}.ints"), 1.0, dtype, raw=True)
        return self.q[v]

    def constant_operand(self, v: Value) -> QValue:
        """A parameter, buffer or tensor constant used as data (a layer scale `gamma * x`, a positional
        embedding `x + pos`): its codes become a bpu.constant, quantized per tensor as its qcast says and
        rounded as VALIDATION's fake quantization rounds (half to even, clipped to the storage range)."""
        data, qc = self.weights[v]
        scale, dtype, lo, hi = self.out_spec(qc)
        codes = np.clip(fp.quantize_to_codes(data, scale, dtype), lo, hi)
        return QValue(self.constant(codes, dtype, f"{_str(qc, 'owner') or 'constant'}.data"), scale, dtype)

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

    def accumulator_type(self, shape, reduction: int, x: QValue, w_codes: np.ndarray, b_codes,
                         out_axis: int | None = 0) -> TensorType:
        """The accumulator's type (i32 when the per-tensor bound allows, the verifier's rule) after proving
        that a requantize can take it. The proof uses each output channel's own weights (`out_axis` of
        `w_codes`; None when a channel's sum does not run over all of its weights, as in a grouped transposed
        conv): `fp.channel_accumulator_bound`."""
        wmax = int(np.abs(w_codes).max()) if w_codes.size else 0
        bmax = int(np.abs(b_codes).max()) if b_codes is not None and b_codes.size else 0
        dtype = fp.accumulator_dtype(reduction, x.dtype, wmax, bmax)
        if dtype == "i64":
            xmax = -fp.qrange(x.dtype)[0]
            bound = reduction * xmax * wmax + bmax
            if out_axis is not None:
                bound = min(bound, fp.channel_accumulator_bound(w_codes, b_codes, xmax, out_axis))
            check_accumulator_bound(bound, f"its accumulator over {reduction} {x.dtype} products")
        return TensorType(shape, _int_type(dtype))

    def _output(self, op: Operation) -> tuple[Operation, float, str, int, int]:
        qc = self.single_qcast_user(op)
        if qc is None:
            raise LoweringError("its result is not quantized (no quant.qcast after it)")
        self.lowered.append(op)
        return (qc, *self.out_spec(qc))

    @staticmethod
    def _clamp_attrs(dtype: str, clamp: tuple[int, int]) -> dict:
        lo, hi = fp.qrange(dtype)
        attrs = {}
        if clamp[0] != lo:
            attrs["min"] = IntegerAttr(clamp[0], i64)
        if clamp[1] != hi:
            attrs["max"] = IntegerAttr(clamp[1], i64)
        return attrs

    # -- float islands ------------------------------------------------------------------------------------------
    def keep_in_float(self, op: Operation) -> None:
        """Leave `op` in float: its quantized inputs are dequantized in front of it, and its quantized
        weights become float constants holding their dequantized codes (float_fallback).

        Only ops the torch-free runtimes can execute may stay: an opaque callable (`torch.call`) is refused
        here, at convert, since the deployed program could not run it (no torch, no user code)."""
        from irq.runtime.reference.ops import IMPLS
        if op.name == "torch.call":
            target = op.get_attr("target")
            raise LoweringError(f"is an opaque call of '{target.value if target is not None else '?'}': it cannot be "
                                "kept in float, because opaque torch callables cannot run torch-free (the deployed "
                                "runtimes execute numpy only); rewrite it with supported ops or run it outside the "
                                "program")
        if op.name not in IMPLS:
            raise LoweringError("cannot be kept in float: the torch-free runtimes have no float implementation of it")
        if any(v in self.expanded_ids for v in op.operands):
            raise LoweringError("cannot be kept in float: its indices are integers expanded to the batch, which only "
                                "a lowered embedding reads")
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
