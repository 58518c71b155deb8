"""Declarative op definitions, the role MLIR's ODS plays.

    @arith.op
    class AddIOp(Operation):
        '''Integer addition.'''
        name = "arith.addi"
        traits = frozenset({Pure, Commutative, SameOperandsAndResultType})
        lhs = operand(IntegerLike)
        rhs = operand(IntegerLike)
        result = result()
        assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"

From the class body the `OpMeta` metaclass builds an `OpDefinition`: accessors
(`op.lhs`), a keyword constructor (`AddIOp(a, b)`), the structural verifier and
the custom assembly. Subclasses get `__slots__ = ()` automatically, so a
registered op costs no more memory than a generic one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irq.ir.attributes import Attribute, DenseArrayAttr, to_attribute
from irq.ir.block import Region
from irq.ir.operation import Operation, _not_a_value
from irq.ir.types import Type, i32
from irq.ir.values import Value

if TYPE_CHECKING:
    from irq.ir.values import Value

SINGLE, OPTIONAL, VARIADIC = "single", "optional", "variadic"


# -- type constraints ---------------------------------------------------------------------
class Constraint:
    """A predicate on types with a description for error messages."""

    def __init__(self, predicate: Callable[[Type], bool], description: str) -> None:
        self.predicate = predicate
        self.description = description

    def __call__(self, t: Type) -> bool:
        return self.predicate(t)

    def __or__(self, other: Constraint) -> Constraint:
        o = as_constraint(other)
        return Constraint(lambda t: self(t) or o(t), f"{self.description} or {o.description}")

    def __repr__(self) -> str:
        return f"Constraint({self.description})"


def as_constraint(c: Any) -> Constraint | None:
    if c is None or isinstance(c, Constraint):
        return c
    if isinstance(c, type) and issubclass(c, Type):
        desc = c.__name__.removesuffix("Type").lower() or "type"
        return Constraint(lambda t, c=c: isinstance(t, c), desc)
    if isinstance(c, Type):
        return Constraint(lambda t, c=c: t is c, str(c))
    if isinstance(c, tuple):
        parts = [as_constraint(x) for x in c]
        return Constraint(lambda t: any(p(t) for p in parts), " or ".join(p.description for p in parts))
    if callable(c):
        return Constraint(c, getattr(c, "__name__", "constrained type"))
    raise TypeError(f"not a type constraint: {c!r}")


# -- member declarations ----------------------------------------------------------------
@dataclass
class OperandDef:
    kind: str = SINGLE
    constraint: Constraint | None = None
    doc: str = ""


@dataclass
class ResultDef:
    kind: str = SINGLE
    constraint: Constraint | None = None
    doc: str = ""


@dataclass
class AttrDef:
    """An inherent attribute: `kind` is an Attribute class (or tuple) or a predicate."""

    kind: Any = None
    default: Attribute | None = None
    optional: bool = False
    doc: str = ""
    coerce: Callable[[Any], Attribute] | None = None

    def check(self, value: Attribute) -> str | None:
        k = self.kind
        if k is None:
            return None
        if isinstance(k, type) or isinstance(k, tuple):
            if isinstance(value, k):
                return None
            names = k.__name__ if isinstance(k, type) else " or ".join(x.__name__ for x in k)
            return f"must be {names}, got {type(value).__name__}"
        ok = k(value)
        if ok is True or ok is None:
            return None
        return ok if isinstance(ok, str) else f"does not satisfy {getattr(k, '__name__', 'its constraint')}"

    def to_attr(self, value: Any) -> Attribute:
        if isinstance(value, Attribute):
            return value
        if self.coerce is not None:
            return self.coerce(value)
        return to_attribute(value)


@dataclass
class RegionDef:
    single_block: bool = False
    variadic: bool = False
    doc: str = ""


@dataclass
class SuccessorDef:
    variadic: bool = False
    doc: str = ""


def operand(constraint: Any = None, *, doc: str = "") -> OperandDef:
    return OperandDef(SINGLE, as_constraint(constraint), doc)


def optional_operand(constraint: Any = None, *, doc: str = "") -> OperandDef:
    return OperandDef(OPTIONAL, as_constraint(constraint), doc)


def variadic_operand(constraint: Any = None, *, doc: str = "") -> OperandDef:
    return OperandDef(VARIADIC, as_constraint(constraint), doc)


def result(constraint: Any = None, *, doc: str = "") -> ResultDef:
    return ResultDef(SINGLE, as_constraint(constraint), doc)


def optional_result(constraint: Any = None, *, doc: str = "") -> ResultDef:
    return ResultDef(OPTIONAL, as_constraint(constraint), doc)


def variadic_result(constraint: Any = None, *, doc: str = "") -> ResultDef:
    return ResultDef(VARIADIC, as_constraint(constraint), doc)


def attribute(kind: Any = None, *, default: Any = None, optional: bool = False, doc: str = "",
              coerce: Callable[[Any], Attribute] | None = None) -> AttrDef:
    d = AttrDef(kind, None, optional or default is not None, doc, coerce)
    if default is not None:
        d.default = d.to_attr(default)
    return d


def region(*, single_block: bool = False, doc: str = "") -> RegionDef:
    return RegionDef(single_block, False, doc)


def variadic_region(*, doc: str = "") -> RegionDef:
    return RegionDef(False, True, doc)


def successor(*, doc: str = "") -> SuccessorDef:
    return SuccessorDef(False, doc)


def variadic_successor(*, doc: str = "") -> SuccessorDef:
    return SuccessorDef(True, doc)


_SEGMENT_PROPS = frozenset(("operandSegmentSizes", "resultSegmentSizes"))

_RESERVED = {"name", "operands", "results", "attributes", "properties", "regions", "successors", "location",
             "parent", "traits", "definition", "result_types", "operand_types", "body", "verify", "print",
             "clone", "erase", "walk", "detach"}


# -- the definition -------------------------------------------------------------------------
@dataclass
class OpDefinition:
    """Everything declared about a registered op, derived once from its class body."""

    name: str
    operands: list[tuple[str, OperandDef]] = field(default_factory=list)
    results: list[tuple[str, ResultDef]] = field(default_factory=list)
    attributes: dict[str, AttrDef] = field(default_factory=dict)
    regions: list[tuple[str, RegionDef]] = field(default_factory=list)
    successors: list[tuple[str, SuccessorDef]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.attr_names = frozenset(self.attributes)
        self.operand_segments = sum(d.kind != SINGLE for _, d in self.operands) > 1
        self.result_segments = sum(d.kind != SINGLE for _, d in self.results) > 1
        # Layouts by count or by segment sizes, memoized: accessors of ops with optional
        # operands (a fused hl.conv2d has seven) ask for them on every access.
        self._layouts: dict[tuple, list[tuple[int, int]]] = {}
        # What the verifier needs per op, computed once per op class rather than per op.
        self._operand_shape = self._count_shape(self.operands)
        self._result_shape = self._count_shape(self.results)
        self._attr_items = tuple(self.attributes.items())
        self._variadic_regions = any(d.variadic for _, d in self.regions)
        self._single_block_regions = tuple(i for i, (_, d) in enumerate(self.regions) if d.single_block)
        self._variadic_successors = any(d.variadic for _, d in self.successors)
        self._required_attrs = tuple(n for n, d in self.attributes.items() if not d.optional and d.default is None)

    @staticmethod
    def _count_shape(defs: list) -> tuple[int, int, bool, bool, bool]:
        """(fixed, optional, has_variadic, layout_by_count, needs_per_value_check) of a value list."""
        kinds = [d.kind for _, d in defs]
        n_fixed = sum(k == SINGLE for k in kinds)
        n_opt = sum(k == OPTIONAL for k in kinds)
        has_var = VARIADIC in kinds
        by_count = not (n_fixed + n_opt > 1 and n_opt + has_var > 1)
        per_value = any(d.constraint is not None or d.kind == OPTIONAL for _, d in defs)
        return n_fixed, n_opt, has_var, by_count, per_value

    # segment layout ----------------------------------------------------------
    def _segments(self, defs: list, count: int, op: Operation, prop: str) -> list[tuple[int, int]]:
        """(start, length) of each declared group, given the actual count."""
        segmented = self.operand_segments if prop == "operandSegmentSizes" else self.result_segments
        if segmented:
            sizes = op.properties.get(prop) or op.attributes.get(prop)
            key = (prop, sizes.value if isinstance(sizes, DenseArrayAttr) else None)
        else:
            key = (prop, count)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = self._compute_segments(defs, count, op, prop)
        return layout

    def _compute_segments(self, defs: list, count: int, op: Operation, prop: str) -> list[tuple[int, int]]:
        kinds = [d.kind for _, d in defs]
        if all(k == SINGLE for k in kinds):
            return [(i, 1) for i in range(len(kinds))]
        if sum(k != SINGLE for k in kinds) == 1:
            fixed = len(kinds) - 1
            dyn = count - fixed
            out, pos = [], 0
            for k in kinds:
                n = 1 if k == SINGLE else dyn
                out.append((pos, n))
                pos += n
            return out
        sizes = op.get_attr(prop)
        if not isinstance(sizes, DenseArrayAttr) or len(sizes) != len(kinds):
            raise ValueError(f"'{self.name}' needs a '{prop}' property with {len(kinds)} entries")
        out, pos = [], 0
        for n in sizes:
            out.append((pos, n))
            pos += n
        return out

    def operand_groups(self, op: Operation) -> list[tuple[int, int]]:
        return self._segments(self.operands, len(op.operands), op, "operandSegmentSizes")

    def result_groups(self, op: Operation) -> list[tuple[int, int]]:
        return self._segments(self.results, len(op.results), op, "resultSegmentSizes")

    def fits_custom_form(self, op: Operation) -> bool:
        """Whether `op` has the shape its custom form can express: the declared number of
        regions, successors and operand/result groups, and its required attributes.

        The printer falls back to the generic form otherwise, as MLIR's printer does for
        ops that fail verification, so printing never loses or garbles what the op holds
        (a region the custom syntax has no place for, a missing attribute)."""
        if self._shape_error(op) is not None:
            return False
        props, attrs = op.properties, op.attributes
        if any(k not in self.attr_names and k not in _SEGMENT_PROPS for k in props):
            return False  # the custom form's attribute dictionary would read it back as an attribute
        return all(name in props or name in attrs for name in self._required_attrs)

    # structural verification -------------------------------------------------
    def _shape_error(self, op: Operation) -> str | None:
        """The first mismatch between the op's counts (regions, successors, operand and
        result groups) and the declaration, or None."""
        n_regions = len(op.regions)
        if self._variadic_regions:
            if n_regions < len(self.regions) - 1:
                return f"expected at least {len(self.regions) - 1} regions, got {n_regions}"
        elif n_regions != len(self.regions):
            return f"expected {len(self.regions)} region(s), got {n_regions}"
        if not self._variadic_successors and len(op.successors) != len(self.successors):
            return f"expected {len(self.successors)} successor(s), got {len(op.successors)}"
        return (self._count_error("operand", self.operands, op.operands, op, "operandSegmentSizes",
                                  self._operand_shape)
                or self._count_error("result", self.results, op.results, op, "resultSegmentSizes",
                                     self._result_shape))

    def verify(self, op: Operation) -> list[str]:
        shape_error = self._shape_error(op)
        if shape_error is not None:
            return [shape_error]
        errors: list[str] = []
        if self._operand_shape[4]:
            errors += self._group_errors("operand", self.operands, op.operands, op, "operandSegmentSizes")
        if self._result_shape[4]:
            errors += self._group_errors("result", self.results, op.results, op, "resultSegmentSizes")
        properties, attributes = op.properties, op.attributes
        for name, d in self._attr_items:
            v = properties.get(name)
            if v is None:
                v = attributes.get(name)
                if v is None:
                    if not d.optional:
                        errors.append(f"requires attribute '{name}'")
                    continue
            msg = d.check(v)
            if msg:
                errors.append(f"attribute '{name}' {msg}")
        regions = op.regions
        for i in self._single_block_regions:
            if i < len(regions) and len(regions[i].blocks) > 1:
                errors.append(f"region '{self.regions[i][0]}' must have at most one block")
        return errors

    def _count_error(self, what: str, defs: list, values: Sequence[Value], op: Operation,
                     prop: str, shape: tuple[int, int, bool, bool, bool]) -> str | None:
        """Whether the number of values fits the declared groups (by count, or by segment sizes)."""
        n_fixed, n_opt, has_var, by_count, _ = shape
        n = len(values)
        if by_count:  # layout determined by count
            if n < n_fixed or (not has_var and n > n_fixed + n_opt):
                if has_var:
                    expect = f"at least {n_fixed}"
                else:
                    expect = f"{n_fixed} to {n_fixed + n_opt}" if n_opt else f"{n_fixed}"
                return f"expected {expect} {what}(s), got {n}"
            return None
        try:
            groups = self._segments(defs, n, op, prop)
        except ValueError as e:
            return str(e)
        if sum(g[1] for g in groups) != n:
            return f"'{prop}' does not add up to the {n} {what}s"
        return None

    def _group_errors(self, what: str, defs: list, values: Sequence[Value], op: Operation, prop: str) -> list[str]:
        """Per-group rules once the counts fit: at most one value in an optional group, type constraints."""
        errors = []
        for (dname, d), (start, length) in zip(defs, self._segments(defs, len(values), op, prop)):
            if d.kind == OPTIONAL and length > 1:
                errors.append(f"optional {what} '{dname}' has {length} values")
            constraint = d.constraint
            if constraint is None:
                continue
            for v in values[start:start + length]:
                if not constraint(v.type):
                    errors.append(f"{what} '{dname}' must be {constraint.description}, got {v.type}")
        return errors


# -- accessors ------------------------------------------------------------------------------
class _ValueAccessor:
    """`op.name` for a declared operand or result group: the value, None or a list by kind."""

    __slots__ = ("index", "kind", "fixed")
    _values = "operands"  # which list of the op, and `definition.<list>_groups` for its layout
    _groups = "operand_groups"

    def __init__(self, index: int, kind: str, fixed: bool) -> None:
        self.index, self.kind, self.fixed = index, kind, fixed

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        if self.fixed:
            return getattr(op, self._values)[self.index]
        start, n = getattr(op.definition, self._groups)(op)[self.index]
        vals = getattr(op, self._values)[start:start + n]
        if self.kind == SINGLE:
            return vals[0]
        if self.kind == OPTIONAL:
            return vals[0] if vals else None
        return vals


class _OperandAccessor(_ValueAccessor):
    __slots__ = ()

    def __set__(self, op: Operation, value: Value) -> None:
        if self.kind != SINGLE:
            raise AttributeError("assign optional/variadic operands through set_operands")
        start = self.index if self.fixed else op.definition.operand_groups(op)[self.index][0]
        op.set_operand(start, value)


class _ResultAccessor(_ValueAccessor):
    __slots__ = ()
    _values = "results"
    _groups = "result_groups"


class _AttrAccessor:
    __slots__ = ("attr_name", "d")

    def __init__(self, attr_name: str, d: AttrDef) -> None:
        self.attr_name, self.d = attr_name, d

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        v = op.properties.get(self.attr_name)
        if v is None:
            v = op.attributes.get(self.attr_name)
            if v is None:
                return self.d.default
        return v

    def __set__(self, op: Operation, value: Any) -> None:
        if value is None:
            op.remove_attr(self.attr_name)
            return
        op.attributes.pop(self.attr_name, None)
        op.properties[self.attr_name] = self.d.to_attr(value)


class _RegionAccessor:
    __slots__ = ("index", "variadic")

    def __init__(self, index: int, variadic: bool) -> None:
        self.index, self.variadic = index, variadic

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        return op.regions[self.index:] if self.variadic else op.regions[self.index]


class _SuccessorAccessor:
    __slots__ = ("index", "variadic")

    def __init__(self, index: int, variadic: bool) -> None:
        self.index, self.variadic = index, variadic

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        return op.successors[self.index:] if self.variadic else op.successors[self.index]


# -- the metaclass ---------------------------------------------------------------------------
def _declarative_init(self: Operation, *args: Any, result_types: Sequence[Type] | None = None,
                      attributes: dict | None = None, regions: Sequence[Region] | int | None = None,
                      successors: Sequence | None = None, location: Any = None, **named: Any) -> None:
    """Keyword constructor generated for every registered op."""
    d: OpDefinition = type(self).definition
    defs = d.operands
    if len(args) > len(defs):
        raise TypeError(f"{type(self).__name__}() takes {len(defs)} operand(s), got {len(args)}")
    operands: list = []
    sizes: list[int] = []
    n_args = len(args)
    for i, (oname, od) in enumerate(defs):
        if oname in named:
            if i < n_args:
                raise TypeError(f"{type(self).__name__}() got operand '{oname}' twice")
            v = named.pop(oname)
        else:
            v = args[i] if i < n_args else None
        kind = od.kind
        if kind == SINGLE:
            if v is None:
                raise TypeError(f"{type(self).__name__}() missing operand '{oname}'")
            operands.append(v)
            sizes.append(1)
        elif kind == OPTIONAL:
            if v is not None:
                operands.append(v)
                sizes.append(1)
            else:
                sizes.append(0)
        else:
            vs = list(v or ())
            operands.extend(vs)
            sizes.append(len(vs))
    props: dict[str, Attribute] = {}
    if named:
        for aname, ad in d._attr_items:
            if aname in named:
                v = named.pop(aname)
                if v is not None:
                    props[aname] = v if isinstance(v, Attribute) else ad.to_attr(v)
    if d.operand_segments:
        props["operandSegmentSizes"] = DenseArrayAttr(i32, sizes)
    succ = list(successors or ())
    region_list: Any = regions
    if named:
        for sname, _ in d.successors:
            if sname in named:
                s = named.pop(sname)
                succ.extend(s if isinstance(s, (list, tuple)) else [s])
        for rname, _ in d.regions:
            if rname in named:
                region_list = list(region_list or []) if not isinstance(region_list, int) else []
                r = named.pop(rname)
                region_list.extend(r if isinstance(r, (list, tuple)) else [r])
    if region_list is None:
        region_list = sum(not rd.variadic for _, rd in d.regions) if d.regions else 0
    if named:
        raise TypeError(f"{type(self).__name__}() got unexpected argument(s): {', '.join(named)}")
    if result_types is None:
        if not all(isinstance(v, Value) for v in operands):
            # inference reads operand types: say what was expected before it fails on `.type`
            raise _not_a_value(self, operands)
        result_types = type(self).infer_result_types(operands, props)
    self._init_generic(operands, result_types, attributes, props, region_list, succ, location)


class OpMeta(type):
    """Builds the `OpDefinition` of each registered op class from its body."""

    def __new__(mcs, cls_name: str, bases: tuple, ns: dict, **kw: Any) -> OpMeta:
        ns.setdefault("__slots__", ())
        members: dict[str, Any] = {k: v for k, v in ns.items()
                                   if isinstance(v, (OperandDef, ResultDef, AttrDef, RegionDef, SuccessorDef))}
        for k in members:
            if k in _RESERVED:
                raise TypeError(f"op member name '{k}' in {cls_name} clashes with an Operation attribute")
            del ns[k]
        cls = super().__new__(mcs, cls_name, bases, ns, **kw)
        if "traits" in ns and not isinstance(ns["traits"], frozenset):
            cls.traits = frozenset(ns["traits"])
        op_name = ns.get("name")
        if not op_name or not isinstance(op_name, str):
            return cls
        inherited = getattr(cls, "definition", None)
        d = OpDefinition(op_name)
        if inherited is not None and not members:
            d = OpDefinition(op_name, list(inherited.operands), list(inherited.results),
                             dict(inherited.attributes), list(inherited.regions), list(inherited.successors))
        for k, v in members.items():
            if isinstance(v, OperandDef):
                d.operands.append((k, v))
            elif isinstance(v, ResultDef):
                d.results.append((k, v))
            elif isinstance(v, AttrDef):
                d.attributes[k] = v
            elif isinstance(v, RegionDef):
                d.regions.append((k, v))
            else:
                d.successors.append((k, v))
        d.__post_init__()
        cls.definition = d
        _install_accessors(cls, d)
        # the generated keyword constructor, unless the class or a base of its own wrote one (arith's
        # `_CmpOp(predicate, lhs, rhs)`: replacing it made `CmpIOp("slt", a, b)` a TypeError)
        if "__init__" not in ns and cls.__init__ in (Operation.__init__, _declarative_init):
            cls.__init__ = _declarative_init
        if "__doc__" in ns and ns["__doc__"]:
            cls.summary = ns["__doc__"].strip().splitlines()[0]
        cls._asm = None  # compiled assembly format
        if ns.get("assembly_format"):
            # compiled now, so a format that could not be parsed back fails where the op is defined
            from irq.text.asm_format import FormatError, compiled_format
            try:
                compiled_format(cls)
            except FormatError as e:
                raise FormatError(f"assembly_format of {cls_name} ('{op_name}'): {e}") from None
        return cls


def _install_accessors(cls: type, d: OpDefinition) -> None:
    # operands before the first optional or variadic one sit at fixed indices whatever the layout
    leading = next((i for i, (_, od) in enumerate(d.operands) if od.kind != SINGLE), len(d.operands))
    for i, (n, od) in enumerate(d.operands):
        setattr(cls, n, _OperandAccessor(i, od.kind, i < leading))
    fixed_res = not any(rd.kind != SINGLE for _, rd in d.results)
    for i, (n, rd) in enumerate(d.results):
        setattr(cls, n, _ResultAccessor(i, rd.kind, fixed_res))
    for n, ad in d.attributes.items():
        setattr(cls, n, _AttrAccessor(n, ad))
    for i, (n, rd) in enumerate(d.regions):
        setattr(cls, n, _RegionAccessor(i, rd.variadic))
    for i, (n, sd) in enumerate(d.successors):
        setattr(cls, n, _SuccessorAccessor(i, sd.variadic))


class Op(Operation, metaclass=OpMeta):
    """Base class of registered ops (subclass it and set `name`)."""

    #: MLIR-style declarative assembly, or None for the default pretty form.
    assembly_format: str | None = None
    summary: str = ""

    @classmethod
    def infer_result_types(cls, operands: Sequence[Value], properties: dict) -> list[Type]:
        """Result types from operands; override for ops whose result type is derivable."""
        from irq.ir.traits import SameOperandsAndResultType
        d = cls.definition
        if SameOperandsAndResultType in cls.traits and operands:
            return [operands[0].type] * len(d.results)
        if not d.results:
            return []
        raise TypeError(f"{cls.__name__}() needs result_types= (its result type cannot be inferred)")

    def fold(self) -> Any:
        """Constant folding hook: return attributes/values for the results, or None."""
        return None

    def fits_custom_form(self) -> bool:
        return self.definition.fits_custom_form(self)

    def print_custom(self, p: Any) -> None:
        """Print after the result names: the declarative format, else the default pretty form."""
        from irq.text.asm_format import compiled_format, print_default
        fmt = compiled_format(type(self))
        if fmt is None:
            print_default(self, p)
        else:
            fmt.print(self, p)

    @classmethod
    def parse_custom(cls, p: Any) -> Operation:
        """Build the op from its custom-form items (an `OpAsmParser`)."""
        from irq.text.asm_format import compiled_format, parse_default
        fmt = compiled_format(cls)
        if fmt is None:
            return parse_default(cls, p)
        return fmt.parse(p)
