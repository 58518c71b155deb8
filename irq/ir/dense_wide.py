"""Dense elements numpy has no number type for: integers wider than 64 bits, and complex numbers.

Why a module of its own: every other element type maps to one numpy dtype (`irq.ir.dense`);
these need a byte layout and a conversion each way. The layout is MLIR's, so that
`dense<"0x...">` reads and prints the very bytes MLIR does (mlir/lib/IR/BuiltinAttributes.cpp
stores an element of bit width w in `alignTo<8>(w)` bits, little-endian):

* an integer wider than 64 bits takes ceil(w / 8) bytes (`i65`: 9, `i128`: 16), its value in
  the low w bits and zeros above (one representation per value, so equality is byte equality);
  a signless value reads back signed, as MLIR prints it (`2^65 - 1 : i65` is `-1`);
* a complex element is its real part then its imaginary part, each stored as its element
  type: `complex<f32>` and `complex<f64>` are numpy's complex64/complex128, other element
  types (`complex<f16>`, `complex<i32>`, `complex<i65>`) a record of two fields `re` and `im`.
"""

from __future__ import annotations

from irq._lazy import numpy as np
from irq.ir.types import ComplexType, FloatType, IntegerType, Type

_NATIVE_COMPLEX = {"f32": "complex64", "f64": "complex128"}


def is_wide_int(t: Type) -> bool:
    return isinstance(t, IntegerType) and t.width > 64


def wide_dtype(t: Type, component_dtype) -> np.dtype | None:
    """The storage dtype of `t` if it is a wide integer or a complex type, else None.

    `component_dtype` maps a complex type's element type to its storage dtype (it is
    `irq.ir.dense.elements_dtype`, passed in to keep the import one-way)."""
    if is_wide_int(t):
        return np.dtype(f"V{(t.width + 7) // 8}")
    if isinstance(t, ComplexType):
        et = t.element_type
        if isinstance(et, FloatType) and et.kind in _NATIVE_COMPLEX:
            return np.dtype(_NATIVE_COMPLEX[et.kind])
        part = component_dtype(et)
        return np.dtype([("re", part), ("im", part)])
    return None


def wide_int_storage(values: object, t: IntegerType, dtype: np.dtype) -> np.ndarray:
    """Python ints (any array-like of them) -> MLIR's bytes, range-checked as `IntegerAttr` does."""
    arr = np.asarray(values)
    if arr.dtype == dtype:
        return arr
    if arr.dtype.kind not in "iuObf" or (arr.dtype.kind == "f" and arr.size and not np.all(arr == np.round(arr))):
        raise ValueError(f"non-integer values for integer element type {t}")
    lo, hi = t.value_range()
    mask = (1 << t.width) - 1
    n = dtype.itemsize
    out = bytearray()
    for v in arr.reshape(-1).tolist():
        v = int(v)
        if not lo <= v <= hi:
            raise ValueError(f"value out of range for {t}")
        out += (v & mask).to_bytes(n, "little")
    return np.frombuffer(bytes(out), dtype=dtype).reshape(arr.shape)


def canonical_wide_bytes(arr: np.ndarray, t: IntegerType) -> np.ndarray:
    """Raw bytes read from hex with the bits above the width cleared (MLIR ignores them)."""
    n = arr.dtype.itemsize
    mask = (1 << t.width) - 1
    flat = arr.reshape(-1)
    out = b"".join((int.from_bytes(bytes(b), "little") & mask).to_bytes(n, "little") for b in flat.tolist())
    return np.frombuffer(out, dtype=arr.dtype).reshape(arr.shape)


def wide_int_values(arr: np.ndarray, t: IntegerType) -> np.ndarray:
    """Stored bytes -> an object array of Python ints (signed unless `t` is unsigned)."""
    w = t.width
    signed = t.signedness != "u"
    half = 1 << (w - 1)
    vals = []
    for b in arr.reshape(-1).tolist():
        v = int.from_bytes(bytes(b), "little") & ((1 << w) - 1)
        vals.append(v - (1 << w) if signed and v >= half else v)
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out.reshape(arr.shape)


def complex_storage(re: np.ndarray, im: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Two component arrays (already in the element type's storage) -> complex elements."""
    if dtype.names is None:  # complex64/complex128: the same bytes as a (re, im) record of floats
        part = np.dtype(f"f{dtype.itemsize // 2}")
        rec = np.empty(re.shape, dtype=[("re", part), ("im", part)])
    else:
        rec = np.empty(re.shape, dtype=dtype)
    rec["re"] = re
    rec["im"] = im
    return rec.view(dtype) if dtype.names is None else rec


def complex_parts(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(real, imaginary) storage arrays of complex elements (bit-exact: NaN payloads survive)."""
    if arr.dtype.names is None:
        part = np.dtype(f"f{arr.dtype.itemsize // 2}")
        rec = np.ascontiguousarray(arr).view([("re", part), ("im", part)])
        return rec["re"], rec["im"]
    return arr["re"], arr["im"]
