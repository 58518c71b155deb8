"""lower-bpu's rewrite of torch.roll: data movement, two slices and a concat per rolled dimension.

``roll(x, s, d)`` is ``cat([x[n-s:], x[:n-s]], d)`` along d (n its size, s taken modulo n; a shift of 0 is the
input itself). quant-annotate shares the input's quantizer with roll (hl.DATA_MOVEMENT), so the codes and the
scale pass through: the concat takes the identity multiplier ``M = 2**30, S = 30`` for both pieces, exact under
every rounding mode, and VALIDATION's torch.roll of the fake-quantized values is the same permutation of codes.
Several (shift, dim) pairs roll one after the other; a roll of the flattened tensor (no dims) is a reshape
around a roll of dimension 0. Rolling the batch dimension is legal but pins the program to its traced batch
(the batch axes lose it at the concat: another batch size is a clear error, not mixed samples).
"""

from __future__ import annotations

from math import prod

from irq.dialects import bpu
from irq.passes._lowering import QValue, _int_type, _ints, _shape, fp

from irq.ir.attributes import DenseArrayAttr, IntegerAttr
from irq.ir.types import TensorType, i64


class RollLowerings:
    """`lower_roll` (see the module docstring)."""

    def _roll_once(self, value, shape: tuple[int, ...], dtype: str, shift: int, dim: int):
        n = shape[dim]
        s = shift % n if n else 0
        if s == 0:
            return value
        pieces = []
        for start, end in ((n - s, n), (0, n - s)):
            piece_shape = shape[:dim] + (end - start,) + shape[dim + 1:]
            pieces.append(self.emit(bpu.SliceOp(value, dim=IntegerAttr(dim, i64), start=IntegerAttr(start, i64),
                                                end=IntegerAttr(end, i64),
                                                result_types=[TensorType(piece_shape, _int_type(dtype))])).out)
        return self.emit(bpu.ConcatOp(pieces, dim=IntegerAttr(dim, i64),
                                      multiplier=DenseArrayAttr(i64, [fp.IDENTITY_MULTIPLIER] * 2),
                                      shift=DenseArrayAttr(i64, [fp.IDENTITY_SHIFT] * 2),
                                      result_types=[TensorType(shape, _int_type(dtype))])).out

    def lower_roll(self, op) -> None:
        x = self.act(op.operands[0])
        shape = tuple(_shape(op.operands[0]))
        shifts = _ints(op, "shifts", 1, 0)
        value = x.value
        if op.get_attr("dims") is None:  # the flattened tensor: reshape to 1-D, roll, reshape back
            flat = (prod(shape),)
            value = self.emit(bpu.ReshapeOp(value, result_types=[TensorType(flat, _int_type(x.dtype))])).out
            value = self._roll_once(value, flat, x.dtype, shifts[0], 0)
            value = self.emit(bpu.ReshapeOp(value, result_types=[TensorType(shape, _int_type(x.dtype))])).out
        else:
            for shift, dim in zip(shifts, _ints(op, "dims", len(shifts), 0)):
                value = self._roll_once(value, shape, x.dtype, shift, dim % len(shape))
        self.q[op.results[0]] = QValue(value, x.scale, x.dtype)
        self.lowered.append(op)
