"""Builtin types.

Types are immutable and interned: constructing the same type twice returns the
same object, so equality is identity and hashing is free. Each type renders its
text once at creation; the printer reuses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

_set = object.__setattr__


#: Longest text a type may render to. Types are shared, so `!t1 = tuple<!t0, !t0>` repeated
#: 30 times is 30 small objects whose text doubles each time; rendering it would exhaust memory.
MAX_TYPE_TEXT = 1 << 22

#: MLIR stores dimensions as int64.
MAX_DIMENSION = (1 << 63) - 1


class Type:
    """Base of all types. Subclasses intern instances through `_intern`."""

    __slots__ = ("_text", "__weakref__")
    _cache: ClassVar[dict]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls._cache = {}

    @classmethod
    def _intern(cls, key: tuple, **fields: Any) -> Any:
        t = cls._cache.get(key)
        if t is None:
            t = object.__new__(cls)
            for k, v in fields.items():
                _set(t, k, v)
            text = t._render()
            if len(text) > MAX_TYPE_TEXT:
                raise ValueError(f"type expands to {len(text)} characters, more than the {MAX_TYPE_TEXT} allowed "
                                 f"(nested type aliases?)")
            _set(t, "_text", text)
            cls._cache[key] = t
        return t

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self):
        from irq.text.type_parser import parse_type_text

        return (parse_type_text, (self._text,))

    def _render(self) -> str:  # pragma: no cover - every subclass renders
        return "<type>"

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Type({self._text})"


SIGNLESS, SIGNED, UNSIGNED = "", "s", "u"


class IntegerType(Type):
    """`i8`, `si8`, `ui8`: width and signedness (MLIR's signless by default)."""

    __slots__ = ("width", "signedness")
    width: int
    signedness: str

    def __new__(cls, width: int, signedness: str = SIGNLESS) -> IntegerType:
        if not isinstance(width, int) or width < 0 or width > 1 << 24:  # MLIR has i0
            raise ValueError(f"invalid integer width {width!r}")
        if signedness not in (SIGNLESS, SIGNED, UNSIGNED):
            raise ValueError(f"invalid signedness {signedness!r}")
        return cls._intern((width, signedness), width=width, signedness=signedness)

    def _render(self) -> str:
        return f"{self.signedness}i{self.width}"

    @property
    def is_unsigned(self) -> bool:
        return self.signedness == UNSIGNED

    def value_range(self) -> tuple[int, int]:
        """Range of values an attribute of this type may hold (signless admits both readings)."""
        w = self.width
        if w == 0:
            return 0, 0
        if w == 0:  # i0, si0, ui0 hold only 0 (MLIR: `1 : i0` is out of range)
            return 0, 0
        if self.signedness == UNSIGNED:
            return 0, (1 << w) - 1
        if self.signedness == SIGNED:
            return -(1 << (w - 1)), (1 << (w - 1)) - 1
        if w == 1:
            return 0, 1
        return -(1 << (w - 1)), (1 << w) - 1

    def storage_range(self) -> tuple[int, int]:
        """Two's complement range of values when read as signed (unsigned for ui)."""
        w = self.width
        if w == 0:  # i0, si0, ui0 hold only 0 (MLIR: `1 : i0` is out of range)
            return 0, 0
        if self.signedness == UNSIGNED:
            return 0, (1 << w) - 1
        return -(1 << (w - 1)), (1 << (w - 1)) - 1


FLOAT_KINDS = (
    "f16",
    "bf16",
    "f32",
    "f64",
    "tf32",
    "f80",
    "f128",
    "f8E5M2",
    "f8E4M3FN",
    "f8E5M2FNUZ",
    "f8E4M3FNUZ",
    "f8E4M3B11FNUZ",
    "f8E4M3",
    "f8E3M4",
    "f4E2M1FN",
    "f6E2M3FN",
    "f6E3M2FN",
    "f8E8M0FNU",
)
_FLOAT_WIDTH = {"f16": 16, "bf16": 16, "f32": 32, "f64": 64, "tf32": 19, "f80": 80, "f128": 128}


class FloatType(Type):
    """`f16`, `bf16`, `f32`, `f64` and MLIR's other float kinds (by name)."""

    __slots__ = ("kind",)
    kind: str

    def __new__(cls, kind: str) -> FloatType:
        if kind not in FLOAT_KINDS:
            raise ValueError(f"unknown float type {kind!r}")
        return cls._intern((kind,), kind=kind)

    def _render(self) -> str:
        return self.kind

    @property
    def width(self) -> int:
        if self.kind in _FLOAT_WIDTH:
            return _FLOAT_WIDTH[self.kind]
        return int(self.kind[1])


class IndexType(Type):
    __slots__ = ()

    def __new__(cls) -> IndexType:
        return cls._intern(())

    def _render(self) -> str:
        return "index"


class NoneType(Type):
    __slots__ = ()

    def __new__(cls) -> NoneType:
        return cls._intern(())

    def _render(self) -> str:
        return "none"


def _dims_text(shape: Sequence[int | None]) -> str:
    return "".join(("?" if d is None else str(d)) + "x" for d in shape)


class ShapedType(Type):
    """Common base of tensor and vector types."""

    __slots__ = ("shape", "element_type")
    shape: tuple[int | None, ...] | None
    element_type: Type

    @property
    def rank(self) -> int:
        if self.shape is None:
            raise ValueError(f"{self} is unranked")
        return len(self.shape)

    @property
    def has_static_shape(self) -> bool:
        return self.shape is not None and None not in self.shape

    @property
    def num_elements(self) -> int:
        if not self.has_static_shape:
            raise ValueError(f"{self} has no static shape")
        n = 1
        for d in self.shape:
            n *= d
        return n


def _check_shape(shape: Iterable[int | None]) -> tuple[int | None, ...]:
    out = []
    for d in shape:
        if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0):
            raise ValueError(f"invalid dimension {d!r}: dimensions are non-negative ints or None (dynamic)")
        if d is not None and d > MAX_DIMENSION:
            raise ValueError(f"dimension {d} does not fit in 64 bits")
        out.append(d)
    return tuple(out)


class TensorType(ShapedType):
    """`tensor<1x3x?x32xf32>`; `shape=None` is the unranked `tensor<*xf32>`."""

    __slots__ = ("encoding",)
    encoding: Any

    def __new__(cls, shape: Iterable[int | None] | None, element_type: Type, encoding: Any = None) -> TensorType:
        shape = None if shape is None else _check_shape(shape)
        if not isinstance(element_type, Type):
            raise TypeError(f"tensor element type must be a Type, got {element_type!r}")
        if isinstance(element_type, (TensorType, TupleType, FunctionType, NoneType)):
            # MLIR's TensorType::isValidElementType: scalars, complex, vectors and dialect types
            raise ValueError(f"invalid tensor element type {element_type}")
        key = (shape, element_type, encoding)
        if encoding is not None and key not in cls._cache:
            _check_encoding(encoding)
        return cls._intern(key, shape=shape, element_type=element_type, encoding=encoding)

    def _render(self) -> str:
        if self.shape is None:
            return f"tensor<*x{self.element_type._text}>"
        enc = "" if self.encoding is None else f", {self.encoding}"
        return f"tensor<{_dims_text(self.shape)}{self.element_type._text}{enc}>"

    def with_element_type(self, element_type: Type) -> TensorType:
        return TensorType(self.shape, element_type, self.encoding)

    def with_shape(self, shape: Iterable[int | None]) -> TensorType:
        return TensorType(shape, self.element_type, self.encoding)


def _check_encoding(encoding: Any) -> None:
    """A tensor encoding is printed verbatim inside `tensor<...>`: it must not close the type."""
    from irq.text.verbatim import check_one_token
    if not isinstance(encoding, str):
        raise TypeError(f"tensor encoding must be attribute text, got {type(encoding).__name__}")
    check_one_token(f"tensor<1xf32, {encoding}>", ("TYPE",), "tensor type with encoding")


class VectorType(ShapedType):
    """`vector<4x8xf32>`; a scalable dimension (a multiple of the hardware's vector length, as
    in SVE and RVV) prints in brackets: `vector<2x[4]xf32>` has `scalable_dims=(False, True)`."""

    __slots__ = ("scalable_dims",)
    scalable_dims: tuple[bool, ...]

    def __new__(
        cls, shape: Iterable[int], element_type: Type, scalable_dims: Iterable[bool] | None = None
    ) -> VectorType:
        shape = _check_shape(shape)
        if None in shape:
            raise ValueError("vector dimensions must be static")
        if 0 in shape:  # MLIR's VectorType::verify
            raise ValueError(f"vector types must have positive constant sizes but got {', '.join(map(str, shape))}")
        if isinstance(element_type, (ShapedType, TupleType, FunctionType, NoneType)):
            raise ValueError(f"invalid vector element type {element_type}: vectors hold scalars")
        scalable = tuple(bool(s) for s in scalable_dims) if scalable_dims is not None else (False,) * len(shape)
        if len(scalable) != len(shape):
            raise ValueError("one scalable flag per vector dimension")
        return cls._intern(
            (shape, element_type, scalable), shape=shape, element_type=element_type, scalable_dims=scalable
        )

    def _render(self) -> str:
        if not any(self.scalable_dims):
            return f"vector<{_dims_text(self.shape)}{self.element_type._text}>"
        dims = "".join(f"[{d}]x" if s else f"{d}x" for d, s in zip(self.shape, self.scalable_dims))
        return f"vector<{dims}{self.element_type._text}>"


class MemRefType(ShapedType):
    """`memref<4x?xf32>`, `memref<4x4xf32, strided<[4, 1], offset: ?>, 1>`, `memref<*xf32>`.

    A buffer with a layout (`strided<...>` or `affine_map<...>`) and a memory space (`1`,
    `"gpu"`...), both optional and kept as the attribute text MLIR writes; `shape=None` is
    unranked. irq's runtimes do not execute memrefs: they are for reading MLIR's IR.
    """

    __slots__ = ("layout", "memory_space")
    layout: str | None
    memory_space: str | None

    def __new__(
        cls,
        shape: Iterable[int | None] | None,
        element_type: Type,
        layout: str | None = None,
        memory_space: str | None = None,
    ) -> MemRefType:
        shape = None if shape is None else _check_shape(shape)
        if shape is None and layout is not None:
            raise ValueError("an unranked memref has no layout")
        if isinstance(element_type, (TensorType, TupleType, FunctionType, NoneType)):
            # MLIR's BaseMemRefType::isValidElementType: scalars, complex, vectors, memrefs, dialect types
            raise ValueError(f"invalid memref element type {element_type}")
        return cls._intern(
            (shape, element_type, layout, memory_space),
            shape=shape,
            element_type=element_type,
            layout=layout,
            memory_space=memory_space,
        )

    def _render(self) -> str:
        extra = "".join(f", {x}" for x in (self.layout, self.memory_space) if x is not None)
        if self.shape is None:
            return f"memref<*x{self.element_type._text}{extra}>"
        return f"memref<{_dims_text(self.shape)}{self.element_type._text}{extra}>"


class TupleType(Type):
    __slots__ = ("types",)
    types: tuple[Type, ...]

    def __new__(cls, types: Iterable[Type]) -> TupleType:
        types = tuple(types)
        return cls._intern((types,), types=types)

    def _render(self) -> str:
        return "tuple<" + ", ".join(t._text for t in self.types) + ">"


class ComplexType(Type):
    __slots__ = ("element_type",)
    element_type: Type

    def __new__(cls, element_type: Type) -> ComplexType:
        if not isinstance(element_type, (IntegerType, FloatType)):  # MLIR's ComplexType::verify
            raise ValueError(f"invalid element type for complex: {element_type}")
        return cls._intern((element_type,), element_type=element_type)

    def _render(self) -> str:
        return f"complex<{self.element_type._text}>"


class FunctionType(Type):
    """`(i32, f32) -> i32`; several or function-typed results are parenthesized."""

    __slots__ = ("inputs", "results")
    inputs: tuple[Type, ...]
    results: tuple[Type, ...]

    def __new__(cls, inputs: Iterable[Type], results: Iterable[Type]) -> FunctionType:
        inputs, results = tuple(inputs), tuple(results)
        return cls._intern((inputs, results), inputs=inputs, results=results)

    def _render(self) -> str:
        ins = "(" + ", ".join(t._text for t in self.inputs) + ")"
        res = self.results
        if len(res) == 1 and not isinstance(res[0], FunctionType):
            return f"{ins} -> {res[0]._text}"
        return f"{ins} -> (" + ", ".join(t._text for t in res) + ")"


class OpaqueType(Type):
    """A type of a dialect irq does not know: `!dialect.name<body>` kept verbatim."""

    __slots__ = ("dialect", "text")
    dialect: str
    text: str

    def __new__(cls, dialect: str, text: str) -> OpaqueType:
        key = (dialect, text)
        if key not in cls._cache:  # printed verbatim: it must read back as this one type
            from irq.text.verbatim import check_one_token
            check_one_token(text, ("TYPE",), "opaque type text")
        return cls._intern(key, dialect=dialect, text=text)

    def _render(self) -> str:
        return self.text


class DialectType(Type):
    """Base for types a dialect defines with its own `!dialect.name<...>` syntax.

    Subclasses set `type_name` ("quant.uniform"), implement `_render()` and a
    classmethod `parse_body(parser)` that reads the text between the angle brackets
    with a `DialectAsmParser`.
    """

    __slots__ = ()
    type_name: ClassVar[str] = ""


# Shorthands used throughout irq.
i1 = IntegerType(1)
i8 = IntegerType(8)
i16 = IntegerType(16)
i32 = IntegerType(32)
i64 = IntegerType(64)
ui8 = IntegerType(8, UNSIGNED)
si8 = IntegerType(8, SIGNED)
f16 = FloatType("f16")
bf16 = FloatType("bf16")
f32 = FloatType("f32")
f64 = FloatType("f64")
index = IndexType()
none = NoneType()


def tensor(*shape: int | None, element_type: Type = f32) -> TensorType:
    """`tensor(1, 3, 32, 32)` is `tensor<1x3x32x32xf32>`."""
    return TensorType(shape, element_type)
