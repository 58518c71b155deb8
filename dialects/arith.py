"""The arith dialect: constants, element-wise integer/float arithmetic, comparisons, casts.

It has MLIR's names, syntax and semantics (`%2 = arith.addf %0, %1 : tensor<4xf32>`,
`arith.cmpi slt, %a, %b : i32`, `arith.extsi %x : i8 to i32`), so the same text runs
through irq, xDSL and mlir-opt, and it gives the generic passes (canonicalize, cse, dce)
something to fold. Folders follow MLIR's: integers wrap at their width, division by zero
and over-wide shifts (undefined behaviour in MLIR) are never folded.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.dialects._arith_rounding import parse_truncf, print_truncf, rounding_mode_problem
from irq.dialects._arith_semantics import (
    _FLOAT_FNS,
    _INT_FNS,
    _RIGHT_IDENTITY,
    _any,
    _cmpf,
    _cmpi,
    _element,
    _index_pair,
    _is_scalar,
    _narrower,
    _same_width,
    _wider,
    _wrap,
)

from irq.ir.attributes import Attribute, BoolAttr, FloatAttr, IntegerAttr, OpaqueAttr
from irq.ir.dense import DenseElementsAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Constraint, Op, attribute, operand, result
from irq.ir.traits import Commutative, ConstantLike, Pure, SameOperandsAndResultType
from irq.ir.types import SIGNLESS, FloatType, IndexType, IntegerType, ShapedType, Type, VectorType

DIALECT = Dialect("arith", "Integer and floating point arithmetic.")

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
        if (
            isinstance(t, VectorType)
            and any(t.scalable_dims)
            and isinstance(self.value, DenseElementsAttr)
            and not self.value.is_splat
        ):
            # MLIR's ConstantOp::verify: a scalable vector's length is only known at run time
            raise self.error(f"a scalable vector {t} can only be initialized by a splat, not by {self.value}")


#: The flag property of each op that has one (MLIR's ArithFastMathInterface / overflow flags), and
#: its spelling in the custom form: `arith.addi %a, %b overflow<nsw> : i32`.
_FLAG_OF = {
    **{f"arith.{n}": "overflowFlags" for n in ("addi", "subi", "muli", "shli")},
    **{
        f"arith.{n}": "fastmath"
        for n in ("addf", "subf", "mulf", "divf", "remf", "maximumf", "minimumf", "maxnumf", "minnumf", "negf", "cmpf")
    },
}


def _print_binary(self: Op, p) -> None:
    """`%r = arith.addf %a, %b [fastmath<...>] {attrs} : type`."""
    lhs, rhs = self.operands
    name = _FLAG_OF.get(self.name)
    flag = self.properties.get(name) if name is not None else None
    result_type = self.results[0].type._text
    if flag is None:
        p.out.append(f"{p.op_name(self)} {p.value(lhs)}, {p.value(rhs)}{p.attr_dict(self)} : {result_type}")
        return
    text = str(flag)
    p.out.append(
        f"{p.op_name(self)} {p.value(lhs)}, {p.value(rhs)} {text.partition('.')[2]}"
        f"{p.attr_dict(self, (name,))} : {result_type}"
    )


def _parse_binary(cls, p) -> Op:
    lhs = p.parse_operand()
    p.expect_punct(",")
    rhs = p.parse_operand()
    props = None
    t = p.peek()
    if t is not None and t.type == "OPAQUE_ATTR":
        name = _FLAG_OF.get(cls.name)
        keyword = "overflow<" if name == "overflowFlags" else "fastmath<"
        if name is None or not t.value.startswith(keyword):
            raise p.error(f"unexpected '{t.value}'", t)
        p.next()
        props = {name: OpaqueAttr("arith", "#arith." + t.value)}
    attrs = p.parse_optional_attr_dict()
    ty = p.parse_colon_type()
    p.expect_end()
    return cls.create(p.resolve_operands([lhs, rhs], [ty, ty]), [ty], attrs, props, [])


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
        "fold": _fold_binary,
        "print_custom": _print_binary,
        "parse_custom": classmethod(_parse_binary),
    }
    if op_name in _FLAG_OF:  # declared, so the custom form (which writes the flag) is chosen for it
        ns[_FLAG_OF[op_name]] = attribute(optional=True, doc="MLIR's flag property, `fastmath<...>` / `overflow<...>`")
    cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


def _fold_binary(self: Op):
    """Fold when both operands are defined by scalar constants (integers wrap like hardware)."""
    for v in self.operands:  # the common case, a non-constant operand, leaves here
        if not isinstance(getattr(v, "op", None), ConstantOp):
            return None
    a, b = [v.op.value for v in self.operands]
    if isinstance(a, IntegerAttr) and isinstance(b, IntegerAttr) and not isinstance(a, BoolAttr):
        t = a.type
        width = t.width if isinstance(t, IntegerType) else 64  # index: 64 bits, as MLIR folds it
        r = _INT_FNS[self.name](a.value, b.value, width)
        if r is None:
            return None
        return IntegerAttr(_wrap(r, t) if isinstance(t, IntegerType) else r, t)
    if isinstance(a, FloatAttr) and isinstance(b, FloatAttr):
        return FloatAttr(_FLOAT_FNS[self.name](a.value, b.value), a.type)
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
MaxUIOp = _binary("arith.maxui", "Unsigned integer maximum.", IntegerLike, True)
MinUIOp = _binary("arith.minui", "Unsigned integer minimum.", IntegerLike, True)
DivSIOp = _binary("arith.divsi", "Signed integer division, rounding toward zero.", IntegerLike, False)
DivUIOp = _binary("arith.divui", "Unsigned integer division.", IntegerLike, False)
RemSIOp = _binary("arith.remsi", "Signed remainder (the sign of the dividend).", IntegerLike, False)
RemUIOp = _binary("arith.remui", "Unsigned remainder.", IntegerLike, False)
CeilDivSIOp = _binary("arith.ceildivsi", "Signed division rounding toward +inf.", IntegerLike, False)
FloorDivSIOp = _binary("arith.floordivsi", "Signed division rounding toward -inf.", IntegerLike, False)
AndIOp = _binary("arith.andi", "Bitwise and.", IntegerLike, True)
OrIOp = _binary("arith.ori", "Bitwise or.", IntegerLike, True)
XOrIOp = _binary("arith.xori", "Bitwise exclusive or.", IntegerLike, True)
ShLIOp = _binary("arith.shli", "Shift left (shifting by the width or more is poison).", IntegerLike, False)
ShRSIOp = _binary("arith.shrsi", "Arithmetic shift right.", IntegerLike, False)
ShRUIOp = _binary("arith.shrui", "Logical shift right.", IntegerLike, False)
RemFOp = _binary("arith.remf", "Float remainder with the dividend's sign (C fmod).", FloatLike, False)
MaximumFOp = _binary("arith.maximumf", "IEEE 754-2019 maximum: NaN propagates, -0 < +0.", FloatLike, True)
MinimumFOp = _binary("arith.minimumf", "IEEE 754-2019 minimum: NaN propagates, -0 < +0.", FloatLike, True)
MaxNumFOp = _binary("arith.maxnumf", "IEEE maxNum: a NaN operand is ignored.", FloatLike, True)
MinNumFOp = _binary("arith.minnumf", "IEEE minNum: a NaN operand is ignored.", FloatLike, True)


def _materialize_constant(value: Attribute, type: Type, location) -> ConstantOp | None:
    if getattr(value, "type", None) is not type:
        return None
    return ConstantOp(value, location=location)


DIALECT.materialize_constant = _materialize_constant


# -- canonicalization (MLIR's arith identities) ---------------------------------------------------
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


# every commutative op, as in MLIR (its constant goes right), and the ops with further rules
for _cls in (AddIOp, SubIOp, MulIOp, MaxSIOp, MinSIOp, AddFOp, SubFOp, MulFOp, DivFOp, AndIOp, OrIOp, XOrIOp,
             MaxUIOp, MinUIOp, MaximumFOp, MinimumFOp, MaxNumFOp, MinNumFOp):
    _cls.canonicalization_patterns = _binary_canonicalizer(_cls)


# -- unary, comparisons, select, casts, extended arithmetic (MLIR's ArithOps.td) -------------------
@DIALECT.op
class NegFOp(Op):
    """Float negation (flips the sign bit, also of NaN and zero)."""

    name = "arith.negf"
    traits = frozenset({Pure, SameOperandsAndResultType})
    operand_ = operand(FloatLike)
    result = result(FloatLike)
    fastmath = attribute(optional=True, doc="MLIR's fast-math flags, `fastmath<...>`")

    def print_custom(self, p) -> None:
        """`%r = arith.negf %a [fastmath<...>] {attrs} : type`, as the binary float ops."""
        flag = self.properties.get("fastmath")
        flag_text = f" {str(flag).partition('.')[2]}" if flag is not None else ""
        p.out.append(
            f"{p.op_name(self)} {p.value(self.operands[0])}{flag_text}"
            f"{p.attr_dict(self, ('fastmath',))} : {self.results[0].type._text}"
        )

    @classmethod
    def parse_custom(cls, p) -> Op:
        x = p.parse_operand()
        props = None
        t = p.peek()
        if t is not None and t.type == "OPAQUE_ATTR":
            if not t.value.startswith("fastmath<"):
                raise p.error(f"unexpected '{t.value}'", t)
            p.next()
            props = {"fastmath": OpaqueAttr("arith", "#arith." + t.value)}
        attrs = p.parse_optional_attr_dict()
        ty = p.parse_colon_type()
        p.expect_end()
        return cls.create(p.resolve_operands([x], [ty]), [ty], attrs, props, [])

    def fold(self) -> Attribute | None:
        owner = getattr(self.operand_, "op", None)
        if isinstance(owner, ConstantOp) and isinstance(owner.value, FloatAttr):
            return FloatAttr(-owner.value.value, owner.value.type)
        return None


#: MLIR's arith::CmpIPredicate and CmpFPredicate, in enum order (the generic form stores the number).
CMPI_PREDICATES = ("eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge")
CMPF_PREDICATES = (
    "false",
    "oeq",
    "ogt",
    "oge",
    "olt",
    "ole",
    "one",
    "ord",
    "ueq",
    "ugt",
    "uge",
    "ult",
    "ule",
    "une",
    "uno",
    "true",
)


def _bool_like(operand_type: Type) -> Type:
    from irq.ir.types import TensorType, VectorType, i1

    if isinstance(operand_type, TensorType):
        return operand_type.with_element_type(i1)
    if isinstance(operand_type, VectorType):
        return VectorType(operand_type.shape, i1, operand_type.scalable_dims)
    return i1


def _is_predicate(a: Attribute) -> bool | str:
    return isinstance(a, IntegerAttr) or "must be an integer predicate"


class _CmpOp(Op):
    """`%r = arith.cmpi slt, %a, %b : i32`; the predicate is an i64 property, printed by name."""

    PREDICATES: tuple[str, ...] = ()

    def __init__(self, predicate: str, lhs, rhs, *, location=None) -> None:
        from irq.ir.types import i64

        props = {"predicate": IntegerAttr(self.PREDICATES.index(predicate), i64)}
        self._init_generic((lhs, rhs), [_bool_like(lhs.type)], None, props, 0, (), location)

    @property
    def predicate_name(self) -> str:
        return self.PREDICATES[self.predicate.value]

    def verify_op(self) -> None:
        if not 0 <= self.predicate.value < len(self.PREDICATES):
            raise self.error(f"predicate {self.predicate.value} is not one of {len(self.PREDICATES)} predicates")
        lhs, rhs = self.operands
        if lhs.type is not rhs.type:
            raise self.error(f"operands must have the same type, got {lhs.type} and {rhs.type}")
        if self.results[0].type is not _bool_like(lhs.type):
            raise self.error(f"result must be {_bool_like(lhs.type)} for operands of type {lhs.type}")

    def print_custom(self, p) -> None:
        if not 0 <= self.predicate.value < len(self.PREDICATES):
            return super().print_custom(p)
        lhs, rhs = self.operands
        flag = self.properties.get("fastmath")  # cmpf's fast-math flags, written as the binary ops write them
        flag_text = f" {str(flag).partition('.')[2]}" if flag is not None else ""
        p.out.append(
            f"{p.op_name(self)} {self.predicate_name}, {p.value(lhs)}, {p.value(rhs)}{flag_text}"
            f"{p.attr_dict(self, ('predicate', 'fastmath'))} : {lhs.type._text}"
        )

    @classmethod
    def parse_custom(cls, p):
        from irq.ir.types import i64

        word = p.parse_keyword(*cls.PREDICATES)
        p.expect_punct(",")
        lhs = p.parse_operand()
        p.expect_punct(",")
        rhs = p.parse_operand()
        props = {"predicate": IntegerAttr(cls.PREDICATES.index(word), i64)}
        flag = p.peek()
        if flag is not None and flag.type == "OPAQUE_ATTR" and _FLAG_OF.get(cls.name) == "fastmath":
            if not flag.value.startswith("fastmath<"):
                raise p.error(f"unexpected '{flag.value}'", flag)
            p.next()
            props["fastmath"] = OpaqueAttr("arith", "#arith." + flag.value)
        attrs = p.parse_optional_attr_dict()
        t = p.parse_colon_type()
        p.expect_end()
        operands = p.resolve_operands([lhs, rhs], [t, t])
        return cls.create(operands, [_bool_like(t)], attrs, props, [])


@DIALECT.op
class CmpIOp(_CmpOp):
    """Integer comparison; `s`/`u` predicates read the operands as signed/unsigned."""

    name = "arith.cmpi"
    PREDICATES = CMPI_PREDICATES
    traits = frozenset({Pure})
    predicate = attribute(_is_predicate)
    lhs = operand(IntegerLike)
    rhs = operand(IntegerLike)
    result = result()

    def fold(self) -> Attribute | None:
        a, b = (getattr(getattr(v, "op", None), "value", None) for v in self.operands)
        if not (isinstance(a, IntegerAttr) and isinstance(b, IntegerAttr)) or isinstance(a.type, ShapedType):
            return None
        w = a.type.width if isinstance(a.type, IntegerType) else 64
        return BoolAttr(_cmpi(self.predicate_name, int(a.value), int(b.value), w))


@DIALECT.op
class CmpFOp(_CmpOp):
    """Float comparison; `o` predicates are false and `u` predicates true when an operand is NaN."""

    name = "arith.cmpf"
    PREDICATES = CMPF_PREDICATES
    traits = frozenset({Pure})
    predicate = attribute(_is_predicate)
    fastmath = attribute(optional=True, doc="MLIR's fast-math flags, `fastmath<...>`")
    lhs = operand(FloatLike)
    rhs = operand(FloatLike)
    result = result()

    def fold(self) -> Attribute | None:
        a, b = (getattr(getattr(v, "op", None), "value", None) for v in self.operands)
        if not (isinstance(a, FloatAttr) and isinstance(b, FloatAttr)):
            return None
        return BoolAttr(_cmpf(self.predicate_name, a.value, b.value))


@DIALECT.op
class SelectOp(Op):
    """`%r = arith.select %c, %a, %b : i32`; a shaped condition selects per element
    (`: vector<4xi1>, vector<4xi32>`)."""

    name = "arith.select"
    traits = frozenset({Pure})
    condition = operand()
    true_value = operand()
    false_value = operand()
    result = result()

    def verify_op(self) -> None:
        from irq.ir.types import i1

        c, a, b = self.operands
        if a.type is not b.type or self.result.type is not a.type:
            raise self.error("true and false values and the result must have the same type")
        if c.type is not i1 and c.type is not _bool_like(a.type):
            raise self.error(f"condition must be i1 or {_bool_like(a.type)}, got {c.type}")

    def fold(self) -> Attribute | None:
        c, a, b = self.operands
        cond = getattr(getattr(c, "op", None), "value", None)
        if isinstance(cond, BoolAttr):
            chosen = a if cond.value else b
            value = getattr(getattr(chosen, "op", None), "value", None)
            return value if isinstance(chosen.op, ConstantOp) else chosen
        return a if a is b else None

    def print_custom(self, p) -> None:
        c, a, b = self.operands
        types = a.type._text if not isinstance(c.type, ShapedType) else f"{c.type._text}, {a.type._text}"
        p.out.append(f"{p.op_name(self)} {p.value(c)}, {p.value(a)}, {p.value(b)}{p.attr_dict(self)} : {types}")

    @classmethod
    def parse_custom(cls, p):
        from irq.ir.types import i1

        c = p.parse_operand()
        p.expect_punct(",")
        a = p.parse_operand()
        p.expect_punct(",")
        b = p.parse_operand()
        attrs = p.parse_optional_attr_dict()
        types = p.parse_colon_type_list()
        p.expect_end()
        if len(types) == 1:
            ct, t = i1, types[0]
        elif len(types) == 2:
            ct, t = types
        else:
            raise p.error(f"expected one or two types, found {len(types)}")
        operands = p.resolve_operands([c, a, b], [ct, t, t])
        return cls.create(operands, [t], attrs, None, [])


def _cast(op_name: str, doc: str, src: Constraint, dst: Constraint, rule, rounding: bool = False) -> type[Op]:
    """A cast `%r = arith.extsi %x : i8 to i32`; `rule(src_elem, dst_elem)` returns an error or None.
    With `rounding`, the op also takes current MLIR's optional rounding mode (dialects/_arith_rounding.py)."""

    def verify_op(self) -> None:
        a, r = self.operands[0].type, self.results[0].type
        if isinstance(a, ShapedType) != isinstance(r, ShapedType) or (
            isinstance(a, ShapedType)
            and (
                type(a) is not type(r)
                or a.shape != r.shape
                or getattr(a, "scalable_dims", None) != getattr(r, "scalable_dims", None)
            )
        ):
            # MLIR: SameOperandsAndResultShape, where `[4]` (scalable) and `4` are other shapes
            raise self.error(f"operand and result must have the same shape, got {a} and {r}")
        if getattr(a, "encoding", None) != getattr(r, "encoding", None):
            # MLIR's areCastCompatible compares the containers but for the element type
            raise self.error(f"operand type {a} and result type {r} are cast incompatible (tensor encodings differ)")
        problem = rule(_element(a), _element(r)) or (rounding_mode_problem(self) if rounding else None)
        if problem:
            raise self.error(problem)

    ns = {
        "__doc__": doc,
        "name": op_name,
        "traits": frozenset({Pure}),
        "in_": operand(src),
        "out": result(dst),
        "assembly_format": "$in_ attr-dict `:` type($in_) `to` type($out)",
        "verify_op": verify_op,
    }
    if rounding:
        ns["roundingmode"] = attribute(optional=True, doc="MLIR's arith::RoundingMode, `roundingmode = N : i32`")
        ns["print_custom"] = print_truncf
        ns["parse_custom"] = classmethod(parse_truncf)
    cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


SignlessInt = Constraint(lambda t: isinstance(_element(t), IntegerType), "signless-integer-like")
IndexOrInt = IntegerLike
IntOrFloat = Constraint(lambda t: isinstance(_element(t), (IntegerType, FloatType)), "integer-or-float-like")

ExtSIOp = _cast("arith.extsi", "Sign-extend to a wider integer.", SignlessInt, SignlessInt, _wider)
ExtUIOp = _cast("arith.extui", "Zero-extend to a wider integer.", SignlessInt, SignlessInt, _wider)
TruncIOp = _cast(
    "arith.trunci", "Truncate to a narrower integer (keeps the low bits).", SignlessInt, SignlessInt, _narrower
)
ExtFOp = _cast("arith.extf", "Extend to a wider float (exact).", FloatLike, FloatLike, _wider)
TruncFOp = _cast("arith.truncf", "Round to a narrower float.", FloatLike, FloatLike, _narrower, rounding=True)
SIToFPOp = _cast("arith.sitofp", "Signed integer to float.", SignlessInt, FloatLike, _any)
UIToFPOp = _cast("arith.uitofp", "Unsigned integer to float.", SignlessInt, FloatLike, _any)
FPToSIOp = _cast("arith.fptosi", "Float to signed integer (toward zero).", FloatLike, SignlessInt, _any)
FPToUIOp = _cast("arith.fptoui", "Float to unsigned integer (toward zero).", FloatLike, SignlessInt, _any)
IndexCastOp = _cast(
    "arith.index_cast", "Between index and an integer type (sign-extending).", IndexOrInt, IndexOrInt, _index_pair
)
IndexCastUIOp = _cast(
    "arith.index_castui", "Between index and an integer type (zero-extending).", IndexOrInt, IndexOrInt, _index_pair
)
BitcastOp = _cast(
    "arith.bitcast", "Reinterpret the bits as another type of the same width.", IntOrFloat, IntOrFloat, _same_width
)


def _fold_ext(self) -> Attribute | None:
    owner = getattr(self.in_, "op", None)
    a = owner.value if isinstance(owner, ConstantOp) else None
    t = self.out.type
    if not isinstance(a, IntegerAttr) or isinstance(a, BoolAttr) or not isinstance(t, IntegerType):
        return None
    w = a.type.width
    v = a.value % (1 << w) if self.name != "arith.extsi" else a.value
    return IntegerAttr(_wrap(v, t), t)


def _fold_trunci(self) -> Attribute | None:
    owner = getattr(self.in_, "op", None)
    a = owner.value if isinstance(owner, ConstantOp) else None
    t = self.out.type
    if not isinstance(a, IntegerAttr) or isinstance(a, BoolAttr) or not isinstance(t, IntegerType):
        return None
    return IntegerAttr(_wrap(a.value, t), t)


ExtSIOp.fold = _fold_ext
ExtUIOp.fold = _fold_ext
TruncIOp.fold = _fold_trunci


def _extended(op_name: str, doc: str, second: str) -> type[Op]:
    """`%sum, %overflow = arith.addui_extended %a, %b : i32, i1` and the two extended multiplications
    (`%low, %high = arith.mulsi_extended %a, %b : i32`)."""

    def verify_op(self) -> None:
        lhs, rhs = self.operands
        first, other = self.results
        if not (lhs.type is rhs.type is first.type):
            raise self.error("operands and the first result must have the same type")
        want = _bool_like(lhs.type) if second == "overflow" else lhs.type
        if other.type is not want:
            raise self.error(f"the second result must be {want}, got {other.type}")

    ns = {
        "__doc__": doc,
        "name": op_name,
        "traits": frozenset({Pure}),
        "lhs": operand(SignlessInt),
        "rhs": operand(SignlessInt),
        ("sum" if second == "overflow" else "low"): result(SignlessInt),
        second: result(),
        "verify_op": verify_op,
    }
    cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


AddUIExtendedOp = _extended("arith.addui_extended", "Unsigned addition with a carry-out bit.", "overflow")
MulSIExtendedOp = _extended("arith.mulsi_extended", "Signed multiplication, low and high halves.", "high")
MulUIExtendedOp = _extended("arith.mului_extended", "Unsigned multiplication, low and high halves.", "high")


def _print_extended(self, p) -> None:
    lhs, rhs = self.operands
    types = lhs.type._text
    if self.name == "arith.addui_extended":  # `: i32, i1`: the carry's type is written too
        types += ", " + self.results[1].type._text
    p.out.append(f"{p.op_name(self)} {p.value(lhs)}, {p.value(rhs)}{p.attr_dict(self)} : {types}")


def _parse_extended(cls, p):
    lhs = p.parse_operand()
    p.expect_punct(",")
    rhs = p.parse_operand()
    attrs = p.parse_optional_attr_dict()
    types = p.parse_colon_type_list()
    p.expect_end()
    want = 2 if cls.name == "arith.addui_extended" else 1
    if len(types) != want:
        raise p.error(f"expected {want} type(s), found {len(types)}")
    t = types[0]
    return cls.create(p.resolve_operands([lhs, rhs], [t, t]), [t, types[-1] if want == 2 else t], attrs, None, [])


for _cls in (AddUIExtendedOp, MulSIExtendedOp, MulUIExtendedOp):
    _cls.print_custom = _print_extended
    _cls.parse_custom = classmethod(_parse_extended)


# -- MLIR's default-valued properties ------------------------------------------------------------
#: MLIR's generic printer writes these on every integer / float op (`<{overflowFlags =
#: #arith.overflow<none>}>`); they are the absence of a flag, so irq drops them when it reads
#: them and IR that went through mlir-opt is the same IR. Other values are kept and printed.
_DEFAULT_FLAGS = {"overflowFlags": "#arith.overflow<none>", "fastmath": "#arith.fastmath<none>"}
_operation_create = Op.create.__func__


def _create_without_default_flags(cls, operands=(), result_types=(), attributes=None, properties=None, *rest, **kw):
    if properties:
        properties = {k: v for k, v in properties.items() if _DEFAULT_FLAGS.get(k) != str(v)}
    return _operation_create(cls, operands, result_types, attributes, properties, *rest, **kw)


for _cls in list(DIALECT.ops.values()):
    _cls.create = classmethod(_create_without_default_flags)
