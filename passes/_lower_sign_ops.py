"""lower-bpu's rewrites of the sign ops, abs and neg, as integer ops (no table): the codes once requantized.

- neg: ``x * -1`` through `_scale_by` (bpu.sub(x, x) with multipliers (0, M), ``M / 2**S ~ s_in / s_out``):
  one rounding of ``-q * s_in / s_out``, saturated to the output dtype. At one scale in and out the codes are
  negated exactly, and the one code with no opposite saturates: neg(-128) = 127 in int8, neg(-32768) = 32767
  in int16.
- abs: `bpu.prelu` with slope -1 (``q * (q >= 0 ? M : -M) >> S``, `fp.prelu_parameters`): one rounding of
  ``|q| * s_in / s_out``, saturated the same way (abs(-128) = 127 at one scale).

VALIDATION computes the same formulas from the same `irq.fixedpoint` parameters (irq/quant/validation.py,
`_neg` / `_abs`), so the deployed program equals it bit for bit; a lookup table would do too, but costs a
256- or 65536-entry constant for what one requantize computes.
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lowering import QValue, _int_type, _shape, fp, np

from irq.ir.attributes import DenseArrayAttr, IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import TensorType, i64

#: abs as prelu: the slope of the negative side
ABS_SLOPE = -1.0


class SignOpLowerings:
    """`lower_neg` and `lower_abs` (see the module docstring)."""

    def lower_neg(self, op: Operation) -> None:
        self._scale_by(op, -1.0, divide=False)

    def lower_abs(self, op: Operation) -> None:
        x = self.act(op.operands[0])
        qc, s_out, dtype, _, _ = self._output(op)
        m, mn, s = fp.prelu_parameters(np.array([ABS_SLOPE]), x.scale, s_out)
        attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}
        y = self.emit(bpu.PreluOp(x.value, multiplier=DenseArrayAttr(i64, [int(m[0])]),
                                  negative_multiplier=DenseArrayAttr(i64, [int(mn[0])]),
                                  shift=DenseArrayAttr(i64, [int(s[0])]), axis=IntegerAttr(1, i64),
                                  result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))], **attrs)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)
