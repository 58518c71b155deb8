"""Declarative specs for tensor ops shared by the torch and hl dialects.

The torch dialect has one op per torch function (`torch.conv2d`, `torch.relu`, ...)
and the hl dialect has module-style versions of most of them (`hl.conv2d` with an
`owner`). Both are generated from the same `OpSpec` table so operands, attribute
kinds and shape rules are written once, the way dialects/arith.py generates its
binary ops with a helper.

Every generated op prints in one readable form:

    %y = torch.conv2d %x, %w (bias %b)? {stride = [1, 1], ...} : (t, t, t) -> t

required operands comma-separated, optional operands as keyword groups, a
variadic operand in brackets, then attributes and the functional type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from irq.ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TypeAttr,
    to_attribute,
)
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, operand, optional_operand, result, variadic_operand, variadic_result
from irq.ir.traits import Pure
from irq.ir.types import FloatType, IntegerType, ShapedType, TensorType, Type, f64, i64

# -- attribute kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrKind:
    """How an attribute is checked and how plain Python values become attributes."""

    description: str
    check: Callable[[Attribute], bool]
    coerce: Callable[[Any], Attribute]

    def predicate(self) -> Callable[[Attribute], bool | str]:
        def pred(a: Attribute) -> bool | str:
            return True if self.check(a) else f"must be {self.description}, got {a}"
        pred.__name__ = self.description
        return pred


def _int_attr(v: Any) -> Attribute:
    return v if isinstance(v, Attribute) else IntegerAttr(int(v), i64)


def _float_attr(v: Any) -> Attribute:
    return v if isinstance(v, Attribute) else FloatAttr(float(v), f64)


def _ints_attr(v: Any) -> Attribute:
    if isinstance(v, Attribute):
        return v
    if isinstance(v, int):
        v = [v]
    return ArrayAttr(IntegerAttr(int(x), i64) for x in v)


def _floats_attr(v: Any) -> Attribute:
    if isinstance(v, Attribute):
        return v
    if isinstance(v, (int, float)):
        v = [v]
    return ArrayAttr(FloatAttr(float(x), f64) for x in v)


def _is_int(a: Attribute) -> bool:
    return type(a) is IntegerAttr


def _is_ints(a: Attribute) -> bool:
    return isinstance(a, ArrayAttr) and all(type(x) is IntegerAttr for x in a)


def _is_number(a: Attribute) -> bool:
    return type(a) in (IntegerAttr, FloatAttr)


INT = AttrKind("an integer", _is_int, _int_attr)
INTS = AttrKind("an integer array", _is_ints, _ints_attr)
FLOAT = AttrKind("a float", lambda a: type(a) is FloatAttr, _float_attr)
FLOATS = AttrKind("a float array", lambda a: isinstance(a, ArrayAttr) and all(type(x) is FloatAttr for x in a),
                  _floats_attr)
NUMBER = AttrKind("a number", _is_number, lambda v: v if isinstance(v, Attribute) else
                  (IntegerAttr(v, i64) if isinstance(v, int) and not isinstance(v, bool) else FloatAttr(v, f64)))
BOOL = AttrKind("a bool", lambda a: isinstance(a, BoolAttr), lambda v: v if isinstance(v, Attribute) else BoolAttr(v))
STR = AttrKind("a string", lambda a: isinstance(a, StringAttr), lambda v: v if isinstance(v, Attribute) else
               StringAttr(v))
INTS_OR_STR = AttrKind("an integer array or a string", lambda a: _is_ints(a) or isinstance(a, StringAttr),
                       lambda v: StringAttr(v) if isinstance(v, str) else _ints_attr(v))
INT_OR_INTS = AttrKind("an integer or an integer array", lambda a: _is_int(a) or _is_ints(a),
                       lambda v: _ints_attr(v) if isinstance(v, (list, tuple)) else _int_attr(v))
TYPE = AttrKind("a type", lambda a: isinstance(a, TypeAttr), lambda v: v if isinstance(v, Attribute) else TypeAttr(v))
ANY = AttrKind("an attribute", lambda a: isinstance(a, Attribute), to_attribute)


# -- specs ------------------------------------------------------------------------------------------
SINGLE, OPTIONAL, VARIADIC = "single", "optional", "variadic"

#: A shape rule: given the op, the expected shape of each result (None: unknown, not checked).
ShapeRule = Callable[[Op], "list[tuple[int, ...] | None] | None"]


@dataclass(frozen=True)
class OpSpec:
    """One tensor op: operands, attributes, results and its shape rule."""

    name: str
    doc: str
    operands: tuple[tuple[str, str], ...] = (("input", SINGLE),)
    attrs: tuple[tuple[str, AttrKind, bool], ...] = ()  # (name, kind, optional)
    variadic_results: bool = False
    shape: ShapeRule | None = None
    same_element_type: bool = True
    extra: dict = field(default_factory=dict)
    index_results: tuple[int, ...] = ()  # results holding i64 indices (topk's second)


def spec(name: str, doc: str, operands: Sequence[str] = ("input",), attrs: Sequence = (), *,
         variadic_results: bool = False, shape: ShapeRule | None = None, same_element_type: bool = True,
         index_results: tuple[int, ...] = ()) -> OpSpec:
    """Compact spec: operand names end in `?` (optional) or `*` (variadic); attr names end in `?` if optional."""
    ops = []
    for o in operands:
        if o.endswith("?"):
            ops.append((o[:-1], OPTIONAL))
        elif o.endswith("*"):
            ops.append((o[:-1], VARIADIC))
        else:
            ops.append((o, SINGLE))
    ats = []
    for a, kind in attrs:
        ats.append((a.rstrip("?"), kind, a.endswith("?")))
    return OpSpec(name, doc, tuple(ops), tuple(ats), variadic_results, shape, same_element_type,
                  index_results=index_results)


def assembly_format(operands: Sequence[tuple[str, str]]) -> str:
    """`$a `,` $b (`,` `[` $xs^ `]`)? (`bias` $bias^)? attr-dict `:` functional-type(operands, results)`."""
    parts: list[str] = []
    first = True
    for name, kind in operands:
        if kind == SINGLE:
            parts.append(("" if first else "`,` ") + f"${name}")
            first = False
        elif kind == VARIADIC and first:
            parts.append(f"${name}")
            first = False
        elif kind == VARIADIC:  # trailing variadic (view sizes, index tensors): printed only when present
            parts.append(f"(`,` `[` ${name}^ `]`)?")
    for name, kind in operands:
        if kind == OPTIONAL:
            parts.append(f"(`{name}` ${name}^)?")
    parts.append("attr-dict `:` functional-type(operands, results)")
    return " ".join(parts)


def _is_tensor(t: Type) -> bool:
    return isinstance(t, ShapedType)


def _scalar_or_tensor(t: Type) -> bool:
    return isinstance(t, (ShapedType, IntegerType, FloatType))


def build_op(dialect: Dialect, s: OpSpec, *, extra_attrs: Sequence[tuple[str, AttrKind, bool]] = (),
             extra_operands: Sequence[tuple[str, str]] = (), verify_extra: Callable[[Op], None] | None = None,
             doc_suffix: str = "") -> type[Op]:
    """Generate and register the op class `dialect.name` for spec `s`."""
    op_name = f"{dialect.name}.{s.name}"
    ns: dict[str, Any] = {"__doc__": s.doc + doc_suffix, "name": op_name, "traits": frozenset({Pure}), "spec": s}
    all_operands = list(s.operands) + list(extra_operands)
    for oname, kind in all_operands:
        c = _scalar_or_tensor if oname in ("other", "sizes") else _is_tensor
        ns[oname] = {SINGLE: operand, OPTIONAL: optional_operand, VARIADIC: variadic_operand}[kind](c)
    for aname, kind, optional in (*s.attrs, *extra_attrs):
        ns[aname] = attribute(kind.predicate(), optional=optional, coerce=kind.coerce)
    if s.variadic_results:
        ns["outs"] = variadic_result()
    else:
        ns["out"] = result()
    ns["assembly_format"] = assembly_format(all_operands)

    def verify_op(self: Op) -> None:
        _verify_shapes(self)
        if verify_extra is not None:
            verify_extra(self)

    ns["verify_op"] = verify_op
    cls_name = "".join(p.capitalize() for p in s.name.split("_")) + "Op"
    return dialect.op(type(Op)(cls_name, (Op,), ns))


def _verify_shapes(op: Op) -> None:
    s: OpSpec = type(op).spec
    if s.same_element_type and op.operands and op.results:
        first = op.operands[0].type
        res = op.results[0].type
        if isinstance(first, ShapedType) and isinstance(res, ShapedType) and first.element_type is not res.element_type:
            raise op.error(f"result element type {res.element_type} differs from the input's {first.element_type}")
    if s.shape is None:
        return
    if any(isinstance(v.type, ShapedType) and not v.type.has_static_shape for v in op.operands):
        return
    try:
        expected = s.shape(op)
    except ShapeError as e:
        raise op.error(str(e)) from None
    if expected is None:
        return
    if len(expected) != len(op.results):
        raise op.error(f"expected {len(expected)} result(s), got {len(op.results)}")
    for i, (want, r) in enumerate(zip(expected, op.results)):
        t = r.type
        if want is None or not isinstance(t, ShapedType) or t.shape is None:
            continue
        if tuple(t.shape) != tuple(want):
            shape_text = "x".join(map(str, want)) or "scalar"
            raise op.error(f"result #{i} has shape {t}, expected {shape_text}")


class ShapeError(Exception):
    """An operand shape the op cannot accept."""


def tensor_like(t: Type, shape: Sequence[int]) -> TensorType:
    """A tensor type of `shape` with `t`'s element type."""
    return TensorType(tuple(shape), t.element_type)
