"""lower-bpu's rewrites of the layers users' models add to the core set: a standalone batch norm, PReLU,
group norm, explicit padding (F.pad, and a conv's reflect/replicate/circular padding_mode), pixel (un)shuffle, stack
and sum.

Each is built from bpu ops whose integer semantics are pinned (dialects/bpu.py), with the parameters
VALIDATION computes from the same `irq.fixedpoint` function (irq/quant/validation.py), so the deployed
program equals VALIDATION bit for bit:

- batch norm (eval): ``a[c] x + b[c]`` is a depthwise 1x1 `bpu.conv2d` with one +-127 weight code per
  channel and an int32 bias, then one `bpu.requantize` (`fp.batch_norm_parameters`);
- PReLU: `bpu.prelu`, one rounding with a multiplier per sign of x and channel (`fp.prelu_parameters`);
- group norm: `bpu.group_norm`, layer norm's exact integer statistics per (sample, group), gamma/beta per
  channel (`fp.layer_norm_parameters` with the group's length); instance norm is the same op with one group
  per channel (or, with running statistics, a batch norm);
- pad, pixel_shuffle / pixel_unshuffle: data movement (`bpu.pad`; reshape + permute + reshape), codes and
  scale pass through, as quant-annotate shares the input's quantizer with them;
- stack: each input unsqueezed (`bpu.reshape`) and requantized to the output scale by `bpu.concat`;
- sum over dims: mean's global pool with divisor 1 (``M / 2**S ~ s_in / s_out``);
- log_softmax: `bpu.log_softmax`, softmax's exp table with an integer log2 of the row sum (error bound in
  `fp.log_softmax_parameters`);
- cumsum: `bpu.cumsum` (exact prefix sums into a proved i32/i64 accumulator), then one `bpu.requantize`;
- a / b of two activations: `bpu.div`, one exact rounded division (`fp.div_parameters`); with torch's
  rounding_mode floor / trunc (also by a constant) `bpu.int_div`, the exact integer quotient requantized
  (`fp.int_div_parameters`).
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lowering import (
    LoweringError,
    QValue,
    _base,
    _constant_data,
    _int_type,
    _ints,
    _reduced_dims,
    _shape,
    _str,
    fp,
    np,
)
from irq.passes.quant_annotate import is_passthrough

from irq.ir.attributes import ArrayAttr, DenseArrayAttr, FloatAttr, IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import TensorType, i64


def _i64_array(values) -> DenseArrayAttr:
    return DenseArrayAttr(i64, [int(v) for v in np.ravel(values)])


class LayerOpLowerings:
    """`lower_<op>` handlers: batch_norm, prelu, group_norm, pad, pixel_(un)shuffle, stack, sum and div."""

    def _rounding(self) -> dict:
        return {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}

    def lower_batch_norm(self, op: Operation) -> None:
        if op.get_attr("training") is not None and op.get_attr("training").value:
            raise LoweringError("is in training mode (batch statistics): convert needs an eval-mode batch norm")
        x = self.act(op.operands[0])
        shape = _shape(op.operands[0])
        if not 2 <= len(shape) <= 4:
            raise LoweringError(f"batch norm of a rank-{len(shape)} input (2-D to 4-D lower)")
        params = {}
        for name in ("weight", "bias", "running_mean", "running_var"):
            v = getattr(op, name)
            params[name] = None if v is None else _constant_data(v)
            if v is not None and params[name] is None:
                raise LoweringError(f"its {name} is not a constant")
        if params["running_mean"] is None or params["running_var"] is None:
            raise LoweringError("has no running statistics (track_running_stats=False)")
        qc, s_out, dtype, lo, hi = self._output(op)
        w, b, m, s = fp.batch_norm_parameters(params["weight"], params["bias"], params["running_mean"],
                                              params["running_var"], float(op.get_attr("eps").value), x.scale, s_out)
        c = shape[1]
        nchw = (shape[0], c, 1 if len(shape) < 4 else shape[2], 1 if len(shape) == 2 else shape[-1])
        x4 = self._view(x, nchw) if len(shape) != 4 else x
        w_codes = w.reshape(c, 1, 1, 1)
        acc_t = self.accumulator_type(nchw, 1, x4, w_codes, b)
        owner = _str(op, "owner") or "batch_norm"
        wv = self.constant(w_codes, "i8", f"{owner}.weight")
        bv = self.constant(b, f"i{acc_t.element_type.width}", f"{owner}.bias")
        one, zero = ArrayAttr([IntegerAttr(1, i64)] * 2), ArrayAttr([IntegerAttr(0, i64)] * 2)
        acc = self.emit(bpu.Conv2dOp(x4.value, wv, bv, result_types=[acc_t], stride=one, padding=zero, dilation=one,
                                     groups=IntegerAttr(c, i64))).out
        y = self.emit(bpu.RequantizeOp(acc, None, multiplier=_i64_array(m), shift=_i64_array(s),
                                       axis=IntegerAttr(1, i64), result_types=[TensorType(nchw, _int_type(dtype))],
                                       **self._rounding())).out
        out = QValue(y, s_out, dtype)
        self.q[qc.results[0]] = self._view(out, shape) if len(shape) != 4 else out

    def lower_prelu(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        slope = _constant_data(op.operands[1])
        if slope is None:
            raise LoweringError("its weight (the slopes) is not a constant")
        shape = _shape(op.operands[0])
        if slope.size > 1 and (len(shape) < 2 or shape[1] != slope.size):
            raise LoweringError(f"{slope.size} slopes do not match the {shape[1] if len(shape) > 1 else 1} channels")
        qc, s_out, dtype, _, _ = self._output(op)
        m, mn, s = fp.prelu_parameters(slope.ravel(), x.scale, s_out)
        y = self.emit(bpu.PreluOp(x.value, multiplier=_i64_array(m), negative_multiplier=_i64_array(mn),
                                  shift=_i64_array(s), axis=IntegerAttr(1, i64),
                                  result_types=[TensorType(shape, _int_type(dtype))], **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_group_norm(self, op: Operation) -> None:
        self._normalize_groups(op, op.get_attr("num_groups").value)

    def lower_instance_norm(self, op: Operation) -> None:
        """Instance norm with input statistics is group norm with one group per channel (the same exact
        integer statistics per (sample, channel)); with running statistics (track_running_stats, eval) it is
        an eval-mode batch norm: one affine map per channel."""
        if not op.get_attr("use_input_stats").value:
            return self.lower_batch_norm(op)
        shape = _shape(op.operands[0])
        if len(shape) < 3:
            raise LoweringError(f"instance norm of a rank-{len(shape)} input (an unbatched input: add the batch dim)")
        self._normalize_groups(op, shape[1])

    def _normalize_groups(self, op: Operation, groups: int) -> None:
        """bpu.group_norm over `groups` groups of channels (group_norm, and instance_norm with groups = C)."""
        x = self.act(op.operands[0])
        shape = _shape(op.operands[0])
        if len(shape) < 2 or shape[1] % groups:
            raise LoweringError(f"{groups} groups do not divide the channels of a {list(shape)} input")
        c = shape[1]
        n = c // groups * int(np.prod(shape[2:], dtype=np.int64))
        gamma = _constant_data(op.weight) if op.weight is not None else np.ones(c)
        beta = _constant_data(op.bias) if op.bias is not None else np.zeros(c)
        if gamma is None or beta is None:
            raise LoweringError("its weight and bias must be constants")
        qc, s_out, dtype, _, _ = self._output(op)
        frac, g_codes, b_codes, eps, m, s = fp.layer_norm_parameters(gamma, beta, float(op.get_attr("eps").value),
                                                                    x.scale, s_out, n=n)
        try:
            sqrt_frac = fp.layer_norm_sqrt_frac_bits(n, x.dtype, eps, frac)
        except ValueError as e:  # a group too large for int64 statistics: name the op, not a traceback
            raise LoweringError(str(e)) from None
        owner = _str(op, "owner") or _base(op)
        attrs = {"sqrt_frac_bits": IntegerAttr(sqrt_frac, i64)} if sqrt_frac != frac else {}
        gv = self.constant(g_codes, "i8", f"{owner}.weight")
        bv = self.constant(b_codes, "i32", f"{owner}.bias")
        y = self.emit(bpu.GroupNormOp(x.value, gv, bv, num_groups=IntegerAttr(groups, i64),
                                      frac_bits=IntegerAttr(frac, i64), eps=IntegerAttr(eps, i64),
                                      multiplier=IntegerAttr(int(m), i64), shift=IntegerAttr(int(s), i64),
                                      result_types=[TensorType(shape, _int_type(dtype))], **attrs,
                                      **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    # -- data movement -------------------------------------------------------------------------------------
    def _moved(self, op: Operation, x: QValue, y) -> None:
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(y, x.scale, x.dtype)

    def lower_pad(self, op: Operation) -> None:
        """F.pad on codes; a constant `value` is written as its code ``rint(float32(value) / s)``, the code
        VALIDATION's next quantizer reads from the padded float value."""
        x = self.act(op.operands[0])
        pad = _ints(op, "pad", 1, 0, empty=[])
        if not pad:  # F.pad(x, ()) returns x, as torch does; bpu.pad needs (before, after) pairs
            self._moved(op, x, x.value)
            return
        mode = _str(op, "mode") or "constant"
        value = op.get_attr("value")
        v = float(value.value) if isinstance(value, (FloatAttr, IntegerAttr)) else 0.0
        code = int(fp.quantize_to_codes(np.float32(v), x.scale, x.dtype)) if mode == "constant" else 0
        if mode == "constant" and v != 0.0 and float(np.float32(code * x.scale)) != float(np.float32(v)) and \
                _reaches_return(op.results[0]):
            raise LoweringError(f"pads a returned value with {v}, which is not a code of its scale {x.scale}")
        out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))
        pads = ArrayAttr(IntegerAttr(p, i64) for p in pad)
        y = self.emit(bpu.PadOp(x.value, pad=pads, mode=StringAttr(mode), value=IntegerAttr(code, i64),
                                result_types=[out_t])).out
        self._moved(op, x, y)

    def _shuffle(self, op: Operation, view: tuple[int, ...], dims: list[int]) -> None:
        x = self.act(op.operands[0])
        it = _int_type(x.dtype)
        v = self.emit(bpu.ReshapeOp(x.value, result_types=[TensorType(view, it)])).out
        moved = tuple(view[d] for d in dims)
        v = self.emit(bpu.PermuteOp(v, dims=ArrayAttr(IntegerAttr(d, i64) for d in dims),
                                    result_types=[TensorType(moved, it)])).out
        y = self.emit(bpu.ReshapeOp(v, result_types=[TensorType(_shape(op.results[0]), it)])).out
        self._moved(op, x, y)

    def lower_pixel_shuffle(self, op: Operation) -> None:
        n, c, h, w = _shape(op.operands[0])
        r = op.get_attr("upscale_factor").value
        self._shuffle(op, (n, c // (r * r), r, r, h, w), [0, 1, 4, 2, 5, 3])

    def lower_pixel_unshuffle(self, op: Operation) -> None:
        n, c, h, w = _shape(op.operands[0])
        r = op.get_attr("downscale_factor").value
        self._shuffle(op, (n, c, h // r, r, w // r, r), [0, 1, 3, 5, 2, 4])

    # -- requantizing joins and reductions -------------------------------------------------------------------
    def lower_stack(self, op: Operation) -> None:
        xs = [self.act(v) for v in op.operands]
        out_shape = _shape(op.results[0])
        dim = (op.get_attr("dim").value if op.get_attr("dim") is not None else 0) % len(out_shape)
        pieces = [self._view(x, (*out_shape[:dim], 1, *out_shape[dim + 1:])) for x in xs]
        qc, s_out, dtype, _, _ = self._output(op)
        m, s = fp.quantize_multiplier([x.scale / s_out for x in xs])
        y = self.emit(bpu.ConcatOp([p.value for p in pieces], dim=IntegerAttr(dim, i64),
                                   multiplier=DenseArrayAttr(i64, m.tolist()), shift=DenseArrayAttr(i64, s.tolist()),
                                   result_types=[TensorType(out_shape, _int_type(dtype))], **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_div(self, op: Operation) -> None:
        """a / b of two activations: bpu.div, one exact rounded division (`fp.div_parameters`); with a
        rounding_mode, bpu.int_div (the exact integer quotient, then a requantize)."""
        if op.get_attr("rounding_mode") is not None:
            a, b = self.act(op.operands[0]), self.act(op.operands[1])
            return self._int_div(op, a, b.value, float(b.scale))
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        qc, s_out, dtype, _, _ = self._output(op)
        m, s = fp.div_parameters(a.scale, b.scale, s_out, b.dtype)
        y = self.emit(bpu.DivOp(a.value, b.value, multiplier=IntegerAttr(m, i64), shift=IntegerAttr(s, i64),
                                result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],
                                **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_cumsum(self, op: Operation) -> None:
        """bpu.cumsum into the narrowest accumulator that holds n codes' sums, then one bpu.requantize by
        s_in / s_out (VALIDATION's `_cumsum`)."""
        x = self.act(op.operands[0])
        shape = _shape(op.operands[0])
        dim = op.get_attr("dim").value % len(shape)
        bound = shape[dim] * -fp.qrange(x.dtype)[0]
        try:
            fp.check_requantize_input(bound)
        except ValueError as e:
            raise LoweringError(f"prefix sums over {shape[dim]} {x.dtype} codes: {e}") from None
        acc_t = TensorType(shape, _int_type("i32" if bound < 2**31 else "i64"))
        acc = self.emit(bpu.CumsumOp(x.value, dim=IntegerAttr(dim, i64), result_types=[acc_t])).out
        qc, s_out, dtype, _, _ = self._output(op)
        y = self.requantize(x, acc, s_out, dtype, TensorType(shape, _int_type(dtype)))
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_div_scalar_rounded(self, op: Operation) -> None:
        """x / c with a rounding_mode: bpu.int_div by a constant divisor code sign(c) at scale |c|."""
        c = float(op.get_attr("other").value)
        if c == 0.0:
            raise LoweringError("divides by the constant 0")
        a = self.act(op.operands[0])
        b = self.constant(np.array([1 if c > 0 else -1]), "i8", f"{_str(op, 'owner') or 'div_scalar'}.divisor")
        self._int_div(op, a, b, abs(c))

    def _int_div(self, op: Operation, a: QValue, b, s_b: float) -> None:
        mode = op.get_attr("rounding_mode").value
        if mode not in fp.INT_DIV_ROUNDING_MODES:
            raise LoweringError(f"rounding_mode '{mode}' is not one of {', '.join(fp.INT_DIV_ROUNDING_MODES)}")
        qc, s_out, dtype, _, _ = self._output(op)
        try:
            m, dv, s, mo, so = fp.int_div_parameters(a.scale, s_b, s_out)
        except ValueError as e:
            raise LoweringError(str(e)) from None
        y = self.emit(bpu.IntDivOp(a.value, b, rounding_mode=StringAttr(mode), multiplier=IntegerAttr(m, i64),
                                   divisor=IntegerAttr(dv, i64), shift=IntegerAttr(s, i64),
                                   out_multiplier=IntegerAttr(mo, i64), out_shift=IntegerAttr(so, i64),
                                   result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],
                                   **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_log_softmax(self, op: Operation) -> None:
        """bpu.log_softmax: softmax's exp table (2**30 at exp(0)), an integer log2 of the exact row sum, one
        rounding (`fp.log_softmax_parameters`, which states the error bound)."""
        x = self.act(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        exp_table, log_table, m, m_log, s = fp.log_softmax_parameters(x.scale, x.dtype, s_out)
        owner = _str(op, "owner") or "log_softmax"
        ev = self.constant(exp_table, "i32", f"{owner}.exp_table")
        lv = self.constant(log_table, "i32", f"{owner}.log_table")
        y = self.emit(bpu.LogSoftmaxOp(x.value, ev, lv, dim=IntegerAttr(op.get_attr("dim").value, i64),
                                       exp_bits=IntegerAttr(fp.LOG_SOFTMAX_EXP_BITS, i64),
                                       log_frac_bits=IntegerAttr(fp.LOG_SOFTMAX_FRAC_BITS, i64),
                                       multiplier=IntegerAttr(m, i64), log_multiplier=IntegerAttr(m_log, i64),
                                       shift=IntegerAttr(s, i64),
                                       result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],
                                       **self._rounding())).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_sum(self, op: Operation) -> None:
        in_shape = _shape(op.operands[0])
        rank = len(in_shape)
        dims = _reduced_dims(op, rank)
        self._mean_any_dims(op, in_shape, dims, average=False)


def _reaches_return(value) -> bool:
    """Whether `value` is returned, directly or through ops that pass its codes on unchanged (flatten,
    reshape, permute, ...): VALIDATION then returns the float it holds, with no quantizer in between, so a
    pad value that is not a code of the scale would make the deployed output differ (chain fuzzer, seed
    6653: pad(value=2.0) -> flatten -> return)."""
    seen, todo = set(), [value]
    while todo:
        v = todo.pop()
        for u in v.users:
            if u.name == "func.return":
                return True
            if id(u) not in seen and is_passthrough(u):
                seen.add(id(u))
                todo.extend(u.results)
    return False
