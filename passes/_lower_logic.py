"""lower-bpu's rewrites of logic on masks (issue 12): `logical_not`, `logical` (and / or / xor) on i8 0/1 masks.

No new bpu op: a mask's codes are its values 0 and 1 (passes/_lower_select.py's MASK), so each is one existing
op whose semantics are a predicate or a copy, exact on both runtimes:

- ``~m``      = compare(m, eq, threshold 0)
- ``a & b``   = select(a, b, 0)      (b where a holds, else 0)
- ``a | b``   = select(a, 1, b)      (1 where a holds, else b)
- ``a ^ b``   = compare(a, ne, b)

The 0 and 1 are one-element i8 bpu.constants, broadcast by select like where_scalar's fill. An operand may be a
constant mask (a causal mask fold-constants folded from the input's size), made a bpu.constant once. VALIDATION
needs no emulation: torch's logical ops on the (exact) masks compute the same bits.
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lower_select import MASK
from irq.passes._lowering import LoweringError, QValue, _shape, np

from irq.ir.attributes import IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import TensorType, i8, i64
from irq.ir.values import Value


class LogicLowerings:
    """`lower_logical`, `lower_logical_not` (see the module docstring); needs SelectLowerings' `mask_operand`."""

    def _mask_codes(self, v: Value) -> Value:
        codes = self.mask_operand(v)
        if codes is None:
            raise LoweringError(
                "combines a value that is not a mask computed in the program (a comparison) or a "
                "constant; a bool model input cannot be deployed: compare a float or integer mask "
                "in the model (mask == 0)"
            )
        return codes

    def _result_mask(self, op: Operation, new: Operation) -> None:
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(self.emit(new).out, *MASK)

    def _bit(self, op: Operation, value: int) -> Value:
        owner = op.get_attr("owner")
        return self.constant(np.array([value]), "i8", f"{owner.value if owner is not None else 'logical'}.{value}")

    def lower_logical_not(self, op: Operation) -> None:
        m = self._mask_codes(op.operands[0])
        out_t = TensorType(_shape(op.results[0]), i8)
        self._result_mask(
            op, bpu.CompareOp(m, predicate=StringAttr("eq"), threshold=IntegerAttr(0, i64), result_types=[out_t])
        )

    def lower_logical(self, op: Operation) -> None:
        a, b = (self._mask_codes(v) for v in op.operands[:2])
        kind = op.get_attr("kind").value
        out_t = TensorType(_shape(op.results[0]), i8)
        if kind == "xor":
            new = bpu.CompareOp(a, b, predicate=StringAttr("ne"), result_types=[out_t])
        elif kind == "and":
            new = bpu.SelectOp(a, b, self._bit(op, 0), result_types=[out_t])
        elif kind == "or":
            new = bpu.SelectOp(a, self._bit(op, 1), b, result_types=[out_t])
        else:
            raise LoweringError(f"has an unknown kind '{kind}' (one of and, or, xor)")
        self._result_mask(op, new)
