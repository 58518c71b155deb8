"""lower-bpu's rewrites of comparisons and selection (issue 12): compare / compare_scalar become `bpu.compare` (an
i8 0/1 mask), where / where_scalar (masked_fill) and maximum / minimum become `bpu.select`.

- A mask is held like a quantized value: i8 codes 0 / 1 at scale 1.0 (exact), so data movement (view, unsqueeze,
  slice, permute) moves it as codes and a returned mask dequantizes to 0.0 / 1.0.
- compare_scalar: ``q s <pred> c`` becomes ``q <pred'> t`` with t = irq.selection.compare_threshold (exact for
  every code). A raw integer operand (an int64 attention mask given to the program) is compared as is (scale 1).
- compare of two tensors: the coarser operand requantized (one rounding) to the finer one's scale in i16, then the
  codes compared (irq.selection.common_compare_scale; two i16 operands at different scales are refused).
- where: both values requantized to the output scale (skipped where it already is), then bpu.select.
- where_scalar: the input requantized to the output scale, the fill value a one-element bpu.constant holding
  irq.selection.fill_code (-inf: the range's minimum), then bpu.select. Before a softmax the output is int16 over
  the stated range [-128, 128] (quant-annotate's SOFTMAX_INPUT_RANGE), so a -inf fill is code -32768, where the
  softmax's exp table is 0: the masked key's probability is exactly 0, as in float.
- maximum / minimum: both operands requantized to the output scale, ``select(a' > b', a', b')`` (``<`` for
  minimum), in i8 or i16 (before issue 12's select, ``a' + clamp(b' - a')`` needed a wider dtype for the
  difference, which int16 operands did not have).

VALIDATION computes the same steps (irq/quant/validation_select.py and validation.py's maximum / minimum).
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lowering import LoweringError, QValue, _constant_data, _int_type, _shape, np

from irq import selection
from irq.ir.attributes import IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import IntegerType, ShapedType, TensorType, i8, i64
from irq.ir.values import Value

#: a mask's "scale": its codes 0 / 1 are the values themselves
MASK = (1.0, "i8")


class SelectLowerings:
    """`lower_compare`, `lower_compare_scalar`, `lower_where`, `lower_where_scalar`, `lower_maximum`,
    `lower_minimum` (see the module docstring)."""

    # -- comparisons ------------------------------------------------------------------------------------------
    def _comparable(self, v: Value) -> tuple[Value, float, str, bool]:
        """(codes, scale, dtype, raw) of a comparison operand: a quantized value's codes, or a raw integer model
        input (scale 1.0, `raw`)."""
        if v not in self.q and v not in self.weights:
            raise LoweringError("compares a value that is neither quantized nor an integer model input (a float "
                                "island's output or a bool input): quantize it")
        qv = self.act(v, raw_ok=True)
        return qv.value, float(qv.scale), qv.dtype, qv.raw

    def _mask(self, op: Operation, operands: list[Value], **attrs) -> None:
        out_t = TensorType(_shape(op.results[0]), i8)
        y = self.emit(bpu.CompareOp(*operands, result_types=[out_t], **attrs)).out
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(y, *MASK)

    def lower_compare_scalar(self, op: Operation) -> None:
        x, scale, _, _ = self._comparable(op.operands[0])
        pred, other = op.get_attr("predicate").value, float(op.get_attr("other").value)
        try:
            p, t = selection.compare_threshold(pred, other, scale)
        except ValueError as e:
            raise LoweringError(str(e)) from None
        self._mask(op, [x], predicate=StringAttr(p), threshold=IntegerAttr(t, i64))

    def lower_compare(self, op: Operation) -> None:
        (a, sa, da, ra), (b, sb, db, rb) = (self._comparable(v) for v in op.operands[:2])
        pred = op.get_attr("predicate").value
        if pred not in selection.PREDICATES:
            raise LoweringError(f"has an unknown predicate '{pred}' (one of {', '.join(selection.PREDICATES)})")
        if ra != rb:
            raise LoweringError("compares a quantized value with a raw integer input; quantize both or neither")
        if not ra:
            try:
                coarser, dtype = selection.common_compare_scale(sa, da, sb, db)
            except ValueError as e:
                raise LoweringError(str(e)) from None
            if coarser is not None:
                src, v, s_to = (QValue(a, sa, da), a, sb) if coarser == 0 else (QValue(b, sb, db), b, sa)
                moved = self.requantize(src, v, s_to, dtype, TensorType(_shape(v), _int_type(dtype)))
                a, b = (moved, b) if coarser == 0 else (a, moved)
        self._mask(op, [a, b], predicate=StringAttr(pred))

    # -- selection --------------------------------------------------------------------------------------------
    def mask_operand(self, v: Value) -> Value | None:
        """The i8 0/1 codes of mask `v`: a mask computed in the program, or a constant one (a causal mask folded
        from the input's size by fold-constants) as a bpu.constant, made once; None when `v` is neither."""
        qv = self.q.get(v)
        if qv is not None and (float(qv.scale), qv.dtype) == MASK:
            return qv.value
        t = v.type
        data = _constant_data(v) if isinstance(t, ShapedType) and isinstance(t.element_type, IntegerType) else None
        if data is None:
            return None
        owner = getattr(v.op, "key", None) or v.name_hint or "mask"
        codes = self.constant((data != 0).astype(np.int8), "i8", f"{owner}.mask")
        self.q[v] = QValue(codes, *MASK)
        return codes

    def _condition(self, v: Value) -> Value:
        codes = self.mask_operand(v)
        if codes is None:
            raise LoweringError("selects by a condition that is not a mask computed in the program (a comparison) or "
                                "a constant; a bool model input cannot be deployed: pass the mask as a float or "
                                "integer tensor and compare it in the model (mask == 0)")
        return codes

    def _at_output(self, v: Value, s_out: float, dtype: str) -> Value:
        """The codes of `v` at (s_out, dtype): requantized once, unless they already are."""
        x = self.act(v)
        if x.scale == s_out and x.dtype == dtype:
            return x.value
        return self.requantize(x, x.value, s_out, dtype, TensorType(_shape(v), _int_type(dtype)))

    def _select(self, op: Operation, cond: Value, a: Value, b: Value, qc: Operation, s_out: float,
                dtype: str) -> None:
        out_t = TensorType(_shape(op.results[0]), _int_type(dtype))
        y = self.emit(bpu.SelectOp(cond, a, b, result_types=[out_t])).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_where(self, op: Operation) -> None:
        cond = self._condition(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        a, b = (self._at_output(v, s_out, dtype) for v in op.operands[1:3])
        self._select(op, cond, a, b, qc, s_out, dtype)

    def lower_where_scalar(self, op: Operation) -> None:
        cond = self._condition(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        x = self._at_output(op.operands[1], s_out, dtype)
        value = float(op.get_attr("value").value)
        try:
            code = selection.fill_code(value, s_out, dtype)
        except ValueError as e:
            raise LoweringError(str(e)) from None
        fill = self.constant(np.array([code]), dtype, f"{op.get_attr('owner').value or 'where_scalar'}.fill")
        value_first = op.get_attr("value_first")
        a, b = (fill, x) if value_first is not None and value_first.value else (x, fill)
        self._select(op, cond, a, b, qc, s_out, dtype)

    def _extreme(self, op: Operation, larger: bool) -> None:
        qc, s_out, dtype, _, _ = self._output(op)
        a, b = (self._at_output(v, s_out, dtype) for v in op.operands[:2])
        mask_t = TensorType(_shape(op.results[0]), i8)
        cond = self.emit(bpu.CompareOp(a, b, predicate=StringAttr("gt" if larger else "lt"),
                                       result_types=[mask_t])).out
        self._select(op, cond, a, b, qc, s_out, dtype)

    def lower_maximum(self, op: Operation) -> None:
        self._extreme(op, larger=True)

    def lower_minimum(self, op: Operation) -> None:
        self._extreme(op, larger=False)
