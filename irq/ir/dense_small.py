"""Dense elements of MLIR's narrow float kinds (tf32, f8*, f6*, f4*), which numpy has no dtype for.

Why: `dense<[1.0, 0.1]> : tensor<2xtf32>` is valid MLIR (issue 13) and fp8 storage types are
quantization's; irq refused them ("no numpy representation"). As bf16 is kept as uint16 bit
patterns, these are kept as their bit patterns: uint8 for the 4-8-bit kinds, uint32 for tf32,
and read as float32 (which holds every value of each kind exactly). MLIR's hex form stores each
element in whole bytes (`getDenseElementStorageWidth`: the width rounded up to 8 bits), little
endian: 1 byte per f8/f6/f4 element, 3 per tf32 element; bits above the kind's width are dropped
when read, as MLIR truncates them.
"""

from __future__ import annotations

from irq._lazy import numpy as np
from irq.ir.types import FloatType, Type
from irq.text.small_floats import FORMATS

_TABLES: dict = {}


def is_small_float(t: Type) -> bool:
    return isinstance(t, FloatType) and t.kind in FORMATS


def small_dtype(t: FloatType) -> np.dtype:
    return np.dtype(np.uint8 if FORMATS[t.kind].width <= 8 else np.uint32)


def hex_item_bytes(t: FloatType) -> int:
    """Bytes per element in `dense<"0x...">` (MLIR's storage width)."""
    return (FORMATS[t.kind].width + 7) // 8


def small_storage(values: object, t: FloatType) -> np.ndarray:
    """Bit patterns of `values`: an array of the storage dtype is taken as bits (checked to fit
    the kind), anything else as numbers, each rounded to the kind as MLIR rounds it."""
    fmt = FORMATS[t.kind]
    dtype = small_dtype(t)
    arr = np.asarray(values)
    if arr.dtype == dtype:
        if arr.size and int(arr.max()) >= 1 << fmt.width:
            raise ValueError(f"bit pattern 0x{int(arr.max()):X} does not fit {t}")
        return arr
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"elements of {t} need numbers, got an array of {arr.dtype}")
    flat = arr.astype(np.float64).reshape(-1)
    unique, inverse = np.unique(flat, return_inverse=True)  # fp8 tensors repeat their few values
    bits = np.array([fmt.encode(float(x)) for x in unique.tolist()], dtype=dtype)
    return bits[inverse].reshape(arr.shape) if flat.size else np.zeros(arr.shape, dtype)


def small_values(bits: np.ndarray, t: FloatType) -> np.ndarray:
    """float32 values of bit patterns (NaN for the kind's NaN patterns)."""
    if t.kind == "tf32":  # sign, 8 exponent and 10 mantissa bits: f32's top 19 bits
        return (np.asarray(bits).astype(np.uint32) << 13).view(np.float32)
    table = _TABLES.get(t.kind)
    if table is None:
        fmt = FORMATS[t.kind]
        table = np.array([fmt.decode(b) for b in range(1 << fmt.width)], dtype=np.float32)
        _TABLES[t.kind] = table
    return table[np.asarray(bits)]


def small_from_hex(raw: bytes, t: FloatType) -> np.ndarray:
    """Bit patterns of MLIR's hex bytes (one element or a whole tensor), high bits dropped."""
    mask = (1 << FORMATS[t.kind].width) - 1
    data = np.frombuffer(raw, dtype=np.uint8)
    if t.kind != "tf32":
        return data & np.uint8(mask)
    b = data.reshape(-1, 3).astype(np.uint32)
    return (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) & np.uint32(mask)


def small_to_hex(bits: np.ndarray, t: FloatType) -> bytes:
    """MLIR's hex bytes of bit patterns."""
    flat = np.ascontiguousarray(bits).reshape(-1)
    if t.kind != "tf32":
        return flat.astype(np.uint8).tobytes()
    b = flat.astype(np.uint32)
    return np.stack([b & 0xFF, (b >> 8) & 0xFF, (b >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
