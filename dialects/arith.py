"""A small arith dialect: constants and element-wise integer/float arithmetic.

It has MLIR's names and syntax (`%2 = arith.addf %0, %1 : tensor<4xf32>`), so the
same text runs through irq and xDSL in the benchmarks, and it gives the generic
passes (canonicalize, cse, dce) something to fold in tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from irq.ir.attributes import Attribute, BoolAttr, FloatAttr, IntegerAttr
from irq.ir.dense import DenseElementsAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Constraint, Op, attribute, operand, result
from irq.ir.traits import Commutative, ConstantLike, Pure, SameOperandsAndResultType
from irq.ir.types import SIGNLESS, FloatType, IndexType, IntegerType, ShapedType, Type

DIALECT = Dialect("arith", "Integer and floating point arithmetic.")


def _element(t: Type) -> Type:
    return t.element_type if isinstance(t, ShapedType) else t


IntegerLike = Constraint(lambda t: isinstance(_element(t), (IntegerType, IndexType)), "integer-like")
FloatLike = Constraint(lambda t: isinstance(_element(t), FloatType), "float-like")


def _typed(a: Attribute) -> bool | str:
    return True if hasattr(a, "type") else "must be a typed attribute"


@DIALECT.op
class ConstantOp(Op):
    """A constant of the value attribute's type."""

    name = "arith.constant"
    traits = frozenset({Pure, ConstantLike})
    value = attribute(_typed)
    result = result()
    assembly_format = "attr-dict $value"

    def __init__(self, value: Attribute, *, location=None) -> None:
        self._init_generic((), [value.type], None, {"value": value}, 0, (), location)

    @classmethod
    def infer_result_types(cls, operands: Sequence, properties: dict) -> list[Type]:
        value = properties.get("value")
        if not isinstance(getattr(value, "type", None), Type):
            raise TypeError(f"arith.constant needs a typed value attribute, got {value}")
        return [value.type]

    def suggest_result_name(self) -> str | None:
        # mlir-opt's names for constants: %c42_i32, %c0 (index), %true, %cst.
        v = self.get_attr("value")
        if isinstance(v, BoolAttr):
            return "true" if v.value else "false"
        if isinstance(v, IntegerAttr):
            base = f"c{v.value}".replace("-", "m")
            return base if isinstance(v.type, IndexType) else f"{base}_{v.type}"
        return "cst"

    def fold(self) -> Attribute:
        return self.value

    def verify_op(self) -> None:
        t = self.result.type
        if isinstance(t, IntegerType) and t.signedness != SIGNLESS:  # MLIR's ConstantOp::verify
            raise self.error(f"integer return type must be signless, got {t}")
        if self.value.type is not self.result.type:
            raise self.error(f"value type {self.value.type} does not match result type {self.result.type}")


def _binary(op_name: str, doc: str, constraint: Constraint, commutative: bool) -> type[Op]:
    traits = {Pure, SameOperandsAndResultType}
    if commutative:
        traits.add(Commutative)
    ns = {
        "__doc__": doc,
        "name": op_name,
        "traits": frozenset(traits),
        "lhs": operand(constraint),
        "rhs": operand(constraint),
        "result": result(constraint),
        "assembly_format": "$lhs `,` $rhs attr-dict `:` type($result)",
        "fold": _fold_binary,
    }
    cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


_SCALAR_FNS = {
    "arith.addi": lambda a, b: a + b, "arith.subi": lambda a, b: a - b, "arith.muli": lambda a, b: a * b,
    "arith.addf": lambda a, b: a + b, "arith.subf": lambda a, b: a - b, "arith.mulf": lambda a, b: a * b,
    "arith.divf": lambda a, b: a / b if b != 0 else (float("nan") if a == 0 else float("inf") * (1 if a > 0 else -1)),
    "arith.maxsi": max, "arith.minsi": min,
}


def _wrap(value: int, t: IntegerType) -> int:
    w = t.width
    value &= (1 << w) - 1
    return value - (1 << w) if value >= 1 << (w - 1) and w > 1 else value


def _fold_binary(self: Op):
    """Fold when both operands are defined by scalar constants (integers wrap like hardware)."""
    for v in self.operands:  # the common case, a non-constant operand, leaves here
        if not isinstance(getattr(v, "op", None), ConstantOp):
            return None
    a, b = [v.op.value for v in self.operands]
    fn = _SCALAR_FNS[self.name]
    if isinstance(a, IntegerAttr) and isinstance(b, IntegerAttr) and not isinstance(a, BoolAttr):
        t = a.type
        r = fn(a.value, b.value)
        return IntegerAttr(_wrap(r, t) if isinstance(t, IntegerType) else r, t)
    if isinstance(a, FloatAttr) and isinstance(b, FloatAttr):
        return FloatAttr(fn(a.value, b.value), a.type)
    if isinstance(a, DenseElementsAttr) or isinstance(b, DenseElementsAttr):
        return None
    return None


AddIOp = _binary("arith.addi", "Integer addition (wraps).", IntegerLike, True)
SubIOp = _binary("arith.subi", "Integer subtraction (wraps).", IntegerLike, False)
MulIOp = _binary("arith.muli", "Integer multiplication (wraps).", IntegerLike, True)
MaxSIOp = _binary("arith.maxsi", "Signed integer maximum.", IntegerLike, True)
MinSIOp = _binary("arith.minsi", "Signed integer minimum.", IntegerLike, True)
AddFOp = _binary("arith.addf", "Float addition.", FloatLike, True)
SubFOp = _binary("arith.subf", "Float subtraction.", FloatLike, False)
MulFOp = _binary("arith.mulf", "Float multiplication.", FloatLike, True)
DivFOp = _binary("arith.divf", "Float division.", FloatLike, False)


def _materialize_constant(value: Attribute, type: Type, location) -> ConstantOp | None:
    if getattr(value, "type", None) is not type:
        return None
    return ConstantOp(value, location=location)


DIALECT.materialize_constant = _materialize_constant


# -- canonicalization (MLIR's arith identities) ---------------------------------------------------
def _number(a: Attribute | None) -> float | int | None:
    """The value of a scalar constant or of a splat dense constant."""
    if isinstance(a, (IntegerAttr, FloatAttr)) and not isinstance(a, BoolAttr):
        return a.value
    if isinstance(a, DenseElementsAttr) and a.is_splat:
        return a.to_numpy().reshape(-1)[0].item()
    return None


def _is_scalar(a: Attribute | None, value: float) -> bool:
    """`a` is the constant `value` (for 0: the positive zero)."""
    v = _number(a)
    return v is not None and v == value and not (value == 0 and math.copysign(1.0, v) < 0)


def _is_negative_zero(a: Attribute | None) -> bool:
    v = _number(a)
    return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0


#: per op: the constant that is a right identity (`x op c == x`); x + 0.0 is not x when x is -0.0,
#: but x + (-0.0) is; x - 0.0 is x (also for -0.0 and nan)
_RIGHT_IDENTITY = {
    "arith.addi": lambda c: _is_scalar(c, 0), "arith.subi": lambda c: _is_scalar(c, 0),
    "arith.addf": _is_negative_zero, "arith.subf": lambda c: _is_scalar(c, 0.0),
    "arith.muli": lambda c: _is_scalar(c, 1), "arith.mulf": lambda c: _is_scalar(c, 1),
    "arith.divf": lambda c: _is_scalar(c, 1),
}


def _binary_canonicalizer(cls: type[Op]):
    """The canonicalization pattern hook of one binary op class, its rules chosen once.

    Rules, tried in this order: constants go to the right of commutative ops (so
    later rules look in one place); `x op identity -> x`; `x * 0 -> 0` (integers);
    `x - x -> 0` (scalar integers); `max(x, x)`, `min(x, x) -> x`. The rules are
    selected per op class up front because this runs on every visit of every
    binary op during canonicalize.
    """
    name = cls.name
    commutative = Commutative in cls.traits
    right_identity = _RIGHT_IDENTITY.get(name)
    zero_absorbs = name == "arith.muli"
    self_is_zero = name == "arith.subi"
    self_is_self = name in ("arith.maxsi", "arith.minsi")

    def canonicalize_binary(op, rewriter) -> bool:
        lhs, rhs = op.operands
        owner = getattr(rhs, "op", None)
        rc = owner.value if isinstance(owner, ConstantOp) else None
        if rc is None:
            if commutative:
                owner = getattr(lhs, "op", None)
                if isinstance(owner, ConstantOp) and owner.value is not None:
                    with rewriter.modify_op_in_place(op):
                        op.set_operands([rhs, lhs])
                    return True
        else:
            if right_identity is not None and right_identity(rc):
                rewriter.replace_op(op, lhs)
                return True
            if zero_absorbs and _is_scalar(rc, 0):
                rewriter.replace_op(op, rhs)
                return True
        if lhs is rhs:
            if self_is_zero and not isinstance(lhs.type, ShapedType):
                zero = rewriter.insert(ConstantOp(IntegerAttr(0, lhs.type)))
                rewriter.replace_op(op, zero)
                return True
            if self_is_self:
                rewriter.replace_op(op, lhs)
                return True
        return False

    canonicalize_binary.__name__ = f"canonicalize_{name.partition('.')[2]}"

    def patterns():
        from irq.rewrite.pattern import FunctionPattern
        return [FunctionPattern(canonicalize_binary, name)]

    return staticmethod(patterns)


for _cls in (AddIOp, SubIOp, MulIOp, MaxSIOp, MinSIOp, AddFOp, SubFOp, MulFOp, DivFOp):
    _cls.canonicalization_patterns = _binary_canonicalizer(_cls)
