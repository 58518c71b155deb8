"""bpu's data-movement ops: codes moved (or, for concat, each input requantized once) without arithmetic.

Their semantics are specified in dialects/bpu.py's docstring (which re-exports every op).
"""

from __future__ import annotations

from irq.dialects._bpu_checks import (
    DIALECT,
    I64_ARRAY,
    Activation,
    AnyStorage,
    _attr,
    _check_shape_rule,
    _ints,
    _rounding_attr,
    _verify_multipliers,
    _verify_rounding,
)
from irq.dialects._opspec import INT, INTS
from irq.dialects._shapes import permute, shape_of, slice_

from irq.ir.opdef import Op, operand, result, variadic_operand
from irq.ir.traits import Pure


@DIALECT.op
class ConcatOp(Op):
    """Each input requantized to the output scale with its own (M, S), then concatenated along `dim`."""

    name = "bpu.concat"
    traits = frozenset({Pure})
    inputs = variadic_operand(Activation)
    dim = _attr(INT)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        n = len(self.inputs)
        if n == 0:
            raise self.error("needs at least one input")
        if len(self.multiplier) != n or len(self.shift) != n:
            raise self.error(f"needs one multiplier and one shift per input ({n}), got {len(self.multiplier)} "
                             f"and {len(self.shift)}")
        _verify_multipliers(self, _ints(self.multiplier), _ints(self.shift))
        _verify_rounding(self)
        shapes = [shape_of(v) for v in self.inputs]
        out = shape_of(self.out)
        if any(s is None for s in shapes) or out is None:
            return
        rank = len(out)
        d = self.dim.value + rank if self.dim.value < 0 else self.dim.value
        if not 0 <= d < rank:
            raise self.error(f"dim {self.dim.value} is out of range for rank {rank}")
        for s in shapes:
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, out)) if i != d):
                raise self.error(f"input shape {list(s)} does not concatenate into {list(out)} along {d}")
        if sum(s[d] for s in shapes) != out[d]:
            raise self.error(f"inputs sum to {sum(s[d] for s in shapes)} along dim {d}, result has {out[d]}")


def _data_movement(name: str, doc: str, attrs: dict, rule) -> type[Op]:
    def verify_op(self: Op) -> None:
        if self.input.type.element_type is not self.out.type.element_type:
            raise self.error("result dtype differs from the input's")
        if rule is not None:
            _check_shape_rule(self, rule)
        else:
            s, o = shape_of(self.input), shape_of(self.out)
            if s is not None and o is not None and _prod(s) != _prod(o):
                raise self.error(f"cannot reshape {list(s)} ({_prod(s)} elements) to {list(o)}")

    ns = {"__doc__": doc, "name": name, "traits": frozenset({Pure}), "input": operand(AnyStorage), **attrs,
          "out": result(AnyStorage), "assembly_format": "$input attr-dict `:` functional-type(operands, results)",
          "verify_op": verify_op}
    cls_name = name.split(".")[1].capitalize() + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


def _prod(s) -> int:
    n = 1
    for x in s:
        n *= x
    return n


ReshapeOp = _data_movement("bpu.reshape", "Row-major reshape to the result type's shape.", {}, None)
PermuteOp = _data_movement("bpu.permute", "Dimension permutation.", {"dims": _attr(INTS)}, permute)
SliceOp = _data_movement("bpu.slice", "input[start:end:step] along `dim` (end clipped to the size).",
                         {"dim": _attr(INT), "start": _attr(INT, optional=True), "end": _attr(INT, optional=True),
                          "step": _attr(INT, default=1)}, slice_)
