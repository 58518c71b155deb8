"""Buffer planning: every activation gets a view of a pooled buffer, reused once its values are dead.

The executor plans the whole program before running it: ops run in the block's order (SSA makes it
a topological order), and a buffer returns to the pool right after the last op that reads any value
living in it. The next output of a compatible size takes it, so peak memory follows the widest cut
through the graph rather than the sum of all activations (`peak_bytes` vs `total_bytes`).
"""

from __future__ import annotations

import numpy as np

from .kernels.aligned import aligned_empty


class BufferPool:
    """Raw byte buffers handed out best-fit, reference counted by the values viewing them."""

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = []
        self._refs: list[int] = []
        self._free: set[int] = set()
        self.total_bytes = 0  # sum of every activation ever requested (what no reuse would cost)

    @property
    def peak_bytes(self) -> int:
        """Bytes of all buffers the plan needs at once: their sum, since each is allocated once."""
        return sum(b.nbytes for b in self._buffers)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, np.ndarray]:
        """A buffer id and a C-contiguous array view of `shape`/`dtype` in it (reused when one fits)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self.total_bytes += nbytes
        # best fit, but never a buffer more than twice too big: a small value parked in a large free buffer
        # would force the next large value to allocate anew
        fits = [i for i in self._free if nbytes <= self._buffers[i].nbytes <= 2 * max(nbytes, 64)]
        if fits:
            bid = min(fits, key=lambda i: self._buffers[i].nbytes)
            self._free.discard(bid)
        else:
            bid = len(self._buffers)
            # 64-byte granules on a cache-line boundary keep every view aligned and let near sizes share buffers
            self._buffers.append(aligned_empty(max(64, -(-nbytes // 64) * 64)))
            self._refs.append(0)
        self._refs[bid] = 1
        view = self._buffers[bid][:nbytes].view(dtype).reshape(shape)
        return bid, view

    def retain(self, bid: int) -> None:
        """One more value views buffer `bid` (a reshape that aliases its input)."""
        self._refs[bid] += 1

    def release(self, bid: int) -> None:
        """A value viewing `bid` is dead; the buffer is free once no live value views it."""
        self._refs[bid] -= 1
        if self._refs[bid] == 0:
            self._free.add(bid)
