"""Builtin attributes: immutable, hashable, compared by value.

Floats compare by bit pattern, so `nan == nan` and `-0.0 != 0.0` as attributes:
structural equality after a print/parse round trip is bit equality.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from irq.ir.types import FloatType, IndexType, IntegerType, Type, f64, i1, i64
from irq.text.floats import float_bits, float_from_bits, round_float

_set = object.__setattr__

#: Most attributes an array or dictionary may hold once nested containers are counted in full.
#: Attributes are shared, so `#a1 = [#a0, #a0]` repeated 30 times is 30 small objects that print
#: as 2^30 elements; the cap turns that into an error where the alias is defined.
MAX_EXPANDED_ELEMENTS = 1 << 22

#: MLIR's index is 64 bits wide (IndexType::kInternalStorageBitWidth); like a signless
#: integer, a constant may be written in its signed or its unsigned reading.
INDEX_MIN, INDEX_MAX = -(1 << 63), (1 << 64) - 1


def _expanded_size(elements: Iterable[Attribute]) -> int:
    """1 + the number of attributes under `elements`, nested arrays and dictionaries counted in full."""
    n = 1
    for e in elements:
        n += getattr(e, "_size", 1)
    if n > MAX_EXPANDED_ELEMENTS:
        raise ValueError(f"attribute expands to {n} elements, more than the {MAX_EXPANDED_ELEMENTS} allowed "
                         f"(nested attribute aliases?)")
    return n


class Attribute:
    """Base of all attributes. `_text` caches the printed form on first print."""

    __slots__ = ("_text",)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _key(self) -> tuple:
        return ()

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self._key() == other._key())

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self), self._key()))

    def __str__(self) -> str:
        from irq.text.printer import attribute_text
        return attribute_text(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"

    def to_python(self) -> Any:
        """A plain Python value for this attribute (ints, floats, str, lists, dicts)."""
        return self


class IntegerAttr(Attribute):
    """`5 : i32`; `IntegerAttr(v, i1)` is a `BoolAttr`."""

    __slots__ = ("value", "type")
    value: int
    type: Type

    def __new__(cls, value: int, type: Type = i64) -> IntegerAttr:
        if cls is IntegerAttr and type is i1:
            if value not in (0, 1, -1):  # `2 : i1` is out of range, not true; `-1 : i1` is true, as in MLIR
                raise ValueError(f"integer constant {value} out of range for i1")
            return BoolAttr(bool(value))
        return object.__new__(cls)

    def __init__(self, value: int, type: Type = i64) -> None:
        if not isinstance(type, (IntegerType, IndexType)):
            raise TypeError(f"integer attribute needs an integer or index type, got {type}")
        value = int(value)
        if isinstance(type, IntegerType):
            lo, hi = type.value_range()
            if not lo <= value <= hi:
                raise ValueError(f"integer constant {value} out of range for {type}")
            if type.signedness == "" and value > hi >> 1:
                # MLIR keeps the bits and prints a signless value signed (`255 : i8` is `-1 : i8`,
                # `2^65 - 1 : i65` is `-1 : i65`): one value per bit pattern, as arith's folders
                # compute it, so the text read back is the same attribute and prints as mlir-opt's
                value -= 1 << type.width
        elif not INDEX_MIN <= value <= INDEX_MAX:
            raise ValueError(f"integer constant {value} out of range for index (64 bits)")
        _set(self, "value", value)
        _set(self, "type", type)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.value, self.type)

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def to_python(self) -> int:
        return self.value


class BoolAttr(IntegerAttr):
    """`true` / `false`: an i1 integer attribute whose value is a bool."""

    __slots__ = ()

    def __new__(cls, value: bool, type: Type = i1) -> BoolAttr:
        return object.__new__(cls)

    def __init__(self, value: bool, type: Type = i1) -> None:
        _set(self, "value", bool(value))
        _set(self, "type", i1)
        _set(self, "_text", None)

    def __bool__(self) -> bool:
        return self.value

    def to_python(self) -> bool:
        return self.value


class FloatAttr(Attribute):
    """`1.5 : f32`. The value is rounded to the type's precision on construction."""

    __slots__ = ("value", "type", "_bits")
    value: float
    type: FloatType

    def __init__(self, value: float, type: FloatType = f64) -> None:
        if not isinstance(type, FloatType):
            raise TypeError(f"float attribute needs a float type, got {type}")
        v = round_float(float(value), type.kind)
        _set(self, "value", v)
        _set(self, "type", type)
        _set(self, "_bits", float_bits(v, type.kind))
        _set(self, "_text", None)

    @classmethod
    def from_bits(cls, bits: int, type: FloatType = f64) -> FloatAttr:
        """The float with exactly these IEEE bits: NaN payloads and signalling NaNs survive,
        which a Python float (a double, quieted on conversion) cannot guarantee for f16/f32."""
        if not isinstance(type, FloatType):
            raise TypeError(f"float attribute needs a float type, got {type}")
        width = 16 if type.kind == "bf16" else type.width
        if not 0 <= bits < 1 << width:
            raise ValueError(f"bit pattern 0x{bits:X} does not fit {type}")
        a = object.__new__(cls)
        _set(a, "value", float_from_bits(bits, type.kind))
        _set(a, "type", type)
        _set(a, "_bits", bits)
        _set(a, "_text", None)
        return a

    def _key(self) -> tuple:
        return (self._bits, self.type)

    def __float__(self) -> float:
        return self.value

    def to_python(self) -> float:
        return self.value


class StringAttr(Attribute):
    """`"text"` (any Unicode; printed with MLIR escapes)."""

    __slots__ = ("value",)
    value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"StringAttr needs a str, got {type(value).__name__}")
        _set(self, "value", value)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.value,)

    def to_python(self) -> str:
        return self.value


class UnitAttr(Attribute):
    """`unit`: presence is the information (an attribute-dict key without a value)."""

    __slots__ = ()
    _instance: UnitAttr | None = None

    def __new__(cls) -> UnitAttr:
        if cls._instance is None:
            inst = object.__new__(cls)
            _set(inst, "_text", "unit")
            cls._instance = inst
        return cls._instance

    def to_python(self) -> bool:
        return True


class ArrayAttr(Attribute):
    """`[a, b, c]`: a tuple of attributes."""

    __slots__ = ("value", "_size", "_hash")
    value: tuple[Attribute, ...]

    def __init__(self, elements: Iterable[Attribute] = ()) -> None:
        elements = tuple(elements)
        for e in elements:
            if not isinstance(e, Attribute):
                raise TypeError(f"ArrayAttr elements must be attributes, got {e!r}")
        _set(self, "_size", _expanded_size(elements))
        _set(self, "value", elements)
        _set(self, "_hash", None)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return self.value

    def __eq__(self, other: object) -> bool:
        return attributes_equal(self, other)

    def __hash__(self) -> int:
        h = self._hash
        return h if h is not None else _container_hash(self)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.value)

    def __getitem__(self, i: int) -> Attribute:
        return self.value[i]

    def to_python(self) -> list:
        return [e.to_python() for e in self.value]


class DenseArrayAttr(Attribute):
    """`array<i64: 1, 2, 3>`: a packed list of integers or floats of one element type."""

    __slots__ = ("element_type", "value")
    element_type: Type
    value: tuple

    def __init__(self, element_type: Type, values: Iterable[int | float] = ()) -> None:
        if isinstance(element_type, IntegerType):
            lo, hi = element_type.value_range()
            vals = tuple(bool(v) if element_type is i1 else int(v) for v in values)
            for v in vals:
                if not lo <= v <= hi:
                    raise ValueError(f"value {v} out of range for array<{element_type}>")
            if element_type.signedness == "" and element_type.width > 1 and any(v > hi >> 1 for v in vals):
                # a signless element holds its signed reading, as IntegerAttr does and MLIR prints it
                # (`array<i8: 255>` is `array<i8: -1>`): one value per bit pattern
                w = element_type.width
                vals = tuple(v - (1 << w) if v > hi >> 1 else v for v in vals)
        elif isinstance(element_type, FloatType):
            vals = tuple(round_float(float(v), element_type.kind) for v in values)
        else:
            raise TypeError(f"dense array element type must be integer or float, got {element_type}")
        _set(self, "element_type", element_type)
        _set(self, "value", vals)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        if isinstance(self.element_type, FloatType):
            k = self.element_type.kind
            return (self.element_type, tuple(float_bits(v, k) for v in self.value))
        return (self.element_type, self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Iterator:
        return iter(self.value)

    def __getitem__(self, i: int):
        return self.value[i]

    def to_python(self) -> list:
        return list(self.value)


class DictionaryAttr(Attribute):
    """`{a = 1, b}`: named attributes, kept in the order given."""

    __slots__ = ("value", "_size", "_hash")
    value: Mapping[str, Attribute]

    def __init__(self, entries: Mapping[str, Attribute] | Iterable[tuple[str, Attribute]] = ()) -> None:
        d = dict(entries)
        for k, v in d.items():
            if not isinstance(k, str) or not isinstance(v, Attribute):
                raise TypeError(f"DictionaryAttr entries must be str -> Attribute, got {k!r}: {v!r}")
        _set(self, "_size", _expanded_size(d.values()))
        _set(self, "value", d)
        _set(self, "_hash", None)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return tuple(self.value.items())

    def __hash__(self) -> int:
        h = self._hash
        return h if h is not None else _container_hash(self)

    def __eq__(self, other: object) -> bool:
        return attributes_equal(self, other)

    def __getitem__(self, k: str) -> Attribute:
        return self.value[k]

    def __contains__(self, k: str) -> bool:
        return k in self.value

    def __len__(self) -> int:
        return len(self.value)

    def get(self, k: str, default: Any = None) -> Any:
        return self.value.get(k, default)

    def items(self):
        return self.value.items()

    def to_python(self) -> dict:
        return {k: v.to_python() for k, v in self.value.items()}


class TypeAttr(Attribute):
    """A type used as an attribute value (`function_type = (i32) -> i32`)."""

    __slots__ = ("value",)
    value: Type

    def __init__(self, value: Type) -> None:
        if not isinstance(value, Type):
            raise TypeError(f"TypeAttr needs a Type, got {value!r}")
        _set(self, "value", value)
        _set(self, "_text", value._text)

    def _key(self) -> tuple:
        return (self.value,)

    def to_python(self) -> Type:
        return self.value


class SymbolRefAttr(Attribute):
    """`@root` or `@root::@nested::@leaf`."""

    __slots__ = ("root", "nested")
    root: str
    nested: tuple[str, ...]

    def __init__(self, root: str, nested: Sequence[str] = ()) -> None:
        _set(self, "root", root)
        _set(self, "nested", tuple(nested))
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.root, self.nested)

    @property
    def leaf(self) -> str:
        return self.nested[-1] if self.nested else self.root

    def to_python(self) -> str:
        return "::".join((self.root, *self.nested))


class OpaqueAttr(Attribute):
    """An attribute of a dialect irq does not know: `#dialect.name<...>` kept verbatim."""

    __slots__ = ("dialect", "text")

    def __init__(self, dialect: str, text: str) -> None:
        from irq.text.verbatim import check_typed_token
        # printed verbatim; a typed string (`"s" : !foo.string`) and dense string elements
        # (`dense<["a", "b"]> : tensor<2x!foo.string>`, irq/text/dense_strings.py) are opaque too
        kinds = ("DIALECT_ATTR", "OPAQUE_ATTR")
        check_typed_token(text, kinds, (*kinds, "STRING", "DENSE"), "opaque attribute text")
        _set(self, "dialect", dialect)
        _set(self, "text", text)
        _set(self, "_text", text)

    def _key(self) -> tuple:
        return (self.text,)


class DialectAttribute(Attribute):
    """Base for attributes a dialect defines with `#dialect.name<...>` syntax.

    Subclasses set `attr_name`, implement `_render()` returning the full text and a
    classmethod `parse_body(parser)`.
    """

    __slots__ = ()
    attr_name: str = ""


def to_attribute(value: Any) -> Attribute:
    """Convert plain Python values to attributes (ints -> i64, floats -> f64, lists -> arrays)."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr(value)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, Type):
        return TypeAttr(value)
    if isinstance(value, (list, tuple)):
        return ArrayAttr(to_attribute(v) for v in value)
    if isinstance(value, dict):
        return DictionaryAttr({k: to_attribute(v) for k, v in value.items()})
    if value is None:
        return UnitAttr()
    raise TypeError(f"cannot convert {value!r} ({type(value).__name__}) to an attribute")


# -- arrays and dictionaries nested thousands deep -----------------------------------------------
# Comparing or hashing `[[[...]]]` by recursion would hit Python's recursion limit a few hundred
# levels down; both walk an explicit stack instead (and hashes are cached, so shared subtrees
# are hashed once).

def _children(a: Attribute) -> Iterable[Attribute]:
    return a.value if type(a) is ArrayAttr else a.value.values()


def attributes_equal(a: object, b: object) -> bool:
    """`a == b` for attributes, iterative through nested arrays and dictionaries
    (dictionaries compare as mappings: the order of their entries does not matter)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        tx = type(x)
        if tx is not type(y):
            return False
        if tx is ArrayAttr:
            if len(x.value) != len(y.value):
                return False
            stack.extend(zip(x.value, y.value))
        elif tx is DictionaryAttr:
            xv, yv = x.value, y.value
            if xv.keys() != yv.keys():
                return False
            stack.extend((v, yv[k]) for k, v in xv.items())
        elif not x == y:
            return False
    return True


def _container_hash(root: ArrayAttr | DictionaryAttr) -> int:
    """Hash of an array or dictionary, computing the uncached hashes of nested ones bottom-up."""
    stack: list[tuple[Attribute, bool]] = [(root, False)]
    while stack:
        a, children_done = stack.pop()
        if a._hash is not None:
            continue
        if not children_done:
            stack.append((a, True))
            stack.extend((c, False) for c in _children(a)
                         if type(c) in (ArrayAttr, DictionaryAttr) and c._hash is None)
            continue
        if type(a) is ArrayAttr:
            h = hash((ArrayAttr, tuple(hash(c) for c in a.value)))
        else:
            h = hash((DictionaryAttr, frozenset((k, hash(v)) for k, v in a.value.items())))
        _set(a, "_hash", h)
    return root._hash
