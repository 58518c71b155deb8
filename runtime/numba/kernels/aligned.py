"""Buffers that start on a cache line: planned activations, packed weights.

numpy's allocator aligns to 16 bytes, so a buffer may start anywhere in its 64-byte cache line; the
kernels' 64-byte loads (zmm vectors of packed weights, AMX tile rows) then each touch two lines.
"""

from __future__ import annotations

import numpy as np

#: Cache-line alignment of every planned buffer and packed weight.
ALIGN = 64


def aligned_empty(nbytes: int, align: int = ALIGN) -> np.ndarray:
    """An uninitialised uint8 array of `nbytes` whose first byte is `align`-byte aligned."""
    raw = np.empty(nbytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]


def aligned_copy(a: np.ndarray, align: int = ALIGN) -> np.ndarray:
    """A C-contiguous copy of `a` starting on an `align`-byte boundary."""
    out = aligned_empty(a.nbytes, align).view(a.dtype).reshape(a.shape)
    out[...] = a
    return out
