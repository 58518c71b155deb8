"""lower-bpu's per-op rewrites: each frozen `dcast -> op -> qcast` group becomes its bpu ops.

A mixin of `passes/_lowering.py`'s `LoweringBase` (which owns the driver, the casts and the requantize
insertion these handlers call): accumulating ops, element-wise arithmetic and lookup tables, softmax and
layer norm, pools, resizes and data movement. Parameters come from `irq.fixedpoint` only, so VALIDATION
(which calls the same functions) agrees with the program by construction.
"""

from __future__ import annotations

from irq.dialects import bpu, hl
from irq.dialects.quant import UniformQuantizedPerAxisType
from irq.passes._lowering import (
    LoweringError,
    QValue,
    _base,
    _constant_data,
    _int_type,
    _ints,
    _lut_attrs,
    _reduced_dims,
    _shape,
    _str,
    check_accumulator_bound,
    fp,
    lut_functions,
    np,
)

from irq.ir.attributes import ArrayAttr, DenseArrayAttr, IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import IntegerType, ShapedType, TensorType, i64


class OpLowerings:
    """`lower_<op>` handlers; `LoweringBase.lower` dispatches to them by the op's base name."""

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
        try:
            fp.check_bias_fits(data, s_x, s_w)
        except ValueError as e:
            raise LoweringError(str(e)) from None
        return fp.quantize_bias(data, s_x, s_w)

    def _weighted(self, op: Operation, kind: str) -> None:
        self._check_no_bn(op)
        x = self.act(op.operands[0])
        w_axis = 1 if kind == "conv_transpose2d" else 0
        w, s_w = self.weight(op.operands[1], w_axis)
        as_2d = kind == "conv1d"  # a conv1d is a conv2d over [N, C, 1, L]: the same exact sums
        if as_2d:
            x = self._view(x, (*_shape(op.operands[0])[:2], 1, _shape(op.operands[0])[2]))
            w, kind = w[:, :, None, :], "conv2d"
        groups = _ints(op, "groups", 1, 1)[0]
        if kind == "conv_transpose2d" and groups != 1 and s_w.size > 1:
            raise LoweringError("per-channel weights of a grouped transposed convolution are not supported")
        w_codes = fp.quantize_weight(w, s_w, axis=w_axis)
        s_out_ch = s_w if kind != "conv_transpose2d" else s_w  # output channel scales
        b_codes = self._bias_codes(op, x.scale, s_out_ch)
        out_shape = _shape(op.results[0])
        if as_2d:
            out_shape = (*out_shape[:2], 1, out_shape[2])
        if kind == "linear":
            reduction = w.shape[1]
        elif kind == "conv2d":
            reduction = w.shape[1] * w.shape[2] * w.shape[3]
        else:
            reduction = w.shape[0] // groups * w.shape[2] * w.shape[3]
        acc_t = self.accumulator_type(out_shape, reduction, x, w_codes, b_codes,
                                      None if kind == "conv_transpose2d" else 0)
        hint = _str(op, "owner") or kind
        wv = self.constant(w_codes, "i8", f"{hint}.weight")
        bv = self.constant(b_codes, f"i{acc_t.element_type.width}", f"{hint}.bias") if b_codes is not None else None
        attrs: dict = {}
        if kind != "linear":
            pad = op.get_attr("padding")
            if isinstance(pad, StringAttr):
                raise LoweringError(f"padding '{pad.value}' must be spelled as integers before lowering")

            def pair(name: str, default: int) -> ArrayAttr:
                """[h, w] of a conv attribute; a conv1d's one value is w, with h = the identity (H = 1)."""
                v = [default, _ints(op, name, 1, default)[0]] if as_2d else _ints(op, name, 2, default)
                return ArrayAttr(IntegerAttr(e, i64) for e in v)
            attrs = {"stride": pair("stride", 1), "padding": pair("padding", 0), "dilation": pair("dilation", 1),
                     "groups": IntegerAttr(groups, i64)}
            if kind == "conv_transpose2d":
                attrs["output_padding"] = ArrayAttr(IntegerAttr(v, i64) for v in _ints(op, "output_padding", 2, 0))
        cls = {"conv2d": bpu.Conv2dOp, "conv_transpose2d": bpu.ConvTranspose2dOp, "linear": bpu.LinearOp}[kind]
        acc = self.emit(cls(x.value, wv, bv, result_types=[acc_t], **attrs)).out
        residual = None
        if getattr(op, "residual", None) is not None:
            residual = self.act(op.residual)
            if as_2d:
                residual = self._view(residual, out_shape)
            if _shape(residual.value) != out_shape:
                raise LoweringError("a fused residual must have the output's shape")
        axis = -1 if kind == "linear" else 1
        self.finish_accumulator(op, acc, float(x.scale) * s_out_ch, axis, residual)
        if as_2d:  # the result (requantized, or the int32 output) back to [N, Cout, L]
            for v in (op.results[0], *(u.results[0] for u in op.results[0].users if u.name == "quant.qcast")):
                if v in self.q:
                    self.q[v] = self._view(self.q[v], _shape(op.results[0]))

    def _view(self, x: QValue, shape: tuple[int, ...]) -> QValue:
        """The same codes (or accumulator) under another shape: a bpu.reshape, scale and axis unchanged."""
        t = TensorType(shape, x.value.type.element_type)
        return QValue(self.emit(bpu.ReshapeOp(x.value, result_types=[t])).out, x.scale, x.dtype, x.axis)

    def lower_conv1d(self, op: Operation) -> None:
        self._weighted(op, "conv1d")

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
            check_accumulator_bound(bound, f"its accumulator over {k} {a.dtype} x {b.dtype} products")
        acc_t = TensorType(_shape(op.results[0]), _int_type("i32" if bound < 2**31 else "i64"))
        acc = self.emit(bpu.MatmulOp(a.value, b.value, result_types=[acc_t])).out
        self.finish_accumulator(op, acc, np.array([a.scale * b.scale]), -1)

    def lower_bmm(self, op: Operation) -> None:
        """torch.bmm ([b, n, m] x [b, m, p], nn.MultiheadAttention's decomposition) is a 3-D matmul."""
        self.lower_matmul(op)

    def _alpha_is_one(self, op: Operation) -> None:
        a = op.get_attr("alpha")
        if a is not None and float(a.value) != 1.0:
            raise LoweringError(f"alpha = {a.value} is not supported")

    def _add_sub(self, op: Operation, cls) -> None:
        self._alpha_is_one(op)
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        qc, s_out, dtype, lo, hi = self._output(op)
        # an additive mask of -1e9 / finfo.min saturates the sum wherever it is nonzero: a smaller multiplier
        # that still saturates gives the same outputs (fp.saturating_reals; VALIDATION applies the same rule)
        try:
            m, s = fp.add_multipliers([a.scale / s_out, b.scale / s_out],
                                      [-fp.qrange(a.dtype)[0], -fp.qrange(b.dtype)[0]], *fp.qrange(dtype))
        except ValueError as e:  # a ratio past 2**30 that does not saturate (two huge addends)
            raise LoweringError(
                f"rescales its inputs (scales {a.scale:.4g} and {b.scale:.4g}) to its output's scale {s_out:.4g}: {e}; "
                "an addend of huge magnitude (an additive mask of -1e9 or finfo.min) does this: mask with -inf, or "
                "with masked_fill, which quantizes"
            ) from None
        clamp = fp.clamp_bounds(_str(op, "activation"), s_out, dtype)
        attrs = self._clamp_attrs(dtype, (max(clamp[0], lo), min(clamp[1], hi)))
        if self.rounding != "half_up":
            attrs["rounding"] = StringAttr(self.rounding)
        y = self.emit(cls(a.value, b.value, lhs_multiplier=IntegerAttr(int(m[0]), i64),
                          rhs_multiplier=IntegerAttr(int(m[1]), i64), shift=IntegerAttr(int(s), i64),
                          result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

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
        qc, s_out, dtype, lo, hi = self._output(op)
        fn = lut_functions.function(_base(op), _lut_attrs(op))
        table = np.clip(fp.lookup_table(fn, x.scale, s_out, x.dtype, dtype), lo, hi)
        tv = self.constant(table, dtype, f"{_str(op, 'owner') or _base(op)}.table")
        y = self.emit(bpu.LutOp(x.value, tv, result_types=[TensorType(_shape(op.results[0]),
                                                                       _int_type(dtype))])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

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

    def lower_embedding(self, op: Operation) -> None:
        """bpu.embedding: the int8 table codes, each row requantized to the output scale as it is gathered. Its
        indices may be an integer input (maybe reshaped first), an integer constant (BERT's position ids) or one
        expanded to the batch (its token types: the unexpanded indices are looked up, then the codes expanded)."""
        ids, table = op.operands[0], op.operands[1]
        expand = self.expanded_ids.get(ids)
        raw = expand[1] if expand is not None else self.q.get(ids)
        if raw is None:
            raw = self.integer_constant(ids)
        if raw is not None and raw.raw:  # its lowered value
            ids = raw.value
        t = ids.type
        if not (isinstance(t, ShapedType) and isinstance(t.element_type, IntegerType)
                and t.element_type.width in (32, 64)):
            raise LoweringError(f"its indices must be an i32/i64 tensor, got {t}")
        w, s_w = self.weight(table, 0)
        qc, s_out, dtype, _, _ = self._output(op)
        codes = fp.quantize_weight(w, s_w, axis=0)
        m, s = fp.quantize_multiplier(s_w / s_out)
        if not isinstance(self.qtype(self.weights[table][1].results[0]), UniformQuantizedPerAxisType):
            m, s = m[:1], s[:1]  # one table scale: one multiplier
        tv = self.constant(codes, "i8", f"{_str(op, 'owner') or 'embedding'}.table")
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        looked_up = _shape(ids) + (w.shape[1],)
        y = self.emit(bpu.EmbeddingOp(ids, tv, multiplier=DenseArrayAttr(i64, m.tolist()),
                                      shift=DenseArrayAttr(i64, s.tolist()),
                                      result_types=[TensorType(looked_up, _int_type(dtype))],
                                      **attrs)).out
        if expand is not None:
            y = self._expand_codes(expand[0], QValue(y, s_out, dtype), y, looked_up, _shape(op.results[0]))
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
            return self.lower_div_scalar_rounded(op)  # passes/_lower_layer_ops.py
        self._scale_by(op, float(op.get_attr("other").value), divide=True)

    # -- pools, resize, data movement ----------------------------------------------------------------------------
    def lower_pass_through(self, op: Operation) -> None:
        """Codes unchanged, scale passes through; the next qcast requantizes if it chose another scale. A raw
        integer input (an int64 mask reshaped before its comparison) moves the same way."""
        base = _base(op)
        if base == "dropout" and hl.drops_in_eval(op):
            raise LoweringError(
                "drops units in eval mode too: the call fixes training=True (F.dropout's default, or "
                "`training=self.training` traced in training mode), so the model is random at inference and the "
                "deployed identity would not compute it. Use an nn.Dropout layer (it follows the prepared model's "
                "train/eval mode) or pass training=False")
        x = self.act(op.operands[0], raw_ok=base != "max_pool2d")
        out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))
        if base == "max_pool2d":
            new = bpu.MaxPool2dOp(x.value, kernel_size=self._arr(op, "kernel_size"), stride=self._arr(op, "stride"),
                                  padding=self._arr(op, "padding"), dilation=self._arr(op, "dilation"),
                                  ceil_mode=op.get_attr("ceil_mode"), result_types=[out_t])
        elif base in ("permute", "transpose"):
            rank = len(_shape(op.operands[0]))
            if base == "permute":
                dims = [d % rank for d in _ints(op, "dims", rank, 0, empty=[])]  # permute(()): a scalar's identity
            else:
                dims = list(range(rank))
                d0, d1 = op.get_attr("dim0").value % rank, op.get_attr("dim1").value % rank
                dims[d0], dims[d1] = dims[d1], dims[d0]
            new = bpu.PermuteOp(x.value, dims=ArrayAttr(IntegerAttr(d, i64) for d in dims), result_types=[out_t])
        elif base == "slice":
            attrs = {k: op.get_attr(k) for k in ("start", "end") if op.get_attr(k) is not None}
            new = bpu.SliceOp(x.value, dim=op.get_attr("dim"), step=op.get_attr("step"), result_types=[out_t], **attrs)
        elif _shape(op.operands[0]) == _shape(op.results[0]) and not (base in ("reshape", "view")
                                                                    and op.get_attr("shape") is not None):
            # identity, contiguous, eval-mode dropout; a reshape with its torch shape stays a bpu.reshape until
            # mark_reshapes_losing_the_batch has checked it (the identity at the traced batch may not be at another)
            self.lowered.append(op)
            self.q[op.results[0]] = x
            return
        else:
            new = bpu.ReshapeOp(x.value, result_types=[out_t])
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(self.emit(new).out, x.scale, x.dtype, raw=x.raw)

    def lower_stub(self, op: Operation) -> None:
        """QuantStub/DeQuantStub mark the quantized region; the casts around them do the work (the stub's
        qcast becomes bpu.quantize, a returned value bpu.dequantize), so the stub itself is the identity."""
        self.lowered.append(op)
        x, y = op.operands[0], op.results[0]
        if x in self.q:
            self.q[y] = self.q[x]
        else:
            y.replace_all_uses_with(x)

    def lower_shared_relu(self, op: Operation) -> None:
        """A relu that shares its producer's quantizer (quant-annotate: no quantizer of its own): max(q, 0)
        on the codes at the same scale is exactly relu of the dequantized value, as VALIDATION computes it."""
        x = self.act(op.operands[0])
        out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))
        self.lowered.append(op)
        y = self.emit(bpu.ClampOp(x.value, min=IntegerAttr(0, i64), result_types=[out_t])).out
        self.q[op.results[0]] = QValue(y, x.scale, x.dtype)

    def lower_pieces(self, op: Operation) -> None:
        """chunk/split/unbind: one bpu.slice per result, at the offsets the static result shapes give (codes and
        scale pass through, as annotation shares the input's quantizer with every piece)."""
        x = self.act(op.operands[0])
        shape = _shape(op.operands[0])
        dim = op.get_attr("dim").value % len(shape) if op.get_attr("dim") is not None else 0
        start = 0
        unbind = _base(op) == "unbind"  # each result drops `dim`: a size-1 slice, then a reshape without it
        for r in op.results:
            size = 1 if unbind else _shape(r)[dim]
            piece_shape = [*shape[:dim], 1, *shape[dim + 1:]] if unbind else _shape(r)
            out_t = TensorType(piece_shape, _int_type(x.dtype))
            piece = self.emit(bpu.SliceOp(x.value, dim=IntegerAttr(dim, i64), start=IntegerAttr(start, i64),
                                          end=IntegerAttr(start + size, i64), result_types=[out_t])).out
            if unbind:
                piece = self.emit(bpu.ReshapeOp(piece, result_types=[TensorType(_shape(r), _int_type(x.dtype))])).out
            self.q[r] = QValue(piece, x.scale, x.dtype)
            start += size
        if start != shape[dim]:
            raise LoweringError(f"its pieces cover {start} of {shape[dim]} elements along dim {dim}")
        self.lowered.append(op)

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
        dims = _reduced_dims(op, rank)
        if rank == 4 and dims == [2, 3]:
            return self._global_avg(op, bool(op.get_attr("keepdim")))
        self._mean_any_dims(op, in_shape, dims)

    def _mean_any_dims(self, op: Operation, in_shape: tuple[int, ...], dims: list[int], average: bool = True) -> None:
        """A mean over any dims (a ViT's mean over tokens) as the global average pool of a (kept[0], rest,
        reduced, 1) view: the same sum and one requantize by s_in / (s_out * n) as VALIDATION's `_mean`.
        The reduced dims are permuted last; the leading kept dim stays first (the batch, for numba)."""
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
        m, s = fp.quantize_multiplier(x.scale / (s_out * (n if average else 1)))  # a sum: divisor 1
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.GlobalAvgPoolOp(v, multiplier=IntegerAttr(int(m), i64), shift=IntegerAttr(int(s), i64),
                                          result_types=[TensorType((lead, rest, 1, 1), _int_type(dtype))],
                                          **attrs)).out
        y = self.emit(bpu.ReshapeOp(y, result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)
