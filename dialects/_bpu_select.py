"""bpu's comparison and selection ops (issue 12): `bpu.compare` makes an i8 0/1 mask from codes, `bpu.select`
picks codes by a mask. Neither rounds: the scales are settled before them (lower-bpu requantizes both values
of a select to the output scale and turns a comparison with a number into an integer threshold,
irq.selection), so their semantics are integer predicates and copies.

Semantics are stated in dialects/bpu.py's docstring (the dialect's public face, which re-exports both).
"""

from __future__ import annotations

from irq.dialects._bpu_checks import DIALECT, PURE, Activation, AnyStorage, _attr, _int_tensor, dtype_name, width
from irq.dialects._opspec import INT, STR, ShapeError
from irq.dialects._shapes import broadcast_shapes, shape_of

from irq.ir.opdef import Op, operand, optional_operand, result

#: the predicates of bpu.compare (irq.selection.PREDICATES, repeated: the dialect loads without irq.selection)
PREDICATES = ("gt", "ge", "lt", "le", "eq", "ne")
Mask = _int_tensor((8,))


def _verify_broadcast(op: Op, operands) -> None:
    shapes = [shape_of(v) for v in operands]
    out = shape_of(op.results[0])
    if any(s is None for s in shapes) or out is None:
        return
    try:
        want = broadcast_shapes(*shapes)
    except ShapeError as e:
        raise op.error(str(e)) from None
    if tuple(out) != tuple(want):
        raise op.error(f"result shape {list(out)} is not the broadcast of {', '.join(str(list(s)) for s in shapes)}")


@DIALECT.op
class CompareOp(Op):
    """An i8 mask: 1 where ``lhs <predicate> rhs`` (or ``lhs <predicate> threshold``) holds, else 0."""

    name = "bpu.compare"
    traits = PURE
    lhs = operand(AnyStorage)
    rhs = optional_operand(AnyStorage)
    predicate = _attr(STR)
    threshold = _attr(INT, optional=True)
    out = result(Mask)
    assembly_format = "$lhs (`,` $rhs^)? attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        if self.predicate.value not in PREDICATES:
            raise self.error(f"predicate must be one of {', '.join(PREDICATES)}, got '{self.predicate.value}'")
        if (self.rhs is None) == (self.threshold is None):
            raise self.error("needs exactly one of a rhs operand and a threshold")
        if self.threshold is not None and not -(2**63) <= self.threshold.value < 2**63:
            raise self.error(f"threshold {self.threshold.value} does not fit int64")
        _verify_broadcast(self, [self.lhs] if self.rhs is None else [self.lhs, self.rhs])


@DIALECT.op
class SelectOp(Op):
    """``condition != 0 ? lhs : rhs`` element-wise, the three broadcast together (codes copied)."""

    name = "bpu.select"
    traits = PURE
    condition = operand(Mask)
    lhs = operand(Activation)
    rhs = operand(Activation)
    out = result(Activation)
    assembly_format = "$condition `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        for v in (self.lhs, self.rhs):
            if width(v) != width(self.out):
                raise self.error(f"operand dtype {dtype_name(v)} differs from the result's {dtype_name(self.out)}: "
                                 "requantize both values to the output first")
        _verify_broadcast(self, [self.condition, self.lhs, self.rhs])
