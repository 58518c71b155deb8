"""Resource blobs: large constant data kept out of the op text.

`dense_resource<key>` attributes refer to a `ResourceHandle`; the bytes live in a
`Blob` printed once in the file's `{-# dialect_resources: ... #-}` section, the way
MLIR stores weights. A blob can wrap any buffer (numpy array, bytes, a torch
tensor's numpy view) without copying, or a provider called only when the bytes
are first needed, so importing a model does not copy its weights until printing.
"""

from __future__ import annotations

from collections.abc import Callable

from irq._lazy import numpy as np


class Blob:
    """Raw little-endian bytes plus the alignment MLIR records in front of them."""

    __slots__ = ("_array", "_provider", "alignment")

    def __init__(self, data: object | None = None, *, alignment: int = 0,
                 provider: Callable[[], object] | None = None) -> None:
        if (data is None) == (provider is None):
            raise ValueError("a Blob needs exactly one of `data` or `provider`")
        self._array = None if data is None else _as_bytes_array(data)
        self._provider = provider
        self.alignment = alignment

    @property
    def data(self) -> np.ndarray:
        """The bytes as a read-only uint8 array (materializing a provider once)."""
        if self._array is None:
            self._array = _as_bytes_array(self._provider())
            self._provider = None
        return self._array

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def view(self, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        """The data as an array of `dtype` and `shape` (no copy)."""
        return self.data.view(dtype).reshape(shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Blob):
            return NotImplemented
        return self is other or np.array_equal(self.data, other.data)

    def __hash__(self) -> int:
        return id(self)


def _as_bytes_array(data: object) -> np.ndarray:
    if isinstance(data, np.ndarray):
        arr = np.ascontiguousarray(data)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        out = arr.reshape(-1).view(np.uint8)
    else:
        out = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


class ResourceHandle:
    """A named reference to a blob; attributes share handles, never bytes."""

    __slots__ = ("key", "blob", "__weakref__")

    def __init__(self, key: str, blob: Blob | None = None) -> None:
        self.key = key
        self.blob = blob

    def __repr__(self) -> str:
        size = "unset" if self.blob is None else f"{self.blob.nbytes} bytes"
        return f"ResourceHandle({self.key!r}, {size})"
