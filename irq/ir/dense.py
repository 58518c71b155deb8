"""Numpy-backed elements attributes: `dense<...>` and `dense_resource<key>`.

Element types map to numpy dtypes; bf16 has no numpy dtype, so its elements are
kept as uint16 bit patterns and converted to float32 on `to_numpy()`.
"""

from __future__ import annotations

from irq._lazy import numpy as np
from irq.ir.attributes import Attribute
from irq.ir.dense_small import is_small_float, small_dtype, small_storage, small_values
from irq.ir.dense_wide import is_wide_int, wide_dtype, wide_int_storage, wide_int_values
from irq.ir.resources import Blob, ResourceHandle
from irq.ir.types import FloatType, IndexType, IntegerType, ShapedType, Type

_set = object.__setattr__

_INT_DTYPES: dict = {}
_FLOAT_DTYPES: dict = {}


def _dtype_tables() -> tuple[dict, dict]:
    """Element type -> numpy dtype tables, built on first use (numpy is imported lazily)."""
    if not _INT_DTYPES:
        _FLOAT_DTYPES.update({"f16": np.dtype(np.float16), "f32": np.dtype(np.float32),
                              "f64": np.dtype(np.float64), "bf16": np.dtype(np.uint16)})
        for w in (8, 16, 32, 64):
            _INT_DTYPES[(w, "")] = _INT_DTYPES[(w, "s")] = np.dtype(f"int{w}")
            _INT_DTYPES[(w, "u")] = np.dtype(f"uint{w}")
        _INT_DTYPES.update({(1, ""): np.bool_, (1, "s"): np.bool_, (1, "u"): np.bool_})
    return _INT_DTYPES, _FLOAT_DTYPES


def storage_dtype(t: Type) -> np.dtype:
    """The numpy dtype that stores elements of type `t` (bf16: uint16 bit patterns)."""
    int_dtypes, float_dtypes = _dtype_tables()
    if isinstance(t, IntegerType):
        dt = int_dtypes.get((t.width, t.signedness))
        if dt is not None:
            return np.dtype(dt)
        if 1 < t.width < 64:  # `i3`, `ui12`: the smallest container, as MLIR pads them to whole bytes
            bits = next(b for b in (8, 16, 32, 64) if b >= t.width)
            return np.dtype(f"uint{bits}" if t.signedness == "u" else f"int{bits}")
    elif isinstance(t, FloatType):
        dt = float_dtypes.get(t.kind)
        if dt is not None:
            return dt
        if is_small_float(t):  # tf32, f8*, f6*, f4*: bit patterns (irq.ir.dense_small)
            return small_dtype(t)
    elif isinstance(t, IndexType):
        return np.dtype(np.int64)
    raise TypeError(f"element type {t} has no numpy representation")


def elements_dtype(t: Type) -> np.dtype:
    """The dtype `dense<...>` stores elements of `t` in: `storage_dtype`, plus integers wider
    than 64 bits and complex numbers as MLIR lays them out (`irq.ir.dense_wide`)."""
    dt = wide_dtype(t, elements_dtype)
    return dt if dt is not None else storage_dtype(t)


def _bit_view(a: np.ndarray) -> np.ndarray:
    """`a` as unsigned integers (or opaque bytes) of its item size: equality of bits, not values."""
    if a.dtype == np.bool_:
        return a
    n = a.dtype.itemsize
    return np.ascontiguousarray(a).view(np.dtype(f"u{n}" if n in (1, 2, 4, 8) else f"V{n}"))


def _bf16_bits(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.dtype.itemsize > 4:
        f = _f32_bits_round_to_odd(values.astype(np.float64))
    else:
        f = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (f + 0x7FFF + ((f >> 16) & 1)) >> 16
    nan = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)  # no f32 cast: no overflow
    out = rounded.astype(np.uint16)
    out[nan] = ((f[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def _f32_bits_round_to_odd(a: np.ndarray) -> np.ndarray:
    """f32 bit patterns of doubles, truncated with a sticky last bit (see floats.round_float):
    rounding those to bf16 rounds each double once, as MLIR does."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = a.astype(np.float32)
        back = r.astype(np.float64)
        finite = np.isfinite(a)
        r = np.where(finite & (np.abs(back) > np.abs(a)), np.nextafter(r, np.float32(0.0)), r)
        inexact = finite & (r.astype(np.float64) != a)
    return (np.ascontiguousarray(r).view(np.uint32) | inexact.astype(np.uint32)).astype(np.uint64)


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def to_storage(values: object, element_type: Type) -> np.ndarray:
    """Convert values to the storage array of `element_type`, checking integer ranges."""
    wide = wide_dtype(element_type, elements_dtype)
    if wide is not None:
        if is_wide_int(element_type):
            return wide_int_storage(values, element_type, wide)
        arr = np.asarray(values)
        if arr.dtype != wide:
            if wide.names is not None:
                raise TypeError(f"elements of {element_type} need an array of dtype {wide}")
            arr = arr.astype(wide)
        return arr
    dtype = storage_dtype(element_type)
    if is_small_float(element_type):
        return small_storage(values, element_type)
    if isinstance(element_type, FloatType) and element_type.kind == "bf16":
        arr = np.asarray(values)
        if arr.dtype == np.uint16:
            return arr
        return _bf16_bits(arr)
    arr = np.asarray(values)
    if arr.dtype == dtype:
        return arr
    if isinstance(element_type, (IntegerType, IndexType)) and dtype != np.bool_:
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
                raise ValueError(f"non-integer values for integer element type {element_type}")
        if arr.size:
            info = np.iinfo(dtype)
            lo, hi = (int(arr.min()), int(arr.max())) if arr.dtype.kind != "O" else (min(arr.flat), max(arr.flat))
            w = element_type.width if isinstance(element_type, IntegerType) else 64
            if w != info.bits:  # a width between containers (`i3`): the type's own range, signless
                # values above the signed maximum stored as their two's complement
                signed = element_type.signedness != "u"
                lo_ok = -(1 << (w - 1)) if signed else 0
                hi_ok = (1 << (w - 1)) - 1 if element_type.signedness == "s" else (1 << w) - 1
                if lo < lo_ok or hi > hi_ok:
                    raise ValueError(f"value out of range for {element_type}")
                ints = np.array([int(x) for x in arr.flat], dtype=object).reshape(arr.shape)
                if element_type.signedness == "":
                    ints = np.where(ints > (1 << (w - 1)) - 1, ints - (1 << w), ints)
                return ints.astype(dtype)
            if isinstance(element_type, IntegerType) and element_type.signedness == "":
                # signless: accept both signed and unsigned readings of the bits
                lo_ok = -(1 << (element_type.width - 1))
                hi_ok = (1 << element_type.width) - 1
                if lo < lo_ok or hi > hi_ok:
                    raise ValueError(f"value out of range for {element_type}")
                if hi > info.max:
                    if arr.dtype.kind == "O":  # Python ints: `2^64 - 1 : i64` does not fit int64 before wrapping
                        span = 1 << element_type.width
                        wrapped = [int(x) - span if x > info.max else int(x) for x in arr.flat]
                        return np.array(wrapped, dtype=dtype).reshape(arr.shape)
                    return arr.astype(np.int64).astype(np.dtype(f"uint{element_type.width}")).view(dtype)
            elif lo < info.min or hi > info.max:
                raise ValueError(f"value out of range for {element_type}")
    with np.errstate(over="ignore", invalid="ignore"):
        return arr.astype(dtype)


class DenseElementsAttr(Attribute):
    """`dense<[[1, 2], [3, 4]]> : tensor<2x2xi32>`, or a splat `dense<0.5> : tensor<4xf32>`.

    A value whose elements all have the same bits is stored and printed as a splat,
    as MLIR does, so equal data always has one representation.
    """

    __slots__ = ("type", "_data", "is_splat", "_hash")
    type: ShapedType

    def __init__(self, type: ShapedType, values: object) -> None:
        if not isinstance(type, ShapedType) or not type.has_static_shape:
            raise TypeError(f"dense elements need a statically shaped tensor or vector type, got {type}")
        data = to_storage(values, type.element_type)
        n = type.num_elements
        if n == 0:
            # no elements: one representation (never a splat), whatever value was given, as MLIR's `dense<>`
            if data.size > 1:
                raise ValueError(f"dense literal has {data.size} elements, type {type} needs 0")
            try:
                data = np.zeros(type.shape, dtype=data.dtype)
            except ValueError:
                raise ValueError(f"{type} has more dimensions or a larger extent than numpy can hold") from None
            splat = False
        elif data.size == 1 or data.ndim == 0:
            data = data.reshape(())
            splat = True
        else:
            if data.size != n:
                raise ValueError(f"dense literal has {data.size} elements, type {type} needs {n}")
            data = np.ascontiguousarray(data).reshape(type.shape)
            flat = data.reshape(-1)
            bits = _bit_view(flat)
            splat = bool(n > 0 and (bits == bits[0]).all())
            if splat:
                data = flat[:1].reshape(()).copy()
        if data.flags.writeable:
            data = data.copy() if data.base is not None else data
            data.flags.writeable = False
        _set(self, "type", type)
        _set(self, "_data", data)
        _set(self, "is_splat", splat)
        _set(self, "_hash", None)
        _set(self, "_text", None)

    @property
    def element_type(self) -> Type:
        return self.type.element_type

    @property
    def raw(self) -> np.ndarray:
        """Storage array: the scalar for a splat, else the full array (bf16 as bits)."""
        return self._data

    def splat_value(self) -> np.generic:
        """The one element of a splat (bf16 -> float32), without materializing the full shape,
        which for `dense<1.0> : tensor<9223372036854775807xf32>` numpy cannot even describe."""
        if not self.is_splat:
            raise ValueError("splat_value() of a dense value that is not a splat")
        data = self._data
        et = self.type.element_type
        if isinstance(et, FloatType) and et.kind == "bf16":
            data = _bf16_to_f32(data.reshape(1))
        elif is_small_float(et):
            data = small_values(data.reshape(1), et)
        elif is_wide_int(et):
            data = wide_int_values(data, et)
        return data.reshape(-1)[0]

    def to_numpy(self) -> np.ndarray:
        """The full value as a read-only array of the type's shape (bf16 -> float32; integers
        over 64 bits -> Python ints; complex: numpy complex, or `re`/`im` records)."""
        data = self._data
        et = self.type.element_type
        if isinstance(et, FloatType) and et.kind == "bf16":
            data = _bf16_to_f32(data)
        elif is_small_float(et):
            data = small_values(data, et)
            data.flags.writeable = False
        elif is_wide_int(et):
            data = wide_int_values(data, et)
            data.flags.writeable = False
        if self.is_splat:
            return np.broadcast_to(data, self.type.shape)
        return data

    def _bits(self) -> np.ndarray:
        return _bit_view(self._data)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not DenseElementsAttr or other.type is not self.type or other.is_splat != self.is_splat:
            return False
        return bool(np.array_equal(self._bits(), other._bits()))

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = hash((DenseElementsAttr, self.type, self.is_splat, self._bits().tobytes()))
            _set(self, "_hash", h)
        return h


class DenseResourceElementsAttr(Attribute):
    """`dense_resource<key> : tensor<...>`: elements stored in a named resource blob."""

    __slots__ = ("type", "handle")
    type: ShapedType
    handle: ResourceHandle

    def __init__(self, type: ShapedType, handle: ResourceHandle) -> None:
        if not isinstance(type, ShapedType):
            raise TypeError(f"dense_resource needs a shaped type, got {type}")
        _set(self, "type", type)
        _set(self, "handle", handle)
        _set(self, "_text", None)

    @classmethod
    def from_array(cls, key: str, type: ShapedType, array: object) -> DenseResourceElementsAttr:
        """Wrap an array (no copy when it is already contiguous in storage dtype)."""
        if is_small_float(type.element_type):
            raise TypeError(f"dense_resource of {type.element_type} elements is not supported; use DenseElementsAttr")
        data = to_storage(array, type.element_type)
        if data.size != type.num_elements:
            raise ValueError(f"resource '{key}' has {data.size} elements, type {type} needs {type.num_elements}")
        return cls(type, ResourceHandle(key, Blob(data, alignment=data.dtype.itemsize)))

    @property
    def key(self) -> str:
        return self.handle.key

    def to_numpy(self) -> np.ndarray:
        blob = self.handle.blob
        if blob is None:
            raise ValueError(f"resource '{self.handle.key}' has no data")
        et = self.type.element_type
        arr = blob.view(storage_dtype(et), self.type.shape)
        if isinstance(et, FloatType) and et.kind == "bf16":
            arr = _bf16_to_f32(arr)
        return arr

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not DenseResourceElementsAttr or other.type is not self.type:
            return False
        a, b = self.handle, other.handle
        return a is b or (a.key == b.key and a.blob == b.blob)

    def __hash__(self) -> int:
        return hash((DenseResourceElementsAttr, self.type, self.handle.key))
