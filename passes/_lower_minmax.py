"""lower-bpu's rewrite of torch.maximum / torch.minimum of two activations: both requantized to the output
scale, then the larger (smaller) code, built from bpu ops whose integer semantics are pinned (no new kernel):

    a' = requantize(a -> s_out)        b' = requantize(b -> s_out)         (one rounding each)
    d  = sub(b', a') clamped to >= 0 (maximum) / <= 0 (minimum), in the next wider dtype (exact)
    y  = add(a', d)                                                         (exact, in the output dtype)

so ``y = a' + max(b' - a', 0) = max(a', b')`` (``min`` likewise) exactly: sub and add use the identity
multipliers ``M = 2**30, S = 30``, which no rounding mode changes on integers, and the sum lies between a'
and b', inside the output range. VALIDATION computes ``max(rq(a), rq(b))`` with the same multipliers
(irq/quant/validation.py, `_select`). Broadcasting follows bpu.add / bpu.sub.

int8 only (both march profiles list maximum / minimum with i8): the difference of two int16 codes needs an int32
that bpu.add / bpu.sub do not produce, and a saturated difference would give a wrong code, not an error.
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lowering import QValue, _int_type, _shape, fp

from irq.ir.attributes import IntegerAttr
from irq.ir.operation import Operation
from irq.ir.types import TensorType, i64

#: the dtype that holds the difference of two codes exactly (int8 operands: the march profiles allow no other)
_WIDER = {"i8": "i16"}


class MinMaxLowerings:
    """`lower_maximum` and `lower_minimum` (see the module docstring)."""

    def _select(self, op: Operation, larger: bool) -> None:
        a, b = self.act(op.operands[0]), self.act(op.operands[1])
        qc, s_out, dtype, _, _ = self._output(op)
        at = TensorType(_shape(op.operands[0]), _int_type(dtype))
        bt = TensorType(_shape(op.operands[1]), _int_type(dtype))
        a2 = self.requantize(a, a.value, s_out, dtype, at)
        b2 = self.requantize(b, b.value, s_out, dtype, bt)
        out_shape = _shape(op.results[0])
        m = IntegerAttr(fp.IDENTITY_MULTIPLIER, i64)
        identity = {"lhs_multiplier": m, "rhs_multiplier": m, "shift": IntegerAttr(fp.IDENTITY_SHIFT, i64)}
        bound = {"min": IntegerAttr(0, i64)} if larger else {"max": IntegerAttr(0, i64)}
        d = self.emit(bpu.SubOp(b2, a2, result_types=[TensorType(out_shape, _int_type(_WIDER[dtype]))],
                                **identity, **bound)).out
        y = self.emit(bpu.AddOp(a2, d, result_types=[TensorType(out_shape, _int_type(dtype))], **identity)).out
        self.q[qc.results[0]] = QValue(y, s_out, dtype)

    def lower_maximum(self, op: Operation) -> None:
        self._select(op, larger=True)

    def lower_minimum(self, op: Operation) -> None:
        self._select(op, larger=False)
